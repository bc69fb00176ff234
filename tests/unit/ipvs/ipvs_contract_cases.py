"""The IPVS backend contract: cases every backend must pass, kernel and memory alike.

Each case is `async def case(backend, flush)`, where `flush()` empties the table
behind the backend's back (ipvsadm -C). tests/unit/ipvs/test_memory_contract.py runs
them on `MemoryBackend`; tests/kernel/test_ipvs_contract.py on `NetlinkBackend` in a
fresh network namespace of the test guest. If the two disagree, the memory double
is wrong: the kernel is the reference.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ldirectorpy.ipvs.backend import IPVSBackend
from ldirectorpy.ipvs.errors import InvalidRequest, NotFound
from ldirectorpy.ipvs.planner import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    EditDest,
    EditService,
    plan,
)
from ldirectorpy.ipvs.types import (
    AddressKey,
    Destination,
    DestKey,
    Family,
    Forward,
    FwmarkKey,
    SchedFlag,
    Service,
    Table,
    ip,
)

Flush = Callable[[], Awaitable[None]]
Case = Callable[[IPVSBackend, Flush], Awaitable[None]]

WEB = AddressKey.of("tcp", "192.0.2.10", 80)
DNS6 = AddressKey.of("udp", "2001:db8::10", 53)
MARK4 = FwmarkKey(Family.INET, 7)
MARK6 = FwmarkKey(Family.INET6, 8)
OTHER = AddressKey.of("tcp", "192.0.2.99", 3389)


def rich_table() -> Table:
    """One of each kind: families, protocols, fwmark, every attribute set somewhere."""
    return Table.build(
        [
            (
                Service(WEB, "wrr", persistence=300, netmask=24),
                [
                    Destination.of("198.51.100.1", 80, forward=Forward.ROUTE, weight=3),
                    Destination.of(
                        "198.51.100.2", 8080, forward=Forward.MASQ, weight=0, upper=50, lower=5
                    ),
                    Destination.of("198.51.100.3", 80, forward=Forward.TUNNEL, weight=7),
                ],
            ),
            (
                Service(
                    DNS6,
                    "sh",
                    one_packet=True,
                    sched_flags=SchedFlag.SCHED1 | SchedFlag.SCHED2,
                    persistence=60,
                    netmask=64,
                ),
                [Destination.of("2001:db8::2", 53, forward=Forward.MASQ, weight=2)],
            ),
            (Service(MARK4, "rr"), [Destination.of("198.51.100.4", 0)]),
            (
                Service(MARK6, "mh", sched_flags=SchedFlag.SCHED2),
                [Destination.of("2001:db8::3", 0, forward=Forward.TUNNEL, weight=4)],
            ),
        ]
    )


async def converge(backend: IPVSBackend, desired: Table, owned: set[object] | None = None) -> int:
    keys = set(desired.services) if owned is None else owned
    report = await backend.apply(plan(desired, await backend.dump(keys), keys))  # type: ignore[arg-type]
    assert report.ok, report.errors
    return report.total


async def case_round_trip(backend: IPVSBackend, flush: Flush) -> None:
    """What is written reads back equal, and a second reconcile writes nothing."""
    desired = rich_table()
    assert await converge(backend, desired) == 10
    assert await backend.dump(set(desired.services)) == desired
    assert plan(desired, await backend.dump(set(desired.services)), set(desired.services)) == []
    assert (await backend.apply([])).total == 0


async def case_add_twice_is_done(backend: IPVSBackend, flush: Flush) -> None:
    svc = Service(WEB, "rr")
    dest = Destination.of("198.51.100.1", 80)
    ops = [AddService(svc), AddDest(WEB, dest)]
    assert (await backend.apply(ops)).ok
    again = await backend.apply(ops)
    assert again.ok and again.writes == {"add_service": 1, "add_dest": 1}


async def case_delete_missing_is_done(backend: IPVSBackend, flush: Flush) -> None:
    await backend.apply([AddService(Service(WEB))])
    report = await backend.apply(
        [DelDest(WEB, DestKey(ip("198.51.100.200"), 80)), DelService(OTHER)]
    )
    assert report.ok
    assert report.writes == {"del_dest": 1, "del_service": 1}


async def case_edit_of_vanished_entry_adds_it(backend: IPVSBackend, flush: Flush) -> None:
    svc = Service(WEB, "rr")
    dest = Destination.of("198.51.100.1", 80, weight=5)
    report = await backend.apply([EditService(svc), EditDest(WEB, dest)])
    assert report.ok
    assert report.writes == {
        "edit_service": 1,
        "add_service": 1,
        "edit_dest": 1,
        "add_dest": 1,
    }
    assert await backend.dump({WEB}) == Table.build([(svc, [dest])])


async def case_a_failed_retry_is_reported_as_the_planned_edit(
    backend: IPVSBackend, flush: Flush
) -> None:
    """An edit of a vanished entry is retried as an add; when the add is refused
    too, the failure names the edit that was planned and the add that was sent."""
    dest = Destination.of("198.51.100.1", 80, weight=2)
    assert (await backend.apply([AddService(Service(WEB, "rr")), AddDest(WEB, dest)])).ok
    await flush()  # the service vanishes, and its destinations with it
    edit_dest = EditDest(WEB, Destination.of("198.51.100.1", 80, weight=0))
    edit_svc = EditService(Service(OTHER, "nosuch"))  # the add then meets ENOENT
    report = await backend.apply([edit_dest, edit_svc])
    assert report.writes == {"edit_service": 1, "add_service": 1, "edit_dest": 1, "add_dest": 1}
    dest_failure, svc_failure = report.errors
    assert dest_failure.op is edit_dest
    assert dest_failure.retried_as == AddDest(WEB, edit_dest.dest)
    assert isinstance(dest_failure.error, NotFound)  # ESRCH: no such service
    assert svc_failure.op is edit_svc
    assert svc_failure.retried_as == AddService(edit_svc.service)
    assert isinstance(svc_failure.error, NotFound)  # ENOENT: no such scheduler
    assert await backend.dump({WEB, OTHER}) == Table()


async def case_refusals_are_reported(backend: IPVSBackend, flush: Flush) -> None:
    """A refused op is reported, typed; the ops after it still run."""
    ok_svc = Service(WEB, "rr")
    report = await backend.apply(
        [
            AddService(Service(OTHER, "nosuch")),
            AddDest(OTHER, Destination.of("198.51.100.1", 3389, forward=Forward.MASQ)),
            AddService(Service(DNS6, "rr", netmask=0)),
            AddService(ok_svc),
            AddDest(WEB, Destination.of("198.51.100.1", 80, upper=0, lower=5)),
        ]
    )
    kinds = [type(f.error) for f in report.errors]
    assert kinds == [NotFound, NotFound, InvalidRequest, InvalidRequest]
    assert await backend.dump({WEB, OTHER, DNS6}) == Table.build([(ok_svc, [])])


async def case_dump_reads_only_owned(backend: IPVSBackend, flush: Flush) -> None:
    desired = rich_table()
    await converge(backend, desired)
    assert await backend.dump({WEB, MARK6}) == desired.restrict({WEB, MARK6})
    assert await backend.dump(set()) == Table()


async def case_dr_port_is_stored_as_sent(backend: IPVSBackend, flush: Flush) -> None:
    """The kernel keeps a DR real's port; only ipvsadm (and `Table.build`) force it."""
    await backend.apply([AddService(Service(WEB, "rr"))])
    odd = Destination.of("198.51.100.1", 8080, forward=Forward.ROUTE)
    assert (await backend.apply([AddDest(WEB, odd)])).ok
    dumped = await backend.dump({WEB})
    assert list(dumped.destinations[WEB]) == [odd.key]


async def case_repair_after_flush(backend: IPVSBackend, flush: Flush) -> None:
    desired = rich_table()
    await converge(backend, desired)
    await flush()
    assert await backend.dump(set(desired.services)) == Table()
    assert await converge(backend, desired) == 10
    assert await backend.dump(set(desired.services)) == desired


CASES: dict[str, Case] = {
    name.removeprefix("case_"): fn
    for name, fn in dict(globals()).items()
    if name.startswith("case_")
}
