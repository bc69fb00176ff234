"""The address a probe talks to, as a small hashable value."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

__all__ = ["Target", "parse_hostport"]


@dataclass(frozen=True, slots=True)
class Target:
    """An IP literal and a port; ``family`` follows from the address."""

    host: str
    port: int
    # Derived once: every probe reads them (a property is a Python call each).
    family: socket.AddressFamily = field(init=False, repr=False, compare=False)
    sockaddr: tuple[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Normalise once so equal targets hash equal ("::0001" == "::1").
        host = str(ipaddress.ip_address(self.host))
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port out of range: {self.port}")
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "family", socket.AF_INET6 if ":" in host else socket.AF_INET)
        object.__setattr__(self, "sockaddr", (host, self.port))

    @property
    def host_for_argv(self) -> str:
        """The host as ldirectord hands it to external checks: IPv6 in brackets."""
        return f"[{self.host}]" if self.family == socket.AF_INET6 else self.host

    def __str__(self) -> str:
        return f"{self.host_for_argv}:{self.port}"


def parse_hostport(text: str, default_port: int | None = None) -> tuple[str, int]:
    """Split ``HOST:PORT`` / ``[V6]:PORT`` / ``V6`` (no port) into its parts.

    Raises ValueError with a readable message; the host is not resolved here.
    """
    host: str
    port_text: str | None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"missing ']' in {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"unexpected {rest!r} after ']' in {text!r}")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, None  # a bare name, IPv4 or unbracketed IPv6
    if not host:
        raise ValueError(f"no host in {text!r}")
    if port_text is None or port_text == "":
        if default_port is None:
            raise ValueError(f"no port in {text!r}")
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise ValueError(f"bad port {port_text!r} in {text!r}")
    return host, int(port_text)
