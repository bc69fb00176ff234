"""ldirectord's numeric checktype N: the schedule of negotiate and connect passes."""

from __future__ import annotations

import pytest

from ldirectorpy.checks.combined import Combined, CombinedProbe, Kind
from ldirectorpy.checks.result import ProbeResult


def run(n: int, outcomes: list[bool]) -> list[Kind]:
    """The kinds of check run for a sequence of pass outcomes."""
    schedule = Combined(n)
    kinds: list[Kind] = []
    for ok in outcomes:
        kind = schedule.next_kind()
        kinds.append(kind)
        schedule.record(kind, ok)
    return kinds


def test_one_negotiate_every_n_plus_1_passes_when_healthy() -> None:
    assert run(2, [True] * 7) == [
        "negotiate", "connect", "connect",
        "negotiate", "connect", "connect",
        "negotiate",
    ]  # fmt: skip


def test_a_failed_connect_forces_a_negotiate_next() -> None:
    assert run(3, [True, True, False, True, True]) == [
        "negotiate", "connect", "connect", "negotiate", "connect",
    ]  # fmt: skip


def test_a_failed_negotiate_is_retried_as_negotiate_every_pass() -> None:
    assert run(2, [False, False, False, True, True]) == [
        "negotiate", "negotiate", "negotiate", "negotiate", "connect",
    ]  # fmt: skip


def test_n_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Combined(0)


async def test_the_probe_runs_the_scheduled_check_and_labels_the_reason() -> None:
    calls: list[str] = []
    connect_ok = [False]

    async def negotiate() -> ProbeResult:
        calls.append("negotiate")
        return ProbeResult(True, "X.224 CC: PROTOCOL_SSL selected", 0.01)

    async def connect() -> ProbeResult:
        calls.append("connect")
        return ProbeResult(connect_ok[0], "connect: refused", 0.001)

    probe = CombinedProbe(1, negotiate, connect)
    first = await probe()
    second = await probe()
    third = await probe()
    assert calls == ["negotiate", "connect", "negotiate"]
    assert first.reason == "negotiate: X.224 CC: PROTOCOL_SSL selected"
    assert (second.ok, second.reason) == (False, "connect: connect: refused")
    assert third.ok
