"""checktype=connect for UDP virtuals: one datagram, and fail fast on ICMP
port unreachable.

ldirectord pings the host instead, which says nothing about the service. Here a
connected datagram endpoint sends the request payload (or an empty datagram);
the kernel turns an ICMP port unreachable into ECONNREFUSED, which asyncio hands
to ``error_received`` at once (asyncio-dgram's ``recv()`` misses it). Silence is
up unless a ``receive`` pattern is configured, in which case a reply must match.
"""

from __future__ import annotations

import asyncio
import re
import socket

from ldirectorpy.checks._common import ProbeFailure, Progress, bounded
from ldirectorpy.checks._dgram import MAX_DATAGRAM, Replies, accept_any
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["DEFAULT_SILENCE", "MAX_DATAGRAM", "probe"]

DEFAULT_SILENCE = 1.0  # seconds without an ICMP error that count as up


async def _exchange(
    target: Target,
    payload: bytes,
    receive: re.Pattern[bytes] | None,
    silence: float,
    progress: Progress,
) -> tuple[bool, str]:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()
    sock = socket.socket(target.family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect(target.sockaddr)
        progress.stage = "UDP send"
        # Sent on the socket itself: asyncio's sendto() drops empty datagrams,
        # and an empty one is the least a service can be bothered with.
        sock.send(payload)
    except BaseException:
        sock.close()
        raise
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Replies(answer, accept_any), sock=sock
    )
    try:
        progress.stage = "UDP reply"
        if receive is None:
            try:
                data = await asyncio.wait_for(asyncio.shield(answer), silence)
            except TimeoutError:
                return True, f"no ICMP error within {silence:g}s (silence counts as up)"
            return True, f"reply of {len(data)} bytes"
        data = await answer
        if receive.search(data):
            return True, f"reply of {len(data)} bytes matches receive"
        raise ProbeFailure(f"reply of {len(data)} bytes does not match receive {receive.pattern!r}")
    finally:
        transport.close()
        if not answer.done():
            answer.cancel()
        elif not answer.cancelled():
            answer.exception()  # mark retrieved: no "never retrieved" warning


async def probe(
    target: Target,
    timeout: float,
    *,
    payload: bytes = b"",
    receive: re.Pattern[bytes] | None = None,
    silence: float | None = None,
) -> ProbeResult:
    """Send ``payload`` to ``target`` over UDP.

    Down on ICMP port unreachable (``refused``) or, with ``receive``, on no
    matching reply before the deadline. Without ``receive``, the probe waits
    ``silence`` seconds for an ICMP error and otherwise calls the service up;
    the default, half the timeout but at most DEFAULT_SILENCE, is far more
    than an ICMP error needs on a LAN and keeps a probe slot busy no longer.
    """
    wait = min(silence if silence is not None else min(timeout / 2, DEFAULT_SILENCE), timeout)
    return await bounded(
        timeout, lambda p: _exchange(target, payload, receive, wait, p), first_stage="UDP socket"
    )
