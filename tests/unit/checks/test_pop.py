"""service=pop/pops against scripted loopback POP3 servers."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from checks_loopback import closed_port
from dialogue_server import CLOSE, READ, Step, dialogue, scripted, settled, trickled

from ldirectorpy.checks import CheckSpec, build_probe, pop
from ldirectorpy.checks.target import Target

TIMEOUT = 0.3
SLACK = 0.25


@pytest.mark.parametrize(
    ("steps", "login", "up", "reason", "said"),
    [
        ([b"+OK POP3 ready\r\n"], "", True, "POP3 +OK greeting", [b"QUIT"]),
        (
            [b"+OK ready\r\n", READ, b"+OK user\r\n", READ, b"+OK maildrop locked\r\n"],
            "probe", True, "POP3 +OK greeting; logged in as 'probe'",
            [b"USER probe", b"PASS s3cret", b"QUIT"],
        ),
        (
            [b"+OK ready\r\n", READ, b"+OK\r\n", READ, b"-ERR [AUTH] invalid password\r\n"],
            "probe", False, "POP3 login as 'probe' refused: '-ERR [AUTH] invalid password'",
            [b"USER probe", b"PASS s3cret"],
        ),
        (
            [b"+OK ready\r\n", READ, b"-ERR no such user\r\n"],
            "probe", False, "POP3 login as 'probe' refused: '-ERR no such user'", [b"USER probe"],
        ),
        # ldirectord passed these without a login; a greeting is required here.
        ([b"-ERR too many connections\r\n"], "", False,
         "POP3 greeting is not +OK: '-ERR too many connections'", []),
        ([b"220 mx ESMTP\r\n"], "", False, "POP3 greeting is not +OK: '220 mx ESMTP'", []),
        ([CLOSE], "", False, "POP3 greeting: connection closed without an answer", []),
        ([b"+OK" + b"!" * 5000], "", False, "POP3 greeting: line longer than 4096 bytes", []),
    ],
)  # fmt: skip
async def test_verdicts(
    steps: list[Step], login: str, up: bool, reason: str, said: list[bytes]
) -> None:
    async with dialogue(steps) as (port, transcript):
        result = await pop.probe(Target("127.0.0.1", port), TIMEOUT, login=login, passwd="s3cret")
        assert (result.ok, result.reason) == (up, reason)
        assert await settled(transcript, len(said)) == said


async def test_refused_is_down_even_without_a_login() -> None:
    result = await pop.probe(Target("127.0.0.1", closed_port()), TIMEOUT)
    assert (result.ok, result.reason) == (False, "connect: refused")


async def test_silent_and_trickled_greetings_are_down_at_the_deadline() -> None:
    for steps in ([5.0], trickled(b"+OK " + b"z" * 50 + b"\r\n")):
        async with dialogue(steps) as (port, _):
            result = await pop.probe(Target("127.0.0.1", port), TIMEOUT)
        assert (result.ok, result.reason) == (
            False,
            f"POP3 greeting: no answer within {TIMEOUT:g}s",
        )
        assert result.elapsed < TIMEOUT + SLACK


async def test_pops_speaks_tls_without_verifying(tls_cert: tuple[Path, Path]) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*tls_cert)
    transcript: list[bytes] = []
    steps: list[Step] = [b"+OK secure\r\n", READ, b"+OK\r\n", READ, b"+OK\r\n"]
    server = await asyncio.start_server(scripted(steps, transcript), "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        spec = CheckSpec(
            "negotiate", "pops", Target("127.0.0.1", port), login="u", passwd="p",
            negotiatetimeout=TIMEOUT,
        )  # fmt: skip
        probe = build_probe(spec)
        assert probe is not None
        result = await probe()
        plain = await pop.probe(Target("127.0.0.1", port), TIMEOUT)
    finally:
        server.close()
        await server.wait_closed()
    assert (result.ok, result.reason) == (True, "POP3 +OK greeting; logged in as 'u'")
    assert transcript[:2] == [b"USER u", b"PASS p"]
    assert not plain.ok  # the plain probe cannot read a TLS server's greeting
