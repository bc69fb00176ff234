"""NetlinkBackend against Linux's IPVS (in the test guest), cross-checked with ipvsadm.

Every test reconciles a desired table into a fresh network namespace, reads the
kernel back twice (through our dump, and through `ipvsadm -Ln` parsed by
tests/unit/ipvs/ipvsadm_listing.py), and reconciles again to prove nothing is left
to write.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "ipvs"))
from ipvsadm_listing import parse, persistent_conns

from ldirectorpy.ipvs.backend import ApplyReport
from ldirectorpy.ipvs.netlink import NetlinkBackend
from ldirectorpy.ipvs.planner import plan
from ldirectorpy.ipvs.types import (
    AddressKey,
    Destination,
    Family,
    Forward,
    FwmarkKey,
    SchedFlag,
    Service,
    ServiceKey,
    Table,
)

Ipvsadm = Callable[..., str]
SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]


@pytest.fixture
async def kernel(netns: str) -> AsyncIterator[NetlinkBackend]:
    # The `netns` fixture brings lo up: IPv4 reals need the local routing table it
    # creates (without it the kernel answers EINVAL to every IPv4 real server).
    backend = await NetlinkBackend.open(timeout=60)
    yield backend
    backend.close()


def table(entries: Iterable[tuple[Service, Iterable[Destination]]]) -> Table:
    return Table.build(entries)


def seen(ipvsadm: Ipvsadm) -> Table:
    return parse(ipvsadm("-Ln"), ipvsadm("-Ln", "--thresholds"))


async def reconcile(
    backend: NetlinkBackend, desired: Table, owned: set[ServiceKey] | None = None
) -> ApplyReport:
    keys = set(desired.services) if owned is None else owned
    report = await backend.apply(plan(desired, await backend.dump(keys), keys))
    assert report.ok, [str(e) for e in report.errors]
    return report


async def converge(
    backend: NetlinkBackend,
    ipvsadm: Ipvsadm,
    desired: Table,
    owned: set[ServiceKey] | None = None,
) -> dict[str, int]:
    """Reconcile, check with both readers, check a second pass writes nothing."""
    keys = set(desired.services) if owned is None else owned
    report = await reconcile(backend, desired, keys)
    assert seen(ipvsadm).restrict(keys) == desired
    assert await backend.dump(keys) == desired
    assert (await reconcile(backend, desired, keys)).total == 0
    return dict(report.writes)


def masq(address: str, port: int, **attrs: int) -> Destination:
    return Destination.of(address, port, forward=Forward.MASQ, **attrs)


async def test_every_scheduler_added_changed_and_deleted(
    kernel: NetlinkBackend, ipvsadm: Ipvsadm
) -> None:
    keys = [AddressKey.of("tcp", "192.0.2.1", 1000 + i) for i in range(len(SCHEDULERS))]
    reals = [masq("198.51.100.1", 80, weight=2), masq("198.51.100.2", 80)]

    def with_schedulers(names: list[str]) -> Table:
        return table((Service(k, s), reals) for k, s in zip(keys, names, strict=True))

    assert await converge(kernel, ipvsadm, with_schedulers(SCHEDULERS)) == {
        "add_service": 13,
        "add_dest": 26,
    }
    rotated = SCHEDULERS[1:] + SCHEDULERS[:1]
    assert await converge(kernel, ipvsadm, with_schedulers(rotated)) == {"edit_service": 13}
    assert await converge(kernel, ipvsadm, Table(), set(keys)) == {"del_service": 13}
    assert seen(ipvsadm) == Table()


async def test_forwarding_methods_protocols_and_families(
    kernel: NetlinkBackend, ipvsadm: Ipvsadm
) -> None:
    vips = [
        AddressKey.of("tcp", "192.0.2.2", 80),
        AddressKey.of("udp", "192.0.2.2", 53),
        AddressKey.of("tcp", "2001:db8::2", 80),
        AddressKey.of("udp", "2001:db8::2", 53),
    ]
    methods = [Forward.MASQ, Forward.ROUTE, Forward.TUNNEL]

    def build(shift: int, count: int = 3) -> Table:
        def reals(key: AddressKey) -> list[Destination]:
            net = "198.51.100." if key.family is Family.INET else "2001:db8:1::"
            return [
                Destination.of(f"{net}{i + 1}", key.port, forward=methods[(i + shift) % 3])
                for i in range(count)
            ]

        return table((Service(k, "wlc"), reals(k)) for k in vips)

    assert await converge(kernel, ipvsadm, build(0)) == {"add_service": 4, "add_dest": 12}
    assert await converge(kernel, ipvsadm, build(1)) == {"edit_dest": 12}
    assert await converge(kernel, ipvsadm, build(1, count=2)) == {"del_dest": 4}


async def test_fwmark_services_in_both_families(kernel: NetlinkBackend, ipvsadm: Ipvsadm) -> None:
    four, six = FwmarkKey(Family.INET, 1), FwmarkKey(Family.INET6, 2)
    first = table(
        [
            (Service(four, "rr"), [Destination.of("198.51.100.1", 0), masq("198.51.100.2", 80)]),
            (Service(six, "wrr"), [Destination.of("2001:db8:1::1", 0, weight=5)]),
        ]
    )
    assert await converge(kernel, ipvsadm, first) == {"add_service": 2, "add_dest": 3}
    second = table(
        [
            (Service(four, "wlc", persistence=120), [Destination.of("198.51.100.1", 0, weight=9)]),
            (Service(six, "wrr"), [Destination.of("2001:db8:1::1", 0, weight=0)]),
        ]
    )
    assert await converge(kernel, ipvsadm, second) == {
        "edit_service": 1,
        "edit_dest": 2,
        "del_dest": 1,
    }
    assert await converge(kernel, ipvsadm, Table(), {four, six}) == {"del_service": 2}


async def test_persistence_with_netmask(kernel: NetlinkBackend, ipvsadm: Ipvsadm) -> None:
    four = AddressKey.of("tcp", "192.0.2.3", 3389)
    six = AddressKey.of("tcp", "2001:db8::3", 3389)
    reals4 = [masq("198.51.100.1", 3389, weight=3)]
    reals6 = [masq("2001:db8:1::1", 3389)]

    def build(t4: int | None, m4: int | None, t6: int | None, m6: int | None) -> Table:
        return table(
            [
                (Service(four, "wlc", persistence=t4, netmask=m4), reals4),
                (Service(six, "wlc", persistence=t6, netmask=m6), reals6),
            ]
        )

    assert await converge(kernel, ipvsadm, build(300, 24, 600, 64)) == {
        "add_service": 2,
        "add_dest": 2,
    }
    conns = persistent_conns(ipvsadm("-Ln", "--persistent-conn"))
    assert conns[(four, "198.51.100.1:3389")] == (3, 0)
    assert await converge(kernel, ipvsadm, build(3600, 16, 60, 48)) == {"edit_service": 2}
    assert await converge(kernel, ipvsadm, build(300, None, 300, None)) == {"edit_service": 2}
    assert await converge(kernel, ipvsadm, build(None, None, None, None)) == {"edit_service": 2}
    assert "persistent" not in ipvsadm("-Ln")


async def test_thresholds(kernel: NetlinkBackend, ipvsadm: Ipvsadm) -> None:
    key = AddressKey.of("tcp", "192.0.2.4", 80)

    def build(upper: int, lower: int) -> Table:
        return table([(Service(key), [masq("198.51.100.1", 80, upper=upper, lower=lower)])])

    assert await converge(kernel, ipvsadm, build(100, 10)) == {"add_service": 1, "add_dest": 1}
    assert await converge(kernel, ipvsadm, build(50, 0)) == {"edit_dest": 1}
    assert await converge(kernel, ipvsadm, build(0, 0)) == {"edit_dest": 1}
    assert "50" not in ipvsadm("-Ln", "--thresholds")


async def test_scheduler_flags_and_one_packet(kernel: NetlinkBackend, ipvsadm: Ipvsadm) -> None:
    sh = AddressKey.of("udp", "192.0.2.5", 53)
    mh = AddressKey.of("tcp", "2001:db8::5", 80)
    wrr = FwmarkKey(Family.INET, 5)
    s1, s2, s3 = SchedFlag.SCHED1, SchedFlag.SCHED2, SchedFlag.SCHED3

    def build(flags: tuple[SchedFlag, SchedFlag, SchedFlag], ops: bool) -> Table:
        return table(
            [
                (Service(sh, "sh", sched_flags=flags[0], one_packet=ops), []),
                (Service(mh, "mh", sched_flags=flags[1]), []),
                (Service(wrr, "wrr", sched_flags=flags[2], one_packet=ops), []),
            ]
        )

    assert await converge(kernel, ipvsadm, build((s1 | s2, s2, s3), True)) == {"add_service": 3}
    listing = ipvsadm("-Ln")
    assert "sh (sh-fallback,sh-port)" in listing and "mh (mh-port)" in listing
    assert await converge(kernel, ipvsadm, build((s2, s1, s1), False)) == {"edit_service": 3}
    assert await converge(kernel, ipvsadm, build((s2, s1, s1), True)) == {"edit_service": 2}
    no = SchedFlag.NONE
    assert await converge(kernel, ipvsadm, build((no, no, no), False)) == {"edit_service": 3}


async def test_repairs_what_someone_changed_by_hand(
    kernel: NetlinkBackend, ipvsadm: Ipvsadm
) -> None:
    web = AddressKey.of("tcp", "192.0.2.6", 80)
    mark = FwmarkKey(Family.INET6, 6)
    desired = table(
        [
            (Service(web, "wrr", persistence=300), [masq("198.51.100.1", 8080, weight=4, upper=9)]),
            (Service(mark, "rr"), [Destination.of("2001:db8:1::1", 0, weight=2)]),
        ]
    )
    assert await converge(kernel, ipvsadm, desired) == {"add_service": 2, "add_dest": 2}

    ipvsadm("-C")
    assert await converge(kernel, ipvsadm, desired) == {"add_service": 2, "add_dest": 2}

    ipvsadm("-d", "-f", "6", "-6", "-r", "[2001:db8:1::1]:0")
    assert await converge(kernel, ipvsadm, desired) == {"add_dest": 1}

    # A weight changed by hand; ipvsadm -e also resets what it is not given.
    ipvsadm("-e", "-t", "192.0.2.6:80", "-r", "198.51.100.1:8080", "-m", "-w", "1")
    assert seen(ipvsadm).destinations[web] != desired.destinations[web]
    assert await converge(kernel, ipvsadm, desired) == {"edit_dest": 1}

    ipvsadm("-E", "-t", "192.0.2.6:80", "-s", "rr")
    assert await converge(kernel, ipvsadm, desired) == {"edit_service": 1}


async def test_services_not_owned_stay_untouched(kernel: NetlinkBackend, ipvsadm: Ipvsadm) -> None:
    ipvsadm("-A", "-t", "192.0.2.7:22", "-s", "rr")
    ipvsadm("-a", "-t", "192.0.2.7:22", "-r", "198.51.100.9:22", "-m", "-w", "3")
    ipvsadm("-A", "-f", "77", "-s", "wlc")
    stranger = seen(ipvsadm)
    assert len(stranger) == 2

    ours = AddressKey.of("tcp", "192.0.2.7", 80)
    desired = table([(Service(ours), [masq("198.51.100.9", 80)])])
    assert await converge(kernel, ipvsadm, desired) == {"add_service": 1, "add_dest": 1}
    assert seen(ipvsadm).restrict(stranger.services) == stranger
    assert await kernel.dump({ours}) == desired  # only what we own is read

    assert await converge(kernel, ipvsadm, Table(), {ours}) == {"del_service": 1}
    assert seen(ipvsadm) == stranger


async def test_a_large_table_in_one_dump(kernel: NetlinkBackend, ipvsadm: Ipvsadm) -> None:
    # The kernel reports twice what it granted: the forced buffer stuck.
    assert kernel.rcvbuf >= 2 * (32 << 20)
    keys = [AddressKey.of("tcp", "192.0.2.8", 1 + i) for i in range(100)]
    reals = [masq(f"198.51.100.{i + 1}", 80) for i in range(10)]
    desired = table((Service(k), [replace(r, port=k.port) for r in reals]) for k in keys)
    writes = await converge(kernel, ipvsadm, desired)
    assert writes == {"add_service": 100, "add_dest": 1000}


async def test_a_real_on_a_local_address_converges(
    kernel: NetlinkBackend, ipvsadm: Ipvsadm
) -> None:
    # ldirectord's usual `fallback = 127.0.0.1:80 gate`: a real on the director itself.
    key = AddressKey.of("tcp", "192.0.2.9", 80)
    desired = table([(Service(key), [Destination.of("127.0.0.1", 80, forward=Forward.ROUTE)])])
    assert await converge(kernel, ipvsadm, desired) == {"add_service": 1, "add_dest": 1}
