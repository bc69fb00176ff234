"""The engine on the real clock against real loopback sockets (each test well under 1 s)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest

from ldirectorpy.checks import rdp
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target
from ldirectorpy.health import BACKSTOP_GRACE, HealthEngine, HealthEvent, Monitored, RealClock
from ldirectorpy.healthstate import Kind, Policy, State


def connect_probe(port: int, *, expect_banner: bool = False):  # type: ignore[no-untyped-def]
    """A tiny TCP check: connect (and optionally wait for one line)."""

    async def probe() -> ProbeResult:
        start = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            return ProbeResult(False, f"connect failed: {exc.strerror}", time.monotonic() - start)
        try:
            if expect_banner:
                await reader.readline()
        finally:
            writer.close()
        return ProbeResult(True, "connected", time.monotonic() - start)

    return probe


@pytest.fixture
async def server() -> AsyncIterator[asyncio.Server]:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; waits for the client to go
        writer.close()

    srv = await asyncio.start_server(silent, "127.0.0.1", 0)
    yield srv
    srv.close()


def port_of(srv: asyncio.Server) -> int:
    return int(srv.sockets[0].getsockname()[1])


async def next_transition(queue: asyncio.Queue[HealthEvent]) -> HealthEvent:
    while True:
        event = await asyncio.wait_for(queue.get(), 2.0)
        if event.kind is Kind.TRANSITION:
            return event


async def test_a_real_server_going_away_is_detected_after_failurecount(server):
    port = port_of(server)
    queue: asyncio.Queue[HealthEvent] = asyncio.Queue()
    spec = Monitored("v", "r", ("connect", port), connect_probe(port), 0.05, 0.2, Policy(2))
    async with HealthEngine([spec], events=queue, clock=RealClock()):
        up = await next_transition(queue)
        assert (up.new, up.reason) == (State.UP, "connected")
        server.close()
        await server.wait_closed()
        down = await next_transition(queue)
    assert down.new is State.DOWN
    assert down.count == 2
    assert down.reason.startswith("connect failed")


async def test_a_hung_target_times_out_while_another_keeps_its_cadence(server):
    port = port_of(server)
    queue: asyncio.Queue[HealthEvent] = asyncio.Queue()
    brisk_calls: list[float] = []

    async def brisk() -> ProbeResult:
        brisk_calls.append(time.monotonic())
        return ProbeResult(True, "ok", 0.0)

    pairs = [
        Monitored("v", "hung", "hung", connect_probe(port, expect_banner=True), 0.05, 0.3),
        Monitored("v", "brisk", "brisk", brisk, 0.05, 0.3),
    ]
    async with HealthEngine(pairs, events=queue, clock=RealClock()):
        down = await next_transition(queue)
        while down.real != "hung":
            down = await next_transition(queue)
    assert (down.new, down.reason) == (State.DOWN, "timed out after 0.3s")
    assert 0.3 <= down.latency < 1.0
    gaps = [b - a for a, b in itertools.pairwise(brisk_calls)]
    assert len(brisk_calls) >= 5  # it kept going during the 0.3 s hang
    assert max(gaps) < 0.2  # a stall behind the hung probe would be >= 0.3 s


async def test_with_slack_wakeups_land_on_the_grid_and_never_early() -> None:
    clock = RealClock(slack=0.05)
    woke: list[tuple[float, float]] = []

    async def sleeper(deadline: float) -> None:
        await clock.sleep_until(deadline)
        woke.append((deadline, time.monotonic()))

    now = time.monotonic()
    # Three deadlines inside one 50 ms step: all wake at its end, together.
    step_end = (int(now / 0.05) + 2) * 0.05
    deadlines = [step_end - 0.04, step_end - 0.02, step_end - 0.001]
    await asyncio.gather(*(sleeper(d) for d in deadlines))
    assert all(at >= deadline for deadline, at in woke)  # never early
    assert all(step_end <= at < step_end + 0.03 for _, at in woke), (step_end, woke)


async def test_a_probe_that_keeps_its_own_deadline_reports_where_it_stalled(server):
    # The engine's backstop comes BACKSTOP_GRACE later, so the RDP probe's own
    # verdict (which names the stage) is the one the operator sees.
    target = Target("127.0.0.1", port_of(server))

    async def probe() -> ProbeResult:
        return await rdp.probe(target, 0.3)

    queue: asyncio.Queue[HealthEvent] = asyncio.Queue()
    spec = Monitored("v", "r", ("rdp", target), probe, 0.05, 0.3)
    async with HealthEngine([spec], events=queue, clock=RealClock()):
        down = await next_transition(queue)
    assert (down.new, down.reason) == (State.DOWN, "X.224 confirm: no answer within 0.3s")
    assert 0.3 <= down.latency < 0.3 + BACKSTOP_GRACE
