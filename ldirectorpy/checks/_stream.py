"""Capped line and block reads on asyncio streams, for the text protocols.

Every read here has a byte cap: a line longer than ``MAX_LINE`` or a block past
its limit is a verdict (``ProbeFailure``), never an unbounded buffer. The
deadline is the caller's (``_common.bounded``); nothing here waits on its own.
"""

from __future__ import annotations

import asyncio
import functools
import ssl

from ldirectorpy.checks._common import ProbeFailure, Progress
from ldirectorpy.checks.target import Target

__all__ = [
    "MAX_LINE",
    "Stream",
    "insecure_tls",
    "open_stream",
    "shown",
]

MAX_LINE = 4096  # bytes of one protocol line (SMTP allows 512, IMAP greetings grow)


@functools.lru_cache(maxsize=1)
def insecure_tls() -> ssl.SSLContext:
    """A client context that verifies nothing: ldirectord's checks never did
    (LWP verify_hostname=0; mail and LDAP libraries without CA settings), and a
    health check asks "does the service answer", not "is its certificate ours"."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Stream:
    """A connected reader/writer pair that is always torn down hard."""

    __slots__ = ("limit", "reader", "writer")

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: int = MAX_LINE
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.limit = limit

    async def line(self) -> bytes:
        """One line with its CRLF/LF removed; ProbeFailure on EOF or a line past ``limit``."""
        try:
            line = await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise ProbeFailure(f"connection closed mid-line: {shown(exc.partial)!r}") from None
            raise ProbeFailure("connection closed without an answer") from None
        except asyncio.LimitOverrunError:
            raise ProbeFailure(f"line longer than {self.limit} bytes") from None
        return line.rstrip(b"\r\n")

    async def block(self, cap: int, length: int | None = None) -> bytes:
        """Up to ``cap`` bytes: ``length`` of them when known, else until EOF.

        Returns what arrived; the caller learns of truncation from ``len == cap``.
        """
        want = cap if length is None else min(cap, length)
        buf = bytearray()
        while len(buf) < want:
            chunk = await self.reader.read(want - len(buf))
            if not chunk:
                break
            buf += chunk
        return bytes(buf)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def farewell(self, data: bytes) -> None:
        """Send a QUIT/LOGOUT without waiting: the verdict is already known."""
        if not self.writer.transport.is_closing():
            self.writer.write(data)

    def close(self) -> None:
        # abort, not close: no waiting on a TLS close_notify or a full buffer.
        self.writer.transport.abort()


async def open_stream(
    host: str | Target,
    port: int = 0,
    *,
    tls: bool = False,
    server_hostname: str = "",
    limit: int = MAX_LINE,
    progress: Progress | None = None,
) -> Stream:
    """Connect, then (when ``tls``) handshake without verification; SNI is
    ``server_hostname`` (none when empty). ``progress`` learns which step is on."""
    address = (host.host, host.port) if isinstance(host, Target) else (host, port)
    reader, writer = await asyncio.open_connection(*address, limit=limit)
    if tls:
        if progress is not None:
            progress.stage = "TLS handshake"
        try:
            await writer.start_tls(
                insecure_tls(),
                server_hostname=server_hostname or None,
                ssl_handshake_timeout=None,  # the probe's one deadline covers it
            )
        except BaseException:
            writer.transport.abort()
            raise
    return Stream(reader, writer, limit)


def shown(data: bytes, cap: int = 80) -> str:
    """Peer bytes fit for a reason line: decoded leniently, trimmed, one line."""
    text = data.decode("utf-8", "replace").strip()
    text = " ".join(text.split())
    return text if len(text) <= cap else text[: cap - 3] + "..."
