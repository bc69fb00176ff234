"""Read `ipvsadm -Ln` (and `--thresholds`, `--persistent-conn`) into our `Table`.

The kernel tests cross-check every state the backend writes with ipvsadm, a client
written by no one here. Only what ipvsadm prints can be checked this way: the
persistence netmask, for one, is shown only for persistent services.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ldirectorpy.ipvs.types import (
    AddressKey,
    Destination,
    Family,
    Forward,
    FwmarkKey,
    Service,
    ServiceKey,
    Table,
    ip,
    netmask_prefix,
    parse_sched_flags,
)

FORWARD_WORDS = {
    "Masq": Forward.MASQ,
    "Local": Forward.LOCALNODE,
    "Tunnel": Forward.TUNNEL,
    "Route": Forward.ROUTE,
}
_SERVICE = re.compile(r"^(TCP|UDP|SCTP)\s+(\S+)\s+(\S+)(.*)$|^FWM\s+(\d+)\s+(IPv6\s+)?(\S+)(.*)$")
_REAL = re.compile(r"^\s+->\s+(\S+)\s+(.*)$")


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def _service(line: str) -> Service | None:
    m = _SERVICE.match(line)
    if m is None:
        return None
    key: ServiceKey
    if m.group(1):
        host, port = _endpoint(m.group(2))
        key = AddressKey.of(m.group(1), host, port)
        sched, rest = m.group(3), m.group(4)
    else:
        key = FwmarkKey(Family.INET6 if m.group(6) else Family.INET, int(m.group(5)))
        sched, rest = m.group(7), m.group(8)
    words = rest.split()
    flags = re.search(r"\(([^)]*)\)", rest)
    persistence = netmask = None
    if "persistent" in words:
        persistence = int(words[words.index("persistent") + 1])
    if "mask" in words:
        netmask = netmask_prefix(words[words.index("mask") + 1])
    return Service(
        key,
        sched,
        persistence=persistence,
        netmask=netmask,
        one_packet="ops" in words,
        sched_flags=parse_sched_flags(flags.group(1)) if flags else parse_sched_flags(""),
    )


def _walk(text: str, on_real: Callable[[Service, str, list[str]], None]) -> list[Service]:
    services: list[Service] = []
    for line in text.splitlines():
        service = _service(line)
        if service is not None:
            services.append(service)
            continue
        real = _REAL.match(line)
        if real and services and real.group(1) != "RemoteAddress:Port":
            on_real(services[-1], real.group(1), real.group(2).split())
    return services


def parse(listing: str, thresholds: str = "") -> Table:
    """A table from `ipvsadm -Ln` output, with thresholds from `-Ln --thresholds`."""
    limits: dict[tuple[ServiceKey, str], tuple[int, int]] = {}
    _walk(
        thresholds,
        lambda s, ep, cols: limits.__setitem__((s.key, ep), (int(cols[0]), int(cols[1]))),
    )
    dests: dict[ServiceKey, list[Destination]] = {}

    def real(service: Service, endpoint: str, cols: list[str]) -> None:
        host, port = _endpoint(endpoint)
        upper, lower = limits.get((service.key, endpoint), (0, 0))
        dests.setdefault(service.key, []).append(
            Destination(ip(host), port, FORWARD_WORDS[cols[0]], int(cols[1]), upper, lower)
        )

    services = _walk(listing, real)
    return Table.build(((s, dests.get(s.key, [])) for s in services), normalize=False)


def persistent_conns(listing: str) -> dict[tuple[ServiceKey, str], tuple[int, int]]:
    """(service, real) -> (weight, persistent connections) from `-Ln --persistent-conn`."""
    out: dict[tuple[ServiceKey, str], tuple[int, int]] = {}
    _walk(listing, lambda s, ep, cols: out.__setitem__((s.key, ep), (int(cols[0]), int(cols[1]))))
    return out
