"""checktype=connect: TCP connect, and the UDP datagram probe with fail-fast ICMP."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from typing import cast

from checks_loopback import closed_port, tcp_server

from ldirectorpy.checks import tcp, udp
from ldirectorpy.checks.target import Target

TIMEOUT = 0.4


async def test_tcp_connect_to_a_listener_is_up() -> None:
    async def idle(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
        await reader.read()

    async with tcp_server(idle) as port:
        result = await tcp.probe(Target("127.0.0.1", port), TIMEOUT)
    assert (result.ok, result.reason) == (True, "connect ok")


async def test_tcp_connect_to_a_closed_port_is_refused() -> None:
    result = await tcp.probe(Target("127.0.0.1", closed_port()), TIMEOUT)
    assert (result.ok, result.reason) == (False, "connect: refused")


async def test_tcp_connect_over_ipv6() -> None:
    result = await tcp.probe(Target("::1", closed_port(host="::1")), TIMEOUT)
    assert (result.ok, result.reason) == (False, "connect: refused")


async def test_tcp_connect_to_a_full_backlog_times_out_within_the_deadline() -> None:
    # A listener with backlog 0 that never accepts: once the queue is full,
    # the kernel drops SYNs and connect() hangs until our deadline.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):
                sock = socket.socket()
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    sock.connect(("127.0.0.1", port))
                fillers.append(sock)
            result = await tcp.probe(Target("127.0.0.1", port), TIMEOUT)
        finally:
            for sock in fillers:
                sock.close()
    assert not result.ok
    assert result.reason == f"connect: no answer within {TIMEOUT:g}s"
    assert result.elapsed < TIMEOUT + 0.25


@contextlib.asynccontextmanager
async def udp_server(reply: bytes | None) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A UDP socket on 127.0.0.1 that records datagrams and answers ``reply`` (None: silent)."""
    seen: list[bytes] = []

    class Server(asyncio.DatagramProtocol):
        transport: asyncio.DatagramTransport

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.DatagramTransport, transport)

        def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
            seen.append(data)
            if reply is not None:
                self.transport.sendto(reply, addr)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Server, local_addr=("127.0.0.1", 0))
    try:
        yield transport.get_extra_info("sockname")[1], seen
    finally:
        transport.close()


async def test_udp_port_unreachable_fails_fast() -> None:
    port = closed_port(socket.SOCK_DGRAM)
    result = await udp.probe(Target("127.0.0.1", port), TIMEOUT, payload=b"hi")
    assert (result.ok, result.reason) == (False, "UDP reply: refused")
    assert result.elapsed < 0.1


async def test_udp_silence_is_up_without_receive() -> None:
    async with udp_server(None) as (port, seen):
        result = await udp.probe(Target("127.0.0.1", port), TIMEOUT, payload=b"ping", silence=0.1)
    assert result.ok
    assert result.reason == "no ICMP error within 0.1s (silence counts as up)"
    assert seen == [b"ping"]


async def test_udp_any_reply_is_up_without_receive() -> None:
    async with udp_server(b"pong") as (port, _seen):
        result = await udp.probe(Target("127.0.0.1", port), TIMEOUT)
    assert (result.ok, result.reason) == (True, "reply of 4 bytes")


async def test_udp_reply_matching_receive_is_up() -> None:
    async with udp_server(b"200 ready") as (port, _seen):
        result = await udp.probe(Target("127.0.0.1", port), TIMEOUT, receive=re.compile(b"ready"))
    assert (result.ok, result.reason) == (True, "reply of 9 bytes matches receive")


async def test_udp_reply_not_matching_receive_is_down() -> None:
    async with udp_server(b"500 busy") as (port, _seen):
        result = await udp.probe(Target("127.0.0.1", port), TIMEOUT, receive=re.compile(b"ready"))
    assert not result.ok
    assert result.reason == "UDP reply: reply of 8 bytes does not match receive b'ready'"


async def test_udp_silence_is_down_when_receive_is_configured() -> None:
    async with udp_server(None) as (port, _seen):
        result = await udp.probe(Target("127.0.0.1", port), TIMEOUT, receive=re.compile(b"x"))
    assert not result.ok
    assert result.reason == f"UDP reply: no answer within {TIMEOUT:g}s"


async def test_udp_silence_window_defaults_to_half_the_timeout_at_most_one_second() -> None:
    async with udp_server(None) as (port, _seen):
        short = await udp.probe(Target("127.0.0.1", port), 0.4)
        long = await udp.probe(Target("127.0.0.1", port), 5.0)
    assert short.reason == "no ICMP error within 0.2s (silence counts as up)"
    assert long.reason == "no ICMP error within 1s (silence counts as up)"
    assert long.elapsed < 1.3
