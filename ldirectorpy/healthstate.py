"""The per-(virtual, real) health state machine and the engine's value types.

Pure: no I/O, no clock. `ldirectorpy.health` schedules probes and calls `step`.

States (ExaBGP's vocabulary)::

    UNKNOWN --ok--> UP <--ok-- FALLING          UP, FALLING: the real is up
    UNKNOWN --fail--> DOWN      ^ |               DOWN, RISING: the real is down
    UP --fail (failurecount reached)--> DOWN
    UP --fail (soft)--> FALLING --fail...--> DOWN
    DOWN --ok (risecount reached)--> UP
    DOWN --ok (not yet)--> RISING --ok...--> UP,  RISING --fail--> DOWN

- ``failurecount`` consecutive failures take an up real down (ldirectord's
  ``failurecount``); one success in between resets the count, as ldirectord's
  ``service_set`` does ("Resetting soft failure count").
- ``risecount`` consecutive successes bring a down real back (new directive;
  the default 1 is ldirectord's single-success recovery).
- UNKNOWN (nothing probed yet) resolves on the FIRST result either way: the
  first failure goes DOWN and the first success goes UP, whatever the counts.
  Counts protect a known verdict from noise; before the first result there is
  no verdict to protect, and the director needs a full first view quickly.
- Steady state (UP+ok, DOWN+fail) changes nothing visible. A soft failure, a
  partial rise and the resets of either are *notices*, not transitions: the
  verdict is unchanged but ldirectord logs them.
- Maintenance forces DOWN and checktype ``on`` forces UP, bypassing the counts.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

from ldirectorpy.checks.result import ProbeResult

__all__ = [
    "MAINTENANCE_REASON",
    "ON_REASON",
    "Cancellable",
    "Change",
    "HealthEvent",
    "Kind",
    "Mode",
    "Monitored",
    "PairId",
    "PairStatus",
    "Policy",
    "ProbeFn",
    "ProbeOutcome",
    "RealHealth",
    "State",
    "UpdateReport",
    "force_down",
    "force_up",
    "step",
]


class State(enum.Enum):
    UNKNOWN = "unknown"
    UP = "up"
    FALLING = "falling"  # up, with soft failures counted
    DOWN = "down"
    RISING = "rising"  # down, with successes counted towards risecount

    @property
    def up(self) -> bool:
        return self is State.UP or self is State.FALLING


class Kind(enum.Enum):
    """What a step produced, beyond the new state."""

    TRANSITION = "transition"  # the up/down verdict changed (or UNKNOWN resolved)
    SOFT_FAILURE = "soft-failure"  # failure n of failurecount, still up
    SOFT_RESET = "soft-reset"  # a success cleared n soft failures
    RISING = "rising"  # success n of risecount, still down
    RISE_RESET = "rise-reset"  # a failure cleared n partial successes


@dataclass(frozen=True, slots=True)
class Policy:
    failurecount: int = 1
    risecount: int = 1

    def __post_init__(self) -> None:
        if self.failurecount < 1 or self.risecount < 1:
            raise ValueError(f"failurecount and risecount must be >= 1: {self}")


@dataclass(frozen=True, slots=True)
class RealHealth:
    """Health of one (virtual, real): the state and the consecutive-result counters.

    ``failures`` and ``successes`` count the current run of equal results (one
    of them is always 0 once something was probed); they keep counting in
    steady state, for `status`, but only matter near a threshold.
    """

    state: State = State.UNKNOWN
    failures: int = 0
    successes: int = 0

    @property
    def up(self) -> bool:
        return self.state.up


@dataclass(frozen=True, slots=True)
class Change:
    """The visible outcome of a step: a transition or a notice.

    ``count`` is the counter the line is about: failures so far (SOFT_FAILURE,
    and a TRANSITION to DOWN), successes so far (RISING, a TRANSITION to UP), or
    how many were cleared (SOFT_RESET, RISE_RESET). ``forced`` marks a
    maintenance or checktype-on override.
    """

    kind: Kind
    old: State
    new: State
    count: int
    forced: bool = False

    @property
    def up(self) -> bool:
        return self.new.up


def step(health: RealHealth, ok: bool, policy: Policy) -> tuple[RealHealth, Change | None]:
    """Apply one probe result. Pure; returns the new health and what to report."""
    old = health.state
    if ok:
        successes = health.successes + 1
        if old is State.UNKNOWN or (not old.up and successes >= policy.risecount):
            return RealHealth(State.UP, 0, successes), Change(
                Kind.TRANSITION, old, State.UP, successes
            )
        if old is State.UP:
            return RealHealth(State.UP, 0, successes), None
        if old is State.FALLING:
            return (
                RealHealth(State.UP, 0, successes),
                Change(Kind.SOFT_RESET, old, State.UP, health.failures),
            )
        # DOWN or RISING, short of risecount
        return RealHealth(State.RISING, 0, successes), Change(
            Kind.RISING, old, State.RISING, successes
        )

    failures = health.failures + 1
    if old is State.UNKNOWN or (old.up and failures >= policy.failurecount):
        return (
            RealHealth(State.DOWN, failures, 0),
            Change(Kind.TRANSITION, old, State.DOWN, failures),
        )
    if old.up:
        return RealHealth(State.FALLING, failures, 0), Change(
            Kind.SOFT_FAILURE, old, State.FALLING, failures
        )
    if old is State.RISING:
        return (
            RealHealth(State.DOWN, failures, 0),
            Change(Kind.RISE_RESET, old, State.DOWN, health.successes),
        )
    return RealHealth(State.DOWN, failures, 0), None


def force_down(health: RealHealth) -> tuple[RealHealth, Change | None]:
    """Maintenance: DOWN now, bypassing failurecount; silent if already down."""
    new = RealHealth(State.DOWN, health.failures, 0)
    if health.state is State.DOWN:
        return new, None
    if health.state is State.RISING:  # the verdict was already down
        return new, Change(Kind.RISE_RESET, State.RISING, State.DOWN, health.successes, True)
    return new, Change(Kind.TRANSITION, health.state, State.DOWN, 0, forced=True)


def force_up(health: RealHealth) -> tuple[RealHealth, Change | None]:
    """Checktype ``on``: UP without probing; silent if already up."""
    new = RealHealth(State.UP, 0, health.successes)
    if health.state is State.UP:
        return new, None
    if health.state is State.FALLING:
        return new, Change(Kind.SOFT_RESET, State.FALLING, State.UP, health.failures, True)
    return new, Change(Kind.TRANSITION, health.state, State.UP, 0, forced=True)


# -- the values the engine (ldirectorpy.health) takes and gives -----------------

ProbeFn = Callable[[], Awaitable[ProbeResult]]
# What a probe started by callback reports: its result, or the exception of a bug.
ProbeOutcome = ProbeResult | BaseException


class Cancellable(Protocol):
    """A probe in flight (a task, or a probe on the shared epoll)."""

    def cancel(self) -> object: ...


PairId = tuple[Hashable, Hashable]
MAINTENANCE_REASON = "Server in maintenance"
ON_REASON = "checktype on"


class Mode(enum.Enum):
    """How a pair is checked: probed, always up (``on``), or frozen (``off``).

    As in ldirectord, maintenance (the engine's ``forced_down``) applies to all
    three: an ``off`` real in maintenance goes DOWN and, with no check to bring
    it back, stays DOWN when released.
    """

    PROBE = "probe"
    ON = "on"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class Monitored:
    """One (virtual, real) to monitor.

    ``key`` names the check (target + check parameters): pairs with equal
    keys, intervals, timeouts and modes share one probe per interval, and on
    reload an unchanged key keeps its running task and its probe object.
    ``probe`` is a zero-argument coroutine function (bind the target first).
    """

    virtual: Hashable
    real: Hashable
    key: Hashable
    probe: ProbeFn | None
    interval: float
    timeout: float
    policy: Policy = Policy()
    mode: Mode = Mode.PROBE

    @property
    def pair(self) -> PairId:
        return (self.virtual, self.real)


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """A transition (``kind`` TRANSITION) or a notice, with its context.

    ``count``/``limit`` fill ldirectord's "failure n/m": ``limit`` is
    failurecount for failure-side kinds and risecount for rise-side kinds.
    ``mono``/``wall`` are when the result was applied.
    """

    virtual: Hashable
    real: Hashable
    kind: Kind
    old: State
    new: State
    count: int
    limit: int
    reason: str
    latency: float
    mono: float
    wall: float
    forced: bool = False

    @property
    def up(self) -> bool:
        return self.new.up

    @property
    def is_transition(self) -> bool:
        return self.kind is Kind.TRANSITION


@dataclass(frozen=True, slots=True)
class PairStatus:
    """What `snapshot()` reports for one (virtual, real)."""

    virtual: Hashable
    real: Hashable
    key: Hashable
    mode: Mode
    state: State
    failures: int
    successes: int
    last: ProbeResult | None
    last_wall: float | None
    changed_wall: float | None  # last transition
    probes: int  # results applied to this pair
    maintenance: bool

    @property
    def up(self) -> bool:
        return self.state.up

    @property
    def reason(self) -> str:
        return self.last.reason if self.last is not None else ""

    @property
    def latency(self) -> float | None:
        return self.last.elapsed if self.last is not None else None


@dataclass(frozen=True, slots=True)
class UpdateReport:
    added: int  # pairs
    removed: int
    started: int  # check groups (one task each while running)
    stopped: int
    kept: int
