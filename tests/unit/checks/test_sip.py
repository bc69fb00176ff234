"""service=sip: OPTIONS over UDP and TCP against loopback SIP responders."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable, Sequence

import pytest
from checks_loopback import closed_port, tcp_server
from dialogue_server import udp_responder

from ldirectorpy.checks import CheckSpec, build_probe, sip
from ldirectorpy.checks.target import Target

TIMEOUT = 0.3
SLACK = 0.25
SILENT = f"SIP reply: no answer within {TIMEOUT:g}s"


def call_id(request: bytes) -> bytes:
    match = re.search(rb"Call-ID: (\S+)", request)
    assert match is not None
    return match.group(1)


def response(status: bytes, request: bytes, call: bytes | None = None) -> bytes:
    return (
        b"SIP/2.0 " + status + b"\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1\r\n"
        b"Call-ID: " + (call or call_id(request)) + b"\r\n"
        b"CSeq: 63104 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )


Answer = Callable[[bytes], Sequence[bytes]]


@pytest.mark.parametrize(
    ("answer", "up", "reason"),
    [
        (lambda r: [response(b"200 OK", r)], True, "SIP/2.0 200 OK"),
        (lambda r: [response(b"100 Trying", r), response(b"200 OK", r)], True, "SIP/2.0 200 OK"),
        (lambda r: [response(b"503 Service Unavailable", r)], False,
         "OPTIONS answered 'SIP/2.0 503 Service Unavailable'"),
        (lambda r: [response(b"404 Not Found", r)], False,
         "OPTIONS answered 'SIP/2.0 404 Not Found'"),
        # Strays (another Call-ID) and garbage are ignored; silence then decides.
        (lambda r: [response(b"200 OK", r, b"someone-else")], False, SILENT),
        (lambda r: [b"garbage Call-ID: " + call_id(r)], False, SILENT),
        (lambda r: [b"\xff" * 9000], False, SILENT),
        (lambda r: [], False, SILENT),
    ],
)  # fmt: skip
async def test_udp_verdicts(answer: Answer, up: bool, reason: str) -> None:
    async with udp_responder(answer) as (port, seen):
        result = await sip.probe(Target("127.0.0.1", port), TIMEOUT, login="probe@lb")
    assert (result.ok, result.reason) == (up, reason)
    request = seen[0].decode()
    assert request.startswith("OPTIONS sip:probe@lb SIP/2.0\r\n")
    assert re.search(
        r"\r\nVia: SIP/2\.0/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK[0-9a-f]{16}\r\n", request
    )
    assert "\r\nCSeq: 63104 OPTIONS\r\n" in request
    assert request.endswith("Content-Length: 0\r\n\r\n")


async def test_udp_refused_at_once() -> None:
    result = await sip.probe(Target("127.0.0.1", closed_port(socket.SOCK_DGRAM)), TIMEOUT)
    assert (result.ok, result.reason) == (False, "SIP reply: refused")
    assert result.elapsed < 0.1


def tcp_sip(status_lines: list[bytes], seen: list[bytes]) -> object:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        seen.append(request)
        for status in status_lines:
            writer.write(response(status, request) if status else b"")
        await writer.drain()
        await reader.read()

    return handle


@pytest.mark.parametrize(
    ("statuses", "up", "reason"),
    [
        ([b"200 OK"], True, "SIP/2.0 200 OK"),
        ([b"180 Ringing", b"200 OK"], True, "SIP/2.0 200 OK"),
        ([b"486 Busy Here"], False, "OPTIONS answered 'SIP/2.0 486 Busy Here'"),
        ([b"100 Trying"] * 9, False, "SIP reply: more than 8 provisional answers"),
        ([], False, SILENT),
    ],
)
async def test_tcp_verdicts(statuses: list[bytes], up: bool, reason: str) -> None:
    seen: list[bytes] = []
    async with tcp_server(tcp_sip(statuses, seen)) as port:  # type: ignore[arg-type]
        probe = build_probe(
            CheckSpec("negotiate", "sip", Target("127.0.0.1", port), protocol="tcp",
                      login="probe@lb", negotiatetimeout=TIMEOUT)
        )  # fmt: skip
        assert probe is not None
        result = await probe()
    assert (result.ok, result.reason) == (up, reason)
    assert b"Via: SIP/2.0/TCP 127.0.0.1:" in seen[0]


async def test_tcp_garbage_and_refused() -> None:
    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with tcp_server(http) as port:
        garbage = await sip.probe(Target("127.0.0.1", port), TIMEOUT, udp=False)
    assert (garbage.ok, garbage.reason) == (
        False, "SIP reply: not a SIP status line: 'HTTP/1.1 400 Bad Request'"
    )  # fmt: skip
    refused = await sip.probe(Target("127.0.0.1", closed_port()), TIMEOUT, udp=False)
    assert (refused.ok, refused.reason) == (False, "connect: refused")


async def test_over_ipv6_udp() -> None:
    async with udp_responder(lambda r: [response(b"200 OK", r)], host="::1") as (port, seen):
        result = await sip.probe(Target("::1", port), TIMEOUT, login="x")
    assert result.ok
    assert b"Via: SIP/2.0/UDP [::1]:" in seen[0]


async def test_without_a_login_the_uri_names_the_real() -> None:
    async with udp_responder(lambda r: [response(b"200 OK", r)]) as (port, seen):
        await sip.probe(Target("127.0.0.1", port), TIMEOUT)
    assert seen[0].startswith(f"OPTIONS sip:127.0.0.1:{port} SIP/2.0".encode())


async def test_nothing_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    async with udp_responder(lambda r: [response(b"200 OK", r)]) as (port, _):
        await sip.probe(Target("127.0.0.1", port), TIMEOUT)
    assert capsys.readouterr() == ("", "")
