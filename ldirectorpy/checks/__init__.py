"""Health probes, one module per protocol; each returns a ProbeResult and never raises.

The registry maps ldirectord's (checktype, service) to a factory that turns a
``CheckSpec`` into a zero-argument async probe. A new check is one module plus
one line in ``CHECKTYPES`` or ``SERVICES``. Every service ldirectord's
negotiate knows is built (rdp is ours; dns needs the ``[dns]`` extra, mysql and
pgsql the ``[mysql]``/``[pgsql]`` ones, and say so in their verdict when it is
missing) except ``oracle``, which raises ``UnsupportedCheck`` at build time so
the caller reports it instead of silently passing.

Services and their modules: http/https/http_proxy (http), smtp/submission
(smtp), pop/pops (pop), imap/imaps (imap), nntp, simpletcp, sip, dns, radius,
ftp, ldap/ldaps (ldap), mysql/pgsql (sql), rdp, none (trivial).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ldirectorpy.checks import (
    dns,
    external,
    ftp,
    http,
    imap,
    ldap,
    nntp,
    ping,
    pop,
    radius,
    rdp,
    simpletcp,
    sip,
    smtp,
    sql,
    tcp,
    trivial,
    udp,
)
from ldirectorpy.checks._reactor import use_grid
from ldirectorpy.checks.combined import CombinedProbe
from ldirectorpy.checks.rdp import RdpOptions
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = [
    "CHECKTYPES",
    "LDIRECTORD_SERVICES",
    "SERVICES",
    "CheckConfigError",
    "CheckSpec",
    "Probe",
    "ProbeResult",
    "Target",
    "UnsupportedCheck",
    "build_probe",
    "use_grid",
]

Probe = Callable[[], Awaitable[ProbeResult]]


class CheckConfigError(ValueError):
    """A check description that cannot be turned into a probe."""


class UnsupportedCheck(CheckConfigError):
    """A checktype/service ldirectord knows but ldirectorpy does not probe (yet)."""

    def __init__(self, checktype: str, service: str, message: str) -> None:
        super().__init__(message)
        self.checktype = checktype
        self.service = service


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """Everything one probe needs; hashable, so equal checks can be shared.

    ``protocol`` is the virtual's: tcp, udp or fwm. ``virtual`` and
    ``virtual_port`` are what external checks get as their first two
    arguments (the VIP, IPv6 in brackets, or the fwmark; port 0 for fwmark).
    """

    checktype: str
    service: str
    target: Target
    protocol: str = "tcp"
    checktimeout: float = 5.0
    negotiatetimeout: float = 30.0
    checkcount: int = 1
    checkcommand: str = ""
    virtual: str = ""
    virtual_port: int = 0
    request: str = ""
    receive: str = ""
    # Service options; empty when the service does not use them (fromconfig).
    httpmethod: str = ""
    virtualhost: str = ""
    login: str = ""
    passwd: str = ""
    database: str = ""
    secret: str = ""
    rdp: RdpOptions = field(default_factory=RdpOptions)

    @property
    def timeout(self) -> float:
        """The longest a single pass may take (what the engine should wrap it in)."""
        if self.checktype == "negotiate":
            return self.negotiatetimeout
        if self.checktype.isdigit():
            return max(self.negotiatetimeout, self.checktimeout)
        return self.checktimeout


Factory = Callable[[CheckSpec, "asyncio.Semaphore | None"], Probe]


async def _always_down(reason: str) -> ProbeResult:
    return ProbeResult(False, reason, 0.0)


def _misconfigured(reason: str) -> Probe:
    """A check whose settings cannot work: down on every pass with the reason,
    as ldirectord (whose library failed the same way each time); never an
    exception that could stop the daemon over one virtual's settings."""
    return lambda: _always_down(reason)


def _rdp(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    return rdp.check(spec.target, spec.negotiatetimeout, spec.rdp)


def _http(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    url = http.url_for(spec.service, spec.target, spec.request)
    proxy = None
    if spec.service == "http_proxy":
        if not re.match(r"https?://", spec.request.lstrip("/"), re.IGNORECASE):
            return _misconfigured(
                "service=http_proxy needs request= an absolute URL (http://...) "
                "to fetch through the real server"
            )
        proxy = spec.target
    receive = _receive(spec)
    method = spec.httpmethod or "GET"
    return lambda: http.probe(
        url,
        spec.negotiatetimeout,
        method=method,
        virtualhost=spec.virtualhost,
        receive=receive,
        proxy=proxy,
    )


def _smtp(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    return lambda: smtp.probe(spec.target, spec.negotiatetimeout)


def _pop(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    tls = spec.service == "pops"
    return lambda: pop.probe(
        spec.target, spec.negotiatetimeout, tls=tls, login=spec.login, passwd=spec.passwd
    )


def _imap(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    try:
        imap.quote(spec.login)
        imap.quote(spec.passwd)
    except ValueError as exc:
        return _misconfigured(f"service={spec.service}: {exc}")
    tls = spec.service == "imaps"
    return lambda: imap.probe(
        spec.target, spec.negotiatetimeout, tls=tls, login=spec.login, passwd=spec.passwd
    )


def _nntp(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    return lambda: nntp.probe(spec.target, spec.negotiatetimeout)


def _simpletcp(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    receive = _receive(spec)
    udp_ = spec.protocol == "udp"
    return lambda: simpletcp.probe(
        spec.target, spec.negotiatetimeout, request=spec.request, receive=receive, udp=udp_
    )


def _sip(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    udp_ = spec.protocol == "udp"
    return lambda: sip.probe(spec.target, spec.negotiatetimeout, login=spec.login, udp=udp_)


def _dns(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    receive = _receive(spec)
    tcp_ = spec.protocol == "tcp"
    return lambda: dns.probe(
        spec.target, spec.negotiatetimeout, request=spec.request, receive=receive, tcp=tcp_
    )


def _radius(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    if not spec.secret:
        return _misconfigured("service=radius needs secret= (and login=, passwd=)")
    try:  # fail at build time, not on every probe
        radius.build_access_request(spec.login, spec.passwd, spec.secret, 0, bytes(16))
    except ValueError as exc:
        return _misconfigured(f"service=radius: {exc}")
    return lambda: radius.probe(
        spec.target,
        spec.negotiatetimeout,
        login=spec.login,
        passwd=spec.passwd,
        secret=spec.secret,
    )


def _ftp(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    receive = _receive(spec)
    return lambda: ftp.probe(
        spec.target,
        spec.negotiatetimeout,
        login=spec.login or "anonymous",
        passwd=spec.passwd,
        request=spec.request,
        receive=receive,
    )


def _ldap(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    receive = _receive(spec)
    tls = spec.service == "ldaps"
    return lambda: ldap.probe(
        spec.target,
        spec.negotiatetimeout,
        request=spec.request,
        receive=receive,
        login=spec.login,
        passwd=spec.passwd,
        tls=tls,
    )


def _sql(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    query = sql.Query(spec.login, spec.passwd, spec.database, spec.request.removeprefix("/"))
    if not query.login or not query.sql:
        # ldirectord logs this and marks the real down on every pass; so do we.
        return _misconfigured(f"service={spec.service} needs login= and request= (the SQL query)")
    return lambda: sql.probe(spec.service, spec.target, spec.negotiatetimeout, query)


def _none(_spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    return lambda: trivial.always_up("service=none (not checked)")


def _receive(spec: CheckSpec) -> re.Pattern[bytes] | None:
    if not spec.receive:
        return None
    try:
        return re.compile(spec.receive.encode())
    except re.error as exc:
        raise CheckConfigError(f"receive={spec.receive!r} is not a valid regex: {exc}") from None


def _connect(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    if spec.protocol == "udp":
        payload = spec.request.lstrip("/").encode()
        pattern = _receive(spec)
        return lambda: udp.probe(spec.target, spec.checktimeout, payload=payload, receive=pattern)
    # ldirectord: fwmark virtuals fall back to a TCP connect.
    return tcp.check(spec.target, spec.checktimeout)


def _ping(spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    return lambda: ping.probe(spec.target, spec.checktimeout, spec.checkcount)


def _external_argv(spec: CheckSpec, command: list[str]) -> list[str]:
    if not spec.checkcommand:
        raise CheckConfigError(f"checktype={spec.checktype} needs a checkcommand")
    return external.check_argv(
        command, spec.virtual, spec.virtual_port, spec.target.host_for_argv, spec.target.port
    )


def _external(spec: CheckSpec, slots: asyncio.Semaphore | None) -> Probe:
    argv = _external_argv(spec, [spec.checkcommand])
    return lambda: external.probe(argv, spec.checktimeout, slots)


def _external_perl(spec: CheckSpec, slots: asyncio.Semaphore | None) -> Probe:
    perl = shutil.which("perl")
    if perl is None:
        raise UnsupportedCheck("external-perl", spec.service, "external-perl needs perl in PATH")
    argv = _external_argv(spec, [perl, spec.checkcommand])
    return lambda: external.probe(argv, spec.checktimeout, slots)


def _on(_spec: CheckSpec, _slots: asyncio.Semaphore | None) -> Probe:
    return trivial.always_up


# What ldirectord negotiates but ldirectorpy does not, and why.
_UNSUPPORTED = {
    "oracle": "no Oracle driver is worth depending on for a health check; use "
    "checktype=external with a script (e.g. one running sqlplus) or checktype=connect",
}


def _negotiate(spec: CheckSpec, slots: asyncio.Semaphore | None) -> Probe:
    factory = SERVICES.get(spec.service)
    if factory is None:
        if spec.service in LDIRECTORD_SERVICES:
            why = _UNSUPPORTED.get(spec.service, "use checktype=connect or external instead")
            raise UnsupportedCheck(
                spec.checktype,
                spec.service,
                f"service={spec.service} is not supported by ldirectorpy: {why}",
            )
        raise CheckConfigError(f"unknown service {spec.service!r}")
    return factory(spec, slots)


# service -> factory, for checktype=negotiate (and the negotiate half of N).
SERVICES: dict[str, Factory] = {
    "rdp": _rdp,
    "none": _none,
    "http": _http,
    "https": _http,
    "http_proxy": _http,
    "smtp": _smtp,
    "submission": _smtp,
    "pop": _pop,
    "pops": _pop,
    "imap": _imap,
    "imaps": _imap,
    "nntp": _nntp,
    "simpletcp": _simpletcp,
    "sip": _sip,
    "dns": _dns,
    "radius": _radius,
    "ftp": _ftp,
    "ldap": _ldap,
    "ldaps": _ldap,
    "mysql": _sql,
    "pgsql": _sql,
}

# checktype -> factory. "off" is absent on purpose (no probe, no state change);
# a number N is the combined check.
CHECKTYPES: dict[str, Factory] = {
    "negotiate": _negotiate,
    "connect": _connect,
    "ping": _ping,
    "external": _external,
    "external-perl": _external_perl,
    "on": _on,
}

# Every service ldirectord's negotiate knows, to tell "not yet" from "no such".
LDIRECTORD_SERVICES = frozenset(
    [
        "dns",
        "ftp",
        "http",
        "http_proxy",
        "https",
        "imap",
        "imaps",
        "ldap",
        "ldaps",
        "mysql",
        "nntp",
        "none",
        "oracle",
        "pgsql",
        "pop",
        "pops",
        "radius",
        "rdp",
        "simpletcp",
        "sip",
        "smtp",
        "submission",
    ]
)


def build_probe(spec: CheckSpec, external_slots: asyncio.Semaphore | None = None) -> Probe | None:
    """A probe for ``spec``, or None for checktype=off (keep the state as it is).

    Raises ``UnsupportedCheck`` / ``CheckConfigError`` for checks it cannot run.
    Probes for a numeric checktype are stateful: build one per monitored real.
    """
    if spec.checktype == "off":
        return None
    if spec.checktype.isdigit():
        n = int(spec.checktype)
        if n < 1:
            raise CheckConfigError("a numeric checktype must be >= 1")
        return CombinedProbe(n, _negotiate(spec, external_slots), _connect(spec, external_slots))
    factory = CHECKTYPES.get(spec.checktype)
    if factory is None:
        raise CheckConfigError(f"unknown checktype {spec.checktype!r}")
    return factory(spec, external_slots)
