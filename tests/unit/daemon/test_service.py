"""The daemon's wiring on the in-memory IPVS and real loopback servers.

This pins the behaviour end to end without a kernel; the same scenarios run
against the real kernel in tests/kernel.
"""

import asyncio
import contextlib
import textwrap

import pytest

from ldirectorpy.config import load
from ldirectorpy.daemon.service import Daemon
from ldirectorpy.ipvs.memory import MemoryBackend


async def serve(host, port=0):
    async def answer(reader, writer):
        writer.close()

    return await asyncio.start_server(answer, host, port)


def port_of(server):
    return server.sockets[0].getsockname()[1]


def write_config(path, ports, extra=""):
    reals = "\n".join(
        f"    real = 127.0.0.{i + 1}:{port} masq {3 if i == 0 else 1}"
        for i, port in enumerate(ports)
    )
    text = f"""\
checkinterval = 0.2
checktimeout = 0.5
resyncinterval = 0.5
quiescent = yes
logfile = "{path.parent}/ldirectorpy.log"
virtual = 192.0.2.100:80
{reals}
    checktype = connect
    scheduler = wlc
{extra}"""
    path.write_text(textwrap.dedent(text))


def weights(memory):
    return {str(d.key): d.weight for _, ds in memory.table.entries() for d in ds}


async def until(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def farm(tmp_path):
    servers = [await serve("127.0.0.1"), await serve("127.0.0.2")]
    ports = [port_of(s) for s in servers]
    path = tmp_path / "farm.cf"
    write_config(path, ports)
    result = load(path)
    assert result.config is not None, result.diagnostics
    memory = MemoryBackend()
    daemon = Daemon(path, result.config, memory)
    ready = asyncio.Event()
    task = asyncio.create_task(daemon.run(on_ready=ready.set))
    await asyncio.wait_for(ready.wait(), 5)
    yield daemon, memory, servers, ports, path
    daemon.request_stop()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    for server in servers:
        server.close()


async def test_reals_come_up_after_their_first_good_probe(farm):
    _daemon, memory, _servers, ports, _ = farm
    await until(lambda: weights(memory) == {f"127.0.0.1:{ports[0]}": 3, f"127.0.0.2:{ports[1]}": 1})


async def test_a_failed_real_is_quiesced_and_restored(farm):
    _daemon, memory, servers, ports, _ = farm
    second = f"127.0.0.2:{ports[1]}"
    await until(lambda: weights(memory).get(second) == 1)
    servers[1].close()
    await servers[1].wait_closed()
    await until(lambda: weights(memory).get(second) == 0)
    assert weights(memory)[f"127.0.0.1:{ports[0]}"] == 3  # the healthy one is untouched
    servers[1] = await serve("127.0.0.2", ports[1])
    await until(lambda: weights(memory).get(second) == 1)


async def test_a_table_flushed_behind_our_back_is_repaired(farm):
    _daemon, memory, _servers, ports, _ = farm
    expected = {f"127.0.0.1:{ports[0]}": 3, f"127.0.0.2:{ports[1]}": 1}
    await until(lambda: weights(memory) == expected)
    memory.flush()
    await until(lambda: weights(memory) == expected, timeout=3)


async def test_a_broken_reload_keeps_the_old_config_and_says_why(farm):
    daemon, memory, _servers, _ports, path = farm
    await until(lambda: len(weights(memory)) == 2)
    before = weights(memory)
    path.write_text(path.read_text() + "    weight_of_the_world = 3\n")
    assert await daemon.reload() is False
    assert daemon.config_error is not None
    assert str(path) in daemon.config_error
    assert weights(memory) == before
    report = await daemon.status_report()
    assert report["config_error"] == daemon.config_error


async def test_a_reload_removing_a_real_touches_only_that_real(farm):
    daemon, memory, _servers, ports, path = farm
    await until(lambda: sorted(weights(memory).values()) == [1, 3])
    sent = []
    apply = memory.apply

    async def recording_apply(ops):
        sent.extend(ops)
        return await apply(ops)

    memory.apply = recording_apply
    write_config(path, ports[:1])
    assert await daemon.reload() is True
    assert weights(memory) == {f"127.0.0.1:{ports[0]}": 3}
    assert [type(op).__name__ for op in sent] == ["DelDest"]  # the kept real: no write


async def test_status_reports_every_real(farm):
    daemon, memory, _servers, _ports, _ = farm
    await until(lambda: len([w for w in weights(memory).values() if w]) == 2)
    report = await daemon.status_report()
    [virtual] = report["virtuals"]
    assert virtual["service"] == "TCP 192.0.2.100:80"
    assert [r["health"] for r in virtual["reals"]] == ["up", "up"]
    assert [r["kernel_weight"] for r in virtual["reals"]] == [3, 1]


async def test_stop_with_cleanstop_removes_exactly_what_we_own(tmp_path):
    server = await serve("127.0.0.1")
    path = tmp_path / "farm.cf"
    write_config(path, [port_of(server)])
    memory = MemoryBackend()
    daemon = Daemon(path, load(path).config, memory)
    ready = asyncio.Event()
    task = asyncio.create_task(daemon.run(on_ready=ready.set))
    await asyncio.wait_for(ready.wait(), 5)
    await until(lambda: len(weights(memory)) == 1)
    daemon.request_stop()
    daemon.request_stop()  # a second signal during cleanup changes nothing
    assert await asyncio.wait_for(task, 10) == 0
    assert len(memory.table) == 0
    server.close()


def test_host_names_make_a_reload_parse_again(tmp_path):
    from ldirectorpy.daemon.service import uses_host_names

    path = tmp_path / "a.cf"
    path.write_text("virtual = 192.0.2.100:80\n    real = 192.0.2.11:80 gate\n")
    assert not uses_host_names(load(path).config)
    path.write_text("virtual = 192.0.2.100:80\n    real = localhost:80 gate\n")
    assert uses_host_names(load(path).config)


async def test_an_unchanged_file_reloads_without_parsing(farm, monkeypatch):
    daemon, memory, _servers, _ports, _path = farm
    await until(lambda: sorted(weights(memory).values()) == [1, 3])
    calls = []
    daemon.loader = calls.append
    assert await daemon.reload() is True
    assert calls == []
    assert sorted(weights(memory).values()) == [1, 3]


async def test_monitorfile_gets_a_line_per_check_result(tmp_path):
    server = await serve("127.0.0.1")
    port = port_of(server)
    path = tmp_path / "farm.cf"
    monitor = tmp_path / "monitor.log"
    write_config(path, [port], extra=f"    monitorfile = {monitor}\n")
    memory = MemoryBackend()
    daemon = Daemon(path, load(path).config, memory)
    task = asyncio.create_task(daemon.run())
    await until(lambda: monitor.exists() and len(monitor.read_text().splitlines()) >= 2)
    daemon.request_stop()
    await asyncio.wait_for(task, 10)
    server.close()
    first = monitor.read_text().splitlines()[0]
    assert f"connect http tcp 127.0.0.1 {port} up connect ok" in first


async def test_systemd_hears_ready_after_the_first_pass_then_stopping(tmp_path):
    import socket

    from ldirectorpy.daemon.sdnotify import Notifier

    server = await serve("127.0.0.1")
    path = tmp_path / "farm.cf"
    write_config(path, [port_of(server)])
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))
    listener.setblocking(False)
    memory = MemoryBackend()
    daemon = Daemon(path, load(path).config, memory, notifier=Notifier(str(tmp_path / "notify")))
    task = asyncio.create_task(daemon.run())
    await until(lambda: len(weights(memory)) == 1)
    daemon.request_stop()
    await asyncio.wait_for(task, 10)
    server.close()
    messages = []
    while True:
        try:
            messages.append(listener.recv(4096).decode())
        except BlockingIOError:
            break
    listener.close()
    assert messages[0].startswith("READY=1\nSTATUS=")
    assert "STOPPING=1" in messages
    assert messages.index("STOPPING=1") > 0


async def test_fallbackcommand_runs_start_when_all_are_down_and_stop_on_return(tmp_path):
    server = await serve("127.0.0.1")
    port = port_of(server)
    marker = tmp_path / "fallback.log"
    script = tmp_path / "fallback.sh"
    script.write_text(f'#!/bin/sh\necho "$@" >> {marker}\n')
    script.chmod(0o755)
    path = tmp_path / "farm.cf"
    write_config(path, [port], extra=f"    fallbackcommand = {script}\n")
    memory = MemoryBackend()
    daemon = Daemon(path, load(path).config, memory)
    task = asyncio.create_task(daemon.run())
    await until(lambda: weights(memory) == {f"127.0.0.1:{port}": 3})
    server.close()
    await server.wait_closed()
    await until(lambda: marker.exists() and "start" in marker.read_text())
    server = await serve("127.0.0.1", port)
    await until(lambda: marker.read_text().count("stop") == 2)  # the recovery, not shutdown
    daemon.request_stop()
    await asyncio.wait_for(task, 10)
    server.close()
    # As ldirectord: at start a virtual with a live real runs `stop` once, so a
    # fallback left active by a previous run is switched off.
    assert marker.read_text().splitlines() == [
        "stop 192.0.2.100:80 tcp",
        "start 192.0.2.100:80 tcp",
        "stop 192.0.2.100:80 tcp",
    ]


async def test_a_change_the_watcher_ignored_is_still_applied_by_a_reload(farm):
    # autoreload=no: the watcher notices the edit and ignores it; SIGHUP must not.
    daemon, memory, _servers, ports, path = farm
    await until(lambda: sorted(weights(memory).values()) == [1, 3])
    write_config(path, ports[:1])
    await until(lambda: daemon.seen_digest != daemon.loaded_digest, timeout=5)
    assert await daemon.reload() is True
    assert weights(memory) == {f"127.0.0.1:{ports[0]}": 3}


async def test_a_reload_that_adds_a_monitorfile_starts_writing_it(farm, tmp_path):
    daemon, _memory, _servers, ports, path = farm
    monitor = tmp_path / "added.log"
    await asyncio.sleep(0.5)  # a few checks with no monitorfile anywhere
    assert not monitor.exists()
    write_config(path, ports, extra=f"    monitorfile = {monitor}\n")
    assert await daemon.reload() is True
    await until(lambda: monitor.exists() and len(monitor.read_text().splitlines()) >= 2)
