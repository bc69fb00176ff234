"""Value types for the IPVS table: services, destinations, their keys, and a `Table`.

Every value is normalised when it is built, so that what the kernel dumps and what
we mean to write compare equal field by field (see `normalize_*` below):

- addresses are `ipaddress` objects, so IPv6 forms (`2001:DB8:0::1`) collapse;
- a service's persistence netmask is a prefix length, defaulting to a full host
  mask (`/32` = 255.255.255.255 for IPv4, `/128` for IPv6), which is what the kernel
  stores when none is given;
- for a non-fwmark service, a gate (DR) or ipip (tunnel) destination's port is the
  service's port: DR and tunnels cannot rewrite ports, so ipvsadm forces it (the
  kernel itself stores any port; ldirectord logs "mapped from" when it meets this),
  and we do the same, so a table ipvsadm or ldirectord wrote compares equal;
- the kernel-owned HASHED flag never appears here (the codec masks it).
"""

from __future__ import annotations

import enum
import ipaddress
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Family(enum.IntEnum):
    INET = socket.AF_INET
    INET6 = socket.AF_INET6


class Proto(enum.IntEnum):
    TCP = socket.IPPROTO_TCP
    UDP = socket.IPPROTO_UDP
    SCTP = 132


class Forward(enum.IntEnum):
    """IP_VS_CONN_F_* forwarding methods; ldirectord's words in the comments."""

    MASQ = 0  # masq (NAT)
    LOCALNODE = 1  # ipvsadm's "Local"; Linux 6.1 keeps gate for a local real (tested)
    TUNNEL = 2  # ipip
    ROUTE = 3  # gate (direct routing)


FORWARD_BY_NAME: Mapping[str, Forward] = MappingProxyType(
    {"masq": Forward.MASQ, "ipip": Forward.TUNNEL, "gate": Forward.ROUTE}
)


class SchedFlag(enum.IntFlag):
    """IP_VS_SVC_F_SCHED1/2/3: meaning depends on the scheduler (sh, mh)."""

    NONE = 0
    SCHED1 = 0x08
    SCHED2 = 0x10
    SCHED3 = 0x20


# ipvsadm -b names (ldirectord `schedflags=`), scheduler-specific first.
SCHED_FLAG_BY_NAME: Mapping[str, SchedFlag] = MappingProxyType(
    {
        "sh-fallback": SchedFlag.SCHED1,
        "sh-port": SchedFlag.SCHED2,
        "mh-fallback": SchedFlag.SCHED1,
        "mh-port": SchedFlag.SCHED2,
        "flag-1": SchedFlag.SCHED1,
        "flag-2": SchedFlag.SCHED2,
        "flag-3": SchedFlag.SCHED3,
    }
)

SCHEDULERS = (
    "rr",
    "wrr",
    "lc",
    "wlc",
    "lblc",
    "lblcr",
    "dh",
    "sh",
    "sed",
    "nq",
    "fo",
    "ovf",
    "mh",
    "twos",
)


def parse_sched_flags(text: str, scheduler: str | None = None) -> SchedFlag:
    """`"sh-fallback,sh-port"` -> SCHED1|SCHED2, refusing sh-*/mh-* on another scheduler."""
    flags = SchedFlag.NONE
    for word in filter(None, (w.strip() for w in text.split(","))):
        if word not in SCHED_FLAG_BY_NAME:
            raise ValueError(f"unknown scheduler flag {word!r}")
        prefix = word.partition("-")[0]
        if prefix in ("sh", "mh") and scheduler is not None and scheduler != prefix:
            raise ValueError(f"scheduler flag {word!r} needs the {prefix} scheduler")
        flags |= SCHED_FLAG_BY_NAME[word]
    return flags


def ip(value: str | IPAddress) -> IPAddress:
    """An address in canonical form (accepts `[v6]` brackets)."""
    if isinstance(value, str):
        value = ipaddress.ip_address(value.strip("[]"))
    return value


def family_of(address: IPAddress) -> Family:
    return Family.INET if address.version == 4 else Family.INET6


def full_prefix(family: Family) -> int:
    return 32 if family is Family.INET else 128


def netmask_prefix(text: str) -> int:
    """ldirectord's `netmask=`: a dotted quad (IPv4) or a prefix length (IPv6)."""
    if text.isdigit():
        return int(text)
    return ipaddress.IPv4Network(f"0.0.0.0/{text}").prefixlen


def _address_order(address: IPAddress) -> tuple[int, int]:
    return (address.version, int(address))


@dataclass(frozen=True, slots=True)
class AddressKey:
    """A service named by family + protocol + address + port."""

    family: Family
    protocol: Proto
    address: IPAddress
    port: int
    # Keys are hashed on every table lookup: compute the hash once.
    _hash: int = field(init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return self._hash

    def __post_init__(self) -> None:
        if family_of(self.address) is not self.family:
            raise ValueError(f"address {self.address} is not {self.family.name}")
        if not 0 <= self.port <= 0xFFFF:
            raise ValueError(f"port {self.port} out of range")
        key = (int(self.address), self.family, self.protocol, self.port)
        object.__setattr__(self, "_hash", hash(key))

    @classmethod
    def of(cls, protocol: str | Proto, address: str | IPAddress, port: int) -> AddressKey:
        addr = ip(address)
        proto = Proto[protocol.upper()] if isinstance(protocol, str) else protocol
        return cls(family_of(addr), proto, addr, port)

    def sort_key(self) -> tuple[int, ...]:
        return (0, self.family, self.protocol, *_address_order(self.address), self.port)

    def __str__(self) -> str:
        host = f"[{self.address}]" if self.family is Family.INET6 else str(self.address)
        return f"{self.protocol.name} {host}:{self.port}"


@dataclass(frozen=True, slots=True)
class FwmarkKey:
    """A service named by family + firewall mark (the kernel dumps a zero address)."""

    family: Family
    fwmark: int

    def __post_init__(self) -> None:
        if not 0 < self.fwmark <= 0xFFFFFFFF:
            raise ValueError(f"fwmark {self.fwmark} out of range")

    def sort_key(self) -> tuple[int, ...]:
        return (1, self.family, self.fwmark)

    def __str__(self) -> str:
        return f"FWM {self.fwmark}" + (" IPv6" if self.family is Family.INET6 else "")


ServiceKey = AddressKey | FwmarkKey


@dataclass(frozen=True, slots=True)
class DestKey:
    address: IPAddress
    port: int

    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: ipaddress hashes through hex(), too slow for 10,000 reals.
        object.__setattr__(self, "_hash", hash((int(self.address), self.port)))

    def __hash__(self) -> int:
        return self._hash

    def sort_key(self) -> tuple[int, ...]:
        return (*_address_order(self.address), self.port)

    def __str__(self) -> str:
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Service:
    """A virtual service with every attribute ldirectord.cf can set.

    `persistence` is the persistence timeout in seconds (None: not persistent);
    `netmask` the persistence granularity as a prefix length (None: a full host mask).
    """

    key: ServiceKey
    scheduler: str = "wlc"
    persistence: int | None = None
    netmask: int | None = None
    one_packet: bool = False
    sched_flags: SchedFlag = SchedFlag.NONE

    def __post_init__(self) -> None:
        if self.netmask is None:
            object.__setattr__(self, "netmask", full_prefix(self.key.family))
        if self.persistence is not None and self.persistence < 0:
            raise ValueError("persistence timeout must be >= 0")
        if not self.scheduler or len(self.scheduler) > 15:
            raise ValueError(f"bad scheduler name {self.scheduler!r}")
        if self.sched_flags & ~(SchedFlag.SCHED1 | SchedFlag.SCHED2 | SchedFlag.SCHED3):
            raise ValueError("sched_flags holds only SCHED1/2/3")


@dataclass(frozen=True, slots=True)
class Destination:
    """A real server. Thresholds: 0 means no limit; the kernel wants lower <= upper."""

    address: IPAddress
    port: int
    forward: Forward = Forward.ROUTE
    weight: int = 1
    upper: int = 0
    lower: int = 0
    _key: DestKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 0xFFFF:
            raise ValueError(f"port {self.port} out of range")
        object.__setattr__(self, "_key", DestKey(self.address, self.port))
        if not 0 <= self.weight <= 0x7FFFFFFF:
            raise ValueError(f"weight {self.weight} out of range")
        if self.upper < 0 or self.lower < 0:
            raise ValueError("thresholds must be >= 0")

    @classmethod
    def of(cls, address: str | IPAddress, port: int, **attrs: int | Forward) -> Destination:
        return cls(ip(address), port, **attrs)  # type: ignore[arg-type]

    @property
    def key(self) -> DestKey:
        return self._key


def normalize_destination(service: ServiceKey, dest: Destination) -> Destination:
    """The destination as the table will hold it (the DR/tunnel port rule)."""
    if (
        isinstance(service, AddressKey)
        and dest.forward in (Forward.ROUTE, Forward.TUNNEL)
        and dest.port != service.port
    ):
        return replace(dest, port=service.port)
    return dest


Dests = Mapping[DestKey, Destination]


@dataclass(frozen=True, slots=True, repr=False)
class Table:
    """Services, and the destinations of each service, keyed by their typed keys."""

    services: Mapping[ServiceKey, Service] = field(default_factory=lambda: MappingProxyType({}))
    destinations: Mapping[ServiceKey, Dests] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def build(
        cls, entries: Iterable[tuple[Service, Iterable[Destination]]], *, normalize: bool = True
    ) -> Table:
        """A table; a later duplicate key replaces an earlier one.

        Desired tables are normalised (`normalize_destination`); what a backend read
        is taken as it is (normalize=False), so that a DR real someone added on
        another port shows up as the different entry it is.
        """
        services: dict[ServiceKey, Service] = {}
        dests: dict[ServiceKey, dict[DestKey, Destination]] = {}
        for service, members in entries:
            services[service.key] = service
            table = dests[service.key] = {}
            for dest in members:
                d = normalize_destination(service.key, dest) if normalize else dest
                table[d.key] = d
        return cls(
            MappingProxyType(services),
            MappingProxyType({k: MappingProxyType(v) for k, v in dests.items()}),
        )

    def entries(self) -> Iterator[tuple[Service, tuple[Destination, ...]]]:
        """Services in key order, each with its destinations in key order."""
        for key in sorted(self.services, key=lambda k: k.sort_key()):
            members = self.destinations.get(key, {})
            ordered = sorted(members.values(), key=lambda d: d.key.sort_key())
            yield self.services[key], tuple(ordered)

    def restrict(self, keys: Iterable[ServiceKey]) -> Table:
        wanted = set(keys)
        return Table.build([(s, d) for s, d in self.entries() if s.key in wanted], normalize=False)

    def __len__(self) -> int:
        return len(self.services)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return dict(self.services) == dict(other.services) and {
            k: dict(v) for k, v in self.destinations.items()
        } == {k: dict(v) for k, v in other.destinations.items()}

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """One line per service and per real, like `ipvsadm -Ln` (test failures stay readable)."""
        lines = []
        for s, dests in self.entries():
            extra = f" persistent {s.persistence}" if s.persistence is not None else ""
            extra += f" /{s.netmask}" + (" ops" if s.one_packet else "")
            extra += f" flags {s.sched_flags.value:#x}" if s.sched_flags else ""
            lines.append(f"{s.key} {s.scheduler}{extra}")
            lines.extend(
                f"  -> {d.key} {d.forward.name.lower()} w={d.weight} u={d.upper} l={d.lower}"
                for d in dests
            )
        return "Table(\n" + "".join(f"  {line}\n" for line in lines) + ")"
