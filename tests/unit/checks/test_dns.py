"""service=dns against an in-process name server (dnspython builds its answers)."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import sys
from collections.abc import Callable, Sequence

import dns.message
import dns.rcode
import dns.rrset
import pytest
from checks_loopback import closed_port, tcp_server
from dialogue_server import udp_responder

from ldirectorpy.checks import CheckSpec, build_probe
from ldirectorpy.checks import dns as dns_check
from ldirectorpy.checks.target import Target

TIMEOUT = 0.3
ZONE = {
    ("www.example.org.", "A"): ["192.0.2.80", "192.0.2.81"],
    ("v6only.example.org.", "AAAA"): ["2001:db8::80"],
    ("5.2.0.192.in-addr.arpa.", "PTR"): ["www.example.org."],
}


def answer(
    wire: bytes, rcode: dns.rcode.Rcode = dns.rcode.NOERROR, truncate: bool = False
) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    question = query.question[0]
    key = (question.name.to_text(), dns.rdatatype.to_text(question.rdtype))
    if rcode == dns.rcode.NOERROR and key in ZONE and not truncate:
        response.answer.append(dns.rrset.from_text_list(key[0], 60, "IN", key[1], ZONE[key]))
    if truncate:
        response.flags |= dns.flags.TC
    return response.to_wire()


Server = Callable[[bytes], Sequence[bytes]]


def probe(port: int, request: str, receive: str = "", tcp: bool = False):  # type: ignore[no-untyped-def]
    pattern = re.compile(receive.encode()) if receive else None
    return dns_check.probe(
        Target("127.0.0.1", port), TIMEOUT, request=request, receive=pattern, tcp=tcp
    )


@pytest.mark.parametrize(
    ("server", "request_", "receive", "up", "reason"),
    [
        (lambda q: [answer(q)], "/www.example.org", r"192\.0\.2\.81", True,
         "A www.example.org. -> 192.0.2.81 matches receive"),
        (lambda q: [answer(q)], "/www.example.org", "", True,
         "A www.example.org. -> 192.0.2.80, 192.0.2.81"),
        (lambda q: [answer(q)], "/www.example.org", r"^198\.51", False,
         "A www.example.org. -> 192.0.2.80, 192.0.2.81: none matches receive '^198\\\\.51'"),
        (lambda q: [answer(q)], "/192.0.2.5", r"^www\.example\.org$", True,
         "PTR 5.2.0.192.in-addr.arpa. -> www.example.org matches receive"),
        (lambda q: [answer(q)], "/v6only.example.org", "2001:db8::80", True,
         "AAAA v6only.example.org. -> 2001:db8::80 matches receive"),
        (lambda q: [answer(q)], "/nothing.example.org", "", False,
         "DNS AAAA nothing.example.org.: no A/AAAA record"),
        (lambda q: [answer(q, dns.rcode.NXDOMAIN)], "/www.example.org", "", False,
         "DNS A www.example.org.: A www.example.org. answered NXDOMAIN"),
        (lambda q: [answer(q, dns.rcode.SERVFAIL)], "/www.example.org", "", False,
         "DNS A www.example.org.: A www.example.org. answered SERVFAIL"),
        (lambda q: [q[:2] + b"\x81"], "/www.example.org", "", False,
         f"DNS A www.example.org.: no answer within {TIMEOUT:g}s"),  # garbage is ignored
        (lambda q: [], "/www.example.org", "", False,
         f"DNS A www.example.org.: no answer within {TIMEOUT:g}s"),
    ],
)  # fmt: skip
async def test_udp_verdicts(
    server: Server, request_: str, receive: str, up: bool, reason: str
) -> None:
    async with udp_responder(server) as (port, _):
        result = await probe(port, request_, receive)
    assert (result.ok, result.reason) == (up, reason)


async def test_a_stray_answer_with_another_id_is_ignored() -> None:
    def stray_then_real(q: bytes) -> list[bytes]:
        wrong = bytes([q[0] ^ 0xFF]) + answer(q)[1:]
        return [wrong, b"\xff" * 5, answer(q)]

    async with udp_responder(stray_then_real) as (port, _):
        result = await probe(port, "/www.example.org", "192.0.2.80")
    assert result.ok, result.reason


async def test_udp_refused_at_once() -> None:
    result = await probe(closed_port(socket.SOCK_DGRAM), "/www.example.org")
    assert (result.ok, result.reason) == (False, "DNS A www.example.org.: refused")
    assert result.elapsed < 0.1


def tcp_dns(seen: list[bytes]) -> object:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            query = await reader.readexactly(size)
            seen.append(query)
            reply = answer(query)
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()

    return handle


async def test_protocol_tcp_asks_over_tcp() -> None:
    seen: list[bytes] = []
    async with tcp_server(tcp_dns(seen)) as port:  # type: ignore[arg-type]
        probe_ = build_probe(
            CheckSpec("negotiate", "dns", Target("127.0.0.1", port), protocol="tcp",
                      request="/www.example.org", receive="192.0.2.80", negotiatetimeout=TIMEOUT)
        )  # fmt: skip
        assert probe_ is not None
        result = await probe_()
    assert (result.ok, result.reason) == (True, "A www.example.org. -> 192.0.2.80 matches receive")
    assert len(seen) == 1


async def test_a_truncated_udp_answer_is_retried_over_tcp() -> None:
    seen: list[bytes] = []
    async with tcp_server(tcp_dns(seen)) as port:  # type: ignore[arg-type]
        # The same port number over UDP answers truncated.
        loop = asyncio.get_running_loop()

        class Truncating(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
                self.transport.sendto(answer(data, truncate=True), addr)  # type: ignore[attr-defined]

        transport, _ = await loop.create_datagram_endpoint(
            Truncating, local_addr=("127.0.0.1", port)
        )
        try:
            result = await probe(port, "/www.example.org", "192.0.2.8")
        finally:
            transport.close()
    assert result.ok, result.reason
    assert len(seen) == 1


async def test_tcp_refused() -> None:
    result = await probe(closed_port(), "/www.example.org", tcp=True)
    assert (result.ok, result.reason) == (False, "DNS A www.example.org.: refused")


async def test_without_dnspython_the_probe_is_down_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "dns.asyncquery", None)
    result = await probe(closed_port(socket.SOCK_DGRAM), "/www.example.org")
    assert (result.ok, result.reason) == (
        False, "service=dns needs the [dns] extra: pip install ldirectorpy[dns]"
    )  # fmt: skip


def test_question_follows_ldirectord() -> None:
    assert dns_check.question("/www.example.org") == ("www.example.org.", "A")
    assert dns_check.question("/192.0.2.5") == ("5.2.0.192.in-addr.arpa.", "PTR")
    assert dns_check.question("/2001:db8::1")[1] == "PTR"
