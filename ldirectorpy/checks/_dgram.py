"""One UDP request and its first reply, for the request/answer probes (sip, radius,
simpletcp over UDP).

A connected socket, so the kernel turns an ICMP port unreachable into
ECONNREFUSED, which reaches us at once through ``error_received``. Replies
from other addresses are dropped by the kernel (connected socket); the first
datagram ``accept`` likes wins, the others are ignored (a stray or stale
answer must not decide the verdict). The caller bounds the wait.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from ldirectorpy.checks.target import Target

__all__ = ["MAX_DATAGRAM", "exchange"]

MAX_DATAGRAM = 8192  # bytes of a reply we look at


def accept_any(_data: bytes) -> bool:
    return True


class Replies(asyncio.DatagramProtocol):
    """Resolves ``answer`` with the first accepted datagram, or the first error."""

    def __init__(self, answer: asyncio.Future[bytes], accept: Callable[[bytes], bool]) -> None:
        self.answer = answer
        self.accept = accept

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        data = data[:MAX_DATAGRAM]
        if not self.answer.done() and self.accept(data):
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc or ConnectionError("endpoint closed"))


def _local_address(sock: socket.socket) -> tuple[str, int]:
    host, port = sock.getsockname()[:2]
    return str(host), int(port)


async def exchange(
    target: Target,
    payload: bytes | Callable[[tuple[str, int]], bytes],
    accept: Callable[[bytes], bool] = accept_any,
) -> bytes:
    """Send one datagram to ``target``; return the first accepted reply.

    ``payload`` may be a function of the local (address, port), for protocols
    that name the sender inside the message (SIP's Via). Raises OSError
    (``refused`` for an ICMP port unreachable); waits as long as the caller lets it.
    """
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()
    sock = socket.socket(target.family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
    try:
        sock.connect(target.sockaddr)
        data = payload(_local_address(sock)) if callable(payload) else payload
        sock.send(data)
    except BaseException:
        sock.close()
        raise
    transport, _ = await loop.create_datagram_endpoint(lambda: Replies(answer, accept), sock=sock)
    try:
        return await answer
    finally:
        transport.close()
        if not answer.done():
            answer.cancel()
        elif not answer.cancelled():
            answer.exception()  # mark retrieved: no "never retrieved" warning
