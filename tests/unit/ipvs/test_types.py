"""Value types normalise on construction, so a read-back compares equal to what was written."""

from __future__ import annotations

import pytest

from ldirectorpy.ipvs.types import (
    AddressKey,
    Destination,
    Family,
    Forward,
    FwmarkKey,
    SchedFlag,
    Service,
    Table,
    netmask_prefix,
    parse_sched_flags,
)

WEB = AddressKey.of("tcp", "192.0.2.10", 80)


def test_netmask_defaults_to_a_full_host_mask_per_family() -> None:
    assert Service(WEB).netmask == 32
    assert Service(AddressKey.of("tcp", "2001:db8::1", 80)).netmask == 128
    assert Service(FwmarkKey(Family.INET6, 3)).netmask == 128
    assert Service(WEB) == Service(WEB, netmask=32)


@pytest.mark.parametrize(
    ("text", "prefix"), [("255.255.255.255", 32), ("255.255.255.0", 24), ("64", 64)]
)
def test_netmask_words_of_ldirectord(text: str, prefix: int) -> None:
    assert netmask_prefix(text) == prefix


@pytest.mark.parametrize("method", [Forward.ROUTE, Forward.TUNNEL])
def test_dr_and_tunnel_reals_take_the_virtual_port(method: Forward) -> None:
    t = Table.build([(Service(WEB), [Destination.of("198.51.100.1", 8080, forward=method)])])
    assert [d.port for d in t.destinations[WEB].values()] == [80]


def test_masq_reals_and_fwmark_reals_keep_their_port() -> None:
    masq = Destination.of("198.51.100.1", 8080, forward=Forward.MASQ)
    mark = FwmarkKey(Family.INET, 9)
    dr = Destination.of("198.51.100.1", 0, forward=Forward.ROUTE)
    t = Table.build([(Service(WEB), [masq]), (Service(mark), [dr])])
    assert [d.port for d in t.destinations[WEB].values()] == [8080]
    assert [d.port for d in t.destinations[mark].values()] == [0]


def test_ipv6_forms_collapse() -> None:
    assert AddressKey.of("tcp", "[2001:DB8::0:1]", 80) == AddressKey.of("tcp", "2001:db8::1", 80)


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("sh-fallback,sh-port", SchedFlag.SCHED1 | SchedFlag.SCHED2),
        ("mh-port", SchedFlag.SCHED2),
        ("flag-1,flag-3", SchedFlag.SCHED1 | SchedFlag.SCHED3),
        ("", SchedFlag.NONE),
    ],
)
def test_scheduler_flags_of_ipvsadm(text: str, flags: SchedFlag) -> None:
    assert parse_sched_flags(text) == flags


def test_sh_flags_need_the_sh_scheduler() -> None:
    with pytest.raises(ValueError, match="needs the sh scheduler"):
        parse_sched_flags("sh-port", scheduler="wrr")
    with pytest.raises(ValueError, match="unknown"):
        parse_sched_flags("sh-pot")


def test_keys_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        AddressKey(Family.INET6, WEB.protocol, WEB.address, 80)
    with pytest.raises(ValueError):
        FwmarkKey(Family.INET, 0)
    with pytest.raises(ValueError):
        Destination.of("198.51.100.1", 70000)


def test_tables_compare_by_content() -> None:
    a = Table.build([(Service(WEB), [Destination.of("198.51.100.1", 80)])])
    b = Table.build([(Service(WEB), [Destination.of("198.51.100.1", 80)])])
    assert a == b
    assert a != Table.build([(Service(WEB), [])])
