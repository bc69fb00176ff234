"""Derived values: the timeout chain, service defaults by port, ranges, name lookups."""

from __future__ import annotations

import pytest
from cfgtest import V, lint

from ldirectorpy.config import StaticResolver, SystemResolver
from ldirectorpy.config.resolve import (
    PORT_SERVICES,
    SERVICE_PORTS,
    default_service,
    expand_range,
    literal,
    resolve_host,
    resolve_port,
    timeouts,
)
from ldirectorpy.config.values import Invalid

# (virtual checktimeout, virtual negotiatetimeout, global check, global negotiate)
#   -> (checktimeout, negotiatetimeout), as ldirectord's ld_setup resolves them
CHAIN = [
    ((None, None, None, None), (5.0, 30.0)),
    ((None, None, 3.0, None), (3.0, 3.0)),
    ((None, None, None, 7.0), (7.0, 7.0)),
    ((None, None, 3.0, 7.0), (3.0, 7.0)),
    ((2.0, None, 3.0, 7.0), (2.0, 2.0)),
    ((None, 9.0, 3.0, 7.0), (9.0, 9.0)),
    ((2.0, 9.0, 3.0, 7.0), (2.0, 9.0)),
    ((None, 9.0, 3.0, None), (9.0, 9.0)),
]


@pytest.mark.parametrize(("given", "expected"), CHAIN)
def test_timeout_chain(given, expected):
    assert timeouts(*given) == expected


@pytest.mark.parametrize(("given", "expected"), CHAIN)
def test_timeout_chain_through_a_file(given, expected):
    vc, vn, gc, gn = given
    glob = "".join(f"{n} = {v}\n" for n, v in (("checktimeout", gc), ("negotiatetimeout", gn)) if v)
    own = "".join(
        f"    {n} = {v}\n" for n, v in (("checktimeout", vc), ("negotiatetimeout", vn)) if v
    )
    r = lint(glob + "checkinterval = 60\n" + V + own)
    assert r.config is not None
    v = r.config.virtuals[0]
    assert (v.checktimeout, v.negotiatetimeout) == expected


def test_timeout_origin_is_the_line_it_came_from():
    r = lint("negotiatetimeout = 4\n" + V)
    assert r.config is not None
    assert r.config.virtuals[0].where("checktimeout") == r.config.where("negotiatetimeout")


@pytest.mark.parametrize(
    ("port", "service"),
    [(21, "ftp"), (25, "smtp"), (53, "dns"), (80, "http"), (110, "pop"), (119, "nntp"),
     (143, "imap"), (389, "ldap"), (443, "https"), (587, "submission"), (636, "ldaps"),
     (993, "imaps"), (995, "pops"), (1521, "oracle"), (1812, "radius"),
     (3128, "http_proxy"), (3306, "mysql"), (3389, "rdp"), (5060, "sip"), (5432, "pgsql"),
     (8080, "none"), (23, "none")],
)  # fmt: skip
def test_service_defaults_by_port(port, service):
    assert default_service(port, fwmark=False) == service
    r = lint(f"virtual = 192.0.2.10:{port}\n    real = 192.0.2.11 gate\n")
    assert r.config is not None and r.config.virtuals[0].service == service
    assert r.config.virtuals[0].service_explicit is False


def test_fwmark_service_is_none_and_ports_map_back():
    assert default_service(80, fwmark=True) == "none"
    assert SERVICE_PORTS["rdp"] == 3389
    assert {SERVICE_PORTS[s]: s for s in PORT_SERVICES.values()} == PORT_SERVICES


def test_expand_range_counts_as_integers():
    assert expand_range("192.0.2.9", "192.0.2.11") == ["192.0.2.9", "192.0.2.10", "192.0.2.11"]
    assert expand_range("192.0.2.5", "192.0.2.5") == ["192.0.2.5"]
    assert isinstance(expand_range("192.0.2.9", "192.0.2.1"), str)
    assert isinstance(expand_range("198.18.0.0", "198.19.255.255"), str)  # too long


@pytest.mark.parametrize(
    ("text", "expected"),
    [("192.0.2.1", ("192.0.2.1", 4)), ("[2001:DB8::1]", ("2001:db8::1", 6)),
     ("2001:db8:0:0::1", ("2001:db8::1", 6)), ("192.0.2", None), ("01.2.3.4", None),
     ("host", None)],
)  # fmt: skip
def test_literal(text, expected):
    assert literal(text) == expected


def test_resolve_host_never_asks_the_resolver_about_literals():
    class Exploding(StaticResolver):
        def host(self, name, family):  # type: ignore[override]
            raise AssertionError(name)

    assert resolve_host("192.0.2.1", 4, Exploding()) == "192.0.2.1"
    with pytest.raises(Invalid) as wrong:
        resolve_host("[2001:db8::1]", 4, Exploding())
    assert wrong.value.code == "E210" and "IPv6" in wrong.value.message


def test_resolve_port():
    res = StaticResolver(services={"http": 80})
    assert resolve_port("8080", "tcp", res) == 8080
    assert resolve_port("70000", "tcp", res) is None
    assert resolve_port("http", "tcp", res) == 80
    assert resolve_port("nope", None, res) is None


def test_system_resolver_reads_etc_hosts_and_services():
    res = SystemResolver()
    assert res.host("localhost", 4) == "127.0.0.1"
    assert res.port("http", "tcp") == 80
    assert res.port("domain", None) == 53
    assert res.port("no-such-service-name", "tcp") is None
    assert res.host("no-such-host.invalid", 4) is None
    assert res.hostname()
