"""The shared-epoll driver under the connect and RDP probes: deadlines, sends, clean-up."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import os
import socket
import time
import weakref
from collections.abc import AsyncIterator, Iterator

import pytest
from checks_loopback import closed_port, open_fds, settled_fds, silent, tcp_server

from ldirectorpy.checks import _reactor, tcp
from ldirectorpy.checks.target import Target

SLACK = 0.25


@pytest.fixture(autouse=True)
def no_loop_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """An exception in a reactor callback is only logged by asyncio: fail on it."""
    yield
    errors = [
        r
        for r in caplog.records
        if r.name == "asyncio" and r.levelno >= logging.ERROR and "_Reactor" in r.getMessage()
    ]
    assert not errors, errors[0].getMessage()


class _Talker(_reactor.StreamProbe):
    """Sends ``payload`` once connected; up when the peer echoes ``expect`` bytes."""

    __slots__ = ("expect", "got", "payload")

    def __init__(self, target: Target, payload: bytes, expect: int) -> None:
        super().__init__(target)
        self.payload, self.expect, self.got = payload, expect, 0
        self.read_size = 65536

    def connected(self) -> None:
        self.stage = "talk"
        self.send(self.payload)

    def received(self, chunk: bytes) -> None:
        if not chunk:
            raise ConnectionResetError(0, "closed early")
        self.got += len(chunk)
        if self.got >= self.expect:
            self.finish(True, f"{self.got} bytes back")


async def test_a_short_deadline_behind_a_long_one_still_fires_on_time() -> None:
    async with tcp_server(silent) as port:
        target = Target("127.0.0.1", port)
        slow = asyncio.ensure_future(tcp.probe(Target("127.0.0.1", closed_port()), 30.0))
        long = asyncio.ensure_future(_reactor.run(_Talker(target, b"x", 1), 30.0))
        started = time.monotonic()
        short = await _reactor.run(_Talker(target, b"x", 1), 0.2)
        took = time.monotonic() - started
        long.cancel()
        await asyncio.gather(slow, long, return_exceptions=True)
    assert not short.ok
    assert short.reason == "talk: no answer within 0.2s"
    assert 0.2 <= took < 0.2 + SLACK
    assert 0.2 <= short.elapsed < 0.2 + SLACK


async def test_a_send_larger_than_the_socket_buffer_goes_out_in_pieces() -> None:
    payload = os.urandom(8 * 1024 * 1024)  # far beyond any default send buffer

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()

    async with tcp_server(echo) as port:
        result = await _reactor.run(_Talker(Target("127.0.0.1", port), payload, len(payload)), 10)
    assert result.ok, result.reason
    assert result.reason == f"{len(payload)} bytes back"


async def test_errors_in_a_hook_become_a_down_verdict_for_the_stage() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.transport.abort()  # RST

    async with tcp_server(hang_up) as port:
        result = await _reactor.run(_Talker(Target("127.0.0.1", port), b"x", 10), 2.0)
    assert not result.ok
    assert result.reason.startswith("talk: ")


async def test_a_bug_in_a_hook_reaches_the_caller_as_the_exception() -> None:
    class Broken(_reactor.StreamProbe):
        __slots__ = ()

        def connected(self) -> None:
            raise KeyError("a bug")

    async with tcp_server(silent) as port:
        try:
            await _reactor.run(Broken(Target("127.0.0.1", port)), 2.0)
        except KeyError as exc:
            assert exc.args == ("a bug",)
        else:
            raise AssertionError("the bug was hidden")


async def test_an_idle_reactor_holds_no_file_descriptor() -> None:
    async with tcp_server(silent) as port:
        before = open_fds()
        target = Target("127.0.0.1", port)
        result = await tcp.probe(target, 2.0)
        assert result.ok
        # The probe's socket AND the shared epoll are closed.
        assert await settled_fds(before) == before
        results = await asyncio.gather(*(tcp.probe(target, 2.0) for _ in range(50)))
        assert all(r.ok for r in results)
        assert await settled_fds(before) == before


async def test_each_event_loop_gets_its_own_reactor() -> None:
    # A probe started on another loop (another thread) works and shares nothing.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        target = Target("127.0.0.1", listener.getsockname()[1])
        other = await asyncio.to_thread(asyncio.run, tcp.probe(target, 2.0))
        here = await tcp.probe(target, 2.0)
    assert other.ok and here.ok


# -- on a wake-up grid (what the daemon uses) ---------------------------------


@pytest.fixture
async def grid() -> AsyncIterator[float]:
    step = 0.05
    loop = asyncio.get_running_loop()
    _reactor.use_grid(loop, step)
    yield step
    _reactor.use_grid(loop, 0.0)


def answer_after(delay: float):  # type: ignore[no-untyped-def]
    """A server that answers one byte with one byte, ``delay`` seconds later."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        await asyncio.sleep(delay)
        writer.write(b"y")
        await writer.drain()
        await reader.read()

    return serve


@contextlib.contextmanager
def socket_wakeups(loop: asyncio.AbstractEventLoop) -> Iterator[list[float]]:
    """When the loop woke from a blocking wait because the reactor's epoll was ready."""
    selector = loop._selector  # type: ignore[attr-defined]
    plain = selector.select
    woke: list[float] = []

    def select(timeout: float | None = None) -> list[tuple[object, int]]:
        events = plain(timeout)
        if timeout is None or timeout > 0:
            for key, _mask in events:
                reader = key.data[0]
                if reader is not None and getattr(reader._callback, "__func__", None) is (
                    _reactor._Reactor._ready
                ):
                    woke.append(loop.time())
        return events

    selector.select = select
    try:
        yield woke
    finally:
        selector.select = plain


async def test_on_a_grid_socket_events_wake_us_at_most_twice_per_step(grid: float) -> None:
    # Connects one after the other: the first wake-up in a grid step is handled
    # at once (a lone probe is not slowed down); from a second one in the same
    # step we stop listening until the next grid point, but a probe started
    # meanwhile still gets its first look in the same turn of the loop.
    loop = asyncio.get_running_loop()
    with socket.create_server(("127.0.0.1", 0)) as listener, socket_wakeups(loop) as woke:
        target = Target("127.0.0.1", listener.getsockname()[1])
        for _ in range(6):
            assert (await tcp.probe(target, 2.0)).ok
        for _ in range(3):
            await asyncio.sleep(grid)
            assert (await tcp.probe(target, 2.0)).ok
    per_step = collections.Counter(int(t / grid) for t in woke)
    assert woke and max(per_step.values()) <= 2, per_step


async def test_on_a_grid_a_busy_reactor_wakes_once_per_step(grid: float) -> None:
    # Probes keep finishing and starting: every grid point finds answers ready,
    # so the reactor only looks at grid points, with no wake-ups of its own.
    loop = asyncio.get_running_loop()

    async def keep_probing(target: Target, until: float) -> int:
        done = 0
        while loop.time() < until:
            result = await _reactor.run(_Talker(target, b"x", 1), 1.0)
            assert result.ok, result.reason
            done += 1
        return done

    async with tcp_server(answer_after(0.005)) as port:
        target = Target("127.0.0.1", port)
        with socket_wakeups(loop) as woke:
            until = loop.time() + 20 * grid
            counts = await asyncio.gather(*(keep_probing(target, until) for _ in range(8)))
    assert sum(counts) >= 8 * 10  # about one exchange per step and prober
    assert len(woke) <= 4, woke  # the first wake-ups only, not one per exchange


async def test_on_a_grid_deadlines_are_still_kept(grid: float) -> None:
    async with tcp_server(silent) as port:
        started = time.monotonic()
        result = await _reactor.run(_Talker(Target("127.0.0.1", port), b"x", 1), 0.12)
        took = time.monotonic() - started
    assert result.reason == "talk: no answer within 0.12s"
    assert 0.12 <= took < 0.12 + SLACK


async def test_on_a_grid_an_answer_just_before_the_deadline_counts() -> None:
    # Grid 0.2 s, started just after a grid point P. The talker's connect is the
    # first wake-up of the step (handled at once: the request goes out); another
    # probe's is the second, so we stop listening until P+0.2. The answer comes
    # at ~P+0.05, the deadline at P+0.15: the deadline looks at the socket first.
    step = 0.2

    loop = asyncio.get_running_loop()
    _reactor.use_grid(loop, step)
    try:
        with socket.create_server(("127.0.0.1", 0)) as plain:
            other = Target("127.0.0.1", plain.getsockname()[1])
            async with tcp_server(answer_after(0.05)) as port:
                await asyncio.sleep(_reactor._next_point(loop.time(), step) - loop.time() + 0.001)
                talker = _Talker(Target("127.0.0.1", port), b"x", 1)
                running = asyncio.ensure_future(_reactor.run(talker, 0.15))
                await asyncio.sleep(0.01)
                assert (await tcp.probe(other, 1.0)).ok
                result = await running
    finally:
        _reactor.use_grid(loop, 0.0)
    assert result.ok, result.reason
    assert 0.15 <= result.elapsed < 0.2


async def test_the_grid_cannot_change_under_running_probes() -> None:
    loop = asyncio.get_running_loop()
    async with tcp_server(silent) as port:
        running = asyncio.ensure_future(
            _reactor.run(_Talker(Target("127.0.0.1", port), b"x", 1), 5)
        )
        await asyncio.sleep(0.05)
        with pytest.raises(RuntimeError):
            _reactor.use_grid(loop, 0.02)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_reactor_check_started_by_callback_reports_without_a_task() -> None:
    outcomes: list[object] = []
    got = asyncio.Event()

    def done(outcome: object) -> None:
        outcomes.append(outcome)
        got.set()

    async with tcp_server(silent) as port:
        check = tcp.check(Target("127.0.0.1", port), 1.0)
        tasks = asyncio.all_tasks()
        probe = check.start(done)
        assert asyncio.all_tasks() == tasks  # nothing spawned to run it
        await asyncio.wait_for(got.wait(), 1.0)
    (result,) = outcomes
    assert (result.ok, result.reason) == (True, "connect ok")  # type: ignore[attr-defined]
    assert probe.done
    # and the same check can be awaited like any probe
    refused = await tcp.check(Target("127.0.0.1", closed_port()), 1.0)()
    assert not refused.ok and "refused" in refused.reason


async def test_a_cancelled_reactor_check_closes_its_socket_and_never_reports() -> None:
    outcomes: list[object] = []
    async with tcp_server(silent) as port:
        before = open_fds()
        probe = tcp.check(Target("127.0.0.1", port), 0.2).start(outcomes.append)
        probe.cancel()
        await asyncio.sleep(0.4)  # past the deadline it had
        assert await settled_fds(before) == before
    assert outcomes == []


def test_a_finished_loop_is_not_kept_alive_by_its_reactor() -> None:
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def one_probe() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        assert not (await tcp.probe(Target("127.0.0.1", closed_port()), 0.5)).ok

    for _ in range(3):
        asyncio.run(one_probe())
    gc.collect()
    assert [ref() for ref in loops] == [None, None, None]


class _AheadLoop(asyncio.SelectorEventLoop):
    """A loop whose clock is not time.monotonic (as uvloop's need not be)."""

    def time(self) -> float:
        return time.monotonic() + 1000.0


def test_on_a_loop_with_its_own_clock_deadlines_and_elapsed_follow_that_clock() -> None:
    async def hung_probe() -> tuple[bool, str, float, float]:
        async with tcp_server(silent) as port:
            started = time.monotonic()
            result = await _reactor.run(_Talker(Target("127.0.0.1", port), b"x", 1), 0.2)
            return result.ok, result.reason, result.elapsed, time.monotonic() - started

    loop = _AheadLoop()
    try:
        ok, reason, elapsed, took = loop.run_until_complete(hung_probe())
    finally:
        loop.close()
    assert (ok, reason) == (False, "talk: no answer within 0.2s")
    assert 0.2 <= elapsed < 0.2 + SLACK
    assert 0.2 <= took < 0.2 + SLACK
