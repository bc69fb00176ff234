"""service=simpletcp over TCP and UDP against loopback servers."""

from __future__ import annotations

import asyncio
import re
import socket

import pytest
from checks_loopback import closed_port, tcp_server
from dialogue_server import CLOSE, READ, Step, dialogue, trickled, udp_responder

from ldirectorpy.checks import CheckSpec, build_probe, simpletcp
from ldirectorpy.checks.target import Target

TIMEOUT = 0.3
SLACK = 0.25


def rx(text: str) -> re.Pattern[bytes]:
    return re.compile(text.encode())


@pytest.mark.parametrize(
    ("steps", "receive", "up", "reason"),
    [
        ([READ, b"hello\nSTATUS: OK\n", CLOSE], "^STATUS: OK$", True,
         "line b'STATUS: OK\\n' matches receive"),
        # no newline, connection still open: the partial line is judged at EOF only
        ([READ, b"STATUS: OK", CLOSE], "OK", True, "line b'STATUS: OK' matches receive"),
        ([READ, b"partial at EOF", CLOSE], "EOF$", True, "line b'partial at EOF' matches receive"),
        ([READ, b"STATUS: DEGRADED\n", CLOSE], "OK", False,
         "answer: no line of the 17-byte answer matches receive 'OK'"),
        ([READ, b"x" * 70_000], "OK", False,
         "answer: no line of the 65536-byte answer (cut at the cap) matches receive 'OK'"),
        ([READ, CLOSE], "OK", False, "answer: closed without an answer"),
        # Empty receive: any answer at all (ldirectord reused the last pattern).
        ([READ, b"anything\n", CLOSE], "", True, "answered b'anything\\n'"),
        ([READ, CLOSE], "", False, "answer: closed without an answer"),
    ],
)  # fmt: skip
async def test_tcp_verdicts(steps: list[Step], receive: str, up: bool, reason: str) -> None:
    async with dialogue(steps) as (port, transcript):
        result = await simpletcp.probe(
            Target("127.0.0.1", port),
            TIMEOUT,
            request="/PING\\nfull",
            receive=rx(receive) if receive else None,
        )
        assert (result.ok, result.reason) == (up, reason)
        assert transcript[0] == b"PING"


async def test_the_payload_is_sent_then_the_write_side_is_shut() -> None:
    received: list[bytes] = []

    async def answer_at_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read())  # returns only once the probe half-closed
        writer.write(b"seen\n")
        await writer.drain()

    async with tcp_server(answer_at_eof) as port:
        result = await simpletcp.probe(
            Target("127.0.0.1", port), TIMEOUT, request="/GET\\nstatus\\n", receive=rx("seen")
        )
    assert result.ok, result.reason
    assert received == [b"GET\nstatus\n"]


async def test_tcp_refused_silent_and_trickled() -> None:
    refused = await simpletcp.probe(Target("127.0.0.1", closed_port()), TIMEOUT, receive=rx("x"))
    assert (refused.ok, refused.reason) == (False, "connect: refused")
    cases: list[list[Step]] = [[READ, 5.0], [READ, *trickled(b"y" * 100)]]
    for steps in cases:
        async with dialogue(steps) as (port, _):
            result = await simpletcp.probe(
                Target("127.0.0.1", port), TIMEOUT, request="/x\\n", receive=rx("OK")
            )
        assert (result.ok, result.reason) == (False, f"answer: no answer within {TIMEOUT:g}s")
        assert result.elapsed < TIMEOUT + SLACK


@pytest.mark.parametrize(
    ("replies", "receive", "up", "reason"),
    [
        ([b"pong 1\npong OK\n"], "OK$", True, "line b'pong OK\\n' matches receive"),
        ([b"pong 1\n"], "OK", False,
         "UDP reply: no line of the 7-byte answer matches receive 'OK'"),
        ([b"x"], "", True, "answered b'x'"),
        ([], "OK", False, f"UDP reply: no answer within {TIMEOUT:g}s"),
    ],
)  # fmt: skip
async def test_udp_verdicts(replies: list[bytes], receive: str, up: bool, reason: str) -> None:
    async with udp_responder(lambda _data: replies) as (port, seen):
        probe = build_probe(
            CheckSpec(
                "negotiate", "simpletcp", Target("127.0.0.1", port), protocol="udp",
                request="/ping\\n", receive=receive, negotiatetimeout=TIMEOUT,
            )
        )  # fmt: skip
        assert probe is not None
        result = await probe()
    assert (result.ok, result.reason) == (up, reason)
    assert seen == [b"ping\n"]


async def test_udp_port_unreachable_is_refused_at_once() -> None:
    result = await simpletcp.probe(
        Target("127.0.0.1", closed_port(socket.SOCK_DGRAM)), TIMEOUT, udp=True
    )
    assert (result.ok, result.reason) == (False, "UDP reply: refused")
    assert result.elapsed < 0.1


def test_payload_follows_ldirectord() -> None:
    assert simpletcp.payload("/HELLO\\nWORLD\\n") == b"HELLO\nWORLD\n"
    assert simpletcp.payload("/") == b""
