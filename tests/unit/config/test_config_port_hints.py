"""A misspelt port name gets a "did you mean": in virtual=, real=, fallback=, v4 and v6.

The diagnostic itself (E206, its message, file:line:col) is the one it always was;
only the hint is new. Candidates are the names the port lookup knows, for the
virtual's protocol.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field

import pytest
from cfgtest import RESOLVER, lint, write

from ldirectorpy.commands import check
from ldirectorpy.config import Diagnostic, StaticResolver, SystemResolver, load
from ldirectorpy.config.diagnostics import MAX_DIAGNOSTICS
from ldirectorpy.config.resolve import port_hint
from ldirectorpy.config.services import service_names
from ldirectorpy.config.values import did_you_mean

GENERIC = "use a number or a name from /etc/services"  # the virtual's hint before this one


def e206(text: str) -> list[Diagnostic]:
    return [d for d in lint(text).diagnostics if d.code == "E206"]


def only_e206(text: str) -> Diagnostic:
    found = e206(text)
    assert len(found) == 1, found
    return found[0]


# -- where the hint appears ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "col", "message", "hint"),
    [
        ("virtual = 192.0.2.10:htps\n    real = 192.0.2.11:443 gate\n",
         1, 11, "unknown port 'htps' for tcp", "did you mean 'https' or 'http'?"),
        ("virtual6 = [2001:db8::10]:ms-wbt-sever\n    real6 = [2001:db8::11] gate\n",
         1, 12, "unknown port 'ms-wbt-sever' for tcp", "did you mean 'ms-wbt-server'?"),
        ("virtual = 192.0.2.10:3389\n    real = 192.0.2.11:ms-wbt-sever gate\n",
         2, 12, "unknown port 'ms-wbt-sever' for the real server",
         "did you mean 'ms-wbt-server'?"),
        ("virtual6 = [2001:db8::10]:443\n    real6 = [2001:db8::11]:htps gate\n",
         2, 13, "unknown port 'htps' for the real server", "did you mean 'https' or 'http'?"),
        ("virtual = 192.0.2.10:25\n    real = 192.0.2.20->192.0.2.21:smpt gate\n",
         2, 12, "unknown port 'smpt' for the real server", "did you mean 'smtp'?"),
        ("fallback = 198.51.100.1:htps gate\nvirtual = 192.0.2.10:443\n"
         "    real = 192.0.2.11 gate\n",
         1, 12, "fallback: unknown port 'htps'", "did you mean 'https' or 'http'?"),
        ("virtual = 192.0.2.10:443\n    real = 192.0.2.11 gate\n"
         "    fallback = 198.51.100.1:htps gate\n",
         3, 16, "fallback: unknown port 'htps'", "did you mean 'https' or 'http'?"),
        ("virtual6 = [2001:db8::10]:443\n    real6 = [2001:db8::11] gate\n"
         "    fallback6 = [2001:db8::ff]:htps\n",
         3, 17, "fallback: unknown port 'htps'", "did you mean 'https' or 'http'?"),
    ],
    ids=["virtual", "virtual6", "real", "real6", "real-range", "global-fallback",
         "virtual-fallback", "fallback6"],
)  # fmt: skip
def test_a_near_miss_gets_the_close_names(text, line, col, message, hint):
    d = only_e206(text)
    assert (d.line, d.col, d.message, d.hint) == (line, col, message, hint)


@pytest.mark.parametrize(
    "text",
    [
        "virtual = 192.0.2.10:80\n    real = 192.0.2.11:xyzzy gate\n",
        "virtual6 = [2001:db8::10]:80\n    real6 = [2001:db8::11]:xyzzy gate\n",
        "fallback = 198.51.100.1:xyzzy\nvirtual = 192.0.2.10:80\n    real = 192.0.2.11 gate\n",
        "virtual = 192.0.2.10:80\n    real = 192.0.2.11:70000 gate\n",
        "virtual = 192.0.2.10:80\n    real = 192.0.2.11:" + "https" * 1000 + " gate\n",
    ],
    ids=["real", "real6", "fallback", "number-out-of-range", "very-long"],
)
def test_nothing_alike_gives_no_hint(text):
    assert only_e206(text).hint is None


@pytest.mark.parametrize("port", ["xyzzy", "70000"])
def test_a_virtual_with_nothing_alike_keeps_its_old_hint(port):
    d = only_e206(f"virtual = 192.0.2.10:{port}\n    real = 192.0.2.11 gate\n")
    assert d.hint == GENERIC and "did you mean" not in d.hint


def test_case_matters_to_the_lookup_and_the_hint_says_so():
    # getservbyname is case-sensitive: HTTP is not http, and difflib sees no likeness
    with pytest.raises(OSError):
        socket.getservbyname("HTTP", "tcp")
    d = only_e206("virtual = 192.0.2.10:HTTP\n    real = 192.0.2.11 gate\n")
    assert d.hint == "did you mean 'http'? (service names are case-sensitive)"


@pytest.mark.parametrize("word", ["rdp", "RDP"])
def test_rdp_points_to_its_etc_services_name(word):
    # For a terminal-server farm ":rdp" is the likely mistake; 'urd' or 'ldp' would mislead.
    d = only_e206(f"virtual = 192.0.2.10:{word}\n    real = 192.0.2.11 gate\n")
    assert d.hint == "did you mean 'ms-wbt-server'? (the /etc/services name for rdp)"


# -- the diagnostic is unchanged but for its hint ----------------------------------


@dataclass(frozen=True, slots=True)
class NoNames(StaticResolver):
    """Resolves like RESOLVER but lists no names: the output as it was before hints."""

    def service_names(self, protocol: str | None) -> frozenset[str]:
        return frozenset()


def test_only_the_hint_differs_from_a_lookup_that_offers_no_names():
    path = write(
        "fallback = 198.51.100.1:htps\n"
        "virtual = 192.0.2.10:htps\n"
        "    real = 192.0.2.11:ms-wbt-sever gate\n"
        "    real = 192.0.2.12:smpt gate\n"
        "virtual6 = [2001:db8::10]:htps\n"
        "    real6 = [2001:db8::11]:htps gate\n"
    )
    bare = NoNames(hosts=RESOLVER.hosts, services=RESOLVER.services)
    with_hints = load(path, resolver=RESOLVER).diagnostics
    without = load(path, resolver=bare).diagnostics
    assert [(d.path, d.line, d.col, d.code, d.message) for d in with_hints] == [
        (d.path, d.line, d.col, d.code, d.message) for d in without
    ]
    assert [d.hint for d in without] == [None, GENERIC, None, None, GENERIC, None]
    assert all(d.hint and d.hint.startswith("did you mean") for d in with_hints)
    assert [(d.line, d.col) for d in with_hints] == [(1, 12), (2, 11), (3, 12), (4, 12),
                                                     (5, 12), (6, 13)]  # fmt: skip


# -- candidates: the virtual's protocol ----------------------------------------------

BY_PROTO = StaticResolver(
    services={"tftp/udp": 69, "ntp/udp": 123, "ftp/tcp": 21, "ftps/tcp": 990, "http": 80}
)


def proto_hint(text: str) -> str | None:
    found = [d for d in load(write(text), resolver=BY_PROTO).diagnostics if d.code == "E206"]
    assert len(found) == 1, found
    return found[0].hint


def test_a_udp_virtual_is_offered_udp_names():
    udp = "virtual = 192.0.2.10:tftpp\n    protocol = udp\n    real = 192.0.2.11 gate\n"
    tcp = "virtual = 192.0.2.10:tftpp\n    real = 192.0.2.11 gate\n"
    assert proto_hint(udp) == "did you mean 'tftp'?"
    assert proto_hint(tcp) == "did you mean 'ftp', 'http' or 'ftps'?"  # no tftp: udp only


def test_a_real_is_offered_the_names_of_its_virtuals_protocol():
    udp = "virtual = 192.0.2.10:69\n    protocol = udp\n    real = 192.0.2.11:ftpp gate\n"
    tcp = "virtual = 192.0.2.10:21\n    real = 192.0.2.11:ftpp gate\n"
    assert proto_hint(udp) == "did you mean 'tftp'?"
    assert proto_hint(tcp) == "did you mean 'ftp' or 'ftps'?"


def test_a_fwmark_real_and_a_global_fallback_are_offered_both_protocols():
    # their ports are looked up for any protocol, as ldirectord does
    fwm = "virtual = 7\n    real = 192.0.2.11:ntpp gate\n"
    fallback = "fallback = 198.51.100.1:ntpp\nvirtual = 192.0.2.10:80\n    real = 192.0.2.11 gate\n"
    assert proto_hint(fwm) == "did you mean 'ntp'?"
    assert proto_hint(fallback) == "did you mean 'ntp'?"


def test_static_resolver_protocol_keys():
    assert BY_PROTO.port("tftp", "udp") == 69
    assert BY_PROTO.port("tftp", "tcp") is None
    assert BY_PROTO.port("tftp", None) == 69
    assert BY_PROTO.port("http", "udp") == 80
    assert sorted(BY_PROTO.service_names("udp")) == ["http", "ntp", "tftp"]
    assert sorted(BY_PROTO.service_names(None)) == ["ftp", "ftps", "http", "ntp", "tftp"]


# -- the system lookup -----------------------------------------------------------------


def test_system_names_are_the_ones_getservbyname_accepts():
    tcp, udp = service_names("tcp"), service_names("udp")
    assert {"https", "www", "ms-wbt-server", "domain"} <= tcp  # www: an alias of http
    assert "tftp" in udp and "tftp" not in tcp
    assert service_names(None) == tcp | udp
    for name in tcp:
        socket.getservbyname(name, "tcp")  # raises if the lookup does not know it
    for name in udp:
        socket.getservbyname(name, "udp")


def test_system_resolver_hints():
    res = SystemResolver()
    assert port_hint("ms-wbt-sever", "tcp", res) == "did you mean 'ms-wbt-server'?"
    assert port_hint("tftpp", "udp", res) == "did you mean 'tftp'?"
    assert port_hint("xyzzy", "tcp", res) is None
    assert (
        port_hint("HTTP", "tcp", res) == "did you mean 'http'? (service names are case-sensitive)"
    )


@dataclass(frozen=True, slots=True)
class Counting(StaticResolver):
    asked: list[str | None] = field(default_factory=list)

    def service_names(self, protocol: str | None) -> frozenset[str]:
        self.asked.append(protocol)
        return frozenset(StaticResolver.service_names(self, protocol))


def test_no_names_are_listed_once_no_more_errors_are_kept():
    flood = "".join(f"nosuch{i} = 1\n" for i in range(MAX_DIAGNOSTICS + 5))
    res = Counting(services=RESOLVER.services)
    load(write(flood + "virtual = 192.0.2.10:htps\n    real = 192.0.2.11 gate\n"), resolver=res)
    assert res.asked == []
    load(write("virtual = 192.0.2.10:htps\n    real = 192.0.2.11 gate\n"), resolver=res)
    assert res.asked == ["tcp"]


# -- the shared hint helper ------------------------------------------------------------


def test_did_you_mean_one_guess_as_before():
    assert did_you_mean("wlcc", ("rr", "wlc", "lc")) == "did you mean 'wlc'?"
    assert did_you_mean("zzz", ("rr", "wlc")) is None


def test_did_you_mean_several_guesses_drop_a_far_second():
    names = ("snmp", "smtp", "ssmtp", "ms-wbt-server", "xmpp-server")
    assert did_you_mean("smpt", names, n=3) == "did you mean 'snmp', 'smtp' or 'ssmtp'?"
    # xmpp-server passes difflib's cutoff but is far behind the first guess
    assert did_you_mean("ms-wbt-sever", names, n=3) == "did you mean 'ms-wbt-server'?"


# -- what --check prints (the system's /etc/services) ---------------------------------


def test_check_prints_the_hint_under_the_diagnostic(capsys):
    path = write(
        "virtual = 192.0.2.100:htps\n"
        "    real = 192.0.2.11:ms-wbt-sever gate\n"
        "    real = 192.0.2.12:xyzzy gate\n"
    )
    assert check.main([str(path)]) == 2
    assert capsys.readouterr().out == (
        f"{path}:1:11: error: unknown port 'htps' for tcp [E206]\n"
        "    hint: did you mean 'https', 'http' or 'ftps'?\n"
        f"{path}:2:12: error: unknown port 'ms-wbt-sever' for the real server [E206]\n"
        "    hint: did you mean 'ms-wbt-server'?\n"
        f"{path}:3:12: error: unknown port 'xyzzy' for the real server [E206]\n"
    )


def test_check_json_carries_the_hint(capsys):
    path = write(
        "virtual = 192.0.2.100:3389\n"
        "    real = 192.0.2.11:ms-wbt-sever gate\n"
        "    real = 192.0.2.12:ms-wbt-server gate\n"
    )
    assert check.main(["--format", "json", str(path)]) == 2
    (d,) = json.loads(capsys.readouterr().out)["files"][0]["diagnostics"]
    assert (d["line"], d["col"], d["code"], d["hint"]) == (
        2,
        12,
        "E206",
        "did you mean 'ms-wbt-server'?",
    )
