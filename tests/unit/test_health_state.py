"""The per-(virtual, real) state machine: pure steps, no clock, no I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ldirectorpy.healthstate import (
    Change,
    Kind,
    Policy,
    RealHealth,
    State,
    force_down,
    force_up,
    step,
)

UP, DOWN = RealHealth(State.UP), RealHealth(State.DOWN, failures=1)


def run(health: RealHealth, results: str, policy: Policy) -> tuple[RealHealth, list[Change]]:
    """Feed a string of results ('+' ok, '-' failed); return the end and every change."""
    changes = []
    for r in results:
        health, change = step(health, r == "+", policy)
        if change is not None:
            changes.append(change)
    return health, changes


def kinds(changes: list[Change]) -> list[tuple[Kind, State, int]]:
    return [(c.kind, c.new, c.count) for c in changes]


# -- UNKNOWN resolves on the first result, whatever the counts --------------


@pytest.mark.parametrize("policy", [Policy(), Policy(failurecount=3, risecount=3)])
def test_first_success_goes_up(policy):
    health, change = step(RealHealth(), True, policy)
    assert health.state is State.UP
    assert change == Change(Kind.TRANSITION, State.UNKNOWN, State.UP, 1)


@pytest.mark.parametrize("policy", [Policy(), Policy(failurecount=3, risecount=3)])
def test_first_failure_goes_down(policy):
    health, change = step(RealHealth(), False, policy)
    assert health.state is State.DOWN
    assert change == Change(Kind.TRANSITION, State.UNKNOWN, State.DOWN, 1)


# -- failurecount -------------------------------------------------------------


def test_failurecount_1_takes_an_up_real_down_on_one_failure():
    health, changes = run(UP, "-", Policy(failurecount=1))
    assert health.state is State.DOWN
    assert kinds(changes) == [(Kind.TRANSITION, State.DOWN, 1)]


def test_soft_failures_are_notices_until_failurecount():
    health, changes = run(UP, "---", Policy(failurecount=3))
    assert health.state is State.DOWN
    assert kinds(changes) == [
        (Kind.SOFT_FAILURE, State.FALLING, 1),
        (Kind.SOFT_FAILURE, State.FALLING, 2),
        (Kind.TRANSITION, State.DOWN, 3),
    ]
    assert changes[0].up and changes[1].up and not changes[2].up


def test_one_success_resets_the_soft_failure_count():
    health, changes = run(UP, "--+--", Policy(failurecount=3))
    assert health == RealHealth(State.FALLING, failures=2, successes=0)
    assert kinds(changes) == [
        (Kind.SOFT_FAILURE, State.FALLING, 1),
        (Kind.SOFT_FAILURE, State.FALLING, 2),
        (Kind.SOFT_RESET, State.UP, 2),
        (Kind.SOFT_FAILURE, State.FALLING, 1),
        (Kind.SOFT_FAILURE, State.FALLING, 2),
    ]


def test_a_down_real_stays_down_silently():
    health, changes = run(DOWN, "-----", Policy(failurecount=3))
    assert health.state is State.DOWN
    assert changes == []


def test_an_up_real_stays_up_silently():
    health, changes = run(UP, "+++++", Policy(failurecount=3, risecount=2))
    assert health.state is State.UP
    assert changes == []


# -- risecount ----------------------------------------------------------------


def test_risecount_1_is_ldirectords_single_success_recovery():
    health, changes = run(DOWN, "+", Policy(failurecount=3))
    assert health.state is State.UP
    assert kinds(changes) == [(Kind.TRANSITION, State.UP, 1)]


def test_risecount_needs_consecutive_successes():
    health, changes = run(DOWN, "++-+++", Policy(risecount=3))
    assert health.state is State.UP
    assert kinds(changes) == [
        (Kind.RISING, State.RISING, 1),
        (Kind.RISING, State.RISING, 2),
        (Kind.RISE_RESET, State.DOWN, 2),
        (Kind.RISING, State.RISING, 1),
        (Kind.RISING, State.RISING, 2),
        (Kind.TRANSITION, State.UP, 3),
    ]
    assert not any(c.up for c in changes[:-1])


def test_flapping_with_counts_of_two_never_changes_the_verdict():
    health, changes = run(UP, "-+-+-+-+", Policy(failurecount=2, risecount=2))
    assert health.up
    assert not any(c.kind is Kind.TRANSITION for c in changes)
    health, changes = run(DOWN, "+-+-+-+-", Policy(failurecount=2, risecount=2))
    assert not health.up
    assert not any(c.kind is Kind.TRANSITION for c in changes)


def test_flapping_with_counts_of_one_follows_every_result():
    _, changes = run(UP, "-+-+", Policy())
    assert kinds(changes) == [
        (Kind.TRANSITION, State.DOWN, 1),
        (Kind.TRANSITION, State.UP, 1),
        (Kind.TRANSITION, State.DOWN, 1),
        (Kind.TRANSITION, State.UP, 1),
    ]


def test_counts_below_one_are_rejected():
    with pytest.raises(ValueError):
        Policy(failurecount=0)
    with pytest.raises(ValueError):
        Policy(risecount=0)


# -- overrides ----------------------------------------------------------------


@pytest.mark.parametrize("state", [State.UNKNOWN, State.UP, State.FALLING])
def test_maintenance_forces_down_bypassing_failurecount(state):
    health, change = force_down(RealHealth(state, failures=1 if state is State.FALLING else 0))
    assert health.state is State.DOWN
    assert change is not None
    assert (change.kind, change.old, change.new, change.forced) == (
        Kind.TRANSITION,
        state,
        State.DOWN,
        True,
    )


def test_maintenance_on_a_down_real_is_silent():
    assert force_down(DOWN) == (DOWN, None)


def test_maintenance_on_a_rising_real_clears_the_rise_but_is_no_transition():
    health, change = force_down(RealHealth(State.RISING, successes=2))
    assert health.state is State.DOWN
    assert change is not None and change.kind is Kind.RISE_RESET


@pytest.mark.parametrize("state", [State.UNKNOWN, State.DOWN, State.RISING])
def test_checktype_on_forces_up(state):
    health, change = force_up(RealHealth(state))
    assert health.state is State.UP
    assert change is not None and change.kind is Kind.TRANSITION and change.forced


def test_checktype_on_an_up_real_is_silent():
    assert force_up(UP) == (UP, None)


# -- properties against a plain reference model --------------------------------


def reference_verdicts(results: list[bool], fc: int, rc: int) -> list[bool]:
    """The verdict after each result, computed the obvious way."""
    verdict: bool | None = None
    fails = oks = 0
    out = []
    for ok in results:
        fails, oks = (0, oks + 1) if ok else (fails + 1, 0)
        if verdict is None:
            verdict = ok
        elif verdict and fails >= fc:
            verdict = False
        elif not verdict and oks >= rc:
            verdict = True
        out.append(verdict)
    return out


@given(
    results=st.lists(st.booleans(), max_size=60),
    fc=st.integers(1, 5),
    rc=st.integers(1, 5),
)
def test_verdicts_match_the_reference_and_transitions_mark_exactly_the_changes(results, fc, rc):
    policy = Policy(failurecount=fc, risecount=rc)
    health = RealHealth()
    previous: bool | None = None
    for ok, expected in zip(results, reference_verdicts(results, fc, rc), strict=True):
        health, change = step(health, ok, policy)
        assert health.up == expected
        is_transition = change is not None and change.kind is Kind.TRANSITION
        assert is_transition == (previous != expected)
        if change is not None:
            assert change.new is health.state
            assert change.up == health.up or change.kind is not Kind.TRANSITION
        previous = expected


def test_public_surface_is_pinned():
    from ldirectorpy import health, healthstate

    assert sorted(health.__all__) == sorted(
        [
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
    )
    assert sorted(healthstate.__all__) == sorted(
        [
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
    )
    for module in (health, healthstate):
        assert all(hasattr(module, name) for name in module.__all__)
