"""service=imap/imaps against scripted loopback IMAP servers."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from checks_loopback import closed_port
from dialogue_server import CLOSE, READ, Step, dialogue, scripted, settled, trickled

from ldirectorpy.checks import CheckSpec, build_probe, imap
from ldirectorpy.checks.target import Target

TIMEOUT = 0.3
SLACK = 0.25
GREETING = b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"


@pytest.mark.parametrize(
    ("steps", "login", "up", "reason", "said"),
    [
        ([GREETING], "", True, "IMAP * OK greeting", [b"a2 LOGOUT"]),
        ([b"* PREAUTH welcome\r\n"], "", True, "IMAP * PREAUTH greeting", [b"a2 LOGOUT"]),
        (
            [GREETING, READ, b"* CAPABILITY IMAP4rev1\r\na1 OK Logged in\r\n"],
            'pro"be', True, "IMAP * OK greeting; logged in as 'pro\"be'",
            [b'a1 LOGIN "pro\\"be" "s3\\\\cret"', b"a2 LOGOUT"],
        ),
        (
            [GREETING, READ, b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"],
            "probe", False,
            "IMAP login as 'probe' refused: 'NO [AUTHENTICATIONFAILED] Authentication failed.'",
            [b'a1 LOGIN "probe" "s3\\\\cret"'],
        ),
        (
            [GREETING, READ, b"* OK still here\r\n" * 100],
            "probe", False, "IMAP LOGIN: no tagged answer within 64 lines",
            [b'a1 LOGIN "probe" "s3\\\\cret"'],
        ),
        ([b"* BYE too busy\r\n"], "", False, "IMAP greeting is not * OK: '* BYE too busy'", []),
        ([b"+OK POP3\r\n"], "", False, "IMAP greeting is not * OK: '+OK POP3'", []),
        ([CLOSE], "", False, "IMAP greeting: connection closed without an answer", []),
        ([b"* OK " + b"x" * 9000], "", False, "IMAP greeting: line longer than 4096 bytes", []),
    ],
)  # fmt: skip
async def test_verdicts(
    steps: list[Step], login: str, up: bool, reason: str, said: list[bytes]
) -> None:
    async with dialogue(steps) as (port, transcript):
        result = await imap.probe(
            Target("127.0.0.1", port), TIMEOUT, login=login, passwd="s3\\cret"
        )
        assert (result.ok, result.reason) == (up, reason)
        assert await settled(transcript, len(said)) == said


async def test_refused() -> None:
    result = await imap.probe(Target("127.0.0.1", closed_port()), TIMEOUT)
    assert (result.ok, result.reason) == (False, "connect: refused")


async def test_silent_and_trickled_greetings_are_down_at_the_deadline() -> None:
    for steps in ([5.0], trickled(b"* OK " + b"z" * 50 + b"\r\n")):
        async with dialogue(steps) as (port, _):
            result = await imap.probe(Target("127.0.0.1", port), TIMEOUT)
        assert (result.ok, result.reason) == (
            False,
            f"IMAP greeting: no answer within {TIMEOUT:g}s",
        )
        assert result.elapsed < TIMEOUT + SLACK


async def test_a_login_with_a_newline_cannot_be_sent_so_the_check_is_down() -> None:
    probe = build_probe(CheckSpec("negotiate", "imap", Target("127.0.0.1", 143), login="a\nb"))
    assert probe is not None
    result = await probe()
    assert (result.ok, result.reason) == (
        False, "service=imap: IMAP login and password cannot contain CR or LF"
    )  # fmt: skip


async def test_imaps_speaks_tls_without_verifying(tls_cert: tuple[Path, Path]) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*tls_cert)
    transcript: list[bytes] = []
    server = await asyncio.start_server(scripted([GREETING], transcript), "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        probe = build_probe(
            CheckSpec("negotiate", "imaps", Target("127.0.0.1", port), negotiatetimeout=TIMEOUT)
        )
        assert probe is not None
        result = await probe()
    finally:
        server.close()
        await server.wait_closed()
    assert (result.ok, result.reason) == (True, "IMAP * OK greeting")
