"""The planner: minimal, ordered, deterministic writes, and only on owned services."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import service_keys, tables

from ldirectorpy.ipvs.memory import MemoryBackend
from ldirectorpy.ipvs.planner import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    EditDest,
    EditService,
    op_sort_key,
    plan,
)
from ldirectorpy.ipvs.types import (
    AddressKey,
    Destination,
    Family,
    Forward,
    FwmarkKey,
    Service,
    Table,
)

WEB = AddressKey.of("tcp", "192.0.2.10", 80)
RDP = AddressKey.of("tcp", "192.0.2.10", 3389)
MARK = FwmarkKey(Family.INET, 5)
A = Destination.of("198.51.100.1", 80, forward=Forward.MASQ)
B = Destination.of("198.51.100.2", 80, forward=Forward.MASQ)


def table(*entries: tuple[Service, list[Destination]]) -> Table:
    return Table.build(entries)


def test_equal_tables_plan_nothing() -> None:
    t = table((Service(WEB), [A, B]))
    assert plan(t, t, {WEB}) == []


def test_a_new_service_comes_with_its_destinations() -> None:
    want = table((Service(WEB, "rr"), [B, A]))
    assert plan(want, Table(), {WEB}) == [
        AddService(Service(WEB, "rr")),
        AddDest(WEB, A),
        AddDest(WEB, B),
    ]


@pytest.mark.parametrize(
    ("have", "want", "ops"),
    [
        pytest.param(
            Service(WEB, "rr"), Service(WEB, "wrr"), [EditService(Service(WEB, "wrr"))], id="sched"
        ),
        pytest.param(
            Service(WEB),
            Service(WEB, persistence=300, netmask=24),
            [EditService(Service(WEB, persistence=300, netmask=24))],
            id="persistence",
        ),
        pytest.param(
            Service(WEB),
            Service(WEB, one_packet=True),
            [EditService(Service(WEB, one_packet=True))],
            id="ops",
        ),
    ],
)
def test_a_changed_service_is_edited_with_all_its_attributes(
    have: Service, want: Service, ops: list[object]
) -> None:
    assert plan(table((want, [])), table((have, [])), {WEB}) == ops


def test_a_changed_destination_is_edited_with_its_full_state() -> None:
    heavier = Destination.of("198.51.100.1", 80, forward=Forward.MASQ, weight=5, upper=9)
    ops = plan(table((Service(WEB), [heavier])), table((Service(WEB), [A])), {WEB})
    assert ops == [EditDest(WEB, heavier)]


def test_a_protocol_change_is_a_different_service() -> None:
    udp = AddressKey.of("udp", "192.0.2.10", 80)
    ops = plan(table((Service(udp), [])), table((Service(WEB), [])), {WEB, udp})
    assert ops == [AddService(Service(udp)), DelService(WEB)]


def test_order_is_adds_edits_then_deletes_destinations_before_services() -> None:
    have = table((Service(WEB, "rr"), [A]), (Service(MARK), []), (Service(RDP), [A, B]))
    want = table(
        (Service(WEB, "wrr"), [A, B]),
        (Service(AddressKey.of("udp", "192.0.2.10", 53)), [A]),
        (Service(RDP), [A]),
    )
    owned = {WEB, MARK, RDP, AddressKey.of("udp", "192.0.2.10", 53)}
    kinds = [type(op).__name__ for op in plan(want, have, owned)]
    assert kinds == ["AddService", "EditService", "AddDest", "AddDest", "DelDest", "DelService"]


def test_services_not_owned_are_never_touched() -> None:
    stranger = AddressKey.of("tcp", "192.0.2.77", 22)
    have = table((Service(stranger), [A]), (Service(WEB), [A]))
    assert plan(table((Service(WEB), [A])), have, {WEB}) == []
    assert plan(Table(), have, {WEB}) == [DelService(WEB)]


def test_a_desired_service_must_be_owned() -> None:
    with pytest.raises(ValueError, match="not owned"):
        plan(table((Service(WEB), [])), Table(), set())


def test_destinations_of_a_deleted_service_go_with_it() -> None:
    assert plan(Table(), table((Service(WEB), [A, B])), {WEB}) == [DelService(WEB)]


def test_removing_a_destination() -> None:
    ops = plan(table((Service(WEB), [A])), table((Service(WEB), [A, B])), {WEB})
    assert ops == [DelDest(WEB, B.key)]


@settings(max_examples=150, deadline=None)
@given(
    keys=st.lists(service_keys, min_size=1, max_size=6, unique=True),
    data=st.data(),
)
async def test_applying_a_plan_converges(keys: list, data: st.DataObject) -> None:  # type: ignore[type-arg]
    """Plan + apply on the memory kernel gives desired on owned services; again gives []."""
    owned = set(data.draw(st.lists(st.sampled_from(keys), unique=True)))
    before = data.draw(tables(keys))
    desired = data.draw(tables(sorted(owned, key=lambda k: k.sort_key())))
    backend = MemoryBackend()
    seed = await backend.apply(plan(before, Table(), set(before.services)))
    assert seed.ok
    untouched = backend.table.restrict(set(keys) - owned)

    ops = plan(desired, await backend.dump(owned), owned)
    assert ops == sorted(ops, key=op_sort_key)
    report = await backend.apply(ops)

    assert report.ok, report.errors
    assert report.total == len(ops)
    assert await backend.dump(owned) == desired
    assert plan(desired, await backend.dump(owned), owned) == []
    assert backend.table.restrict(set(keys) - owned) == untouched


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_plans_are_deterministic(data: st.DataObject) -> None:
    keys = data.draw(st.lists(service_keys, min_size=1, max_size=5, unique=True))
    a, b = data.draw(tables(keys)), data.draw(tables(keys))
    reordered = Table.build(reversed(list(a.entries())))
    assert plan(a, b, set(keys)) == plan(reordered, b, set(keys))
