"""Names to numbers, and ldirectord's derived defaults.

Host and service names go through an injectable `Resolver` (the system one reads
/etc/hosts, DNS and /etc/services), so tests need no network. The rest are pure
functions: service defaults by port (§1.6), the timeout chain (§1.5), address
ranges, the check port rule, and the hint for a misspelt port name.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol, cast

from ldirectorpy.config.model import Family
from ldirectorpy.config.values import Invalid, did_you_mean

# ld_port_to_service, plus 3389 -> rdp (ldirectord: none, so RDP farms went unchecked).
PORT_SERVICES: dict[int, str] = {
    21: "ftp", 25: "smtp", 53: "dns", 80: "http", 110: "pop", 119: "nntp", 143: "imap",
    389: "ldap", 443: "https", 587: "submission", 636: "ldaps", 993: "imaps", 995: "pops",
    1521: "oracle", 1812: "radius", 3128: "http_proxy", 3306: "mysql", 3389: "rdp",
    5060: "sip", 5432: "pgsql",
}  # fmt: skip
# ld_service_to_port: the check port of a fwmark real without a port.
SERVICE_PORTS: dict[str, int] = {service: port for port, service in PORT_SERVICES.items()}

DEFAULT_CHECKTIMEOUT = 5.0
DEFAULT_NEGOTIATETIMEOUT = 30.0


class Resolver(Protocol):
    def host(self, name: str, family: Family) -> str | None:
        """The first address of `name` in `family`, as text; None if it does not resolve."""
        ...

    def port(self, name: str, protocol: str | None) -> int | None:
        """The port of service `name` (/etc/services); protocol None means any."""
        ...

    def hostname(self) -> str:
        """This machine's name (ldirectord's ftp/sip login defaults use it)."""
        ...

    def service_names(self, protocol: str | None) -> Collection[str]:
        """Every name and alias `port` knows for `protocol` (None: any); for hints."""
        ...


class SystemResolver:
    """getaddrinfo and getservbyname, like ldirectord's ld_gethostbyname."""

    def __init__(self) -> None:
        self._names: dict[str | None, frozenset[str]] = {}  # listed once per load

    def host(self, name: str, family: Family) -> str | None:
        af = socket.AF_INET6 if family == 6 else socket.AF_INET
        try:
            infos = socket.getaddrinfo(name, None, af, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return None
        return str(infos[0][4][0]) if infos else None

    def port(self, name: str, protocol: str | None) -> int | None:
        for proto in (protocol,) if protocol else ("tcp", "udp"):
            try:
                return socket.getservbyname(name, proto)
            except (OSError, UnicodeError):
                continue
        return None

    def hostname(self) -> str:
        return socket.gethostname()

    def service_names(self, protocol: str | None) -> Collection[str]:
        if protocol not in self._names:
            from ldirectorpy.config.services import service_names  # ctypes: only on a miss

            self._names[protocol] = service_names(protocol)
        return self._names[protocol]


@dataclass(frozen=True, slots=True)
class StaticResolver:
    """A resolver from tables, for tests and tools: no DNS, no /etc files.

    A service key is "name" (any protocol) or "name/tcp", "name/udp" (that one only).
    """

    hosts: Mapping[str, str] = field(default_factory=dict)
    services: Mapping[str, int] = field(default_factory=dict)
    name: str = "director.example"

    def host(self, name: str, family: Family) -> str | None:
        addr = self.hosts.get(name)
        if addr is None:
            return None
        return addr if ip_family(addr) == family else None

    def port(self, name: str, protocol: str | None) -> int | None:
        for proto in (protocol,) if protocol else ("tcp", "udp"):
            if (port := self.services.get(f"{name}/{proto}")) is not None:
                return port
        return self.services.get(name)

    def hostname(self) -> str:
        return self.name

    def service_names(self, protocol: str | None) -> Collection[str]:
        out: set[str] = set()
        for key in self.services:
            name, _, proto = key.partition("/")
            if not proto or protocol is None or proto == protocol:
                out.add(name)
        return frozenset(out)


def ip_family(text: str) -> Family | None:
    try:
        return 6 if ipaddress.ip_address(text).version == 6 else 4
    except ValueError:
        return None


def literal(text: str) -> tuple[str, Family] | None:
    """A canonical address and its family if `text` is an IP literal ([v6] allowed)."""
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    # inet_pton is strict (dotted quads only) and much faster than ipaddress
    for af, family in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
        try:
            packed = socket.inet_pton(af, inner)
        except (OSError, ValueError):
            continue
        return socket.inet_ntop(af, packed), cast(Family, family)
    return None


def resolve_host(text: str, family: Family, resolver: Resolver) -> str:
    """The address of `text`, or Invalid (E210 wrong family, E205 unresolvable).

    IP literals never reach the resolver (fast, and no DNS)."""
    lit = literal(text)
    if lit is not None:
        if lit[1] != family:
            raise Invalid("E210", f"'{text}' is an IPv{lit[1]} address where IPv{family} is needed")
        return lit[0]
    if text.startswith("["):
        raise Invalid("E210", f"'{text}' is not a valid IPv6 address")
    addr = resolver.host(text, family)
    if addr is None:
        raise Invalid(
            "E205",
            f"host '{text}' does not resolve to an IPv{family} address",
            "check /etc/hosts or DNS; names are looked up when the file is read",
        )
    return addr


def resolve_port(text: str, protocol: str | None, resolver: Resolver) -> int | None:
    """ldirectord's ld_getservbyname: digits 0..65535, else a service name."""
    if text.isdigit():
        value = int(text)
        return value if value < 65536 else None
    return resolver.port(text, protocol)


PORT_HINTS = 3  # how many close names a port hint offers
# Service names are short (/etc/services: at most 20 or so); a word over twice as
# long as every candidate cannot reach difflib's 0.6. Also bounds the cache below.
MAX_HINTED_NAME = 64


def port_hint(text: str, protocol: str | None, resolver: Resolver) -> str | None:
    """A "did you mean" for a port name the lookup did not know, else None.

    Candidates are the names and aliases known for `protocol` (None: tcp and udp),
    up to PORT_HINTS of them. Names are case-sensitive (getservbyname), so a name
    that differs only in case is named alone, with the reason."""
    if text.isdigit() or len(text) > MAX_HINTED_NAME:
        return None  # a number out of range, or nothing like a name
    return _port_hint(text, frozenset(resolver.service_names(protocol)))


# Protocol names people write that /etc/services knows by another name; without
# this, ":rdp" would get "did you mean 'urd' or 'ldp'?".
SERVICE_ALIASES = {"rdp": "ms-wbt-server", "pgsql": "postgresql", "postgres": "postgresql"}


@functools.lru_cache(maxsize=256)  # generated files repeat one typo in every virtual
def _port_hint(text: str, known: frozenset[str]) -> str | None:
    names = sorted(known)
    folded = text.casefold()
    alias = SERVICE_ALIASES.get(folded)
    if alias is not None and alias in known:
        return f"did you mean '{alias}'? (the /etc/services name for {folded})"
    same = next((n for n in names if n.casefold() == folded), None)
    if same is not None:
        return f"did you mean '{same}'? (service names are case-sensitive)"
    return did_you_mean(text, names, n=PORT_HINTS)


def default_service(port: int, fwmark: bool) -> str:
    return "none" if fwmark else PORT_SERVICES.get(port, "none")


def default_protocol(port_text: str) -> str:
    """udp for DNS (port 53 or 'domain', as written), else tcp."""
    return "udp" if port_text in ("53", "domain") else "tcp"


def timeouts(
    virtual_check: float | None,
    virtual_negotiate: float | None,
    global_check: float | None,
    global_negotiate: float | None,
) -> tuple[float, float]:
    """ldirectord's ld_setup chain: (checktimeout, negotiatetimeout)."""
    check = _first(virtual_check, virtual_negotiate, global_check, global_negotiate)
    negotiate = _first(virtual_negotiate, virtual_check, global_negotiate, global_check)
    return (
        DEFAULT_CHECKTIMEOUT if check is None else check,
        DEFAULT_NEGOTIATETIMEOUT if negotiate is None else negotiate,
    )


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


MAX_RANGE = 65536  # a /16; longer ranges are almost certainly a typo


def expand_range(first: str, last: str) -> list[str] | str:
    """Every IPv4 address from first to last inclusive, or a problem.

    Compared as integers (ldirectord compares them as strings, so a range whose
    integer crosses a change in digit count went wrong).
    """
    a, b = int(ipaddress.IPv4Address(first)), int(ipaddress.IPv4Address(last))
    if a > b:
        return f"the range {first}->{last} runs backwards"
    if b - a >= MAX_RANGE:
        return f"the range {first}->{last} has {b - a + 1} addresses (at most {MAX_RANGE})"
    return [str(ipaddress.IPv4Address(i)) for i in range(a, b + 1)]
