"""maintenancedir: a file named after a real server forces it down.

Checked before every probe, in ldirectord's order: `RIP:RPORT`, `RIP`,
`FQDN:RPORT`, `FQDN`, `SHORT:RPORT`, `SHORT` (IPv6 addresses in brackets).
ldirectord looks the FQDN up by reverse DNS before every check; we resolve
each address once per (re)load, off the event loop, so a slow DNS server
never delays a probe.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
from collections.abc import Iterable
from pathlib import Path

SHORT_NAME = re.compile(r"^([a-z][a-z0-9-]+)\.")
RESOLVE_TIMEOUT = 5.0


def host_text(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def candidates(address: str, port: int, fqdn: str | None) -> list[str]:
    host = host_text(address)
    names = [f"{host}:{port}", host]
    if fqdn:
        names += [f"{fqdn}:{port}", fqdn]
        short = SHORT_NAME.match(fqdn)
        if short:
            names += [f"{short.group(1)}:{port}", short.group(1)]
    return names


def _reverse(address: str) -> str | None:
    try:
        name, _ = socket.getnameinfo((address, 0), socket.NI_NAMEREQD)
    except OSError:
        return None
    return name


async def reverse_names(addresses: Iterable[str]) -> dict[str, str | None]:
    """Reverse DNS for each address, concurrently, each bounded by a timeout."""

    async def one(address: str) -> str | None:
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT):
                return await asyncio.to_thread(_reverse, address)
        except TimeoutError:
            return None

    unique = sorted(set(addresses))
    names = await asyncio.gather(*(one(a) for a in unique))
    return dict(zip(unique, names, strict=True))


class Maintenance:
    def __init__(self, directory: str | None, fqdns: dict[str, str | None] | None = None) -> None:
        self.directory = Path(directory) if directory else None
        self.fqdns = fqdns or {}

    def in_maintenance(
        self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | str, port: int
    ) -> bool:
        if self.directory is None:
            return False
        text = str(address)
        return any(
            os.path.lexists(self.directory / name)
            for name in candidates(text, port, self.fqdns.get(text))
        )
