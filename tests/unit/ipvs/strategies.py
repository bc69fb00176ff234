"""Hypothesis strategies for IPVS tables (documentation address ranges only)."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from ldirectorpy.ipvs.types import (
    AddressKey,
    Destination,
    Family,
    Forward,
    FwmarkKey,
    Proto,
    SchedFlag,
    Service,
    ServiceKey,
    Table,
)

V4_VIPS = [ipaddress.IPv4Address(f"192.0.2.{i}") for i in range(1, 5)]
V6_VIPS = [ipaddress.IPv6Address(f"2001:db8::{i}") for i in range(1, 5)]
V4_RIPS = [ipaddress.IPv4Address(f"198.51.100.{i}") for i in range(1, 6)]
V6_RIPS = [ipaddress.IPv6Address(f"2001:db8:1::{i}") for i in range(1, 6)]

address_keys = st.builds(
    AddressKey.of,
    st.sampled_from([Proto.TCP, Proto.UDP]),
    st.sampled_from(V4_VIPS + V6_VIPS),
    st.sampled_from([80, 443, 3389]),
)
fwmark_keys = st.builds(FwmarkKey, st.sampled_from(list(Family)), st.integers(1, 4))
service_keys: st.SearchStrategy[ServiceKey] = st.one_of(address_keys, fwmark_keys)


@st.composite
def services(draw: st.DrawFn, key: ServiceKey) -> Service:
    full = 32 if key.family is Family.INET else 128
    return Service(
        key=key,
        scheduler=draw(st.sampled_from(["rr", "wrr", "wlc", "sh", "mh"])),
        persistence=draw(st.none() | st.integers(1, 3600)),
        netmask=draw(st.sampled_from([None, full, full - 8])),
        one_packet=draw(st.booleans()),
        sched_flags=SchedFlag(draw(st.sampled_from([0, 0x08, 0x10, 0x18, 0x20]))),
    )


@st.composite
def destinations(draw: st.DrawFn, key: ServiceKey) -> Destination:
    pool = V4_RIPS if key.family is Family.INET else V6_RIPS
    upper = draw(st.integers(0, 100))
    return Destination(
        address=draw(st.sampled_from(pool)),
        port=draw(st.sampled_from([0, 80, 8080])),
        forward=draw(st.sampled_from([Forward.MASQ, Forward.TUNNEL, Forward.ROUTE])),
        weight=draw(st.integers(0, 100)),
        upper=upper,
        lower=draw(st.integers(0, upper)),
    )


@st.composite
def tables(draw: st.DrawFn, keys: list[ServiceKey] | None = None) -> Table:
    chosen = keys if keys is not None else draw(st.lists(service_keys, max_size=5, unique=True))
    entries = []
    for key in chosen:
        if keys is not None and not draw(st.booleans()):
            continue
        entries.append((draw(services(key)), draw(st.lists(destinations(key), max_size=4))))
    return Table.build(entries)
