"""The desired IPVS table: ldirectord's semantics as a pure function."""

import textwrap

import pytest

from ldirectorpy.changes import describe
from ldirectorpy.config import load
from ldirectorpy.director import adoptable, desired_table, specs
from ldirectorpy.healthstate import State
from ldirectorpy.ipvs.memory import MemoryBackend
from ldirectorpy.ipvs.planner import plan
from ldirectorpy.ipvs.types import Destination, Table

FARM = """
quiescent = {quiescent}
readdquiescent = {readd}
fallback = 127.0.0.1:3389 gate
virtual = 192.0.2.100:3389
    real = 192.0.2.11:3389 gate 2
    real = 192.0.2.12:3389 gate 1 l:5 u:50
    scheduler = wlc
    checktype = {checktype}
    service = rdp
"""


def farm(tmp_path, quiescent="yes", readd="no", checktype="negotiate"):
    path = tmp_path / "farm.cf"
    text = FARM.format(quiescent=quiescent, readd=readd, checktype=checktype)
    path.write_text(textwrap.dedent(text))
    result = load(path)
    assert result.config is not None, result.diagnostics
    return result.config, specs(result.config)


def dests(table):
    [(_service, members)] = list(table.entries())
    return {str(d.key): (d.weight, d.lower, d.upper) for d in members}


def pairs(virtuals):
    [v] = virtuals
    return [r.pair for r in v.reals]


def test_up_reals_get_their_configured_weight_and_thresholds(tmp_path):
    _, virtuals = farm(tmp_path)
    a, b = pairs(virtuals)
    table = desired_table(virtuals, {a: State.UP, b: State.UP}, Table())
    assert dests(table) == {"192.0.2.11:3389": (2, 0, 0), "192.0.2.12:3389": (1, 5, 50)}
    [(service, _)] = list(table.entries())
    assert service.scheduler == "wlc"


def test_quiescent_yes_keeps_a_down_real_at_weight_zero(tmp_path):
    _, virtuals = farm(tmp_path, quiescent="yes")
    a, b = pairs(virtuals)
    table = desired_table(virtuals, {a: State.UP, b: State.DOWN}, Table())
    assert dests(table)["192.0.2.12:3389"][0] == 0


def test_quiescent_no_removes_a_down_real(tmp_path):
    _, virtuals = farm(tmp_path, quiescent="no")
    a, b = pairs(virtuals)
    table = desired_table(virtuals, {a: State.UP, b: State.DOWN}, Table())
    assert set(dests(table)) == {"192.0.2.11:3389"}


def test_soft_failures_keep_the_real_up(tmp_path):
    _, virtuals = farm(tmp_path)
    a, b = pairs(virtuals)
    table = desired_table(virtuals, {a: State.FALLING, b: State.RISING}, Table())
    assert dests(table)["192.0.2.11:3389"][0] == 2
    assert dests(table)["192.0.2.12:3389"][0] == 0


@pytest.mark.parametrize(("readd", "kept"), [("no", False), ("yes", True)])
def test_a_quiesced_real_deleted_by_hand_is_readded_only_with_readdquiescent(tmp_path, readd, kept):
    config, virtuals = farm(tmp_path, readd=readd)
    a, b = pairs(virtuals)
    # b was programmed (at weight 0), then an operator deleted it with ipvsadm -d.
    actual = desired_table(virtuals, {a: State.UP, b: State.UP}, Table())
    actual = Table.build(
        [(s, [d for d in ds if str(d.key) != "192.0.2.12:3389"]) for s, ds in actual.entries()]
    )
    table = desired_table(
        virtuals,
        {a: State.UP, b: State.DOWN},
        actual,
        programmed={a, b},
        readdquiescent=config.readdquiescent,
    )
    assert ("192.0.2.12:3389" in dests(table)) is kept


def test_a_new_real_gets_no_traffic_before_its_first_good_probe(tmp_path):
    _, virtuals = farm(tmp_path)
    table = desired_table(virtuals, {}, Table())
    # ... and the fallback waits for the first verdicts too, so it does not flicker.
    assert dests(table) == {"192.0.2.11:3389": (0, 0, 0), "192.0.2.12:3389": (0, 5, 50)}


def test_a_real_already_serving_is_adopted_until_its_first_verdict(tmp_path):
    _, virtuals = farm(tmp_path)
    a, b = pairs(virtuals)
    kernel = desired_table(virtuals, {a: State.UP, b: State.DOWN}, Table())
    adopted = adoptable(virtuals, kernel)
    assert adopted == {a}
    table = desired_table(virtuals, {}, kernel, adopted=adopted)
    assert plan(table, kernel, {v.key for v in virtuals}) == []


def test_the_fallback_serves_exactly_while_no_real_is_up(tmp_path):
    _, virtuals = farm(tmp_path)
    a, b = pairs(virtuals)
    none_up = desired_table(virtuals, {a: State.DOWN, b: State.DOWN}, Table(), programmed={a, b})
    assert dests(none_up)["127.0.0.1:3389"] == (1, 0, 0)
    one_up = desired_table(virtuals, {a: State.DOWN, b: State.UP}, Table(), programmed={a, b})
    assert "127.0.0.1:3389" not in dests(one_up)


def test_checktype_off_freezes_what_the_kernel_holds(tmp_path):
    _, virtuals = farm(tmp_path, checktype="off")
    [v] = virtuals
    frozen = Destination.of("192.0.2.11", 3389, weight=7)
    kernel = Table.build([(v.service, [frozen])])
    table = desired_table(virtuals, {}, kernel)
    assert dests(table) == {"192.0.2.11:3389": (7, 0, 0)}


def test_reals_the_configuration_does_not_name_are_purged(tmp_path):
    _, virtuals = farm(tmp_path)
    [v] = virtuals
    a, b = pairs(virtuals)
    stranger = Destination.of("198.51.100.9", 3389, weight=1)
    kernel = Table.build([(v.service, [stranger])])
    desired = desired_table(virtuals, {a: State.UP, b: State.UP}, kernel)
    ops = plan(desired, kernel, {v.key})
    lines = [c.message for c in describe(ops, virtuals, kernel, purge_tag="start")]
    assert lines == [
        "Added real server: 192.0.2.11:3389 (192.0.2.100:3389) (Weight set to 2)",
        "Added real server: 192.0.2.12:3389 (192.0.2.100:3389) (Weight set to 1)",
        "Purged real server (start): 198.51.100.9:3389 (192.0.2.100:3389)",
    ]


async def test_log_lines_keep_ldirectords_wording_through_a_failure_and_recovery(tmp_path):
    _, virtuals = farm(tmp_path)
    a, b = pairs(virtuals)
    owned = {v.key for v in virtuals}
    kernel = MemoryBackend()
    health = {a: State.UP, b: State.UP}
    programmed = {a, b}
    seen = []
    for step in ({}, {b: State.DOWN}, {a: State.DOWN}, {a: State.UP, b: State.UP}):
        health.update(step)
        actual = await kernel.dump(owned)
        ops = plan(desired_table(virtuals, health, actual, programmed=programmed), actual, owned)
        seen += [c.message for c in describe(ops, virtuals, actual)]
        await kernel.apply(ops)
    assert seen == [
        "Added virtual server: 192.0.2.100:3389",
        "Added real server: 192.0.2.11:3389 (192.0.2.100:3389) (Weight set to 2)",
        "Added real server: 192.0.2.12:3389 (192.0.2.100:3389) (Weight set to 1)",
        "Quiescent real server: 192.0.2.12:3389 (192.0.2.100:3389) (Weight set to 0)",
        "Added fallback server: 127.0.0.1:3389 (192.0.2.100:3389) (Weight set to 1)",
        "Quiescent real server: 192.0.2.11:3389 (192.0.2.100:3389) (Weight set to 0)",
        "Restored real server: 192.0.2.11:3389 (192.0.2.100:3389) (Weight set to 2)",
        "Restored real server: 192.0.2.12:3389 (192.0.2.100:3389) (Weight set to 1)",
        "Deleted fallback server: 127.0.0.1:3389 (192.0.2.100:3389)",
    ]
