"""checktype=ping: ICMP echo over raw sockets (root), IPv4 and IPv6.

Up to ``count`` echo requests are sent, spread over the deadline; any matching
echo reply is up. Matching is by identifier (random per probe) and by a sequence
number we sent, so concurrent pings sharing the host don't steal replies. The
raw socket is connect()ed to the target so the kernel filters other sources.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct

from ldirectorpy.checks._common import Progress, bounded
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["checksum", "echo_request", "parse_echo_reply", "probe"]

ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST = 0, 8
ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129
_PAYLOAD = b"ldirectorpy-ping"
_MAX_PACKET = 1500


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, v6: bool) -> bytes:
    """An ICMP(v6) echo request; for v6 the kernel fills in the checksum."""
    kind = ICMP6_ECHO_REQUEST if v6 else ICMP_ECHO_REQUEST
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if v6:
        return header + _PAYLOAD
    csum = checksum(header + _PAYLOAD)
    return struct.pack("!BBHHH", kind, 0, csum, ident, seq) + _PAYLOAD


def parse_echo_reply(packet: bytes, v6: bool) -> tuple[int, int] | None:
    """(identifier, sequence) of an echo reply, else None.

    A raw IPv4 socket delivers the IP header too; a raw IPv6 one does not.
    """
    if not v6:
        if len(packet) < 20 or packet[0] >> 4 != 4:
            return None
        packet = packet[(packet[0] & 0x0F) * 4 :]
    if len(packet) < 8:
        return None
    kind, code, _csum, ident, seq = struct.unpack_from("!BBHHH", packet)
    if kind != (ICMP6_ECHO_REPLY if v6 else ICMP_ECHO_REPLY) or code != 0:
        return None
    return ident, seq


async def _ping(target: Target, count: int, timeout: float, progress: Progress) -> tuple[bool, str]:
    loop = asyncio.get_running_loop()
    v6 = target.family == socket.AF_INET6
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    sock = socket.socket(target.family, socket.SOCK_RAW, proto)
    try:
        sock.setblocking(False)
        sock.connect((target.host, 0))
        ident = int.from_bytes(os.urandom(2), "big")
        sent: set[int] = set()
        attempt_wait = timeout / count
        for seq in range(1, count + 1):
            progress.stage = f"ICMP echo {seq}/{count}"
            await loop.sock_sendall(sock, echo_request(ident, seq, v6))
            sent.add(seq)
            try:
                async with asyncio.timeout(attempt_wait):
                    while True:
                        match = parse_echo_reply(await loop.sock_recv(sock, _MAX_PACKET), v6)
                        if match is not None and match[0] == ident and match[1] in sent:
                            return True, f"echo reply {match[1]}/{count}"
            except TimeoutError:
                continue  # the outer deadline still bounds the whole probe
        return False, f"no echo reply to {count} request{'s' if count > 1 else ''}"
    finally:
        sock.close()


async def probe(target: Target, timeout: float, count: int = 1) -> ProbeResult:
    """Up when any of ``count`` ICMP echo requests is answered within ``timeout`` in total."""
    count = max(1, count)
    return await bounded(timeout, lambda p: _ping(target, count, timeout, p), "ICMP socket")
