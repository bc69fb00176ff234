"""Raw sections (parser.py) to the model: defaults, inheritance, names resolved.

A virtual's setting is its own value, else the global one, else the table's
default; the timeouts follow ldirectord's chain. Reals are expanded and resolved.
"""

from __future__ import annotations

from typing import Any, cast

from ldirectorpy.config import resolve as rv
from ldirectorpy.config.diagnostics import Loc, Sink
from ldirectorpy.config.directives import GLOBAL_SETTINGS, VIRTUAL_SETTINGS
from ldirectorpy.config.model import Config, Fallback, Family, Forward, Protocol, Real, Virtual
from ldirectorpy.config.parser import Parsed, RawVirtual, Setting
from ldirectorpy.config.realspec import parse_fallback, parse_real, parse_virtual
from ldirectorpy.config.values import Invalid

_TIMEOUTS = ("checktimeout", "negotiatetimeout")


def build(parsed: Parsed, resolver: rv.Resolver, sink: Sink) -> Config:
    g = parsed.settings
    values: dict[str, Any] = {}
    origins: list[tuple[str, Loc]] = []
    for d in GLOBAL_SETTINGS:
        s = g.get(d.name)
        values[d.name] = d.default if s is None else s.value
        if s is not None:
            origins.append((d.name, s.loc))
    for name, fam in (("fallback", 4), ("fallback6", 6)):
        s = g.get(name)
        values[name] = _fallback(s, cast(Family, fam), None, resolver, sink) if s else None
    virtuals = tuple(
        v for raw in parsed.virtuals if (v := _virtual(raw, g, values, resolver, sink)) is not None
    )
    return Config(path=parsed.path, virtuals=virtuals, origins=tuple(origins), **values)


def _host(  # noqa: PLR0917 - a thin wrapper reporting where the lookup failed
    text: str, family: Family, resolver: rv.Resolver, sink: Sink, loc: Loc, prefix: str = ""
) -> str | None:
    try:
        return rv.resolve_host(text, family, resolver)
    except Invalid as bad:
        sink.add(bad.code, loc, prefix + bad.message, bad.hint)
        return None


def _fallback(
    s: Setting, family: Family, port_proto: str | None, resolver: rv.Resolver, sink: Sink
) -> Fallback | None:
    try:
        spec = parse_fallback(str(s.value))
    except Invalid as bad:
        sink.add(bad.code, s.loc, f"fallback: {bad.message}", bad.hint)
        return None
    addr = _host(spec.host, family, resolver, sink, s.loc, "fallback: ")
    if addr is None:
        return None
    port = None
    if spec.port is not None:
        port = rv.resolve_port(spec.port, port_proto, resolver)
        if port is None:
            hint = _port_hint(spec.port, port_proto, resolver, sink)
            sink.add("E206", s.loc, f"fallback: unknown port '{spec.port}'", hint)
            return None
    return Fallback(addr, port, Forward(spec.forward), family, s.loc)


def _port_hint(text: str, protocol: str | None, resolver: rv.Resolver, sink: Sink) -> str | None:
    """rv.port_hint, skipped once no more errors are kept (listing names costs)."""
    return None if sink.full else rv.port_hint(text, protocol, resolver)


def _virtual(
    raw: RawVirtual,
    g: dict[str, Setting],
    gvalues: dict[str, Any],
    resolver: rv.Resolver,
    sink: Sink,
) -> Virtual | None:
    if not raw.spec:
        return None  # reported by the parser
    try:
        spec = parse_virtual(raw.spec, raw.family)
    except Invalid as bad:
        sink.add(bad.code, raw.loc, bad.message, bad.hint)
        return None
    if spec.trailing:
        sink.add("W201", raw.loc, f"'{spec.trailing}' after the virtual address is ignored")
    vs = raw.settings
    values: dict[str, Any] = {}
    origins: list[tuple[str, Loc]] = []
    for d in VIRTUAL_SETTINGS:
        s = vs.get(d.name)
        if s is None and d.scope.in_global:
            s = g.get(d.name)
        if s is not None:
            origins.append((d.name, s.loc))
        values[d.name] = d.default if s is None else s.value
    _timeouts(values, origins, vs, g)
    fwmark = spec.fwmark is not None
    protocol = _protocol(raw, spec.port or "", fwmark, sink)
    address: str | None = None
    port = 0
    ok = True
    if spec.fwmark is not None:
        if not 0 < spec.fwmark < 2**32:
            sink.add("E202", raw.loc, f"fwmark {spec.fwmark} is out of range", "use 1..4294967295")
            ok = False
    else:
        assert spec.host is not None and spec.port is not None
        address = _host(spec.host, raw.family, resolver, sink, raw.loc)
        ok = address is not None
        resolved = rv.resolve_port(spec.port, str(protocol), resolver)
        if resolved is None:
            sink.add(
                "E206",
                raw.loc,
                f"unknown port '{spec.port}' for {protocol}",
                _port_hint(spec.port, str(protocol), resolver, sink)
                or "use a number or a name from /etc/services",
            )
            ok = False
        elif resolved == 0 and values["persistent"] is None:
            sink.add(
                "E202",
                raw.loc,
                "port 0 (all ports) needs persistent=",
                "use a port 1..65535, or set persistent",
            )
        else:
            port = resolved
    _netmask(raw, values, sink)
    explicit = "service" in vs
    service = str(values["service"]) if explicit else rv.default_service(port, fwmark)
    values["service"] = service
    _login_defaults(values, vs, service, resolver)
    checktype = str(values["checktype"])
    combined = None
    if checktype.isdigit():
        combined, checktype = int(checktype), "combined"
    values["checktype"] = checktype
    values["request"] = _slash(str(values["request"]))
    values["protocol"] = protocol
    del values["fallback6"]  # the model has one effective fallback, of the right family
    values["fallback"] = _virtual_fallback(
        raw, vs=vs, gvalues=gvalues, port=port, protocol=protocol, resolver=resolver, sink=sink
    )
    reals = tuple(_reals(raw, protocol, resolver, sink))
    if not ok:
        return None
    return Virtual(
        family=raw.family,
        address=address,
        port=port,
        fwmark=spec.fwmark,
        host=spec.host or "",
        loc=raw.loc,
        reals=reals,
        service_explicit=explicit,
        combined_connects=combined,
        origins=tuple(origins),
        **values,
    )


def _netmask(raw: RawVirtual, values: dict[str, Any], sink: Sink) -> None:
    s = raw.settings.get("netmask")
    if s is None:
        return
    text = str(s.value)
    if raw.family == 6:
        ok = text.isdigit() and 1 <= int(text) <= 128
        hint = "an IPv6 netmask is a prefix length 1..128"
    else:
        ok = rv.literal(text) is not None and rv.ip_family(text) == 4 and _contiguous(text)
        hint = "an IPv4 netmask is a dotted quad such as 255.255.255.0"
    if not ok:
        sink.add("E211", s.loc, f"invalid netmask '{text}'", hint)
        values["netmask"] = None


def _contiguous(mask: str) -> bool:
    bits = int.from_bytes(bytes(int(o) for o in mask.split(".")), "big")
    inverted = ~bits & 0xFFFFFFFF
    return inverted & (inverted + 1) == 0


def _timeouts(
    values: dict[str, Any],
    origins: list[tuple[str, Loc]],
    vs: dict[str, Setting],
    g: dict[str, Setting],
) -> None:
    """ldirectord's chain; the origin of each timeout is the line it came from."""
    vc, vn, gc, gn = (
        vs.get("checktimeout"),
        vs.get("negotiatetimeout"),
        g.get("checktimeout"),
        g.get("negotiatetimeout"),
    )

    def val(s: Setting | None) -> float | None:
        return None if s is None else cast(float, s.value)

    values["checktimeout"], values["negotiatetimeout"] = rv.timeouts(
        val(vc), val(vn), val(gc), val(gn)
    )
    origins[:] = [(n, loc) for n, loc in origins if n not in _TIMEOUTS]
    for name, chain in (("checktimeout", (vc, vn, gc, gn)), ("negotiatetimeout", (vn, vc, gn, gc))):
        src = next((s for s in chain if s is not None), None)
        if src is not None:
            origins.append((name, src.loc))


def _protocol(raw: RawVirtual, port_text: str, fwmark: bool, sink: Sink) -> Protocol:
    s = raw.settings.get("protocol")
    default = Protocol.FWM if fwmark else Protocol(rv.default_protocol(port_text))
    if s is None:
        return default
    want = Protocol(str(s.value))
    if fwmark != (want is Protocol.FWM):
        sink.add(
            "E213",
            s.loc,
            f"protocol {want} on a {'fwmark' if fwmark else 'address'} virtual service",
            "a fwmark service takes protocol = fwm; an address service tcp or udp",
        )
        return default
    return want


def _login_defaults(
    values: dict[str, Any], vs: dict[str, Setting], service: str, resolver: rv.Resolver
) -> None:
    """ldirectord's ftp/sip defaults, applied whether or not service= was written
    (ldirectord applied them only to an explicit service=: §5.4.12)."""
    me = f"ldirectord@{resolver.hostname()}"
    if "login" not in vs and service in ("ftp", "sip"):
        values["login"] = "anonymous" if service == "ftp" else me
    if "passwd" not in vs and service == "ftp":
        values["passwd"] = me


def _slash(request: str) -> str:
    return request if request.startswith("/") else "/" + request


def _virtual_fallback(
    raw: RawVirtual,
    *,
    vs: dict[str, Setting],
    gvalues: dict[str, Any],
    port: int,
    protocol: Protocol,
    resolver: rv.Resolver,
    sink: Sink,
) -> Fallback | None:
    name = "fallback6" if raw.family == 6 else "fallback"
    proto = None if protocol is Protocol.FWM else str(protocol)
    fb: Fallback | None
    if name in vs:
        fb = _fallback(vs[name], raw.family, proto, resolver, sink)
    else:
        fb = cast("Fallback | None", gvalues.get(name))
    if fb is not None and fb.port is None:
        fb = Fallback(fb.address, port, fb.forward, fb.family, fb.loc)
    return fb


def _reals(raw: RawVirtual, protocol: Protocol, resolver: rv.Resolver, sink: Sink) -> list[Real]:
    out: list[Real] = []
    for text, loc, family in raw.reals:
        try:
            spec = parse_real(text)
        except Invalid as bad:
            sink.add(bad.code, loc, bad.message, bad.hint)
            continue
        if spec.upper_first:
            sink.add(
                "W113",
                loc,
                "u: before l: (ldirectord ignores the u: threshold here)",
                "write l:N before u:N",
            )
        first = _host(spec.host, family, resolver, sink, loc)
        if first is None:
            continue
        port = 0
        if spec.port is not None:
            resolved = rv.resolve_port(spec.port, None, resolver)
            if resolved is None:
                # looked up for any protocol, as ldirectord does; hints fit the virtual's
                proto = None if protocol is Protocol.FWM else str(protocol)
                hint = _port_hint(spec.port, proto, resolver, sink)
                sink.add("E206", loc, f"unknown port '{spec.port}' for the real server", hint)
                continue
            port = resolved
        addresses = [first]
        if spec.host2 is not None:
            if family == 6:
                sink.add("E208", loc, "address ranges are not supported for IPv6")
                continue
            last = _host(spec.host2, family, resolver, sink, loc)
            if last is None:
                continue
            expanded = rv.expand_range(first, last)
            if isinstance(expanded, str):
                sink.add("E208", loc, expanded, "write the lower address first")
                continue
            addresses = expanded
        for addr in addresses:
            out.append(
                Real(
                    address=addr,
                    port=port,
                    forward=Forward(spec.forward),
                    weight=spec.weight,
                    request=spec.request,
                    receive=spec.receive,
                    lower=spec.lower,
                    upper=spec.upper,
                    family=family,
                    host=spec.host,
                    loc=loc,
                )
            )
    return out
