"""The health engine on a fake clock: exact probe times and event sequences, no waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable

import pytest

from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.health import (
    BACKSTOP_GRACE,
    MAINTENANCE_REASON,
    FakeClock,
    HealthEngine,
    HealthEvent,
    Mode,
    Monitored,
    UpdateReport,
    next_slot,
)
from ldirectorpy.healthstate import Kind, Policy, State

T0 = 1000.0
HANG = 1e9


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=T0)


class Script:
    """A fake probe: scripted results ('+' ok, '-' fail, last one repeats), each
    taking ``duration`` of virtual time; records when it was called and cancelled."""

    def __init__(self, clock: FakeClock, results: str = "+", duration: float = 0.0) -> None:
        self.clock, self.results, self.duration = clock, results, duration
        self.calls: list[float] = []
        self.cancelled: list[float] = []
        self.running = 0
        self.max_running = 0

    async def __call__(self) -> ProbeResult:
        self.calls.append(self.clock.monotonic())
        r = self.results[min(len(self.calls), len(self.results)) - 1]
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await self.clock.sleep_until(self.clock.monotonic() + self.duration)
        except asyncio.CancelledError:
            self.cancelled.append(self.clock.monotonic())
            raise
        finally:
            self.running -= 1
        return ProbeResult(r == "+", "answered" if r == "+" else "connect refused", 0.01)


def pair(
    virtual: Hashable,
    real: Hashable,
    probe: Callable[[], object] | None,
    *,
    key: Hashable = None,
    interval: float = 1.0,
    timeout: float = 0.5,
    failurecount: int = 1,
    risecount: int = 1,
    mode: Mode = Mode.PROBE,
) -> Monitored:
    return Monitored(
        virtual=virtual,
        real=real,
        key=key if key is not None else real,
        probe=probe,  # type: ignore[arg-type]
        interval=interval,
        timeout=timeout,
        policy=Policy(failurecount, risecount),
        mode=mode,
    )


def engine(clock: FakeClock, pairs: list[Monitored], **kw: object) -> tuple[HealthEngine, list]:
    events: list[HealthEvent] = []
    kw.setdefault("spread", lambda gid: 0.0)  # every first probe at T0 unless a test spreads
    return HealthEngine(pairs, events=events.append, clock=clock, **kw), events  # type: ignore[arg-type]


def summary(events: list[HealthEvent]) -> list[tuple[float, object, Kind, State, int, int]]:
    return [(e.mono - T0, e.virtual, e.kind, e.new, e.count, e.limit) for e in events]


# -- schedule -----------------------------------------------------------------


async def test_probes_keep_an_exact_cadence_whatever_they_take(clock):
    probe = Script(clock, duration=0.7)
    eng, _ = engine(clock, [pair("v", "r", probe, interval=2.0, timeout=1.0)])
    async with eng:
        await clock.advance(8.0)
    assert probe.calls == [T0, T0 + 2, T0 + 4, T0 + 6, T0 + 8]


async def test_fractional_intervals(clock):
    probe = Script(clock, duration=0.1)
    eng, _ = engine(clock, [pair("v", "r", probe, interval=0.25, timeout=0.2)])
    async with eng:
        await clock.advance(1.0)
    assert probe.calls == pytest.approx([T0 + 0.25 * k for k in range(5)])


async def test_an_overrunning_probe_skips_missed_slots_instead_of_bursting(clock):
    probe = Script(clock, duration=2.5)
    eng, _ = engine(clock, [pair("v", "r", probe, interval=1.0, timeout=10.0)])
    async with eng:
        await clock.advance(7.0)
    assert probe.calls == [T0, T0 + 3, T0 + 6]
    assert eng.slots_skipped == 4


def test_next_slot_stays_on_the_grid():
    assert next_slot(0, 100.0, 2.0, 100.5) == 1  # on time
    assert next_slot(0, 100.0, 2.0, 102.0) == 1  # finished exactly at the next slot
    assert next_slot(0, 100.0, 2.0, 102.1) == 2  # slot 1 missed
    assert next_slot(3, 100.0, 2.0, 111.0) == 6  # slots 4, 5 missed


async def test_start_up_is_spread_over_one_interval(clock):
    probes = [Script(clock) for _ in range(200)]
    pairs = [pair("v", f"r{i}", p, interval=10.0) for i, p in enumerate(probes)]
    eng = HealthEngine(pairs, events=lambda e: None, clock=clock)  # the default, hashed spread
    async with eng:
        await clock.advance(9.999)
    firsts = [p.calls[0] for p in probes]
    assert all(T0 <= t < T0 + 10 for t in firsts)
    assert len({int(t - T0) for t in firsts}) == 10  # every second of the interval gets some
    # and the spread is a stable function of the check: a second engine agrees
    clock2 = FakeClock(start=T0)
    probes2 = [Script(clock2) for _ in range(200)]
    pairs2 = [pair("v", f"r{i}", p, interval=10.0) for i, p in enumerate(probes2)]
    async with HealthEngine(pairs2, events=lambda e: None, clock=clock2):
        await clock2.advance(9.999)
    assert [p.calls[0] for p in probes2] == firsts


async def test_never_more_probes_in_flight_than_the_cap(clock):
    probes = [Script(clock, duration=0.5) for _ in range(20)]
    in_flight: list[int] = []

    def watch(p: Script) -> Callable[[], object]:
        async def probe() -> ProbeResult:
            in_flight.append(sum(q.running for q in probes) + 1)
            return await p()

        return probe

    pairs = [pair("v", f"r{i}", watch(p), interval=10.0, timeout=1.0) for i, p in enumerate(probes)]
    eng, events = engine(clock, pairs, max_in_flight=4)
    async with eng:
        await clock.advance(2.5)
        assert eng.in_flight == 0
    assert max(in_flight) == 4
    starts = sorted(p.calls[0] - T0 for p in probes)
    assert starts == [0.0] * 4 + [0.5] * 4 + [1.0] * 4 + [1.5] * 4 + [2.0] * 4
    assert len(events) == 20


async def test_a_hung_probe_is_cancelled_at_its_deadline_and_delays_no_one(clock):
    hung, brisk = Script(clock, "-", duration=HANG), Script(clock, duration=0.1)
    pairs = [
        pair("v", "hung", hung, interval=1.0, timeout=3.0),
        pair("v", "brisk", brisk, interval=1.0, timeout=0.5),
    ]
    eng, events = engine(clock, pairs)
    async with eng:
        await clock.advance(5.0)
    assert brisk.calls == [T0 + k for k in range(6)]
    # The probe ignores its own deadline: the engine's backstop cancels it
    # BACKSTOP_GRACE later; slots 1 and 2 fell inside the hung probe.
    late = T0 + 3 + BACKSTOP_GRACE
    assert hung.calls == [T0, T0 + 4]
    assert hung.cancelled == [late, T0 + 5]  # the backstop, then stop() at T0+5
    (down,) = [e for e in events if e.real == "hung"]
    assert (down.mono, down.new, down.reason) == (late, State.DOWN, "timed out after 3s")
    assert down.latency == pytest.approx(3.0 + BACKSTOP_GRACE)


async def test_a_probe_that_raises_is_a_failure_and_the_check_goes_on(clock, caplog):
    calls = []

    async def broken() -> ProbeResult:
        calls.append(clock.monotonic())
        if len(calls) == 1:
            raise RuntimeError("boom")
        return ProbeResult(True, "answered", 0.0)

    eng, events = engine(clock, [pair("v", "r", broken)])
    async with eng:
        await clock.advance(1.0)
    assert calls == [T0, T0 + 1]
    assert [(e.new, e.reason) for e in events] == [
        (State.DOWN, "probe raised RuntimeError: boom"),
        (State.UP, "answered"),
    ]
    assert "boom" in caplog.text


async def test_a_probe_raising_its_own_timeout_error_is_not_called_a_deadline(clock):
    async def impatient() -> ProbeResult:
        raise TimeoutError("upstream")

    eng, events = engine(clock, [pair("v", "r", impatient, timeout=5.0)])
    async with eng:
        await clock.advance(0.5)
    assert events[0].reason == "probe raised TimeoutError: upstream"


# -- events -------------------------------------------------------------------


async def test_failurecount_soft_failures_and_reset_through_the_engine(clock):
    probe = Script(clock, "+--+---+")
    eng, events = engine(clock, [pair("v", "r", probe, failurecount=3)])
    async with eng:
        await clock.advance(7.0)
    assert summary(events) == [
        (0.0, "v", Kind.TRANSITION, State.UP, 1, 1),
        (1.0, "v", Kind.SOFT_FAILURE, State.FALLING, 1, 3),
        (2.0, "v", Kind.SOFT_FAILURE, State.FALLING, 2, 3),
        (3.0, "v", Kind.SOFT_RESET, State.UP, 2, 3),
        (4.0, "v", Kind.SOFT_FAILURE, State.FALLING, 1, 3),
        (5.0, "v", Kind.SOFT_FAILURE, State.FALLING, 2, 3),
        (6.0, "v", Kind.TRANSITION, State.DOWN, 3, 3),
        (7.0, "v", Kind.TRANSITION, State.UP, 1, 1),
    ]
    down = events[6]
    assert (down.reason, down.latency, down.wall) == ("connect refused", 0.01, clock.wall() - 1)
    assert (down.old, down.up, down.is_transition) == (State.FALLING, False, True)


async def test_risecount_through_the_engine(clock):
    probe = Script(clock, "-++-+++")
    eng, events = engine(clock, [pair("v", "r", probe, risecount=3)])
    async with eng:
        await clock.advance(6.0)
    assert summary(events) == [
        (0.0, "v", Kind.TRANSITION, State.DOWN, 1, 1),
        (1.0, "v", Kind.RISING, State.RISING, 1, 3),
        (2.0, "v", Kind.RISING, State.RISING, 2, 3),
        (3.0, "v", Kind.RISE_RESET, State.DOWN, 2, 3),
        (4.0, "v", Kind.RISING, State.RISING, 1, 3),
        (5.0, "v", Kind.RISING, State.RISING, 2, 3),
        (6.0, "v", Kind.TRANSITION, State.UP, 3, 3),
    ]


async def test_steady_state_produces_no_events(clock):
    up, down = Script(clock, "+"), Script(clock, "-")
    eng, events = engine(clock, [pair("v", "up", up), pair("v", "down", down)])
    async with eng:
        await clock.advance(50.0)
    assert len(up.calls) == len(down.calls) == 51
    assert [(e.real, e.new) for e in events] == [("up", State.UP), ("down", State.DOWN)]


async def test_events_can_go_to_a_queue(clock):
    queue: asyncio.Queue[HealthEvent] = asyncio.Queue()
    eng = HealthEngine(
        [pair("v", "r", Script(clock, "+-"))], events=queue, clock=clock, spread=lambda g: 0.0
    )
    async with eng:
        await clock.advance(1.0)
    assert [queue.get_nowait().new for _ in range(queue.qsize())] == [State.UP, State.DOWN]


async def test_a_failing_consumer_does_not_stop_the_checks(clock, caplog):
    probe = Script(clock, "+-+")
    seen: list[HealthEvent] = []

    def consumer(event: HealthEvent) -> None:
        seen.append(event)
        raise ValueError("consumer bug")

    async with HealthEngine(
        [pair("v", "r", probe)], events=consumer, clock=clock, spread=lambda g: 0.0
    ):
        await clock.advance(2.0)
    assert [e.new for e in seen] == [State.UP, State.DOWN, State.UP]
    assert "consumer bug" in caplog.text


# -- one probe, many virtuals ---------------------------------------------------


async def test_a_real_shared_by_three_virtuals_is_probed_once_and_counted_per_virtual(clock):
    probe = Script(clock, "+---")
    pairs = [pair(v, "rdp1", probe, key="rdp1", failurecount=3) for v in ("a", "b", "c")]
    eng, events = engine(clock, pairs)
    async with eng:
        await clock.advance(2.0)
        assert probe.calls == [T0, T0 + 1, T0 + 2]
        assert not [e for e in events if e.new is State.DOWN]  # ldirectord: down after 1
        await clock.advance(1.0)
    assert len(probe.calls) == 4
    downs = [e for e in events if e.is_transition and e.new is State.DOWN]
    assert sorted((e.virtual, e.mono - T0, e.count) for e in downs) == [
        ("a", 3.0, 3),
        ("b", 3.0, 3),
        ("c", 3.0, 3),
    ]
    assert {s.failures for s in eng.snapshot().values()} == {3}


async def test_counting_is_per_virtual_even_with_different_failurecounts(clock):
    probe = Script(clock, "+--")
    pairs = [
        pair("strict", "r", probe, key="k", failurecount=1),
        pair("lenient", "r", probe, key="k", failurecount=3),
    ]
    eng, _ = engine(clock, pairs)
    async with eng:
        await clock.advance(2.0)
    states = {v: s.state for (v, _), s in eng.snapshot().items()}
    assert states == {"strict": State.DOWN, "lenient": State.FALLING}
    assert len(probe.calls) == 3


async def test_different_checks_or_intervals_are_probed_separately(clock):
    probe = Script(clock)
    pairs = [
        pair("a", "r", probe, key="k"),
        pair("b", "r", probe, key="k-other-request"),
        pair("c", "r", probe, key="k", interval=2.0),
    ]
    eng, _ = engine(clock, pairs)
    async with eng:
        await clock.advance(2.0)
    assert len(probe.calls) == 3 + 3 + 2


# -- reload ---------------------------------------------------------------------


async def test_update_keeps_unchanged_checks_and_their_state(clock):
    kept, gone, new = Script(clock, "+--"), Script(clock), Script(clock, "+")
    p_kept = pair("v", "kept", kept, failurecount=3)
    eng, events = engine(clock, [p_kept, pair("v", "gone", gone, timeout=0.9)])
    async with eng:
        await clock.advance(2.5)  # kept: 2 soft failures so far
        assert eng.snapshot()[("v", "kept")].failures == 2
        report = eng.update([p_kept, pair("v", "new", new, interval=4.0)])
        assert report == UpdateReport(added=1, removed=1, started=1, stopped=1, kept=1)
        await clock.advance(4.0)
    assert kept.calls == [T0 + k for k in range(7)]  # same task, same grid
    assert gone.calls == [T0, T0 + 1, T0 + 2]
    assert new.calls[0] == T0 + 2.5  # spread 0 here: at once
    assert [(e.real, e.kind, e.new) for e in events if e.real == "kept"][-1] == (
        "kept",
        Kind.TRANSITION,
        State.DOWN,  # the third failure counted on from before the reload
    )
    assert set(eng.snapshot()) == {("v", "kept"), ("v", "new")}


async def test_update_cancels_a_removed_check_mid_probe(clock):
    slow = Script(clock, duration=0.8)
    eng, events = engine(clock, [pair("v", "slow", slow, timeout=1.0)])
    async with eng:
        await clock.advance(0.3)
        eng.update([])
        await clock.advance(3.0)
    assert slow.calls == [T0]
    assert slow.cancelled == [T0 + 0.3]
    assert events == []


async def test_a_pair_whose_check_changed_keeps_its_health(clock):
    old, new = Script(clock, "+"), Script(clock, "-")
    eng, events = engine(clock, [pair("v", "r", old, key="http", failurecount=2)])
    async with eng:
        await clock.advance(0.5)
        report = eng.update([pair("v", "r", new, key="http-new-url", failurecount=2)])
        assert (report.started, report.stopped, report.added) == (1, 1, 0)
        await clock.advance(1.0)
    assert [(e.kind, e.new) for e in events] == [
        (Kind.TRANSITION, State.UP),
        (Kind.SOFT_FAILURE, State.FALLING),  # from UP, not from UNKNOWN
        (Kind.TRANSITION, State.DOWN),
    ]


async def test_update_before_start_only_records(clock):
    probe = Script(clock)
    eng, _ = engine(clock, [])
    eng.update([pair("v", "r", probe)])
    await clock.advance(5.0)
    assert probe.calls == []
    async with eng:
        await clock.advance(1.0)
    assert probe.calls == [T0 + 5, T0 + 6]


def test_update_rejects_nonsense():
    eng = HealthEngine(events=lambda e: None, clock=FakeClock())
    with pytest.raises(ValueError, match="duplicate"):
        eng.update([pair("v", "r", None, mode=Mode.OFF)] * 2)
    with pytest.raises(ValueError, match="needs a probe"):
        eng.update([pair("v", "r", None)])
    with pytest.raises(ValueError, match="> 0"):
        eng.update([pair("v", "r", Script(FakeClock()), interval=0)])


# -- maintenance, on, off -----------------------------------------------------


async def test_maintenance_forces_down_without_probing_and_release_lets_the_probe_decide(clock):
    probe = Script(clock, "+")
    maintenance: set[object] = set()
    eng, events = engine(
        clock,
        [pair("v", "r", probe, failurecount=5)],
        forced_down=lambda p: p.real in maintenance,
    )
    async with eng:
        await clock.advance(1.5)
        maintenance.add("r")
        await clock.advance(2.0)  # slots at T0+2, T0+3: forced, not probed
        assert eng.snapshot()[("v", "r")].maintenance
        maintenance.clear()
        await clock.advance(1.0)
    assert probe.calls == [T0, T0 + 1, T0 + 4]
    assert [(e.mono - T0, e.new, e.reason, e.forced) for e in events] == [
        (0.0, State.UP, "answered", False),
        (2.0, State.DOWN, MAINTENANCE_REASON, True),  # failurecount 5 bypassed
        (4.0, State.UP, "answered", False),
    ]


async def test_maintenance_of_one_virtual_still_probes_for_the_others(clock):
    probe = Script(clock, "+")
    pairs = [pair(v, "r", probe, key="k") for v in ("a", "b")]
    eng, events = engine(clock, pairs, forced_down=lambda p: p.virtual == "a")
    async with eng:
        await clock.advance(1.0)
    assert len(probe.calls) == 2
    assert sorted((e.virtual, e.new) for e in events) == [("a", State.DOWN), ("b", State.UP)]


async def test_a_broken_maintenance_check_counts_as_not_in_maintenance(clock, caplog):
    def broken(p: Monitored) -> bool:
        raise OSError("maintenancedir vanished")

    eng, events = engine(clock, [pair("v", "r", Script(clock))], forced_down=broken)
    async with eng:
        await clock.advance(0.0)
    assert [e.new for e in events] == [State.UP]
    assert "maintenancedir vanished" in caplog.text


async def test_checktype_on_is_up_at_once_without_probing_and_honours_maintenance(clock):
    maintenance: set[object] = set()
    on = pair("v", "r", None, mode=Mode.ON, interval=10.0)
    eng, events = engine(clock, [on], forced_down=lambda p: p.real in maintenance)
    async with eng:
        await clock.advance(0.0)
        assert eng.unresolved() == 0
        maintenance.add("r")
        await clock.advance(10.0)
        maintenance.clear()
        await clock.advance(10.0)
    assert [(e.mono - T0, e.new, e.reason) for e in events] == [
        (0.0, State.UP, "checktype on"),
        (10.0, State.DOWN, MAINTENANCE_REASON),
        (20.0, State.UP, "checktype on"),
    ]


async def test_checktype_off_neither_probes_nor_changes_state(clock):
    probe = Script(clock, "+")
    eng, events = engine(clock, [pair("v", "r", probe)])
    async with eng:
        await clock.advance(0.5)
        eng.update([pair("v", "r", probe, mode=Mode.OFF)])
        probe.results = "-"
        await clock.advance(5.0)
    assert probe.calls == [T0]
    assert [e.new for e in events] == [State.UP]
    assert eng.snapshot()[("v", "r")].state is State.UP  # frozen, as ldirectord's off


# -- status and lifecycle ----------------------------------------------------------


async def test_snapshot_reports_state_last_result_and_counters(clock):
    eng, _ = engine(clock, [pair("v", "r", Script(clock, "+-"), failurecount=2)])
    assert eng.unresolved() == 1
    async with eng:
        await clock.advance(1.0)
    status = eng.snapshot()[("v", "r")]
    assert (status.state, status.up, status.failures, status.probes) == (State.FALLING, True, 1, 2)
    assert (status.reason, status.latency) == ("connect refused", 0.01)
    assert status.last_wall == clock.wall()
    assert status.changed_wall == clock.wall() - 1.0  # UNKNOWN -> UP at T0
    assert eng.unresolved() == 0


async def test_stop_cancels_probes_in_flight_and_waits_for_them(clock):
    hung = Script(clock, duration=HANG)
    eng, _ = engine(clock, [pair("v", "r", hung, timeout=60.0)])
    eng.start()
    await clock.advance(1.0)
    assert hung.running == 1
    await eng.stop()
    assert hung.running == 0 and hung.cancelled == [T0 + 1]
    assert eng.in_flight == 0


async def test_run_returns_after_stop(clock):
    eng, _ = engine(clock, [pair("v", "r", Script(clock))])
    runner = asyncio.create_task(eng.run())
    await clock.advance(3.0)
    await eng.stop()
    await asyncio.wait_for(runner, 1.0)


async def test_checktype_off_still_honours_maintenance_and_nothing_brings_it_back(clock):
    probe = Script(clock, "+")
    maintenance: set[object] = set()
    eng, events = engine(
        clock, [pair("v", "r", probe)], forced_down=lambda p: p.real in maintenance
    )
    async with eng:
        await clock.advance(0.5)
        eng.update([pair("v", "r", probe, mode=Mode.OFF)])
        maintenance.add("r")
        await clock.advance(1.0)
        maintenance.clear()
        await clock.advance(5.0)
    assert probe.calls == [T0]
    assert [(e.new, e.reason) for e in events] == [
        (State.UP, "answered"),
        (State.DOWN, MAINTENANCE_REASON),
    ]


# -- probes started by callback (connect and RDP on the shared epoll) ----------------


class Startable(Script):
    """A fake probe the engine starts without a task (as a ReactorCheck): it
    answers from a clock timer ``duration`` later, or at once when 0; '!' in
    the results is a bug in the probe. Awaiting it (the engine must not) only
    counts in ``awaited``."""

    awaited = 0

    async def __call__(self) -> ProbeResult:
        self.awaited += 1
        return ProbeResult(True, "awaited", 0.0)

    def start(self, done: Callable[[object], object]) -> Startable.Handle:
        self.calls.append(self.clock.monotonic())
        r = self.results[min(len(self.calls), len(self.results)) - 1]
        outcome: object = (
            RuntimeError("hook bug") if r == "!" else ProbeResult(r == "+", f"said {r}", 0.02)
        )
        handle = Startable.Handle(self)

        def answer() -> None:
            self.running -= 1
            done(outcome)

        self.running += 1
        if self.duration == 0:
            answer()
        else:
            handle.timer = self.clock.call_at(self.clock.monotonic() + self.duration, answer)
        return handle

    class Handle:
        def __init__(self, probe: Startable) -> None:
            self.probe = probe
            self.timer = None

        def cancel(self) -> None:
            if self.timer is not None:
                self.timer.cancel()
                self.probe.running -= 1
                self.probe.cancelled.append(self.probe.clock.monotonic())


async def test_a_startable_probe_is_started_not_awaited_and_keeps_the_cadence(clock):
    probe = Startable(clock, "+-+", duration=0.3)
    eng, events = engine(clock, [pair("v", "r", probe)])
    async with eng:
        await clock.advance(3.0)
        assert asyncio.all_tasks() == {asyncio.current_task()}  # no task per check
    assert probe.calls == [T0, T0 + 1, T0 + 2, T0 + 3]
    assert probe.awaited == 0
    assert [(e.mono - T0, e.new, e.reason) for e in events] == [
        (pytest.approx(0.3), State.UP, "said +"),
        (pytest.approx(1.3), State.DOWN, "said -"),
        (pytest.approx(2.3), State.UP, "said +"),
    ]


async def test_a_startable_probe_may_answer_before_start_returns(clock):
    probe = Startable(clock, "-+")
    eng, events = engine(clock, [pair("v", "r", probe)])
    async with eng:
        await clock.advance(1.0)
        assert eng.in_flight == 0
    assert probe.calls == [T0, T0 + 1]
    assert [(e.mono - T0, e.new) for e in events] == [(0.0, State.DOWN), (1.0, State.UP)]


async def test_a_startable_probe_that_reports_a_bug_is_a_failure_and_logged(clock, caplog):
    probe = Startable(clock, "!+")
    eng, events = engine(clock, [pair("v", "r", probe)])
    async with eng:
        await clock.advance(1.0)
    assert [(e.new, e.reason) for e in events] == [
        (State.DOWN, "probe raised RuntimeError: hook bug"),
        (State.UP, "said +"),
    ]
    assert "hook bug" in caplog.text


async def test_startable_probes_respect_the_cap_and_wait_in_turn(clock):
    probes = [Startable(clock, duration=0.5) for _ in range(10)]
    pairs = [pair("v", f"r{i}", p, interval=10.0, timeout=1.0) for i, p in enumerate(probes)]
    peak: list[int] = []
    eng, events = engine(clock, pairs, max_in_flight=3)
    async with eng:
        for _ in range(10):
            peak.append(sum(p.running for p in probes))
            await clock.advance(0.25)
        assert eng.in_flight == 0
    assert max(peak) == 3
    starts = sorted(p.calls[0] - T0 for p in probes)
    assert starts == [0.0] * 3 + [0.5] * 3 + [1.0] * 3 + [1.5]
    assert len(events) == 10


async def test_removing_or_stopping_cancels_a_startable_probe_in_flight(clock):
    gone, stays = Startable(clock, duration=0.8), Startable(clock, duration=5.0)
    eng, events = engine(clock, [pair("v", "gone", gone), pair("v", "stays", stays)])
    eng.start()
    await clock.advance(0.3)
    eng.update([pair("v", "stays", stays)])
    assert gone.cancelled == [T0 + 0.3] and eng.in_flight == 1
    await clock.advance(1.0)
    await eng.stop()
    assert stays.cancelled == [pytest.approx(T0 + 1.3)]
    assert eng.in_flight == 0 and events == []
    await clock.advance(10.0)  # nothing answers late into a stopped engine
    assert events == [] and gone.calls == [T0] and stays.calls == [T0]


async def test_a_probe_that_cannot_even_start_is_a_failure_and_the_check_goes_on(clock):
    calls: list[float] = []

    class NoSockets(Startable):
        def start(self, done: Callable[[object], object]) -> Startable.Handle:
            calls.append(clock.monotonic())
            if len(calls) == 1:
                raise OSError(24, "Too many open files")
            return super().start(done)

    eng, events = engine(clock, [pair("v", "r", NoSockets(clock))])
    async with eng:
        await clock.advance(1.0)
        assert eng.in_flight == 0
    assert calls == [T0, T0 + 1]
    assert [(e.new, e.reason) for e in events] == [
        (State.DOWN, "probe raised OSError: [Errno 24] Too many open files"),
        (State.UP, "said +"),
    ]
