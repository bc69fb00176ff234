"""The daemon commands as heartbeat, OCF and systemd see them: output and exit codes.

A stand-in daemon (a process holding the pid file and answering on the control
socket) plays the running director, so these run without a kernel; the real
daemon is driven the same way in the guest (tests/kernel).
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

STAND_IN = textwrap.dedent(
    """
    import asyncio, signal, sys, time
    from pathlib import Path
    from ldirectorpy.daemon import control
    from ldirectorpy.daemon.pidfile import PidFile, pid_path

    config = Path(sys.argv[1]); marker = Path(sys.argv[2])

    async def main():
        pidfile = PidFile(pid_path(config)); pidfile.acquire()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: marker.write_text("reloaded"))
        async def status(_):
            return {"virtuals": [{"service": "TCP 192.0.2.100:3389", "scheduler": "wlc",
                     "check": "negotiate/rdp", "reals": [{"real": "192.0.2.11:3389",
                     "health": "up", "weight": 1, "kernel_weight": 1, "latency_ms": 4.2,
                     "reason": "PROTOCOL_SSL selected"}]}]}
        server = await control.serve(control.socket_path(config), status)
        print("ready", flush=True)
        await stop.wait()
        await asyncio.sleep(0.5)   # cleanup takes a while: stop must wait for it
        marker.write_text("cleaned up")
        server.close(); pidfile.release()

    asyncio.run(main())
    """
)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("LDIRECTORPY_RUN_DIR", str(tmp_path / "run"))
    return {**os.environ, "LDIRECTORPY_RUN_DIR": str(tmp_path / "run")}


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "farm.cf"
    path.write_text("virtual = 192.0.2.100:3389\n    real = 192.0.2.11:3389 gate\n")
    return path


def cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "ldirectorpy", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def running(tmp_path, env, config):
    marker = tmp_path / "marker"
    proc = subprocess.Popen(
        [sys.executable, "-c", STAND_IN, str(config), str(marker)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout.readline() == "ready\n"
    yield proc, marker
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.stdout.close()


def test_status_of_a_stopped_director_exits_3(env, config):
    result = cli(env, str(config), "status")
    assert result.returncode == 3
    assert result.stdout == f"ldirectorpy for {config} is stopped\n"


def test_status_with_a_stale_pid_file_exits_1_and_says_not_running(env, config, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "ldirectorpy.farm.cf.pid").write_text("999999\n")
    result = cli(env, str(config), "status")
    assert result.returncode == 1
    assert "not running" in result.stdout
    assert "stale pid file" in result.stdout


def test_status_of_a_running_director_prints_running_and_the_table(env, config, running):
    proc, _ = running
    result = cli(env, str(config), "status")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"ldirectorpy for {config} is running with pid: {proc.pid}"
    assert lines[1].startswith("Virtual service TCP 192.0.2.100:3389 (wlc, negotiate/rdp): 1/1 up")
    assert lines[3].split()[:5] == ["192.0.2.11:3389", "up", "1", "1", "4.2ms"]


def test_status_json(env, config, running):
    import json

    proc, _ = running
    doc = json.loads(cli(env, str(config), "status", "--json").stdout)
    assert doc["state"] == "running"
    assert doc["pid"] == proc.pid
    assert doc["daemon"]["virtuals"][0]["reals"][0]["health"] == "up"


def test_the_pid_file_is_found_whichever_way_the_config_is_named(env, config, running):
    # Relative name from the config's directory, as heartbeat would pass it.
    result = subprocess.run(
        [sys.executable, "-m", "ldirectorpy", "farm.cf", "status"],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(Path.cwd())},
        cwd=config.parent,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_reload_sends_sighup(env, config, running):
    _, marker = running
    assert cli(env, str(config), "reload").returncode == 0
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "reloaded"


def test_reload_when_stopped_exits_7(env, config):
    result = cli(env, str(config), "force-reload")
    assert result.returncode == 7
    assert "not running" in result.stderr


def test_stop_waits_until_cleanup_is_done(env, config, running):
    proc, marker = running
    result = cli(env, str(config), "stop")
    assert result.returncode == 0
    assert marker.read_text() == "cleaned up"  # stop returned only after cleanup
    assert proc.wait(5) == 0
    assert cli(env, str(config), "status").returncode == 3


def test_stop_gives_up_after_its_timeout(env, config, running):
    proc, _ = running
    proc.send_signal(signal.SIGSTOP)  # a hung daemon
    try:
        result = cli(env, str(config), "stop", "--timeout", "0.5")
        assert result.returncode == 1
        assert "did not stop within 0.5s" in result.stderr
    finally:
        proc.send_signal(signal.SIGCONT)


def test_stop_when_stopped_succeeds(env, config):
    assert cli(env, str(config), "stop").returncode == 0


def test_try_restart_when_stopped_does_nothing(env, config):
    assert cli(env, str(config), "try-restart").returncode == 0
    assert cli(env, str(config), "status").returncode == 3


def test_start_with_a_broken_config_exits_2_with_file_and_line(env, tmp_path):
    path = tmp_path / "broken.cf"
    path.write_text("virtual = 192.0.2.100:3389\n    real = 192.0.2.11:3389 gate lots\n")
    result = cli(env, str(path), "start")
    assert result.returncode == 2
    assert f"{path}:2:" in result.stderr


def test_start_on_a_kernel_without_ipvs_is_an_exit_status_not_a_silent_death(env, config):
    assert not Path("/proc/net/ip_vs").exists(), "this test needs a host kernel without IPVS"
    result = cli(env, str(config), "start")
    assert result.returncode == 1
    assert "the kernel has no IPVS: load the ip_vs module" in result.stderr
    assert cli(env, str(config), "status").returncode == 3


def test_unknown_commands_are_usage_errors(env, config):
    result = cli(env, str(config), "begin")
    assert result.returncode == 255
    assert "unknown command" in result.stderr
