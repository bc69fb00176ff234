"""From the configuration model (ldirectorpy.config) to a CheckSpec per (virtual, real)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ldirectorpy.checks import CheckConfigError, CheckSpec
from ldirectorpy.checks.rdp import RdpOptions, parse_fingerprint
from ldirectorpy.checks.rdp_wire import PROTOCOLS
from ldirectorpy.checks.target import Target

if TYPE_CHECKING:
    from ldirectorpy.config.model import Real, Virtual

__all__ = ["rdp_options", "service_options", "spec_for"]

# Which services read which of the per-service directives (ldirectord's check_*).
_HTTP = frozenset({"http", "https", "http_proxy"})
_LOGIN = frozenset(
    {"ftp", "imap", "imaps", "pop", "pops", "ldap", "ldaps", "mysql", "pgsql", "oracle", "radius"}
)
_DATABASE = frozenset({"mysql", "pgsql", "oracle"})


def service_options(virtual: Virtual) -> dict[str, str]:
    """httpmethod, virtualhost, login, passwd, database and secret, for the
    services that use them; the rest stay empty so equal checks stay equal."""
    service = virtual.service
    options: dict[str, str] = {}
    if service in _HTTP:
        options["httpmethod"] = virtual.httpmethod
        if service != "http_proxy":  # ldirectord sends no Host: of its own through a proxy
            options["virtualhost"] = virtual.virtualhost or ""
    if service in _LOGIN or service == "sip":
        options["login"] = virtual.login
    if service in _LOGIN:
        options["passwd"] = virtual.passwd
    if service in _DATABASE:
        options["database"] = virtual.database
    if service == "radius":
        options["secret"] = virtual.secret
    return options


def rdp_options(virtual: Virtual) -> RdpOptions:
    """The rdp* directives of a virtual as probe options."""
    protocols = 0
    for name in virtual.rdpprotocols:
        protocols |= PROTOCOLS[name.lower()]
    fingerprint = (
        parse_fingerprint(virtual.rdptlsfingerprint) if virtual.rdptlsfingerprint else None
    )
    return RdpOptions(
        protocols=protocols,
        cookie=virtual.rdpcookie,
        negfailure_up=virtual.rdpnegfailure == "up",
        tls=virtual.rdptls,
        fingerprint=fingerprint,
        expiry_warn_days=virtual.rdptlsexpirywarn,
    )


def spec_for(virtual: Virtual, real: Real) -> CheckSpec:
    """The check ldirectord would run for ``real`` under ``virtual``.

    The check port is ldirectord's ld_checkport (checkport, else the real's
    port, else the service's well-known port); request/receive per real win.
    """
    port = virtual.checkport_for(real)
    if port is None:
        raise CheckConfigError(f"no port to check {real.address} on (set checkport=)")
    checktype = virtual.checktype
    if checktype == "combined":
        if virtual.combined_connects is None:
            raise CheckConfigError("checktype=combined without N")
        checktype = str(virtual.combined_connects)
    # Fields a check does not use stay at their defaults, so equal checks of
    # one target under several virtuals compare equal and are probed once.
    external = checktype in ("external", "external-perl")
    negotiates = checktype == "negotiate" or checktype.isdigit()
    if not external:
        vip = ""
    elif virtual.fwmark is not None:
        vip = str(virtual.fwmark)
    elif virtual.family == 6:
        vip = f"[{virtual.address}]"
    else:
        vip = virtual.address or ""
    return CheckSpec(
        checktype=checktype,
        service=virtual.service,
        target=Target(real.address, port),
        protocol=str(virtual.protocol),
        checktimeout=virtual.checktimeout,
        negotiatetimeout=virtual.negotiatetimeout,
        checkcount=virtual.checkcount,
        checkcommand=virtual.checkcommand if external else "",
        virtual=vip,
        virtual_port=virtual.port if external else 0,
        request=real.request if real.request is not None else virtual.request,
        receive=real.receive if real.receive is not None else virtual.receive,
        rdp=rdp_options(virtual) if virtual.service == "rdp" else RdpOptions(),
        **(service_options(virtual) if negotiates else {}),
    )
