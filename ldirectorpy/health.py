"""The health-checking engine: schedules probes, applies results, emits events.

One schedule per distinct check (same check key, interval, timeout and
mode): a target shared by several virtuals is probed ONCE per interval and the
result fans out, while counting (failurecount, risecount) stays per
(virtual, real) -- ldirectord counted a shared real once per virtual and so
failed it after failurecount/k passes.

No task per check: due slots sit in one heap under ONE timer, so checks due
in the same step of the clock's grid start from one wake-up. A probe that runs
on the shared epoll (connect, RDP: it has ``start``) is started straight from
that wake-up and reports by callback, keeping its own deadline there. Any
other probe runs as a task under a deadline enforced here, outside the probe,
as a backstop: BACKSTOP_GRACE after the probe's own deadline, so that a probe
that ends itself on time (every built-in one does) reports where it stalled
("X.224 confirm: no answer within 1s") rather than a bare "timed out". At
most ``max_in_flight`` probes run at once; the rest wait in turn. (In the
test guest at 200 reals, a task, a sleep, a semaphore and a timeout scope
per probe made the engine cost more CPU than the probes.)

Slots are absolute on a monotonic clock (slot k = first + k * interval), so
probe duration never shifts the schedule; an overrun skips the missed slots
instead of bursting. First slots are spread over one interval by a stable hash
of the check, so a start or reload never probes everything at once.

All time comes from an injected `Clock`; `FakeClock` runs the engine in
virtual time (no real waiting) for tests. The state machine itself is
`ldirectorpy.healthstate.step`.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
import math
import zlib
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from types import TracebackType

from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.healthclock import Clock, Deadline, FakeClock, RealClock, Timer
from ldirectorpy.healthstate import (
    MAINTENANCE_REASON,
    ON_REASON,
    Cancellable,
    Change,
    HealthEvent,
    Kind,
    Mode,
    Monitored,
    PairId,
    PairStatus,
    ProbeFn,
    ProbeOutcome,
    RealHealth,
    State,
    UpdateReport,
    force_down,
    force_up,
    step,
)

__all__ = [
    "MAINTENANCE_REASON",
    "Clock",
    "Deadline",
    "FakeClock",
    "HealthEngine",
    "HealthEvent",
    "Mode",
    "Monitored",
    "PairStatus",
    "RealClock",
    "UpdateReport",
    "next_slot",
    "stable_fraction",
]

log = logging.getLogger("ldirectorpy.health")
BACKSTOP_GRACE = 0.1  # seconds a probe may overrun its deadline before it is cancelled


class _Pair:
    __slots__ = ("changed_wall", "health", "last", "last_wall", "maintenance", "probes", "spec")

    def __init__(self, spec: Monitored) -> None:
        self.spec = spec
        self.health = RealHealth()
        self.last: ProbeResult | None = None
        self.last_wall: float | None = None
        self.changed_wall: float | None = None
        self.probes = 0
        self.maintenance = False


_GroupId = tuple[Hashable, float, float, Mode]


class _Starting:
    """Stands in for a probe's handle while it starts (it may end at once)."""

    def cancel(self) -> None:
        pass


_STARTING = _Starting()


class _Group:
    """One distinct check and its schedule. At any time a live group is in
    exactly one place: the engine's heap of due slots, the queue waiting for
    room under the cap, or in flight (``inflight`` set)."""

    __slots__ = (
        "began",
        "first",
        "forced",
        "gid",
        "inflight",
        "k",
        "launch",
        "live",
        "members",
        "probe",
        "waiting",
    )

    def __init__(self, gid: _GroupId, probe: ProbeFn | None) -> None:
        self.gid = gid
        self.probe = probe
        # Probes on the shared epoll start without a task and report by callback.
        self.launch: Callable[[Callable[[ProbeOutcome], object]], Cancellable] | None = getattr(
            probe, "start", None
        )
        # The pairs themselves, not their ids: a slot looks them up by
        # identity, never by hashing a (virtual, real) key.
        self.members: list[_Pair] = []
        self.first = 0.0
        self.k = 0  # the current slot: first + k * interval
        self.live = False
        self.waiting = False
        self.forced: set[_Pair] = set()
        self.inflight: Cancellable | None = None
        self.began = 0.0


def stable_fraction(gid: Hashable) -> float:
    """Where in [0, 1) of the interval a check's first slot goes: stable across runs."""
    return zlib.crc32(repr(gid).encode()) / 2**32


def next_slot(k: int, first: float, interval: float, now: float) -> int:
    """The next slot index after slot k, skipping slots already in the past."""
    nxt = k + 1
    if first + nxt * interval < now:
        nxt = math.ceil((now - first) / interval)
    return nxt


class HealthEngine:
    """Probes monitored pairs concurrently and reports health events.

    ``events`` is an ``asyncio.Queue`` (unbounded, please) or a callback.
    ``forced_down(pair)`` is asked before each probe: True puts the pair DOWN
    at once with reason "Server in maintenance", bypassing failurecount.
    """

    def __init__(
        self,
        pairs: Iterable[Monitored] = (),
        *,
        events: asyncio.Queue[HealthEvent] | Callable[[HealthEvent], object],
        clock: Clock | None = None,
        max_in_flight: int = 256,
        forced_down: Callable[[Monitored], bool] | None = None,
        on_result: Callable[[Monitored, ProbeResult], object] | None = None,
        spread: Callable[[Hashable], float] = stable_fraction,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        self._emit = events.put_nowait if isinstance(events, asyncio.Queue) else events
        self._clock: Clock = clock if clock is not None else RealClock()
        self._max_in_flight = max_in_flight
        self._forced_down = forced_down
        self._on_result = on_result  # every probe result (ldirectord's monitorfile)
        self._spread = spread
        self._pairs: dict[PairId, _Pair] = {}
        self._groups: dict[_GroupId, _Group] = {}
        # Due slots of every scheduled group, earliest first, and ONE timer
        # for the earliest: checks due together (the clock's grid) share it.
        self._due: list[tuple[float, int, _Group]] = []
        self._seq = itertools.count()
        self._timer: Timer | None = None
        self._timer_at = math.inf
        self._waiting: deque[_Group] = deque()  # due, no room under the cap yet
        self._pumping = False
        self._retiring: set[asyncio.Task[ProbeResult]] = set()
        self._running = False
        self._stopped = asyncio.Event()
        self.in_flight = 0  # probes running now (not waiting for the cap)
        self.probes_started = 0
        self.slots_skipped = 0
        self.update(pairs)

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Schedule every check; first slots spread over one interval from now."""
        if self._running:
            return
        self._running = True
        self._stopped.clear()
        now = self._clock.monotonic()
        for group in self._groups.values():
            self._launch(group, now)

    async def run(self) -> None:
        """Start and run until `stop()`."""
        self.start()
        await self._stopped.wait()

    async def stop(self) -> None:
        """Stop scheduling, cancel every probe in flight and wait for them."""
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = math.inf
        self._due.clear()
        self._waiting.clear()
        for group in self._groups.values():
            self._halt(group)
        await asyncio.gather(*self._retiring, return_exceptions=True)
        self._stopped.set()

    async def __aenter__(self) -> HealthEngine:
        self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- reload --------------------------------------------------------------

    def update(self, pairs: Iterable[Monitored]) -> UpdateReport:
        """Replace the monitored set, keeping what did not change.

        A (virtual, real) that stays keeps its health and counters, whatever
        else changed; a check group (key, interval, timeout, mode) that stays
        keeps its schedule and probe; new groups start spread over one
        interval; groups gone are cancelled.
        """
        specs: dict[PairId, Monitored] = {}
        for spec in pairs:
            _validate(spec)
            if spec.pair in specs:
                raise ValueError(f"duplicate monitored pair {spec.pair!r}")
            specs[spec.pair] = spec
        removed = [pid for pid in self._pairs if pid not in specs]
        for pid in removed:
            del self._pairs[pid]
        added = 0
        groups: dict[_GroupId, _Group] = {}
        for pid, spec in specs.items():
            pair = self._pairs.get(pid)
            if pair is None:
                self._pairs[pid] = pair = _Pair(spec)
                added += 1
            pair.spec = spec
            if spec.mode is Mode.OFF and self._forced_down is None:
                continue  # nothing would ever happen in its checks
            gid: _GroupId = (spec.key, spec.interval, spec.timeout, spec.mode)
            group = groups.get(gid)
            if group is None:
                group = groups[gid] = self._groups.get(gid) or _Group(gid, spec.probe)
                group.members = []
            group.members.append(pair)
        now = self._clock.monotonic()
        started = stopped = 0
        for gid, group in self._groups.items():
            if gid not in groups:
                stopped += 1
                self._halt(group)
        for gid, group in groups.items():
            if gid not in self._groups:
                started += 1
                if self._running:
                    self._launch(group, now)
        kept = len(groups) - started
        self._groups = groups
        self._pump()
        return UpdateReport(added, len(removed), started, stopped, kept)

    # -- status --------------------------------------------------------------

    def snapshot(self) -> Mapping[PairId, PairStatus]:
        return {pid: _status(p) for pid, p in self._pairs.items()}

    def states(self) -> dict[PairId, State]:
        """Just each pair's state: what the director needs, without building statuses."""
        return {pid: p.health.state for pid, p in self._pairs.items()}

    def unresolved(self) -> int:
        """Pairs still UNKNOWN that will resolve (mode ``off`` never does)."""
        return sum(
            1
            for p in self._pairs.values()
            if p.health.state is State.UNKNOWN and p.spec.mode is not Mode.OFF
        )

    # -- the schedule ----------------------------------------------------------

    def _launch(self, group: _Group, now: float) -> None:
        interval = group.gid[1]
        # `on`/`off` have nothing to spread: no I/O, and `on` should be up at once.
        offset = 0.0 if group.gid[3] is not Mode.PROBE else self._spread(group.gid) % 1.0
        group.first = now + offset * interval
        group.k = 0
        group.live = True
        group.waiting = False  # (a stop may have emptied the queue it was in)
        self._schedule(group, group.first)

    def _halt(self, group: _Group) -> None:
        """Take a group off the schedule and abandon its probe in flight (its
        heap entry or place in the waiting queue is dropped when reached)."""
        group.live = False
        handle, group.inflight = group.inflight, None
        if handle is None:
            return
        self.in_flight -= 1
        handle.cancel()
        if isinstance(handle, asyncio.Task):
            self._retiring.add(handle)
            handle.add_done_callback(self._retiring.discard)

    def _schedule(self, group: _Group, when: float) -> None:
        heapq.heappush(self._due, (when, next(self._seq), group))
        if when < self._timer_at:
            self._arm(when)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self._clock.call_at(when, self._fire)

    def _fire(self) -> None:
        """The timer: start every check that is due, then wait for the next."""
        # A timer may fire a hair early; what it was set for is due all the same.
        limit = max(self._clock.monotonic(), self._timer_at)
        self._timer = None
        self._timer_at = math.inf
        due = self._due
        try:
            while due and due[0][0] <= limit:
                group = heapq.heappop(due)[2]
                if group.live:
                    self._tick(group)
        finally:
            # (a check that needed no probe may have armed the timer already)
            if due and self._running and due[0][0] < self._timer_at:
                self._arm(due[0][0])

    def _next(self, group: _Group) -> None:
        """Schedule a group's next slot, skipping slots already past."""
        if not (group.live and self._running):
            return
        interval = group.gid[1]
        nxt = next_slot(group.k, group.first, interval, self._clock.monotonic())
        self.slots_skipped += nxt - group.k - 1
        group.k = nxt
        self._schedule(group, group.first + nxt * interval)

    # -- one slot of one check ---------------------------------------------------

    def _tick(self, group: _Group) -> None:
        try:
            if self._settled_without_probe(group):
                self._next(group)
            elif self.in_flight < self._max_in_flight:
                self._begin(group)
            else:
                group.waiting = True
                self._waiting.append(group)
        except Exception:  # an engine bug must not stop this check for good
            log.exception("health check %r: unexpected error", group.gid[0])
            if group.inflight is None and not group.waiting:
                self._next(group)

    def _settled_without_probe(self, group: _Group) -> bool:
        """Maintenance, ``on`` and ``off``: True when this slot needs no probe."""
        forced = group.forced
        forced.clear()
        if self._forced_down is not None:
            for pair in group.members:
                pair.maintenance = self._is_forced(pair.spec)
                if pair.maintenance:
                    forced.add(pair)
                    self._apply(pair, *force_down(pair.health), MAINTENANCE_REASON, 0.0)
                    self._report(pair.spec, ProbeResult(False, MAINTENANCE_REASON, 0.0))
            if len(forced) == len(group.members):
                return True
        mode = group.gid[3]
        if mode is Mode.OFF:
            return True  # as ldirectord: maintenance applies, nothing else does
        if mode is Mode.ON:
            for pair in group.members:
                if pair not in forced:
                    self._apply(pair, *force_up(pair.health), ON_REASON, 0.0)
            return True
        return False

    def _begin(self, group: _Group) -> None:
        self.in_flight += 1
        self.probes_started += 1
        group.began = self._clock.monotonic()
        if group.launch is not None:
            # The probe keeps its own deadline on the reactor; it may end at once.
            group.inflight = _STARTING
            try:
                handle = group.launch(functools.partial(self._landed, group))
            except Exception as exc:  # e.g. no socket to be had (EMFILE)
                self._landed(group, exc)
                return
            if group.inflight is _STARTING:
                group.inflight = handle
            return
        task = asyncio.get_running_loop().create_task(
            self._probe(group), name=f"health {group.gid[0]!r}"
        )
        group.inflight = task
        task.add_done_callback(functools.partial(self._task_landed, group))

    def _task_landed(self, group: _Group, task: asyncio.Task[ProbeResult]) -> None:
        if group.inflight is task and not task.cancelled():
            self._landed(group, task.exception() or task.result())

    def _landed(self, group: _Group, outcome: ProbeOutcome) -> None:
        if group.inflight is None:
            return  # abandoned: the group was halted
        group.inflight = None
        self.in_flight -= 1
        # Called from the reactor's callbacks, where nobody would see an error.
        try:
            if isinstance(outcome, BaseException):
                outcome = _raised(group, outcome, self._clock.monotonic() - group.began)
            self._deliver(group, outcome)
        except Exception:
            log.exception("health check %r: unexpected error", group.gid[0])
        try:
            self._next(group)
            self._pump()
        except Exception:
            log.exception("health check %r: unexpected error", group.gid[0])

    def _pump(self) -> None:
        """Start waiting checks while there is room under the cap."""
        if self._pumping:
            return  # a probe that ended at once, inside this very loop
        self._pumping = True
        try:
            waiting = self._waiting
            while waiting and self.in_flight < self._max_in_flight and self._running:
                group = waiting.popleft()
                group.waiting = False
                if group.live:
                    self._begin(group)
        finally:
            self._pumping = False

    def _deliver(self, group: _Group, result: ProbeResult) -> None:
        wall = self._clock.wall()
        forced = group.forced
        # Members may have changed while the probe ran (a reload): the result
        # is about the check, so it goes to whoever uses the check now.
        for pair in group.members:
            if pair not in forced:
                pair.last = result
                pair.last_wall = wall
                pair.probes += 1
                health, change = step(pair.health, result.ok, pair.spec.policy)
                if change is None:
                    pair.health = health  # steady state: nothing to tell
                else:
                    self._apply(pair, health, change, result.reason, result.elapsed)
                self._report(pair.spec, result)

    def _report(self, spec: Monitored, result: ProbeResult) -> None:
        if self._on_result is None:
            return
        try:
            self._on_result(spec, result)
        except Exception:
            log.exception("probe result consumer failed on %r", spec.pair)

    async def _probe(self, group: _Group) -> ProbeResult:
        """A coroutine probe, under the engine's backstop deadline."""
        probe = group.probe
        assert probe is not None  # _validate guarantees it for Mode.PROBE
        timeout = group.gid[2]
        start = group.began
        deadline = self._clock.timeout_at(start + timeout + BACKSTOP_GRACE)
        try:
            async with deadline:
                return await probe()
        except TimeoutError as exc:
            elapsed = self._clock.monotonic() - start
            if deadline.expired():
                return ProbeResult(False, f"timed out after {timeout:g}s", elapsed)
            return _raised(group, exc, elapsed)
        except Exception as exc:
            return _raised(group, exc, self._clock.monotonic() - start)

    def _is_forced(self, spec: Monitored) -> bool:
        if self._forced_down is None:
            return False
        try:
            return self._forced_down(spec)
        except Exception:
            log.exception("maintenance check for %r failed; treating as not forced", spec.pair)
            return False

    def _apply(
        self, pair: _Pair, health: RealHealth, change: Change | None, reason: str, latency: float
    ) -> None:
        pair.health = health
        if change is None:
            return
        wall = self._clock.wall()
        if change.kind is Kind.TRANSITION:
            pair.changed_wall = wall
        policy = pair.spec.policy
        rising = change.kind in (Kind.RISING, Kind.RISE_RESET) or (
            change.kind is Kind.TRANSITION and change.up
        )
        event = HealthEvent(
            virtual=pair.spec.virtual,
            real=pair.spec.real,
            kind=change.kind,
            old=change.old,
            new=change.new,
            count=change.count,
            limit=policy.risecount if rising else policy.failurecount,
            reason=reason,
            latency=latency,
            mono=self._clock.monotonic(),
            wall=wall,
            forced=change.forced,
        )
        try:
            self._emit(event)
        except Exception:
            log.exception("health event consumer failed on %r", event)


def _validate(spec: Monitored) -> None:
    if spec.mode is Mode.PROBE and spec.probe is None:
        raise ValueError(f"{spec.pair!r}: a probed pair needs a probe")
    if not (spec.interval > 0 and spec.timeout > 0):
        raise ValueError(f"{spec.pair!r}: interval and timeout must be > 0")


def _raised(group: _Group, exc: BaseException, elapsed: float) -> ProbeResult:
    reason = f"probe raised {type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    log.warning("health check %r: %s", group.gid[0], reason)
    log.debug("health check %r traceback", group.gid[0], exc_info=exc)
    return ProbeResult(False, reason, elapsed)


def _status(p: _Pair) -> PairStatus:
    return PairStatus(
        virtual=p.spec.virtual,
        real=p.spec.real,
        key=p.spec.key,
        mode=p.spec.mode,
        state=p.health.state,
        failures=p.health.failures,
        successes=p.health.successes,
        last=p.last,
        last_wall=p.last_wall,
        changed_wall=p.changed_wall,
        probes=p.probes,
        maintenance=p.maintenance,
    )
