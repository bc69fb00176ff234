"""The configuration model: immutable values, each remembering where it was written.

Field names are directive names (directives.py); the defaults live only in that
table. `Virtual` carries *effective* settings: its own value, else the global one,
else the default, with ldirectord's timeout chain applied (resolve.py).
`where(name)` gives the file/line/col a setting came from (None for a default).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from ldirectorpy.config.diagnostics import Diagnostic, Loc, Severity

Family = Literal[4, 6]


class Forward(enum.StrEnum):
    GATE = "gate"  # direct routing, ipvsadm -g
    MASQ = "masq"  # NAT, ipvsadm -m
    IPIP = "ipip"  # tunnel, ipvsadm -i


class Protocol(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"
    FWM = "fwm"


Origins = tuple[tuple[str, Loc], ...]


def _where(origins: Origins, name: str) -> Loc | None:
    for key, loc in origins:
        if key == name:
            return loc
    return None


@dataclass(frozen=True, slots=True)
class Real:
    address: str  # canonical IP text, IPv6 without brackets
    port: int  # 0: not given (fwmark services, or "same as the virtual")
    forward: Forward
    weight: int
    request: str | None  # per-real override, with its leading "/"
    receive: str | None
    lower: int  # l: threshold (ipvsadm -y); 0 = none
    upper: int  # u: threshold (ipvsadm -x); 0 = none
    family: Family
    host: str  # as written, e.g. a name or one end of a range
    loc: Loc

    @property
    def key(self) -> tuple[str, int]:
        return (self.address, self.port)

    def __str__(self) -> str:
        addr = f"[{self.address}]" if self.family == 6 else self.address
        return f"{addr}:{self.port}"


@dataclass(frozen=True, slots=True)
class Fallback:
    address: str
    port: int | None  # None: the virtual's port
    forward: Forward
    family: Family
    loc: Loc


@dataclass(frozen=True, slots=True)
class Virtual:
    """One virtual service, with every setting resolved."""

    family: Family
    address: str | None  # None for a fwmark service
    port: int  # 0 for a fwmark service
    fwmark: int | None
    protocol: Protocol
    host: str  # the address or name as written ("" for a fwmark)
    loc: Loc
    reals: tuple[Real, ...]
    service_explicit: bool
    combined_connects: int | None  # checktype N: connect checks between negotiates
    # settings, named as directives
    checkinterval: float
    checktimeout: float
    negotiatetimeout: float
    checkcount: int
    failurecount: int
    risecount: int
    checktype: str  # a CHECKTYPES word, or "combined" when N is given
    service: str
    checkcommand: str
    checkport: int | None
    request: str
    receive: str
    httpmethod: str
    virtualhost: str | None
    login: str
    passwd: str
    database: str
    secret: str
    load: str | None
    rdpprotocols: tuple[str, ...]
    rdpcookie: str
    rdpnegfailure: str
    rdptls: bool
    rdptlsfingerprint: str | None
    rdptlsexpirywarn: int
    scheduler: str
    persistent: int | None
    netmask: str | None
    schedflags: tuple[str, ...] | None
    ops: bool
    quiescent: bool
    cleanstop: bool
    fallback: Fallback | None  # per-virtual, else the global one; port filled in
    fallbackcommand: str | None
    emailalert: tuple[str, ...]
    emailalertfreq: int
    emailalertstatus: frozenset[str]
    smtp: str | None
    monitorfile: str | None
    servicename: str | None
    comment: str | None
    origins: Origins = ()

    def where(self, name: str) -> Loc | None:
        """Where setting `name` was written (virtual or global line); None if defaulted."""
        return _where(self.origins, name)

    @property
    def key(self) -> tuple[Protocol, str | None, int, int | None, Family]:
        return (self.protocol, self.address, self.port, self.fwmark, self.family)

    def checkport_for(self, real: Real) -> int | None:
        """The port to check: checkport, else the real's port, else the virtual's port
        (where IPVS sends the traffic), else the service's well-known port (fwmark).

        ldirectord skips the virtual's port, so a real without a port under
        192.0.2.1:8080 with service http was checked on 80 (compat D36)."""
        from ldirectorpy.config.resolve import SERVICE_PORTS

        if self.checkport is not None:
            return self.checkport
        if real.port > 0:
            return real.port
        if self.port > 0:
            return self.port
        return SERVICE_PORTS.get(self.service)

    def __str__(self) -> str:
        if self.fwmark is not None:
            return f"fwm:{self.fwmark}" + (" (IPv6)" if self.family == 6 else "")
        addr = f"[{self.address}]" if self.family == 6 else self.address
        return f"{self.protocol}:{addr}:{self.port}"


@dataclass(frozen=True, slots=True)
class Config:
    """A whole ldirectord.cf: global settings and the virtual services."""

    path: str
    virtuals: tuple[Virtual, ...]
    # global-only settings
    autoreload: bool
    callback: str | None
    logfile: str
    emailalertfrom: str | None
    supervised: bool
    fork: bool
    readdquiescent: bool
    maintenancedir: str | None
    execute: tuple[str, ...]
    maxprobes: int
    maxexternalchecks: int
    resyncinterval: float
    # global values of the settings a virtual may override (already applied to each)
    checkinterval: float
    checktimeout: float | None
    negotiatetimeout: float | None
    checkcount: int
    failurecount: int
    risecount: int
    rdpprotocols: tuple[str, ...]
    rdpcookie: str
    rdpnegfailure: str
    rdptls: bool
    rdptlsfingerprint: str | None
    rdptlsexpirywarn: int
    quiescent: bool
    cleanstop: bool
    fallback: Fallback | None
    fallback6: Fallback | None
    fallbackcommand: str | None
    emailalert: tuple[str, ...]
    emailalertfreq: int
    emailalertstatus: frozenset[str]
    smtp: str | None
    origins: Origins = ()

    def where(self, name: str) -> Loc | None:
        return _where(self.origins, name)

    @property
    def logfile_is_syslog(self) -> bool:
        """ldirectord: a value without a leading / names a syslog facility."""
        return not self.logfile.startswith("/")


@dataclass(frozen=True, slots=True)
class LoadResult:
    path: str
    config: Config | None  # None when there is any error
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        return self.config is not None

    @property
    def unreadable(self) -> bool:
        """The file itself could not be read (missing, a directory, permissions...)."""
        from ldirectorpy.config.diagnostics import UNREADABLE_CODES

        return any(d.code in UNREADABLE_CODES for d in self.diagnostics)
