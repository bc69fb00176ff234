"""service=smtp/submission against scripted loopback SMTP servers."""

from __future__ import annotations

import asyncio

import pytest
from checks_loopback import closed_port
from dialogue_server import CLOSE, READ, Step, dialogue, settled, trickled

from ldirectorpy.checks import CheckSpec, build_probe, smtp
from ldirectorpy.checks.target import Target

TIMEOUT = 0.3
SLACK = 0.25
EHLO = b"EHLO localhost.localdomain"
HELO = b"HELO localhost.localdomain"


@pytest.mark.parametrize(
    ("steps", "up", "reason", "said"),
    [
        (
            [b"220 mx.example ESMTP\r\n", READ,
             b"250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"],
            True, "SMTP banner 220; EHLO 250", [EHLO, b"QUIT"],
        ),
        (
            [b"220-first\r\n220 mx ready\r\n", READ, b"502 no EHLO here\r\n", READ, b"250 hi\r\n"],
            True, "SMTP banner 220; HELO 250", [EHLO, HELO, b"QUIT"],
        ),
        ([b"554 go away\r\n"], False, "SMTP banner 554 go away", []),
        (
            [b"220 mx\r\n", READ, b"421 busy\r\n", READ, b"421 busy\r\n"],
            False, "SMTP HELO answered 421 busy", [EHLO, HELO],
        ),
        ([b"+OK POP3 ready\r\n"], False, "SMTP banner: not an SMTP reply: '+OK POP3 ready'", []),
        ([b"220-a\r\n250 b\r\n"], False,
         "SMTP banner: reply code changed from 220 to 250 mid-reply", []),
        ([b"220-a\r\n" * 100], False, "SMTP banner: reply longer than 64 lines", []),
        ([b"220 " + b"x" * 10_000], False, "SMTP banner: line longer than 4096 bytes", []),
        ([CLOSE], False, "SMTP banner: connection closed without an answer", []),
    ],
)  # fmt: skip
async def test_verdicts(steps: list[Step], up: bool, reason: str, said: list[bytes]) -> None:
    async with dialogue(steps) as (port, transcript):
        result = await smtp.probe(Target("127.0.0.1", port), TIMEOUT)
        assert (result.ok, result.reason) == (up, reason)
        assert await settled(transcript, len(said)) == said


async def test_refused() -> None:
    result = await smtp.probe(Target("127.0.0.1", closed_port()), TIMEOUT)
    assert (result.ok, result.reason) == (False, "connect: refused")


async def test_a_silent_server_is_down_at_the_deadline() -> None:
    async with dialogue([5.0]) as (port, _):
        result = await smtp.probe(Target("127.0.0.1", port), TIMEOUT)
    assert (result.ok, result.reason) == (False, f"SMTP banner: no answer within {TIMEOUT:g}s")
    assert TIMEOUT <= result.elapsed < TIMEOUT + SLACK


async def test_a_trickled_banner_cannot_beat_the_deadline() -> None:
    async with dialogue(trickled(b"220 " + b"slow " * 20 + b"\r\n")) as (port, _):
        result = await smtp.probe(Target("127.0.0.1", port), TIMEOUT)
    assert (result.ok, result.reason) == (False, f"SMTP banner: no answer within {TIMEOUT:g}s")
    assert result.elapsed < TIMEOUT + SLACK


@pytest.mark.parametrize("service", ["smtp", "submission"])
async def test_the_registry_runs_it_for_smtp_and_submission(service: str) -> None:
    steps: list[Step] = [b"220 mx\r\n", READ, b"250 mx\r\n"]
    async with dialogue(steps) as (port, _):
        probe = build_probe(
            CheckSpec("negotiate", service, Target("127.0.0.1", port), negotiatetimeout=TIMEOUT)
        )
        assert probe is not None
        result = await probe()
    assert result.ok


async def test_over_ipv6() -> None:
    async with dialogue([b"220 mx\r\n", READ, b"250 mx\r\n"], host="::1") as (port, _):
        result = await smtp.probe(Target("::1", port), TIMEOUT)
    assert result.ok


def test_reply_lines_parse() -> None:
    assert smtp.parse_reply_line(b"250-PIPELINING") == (250, True, "PIPELINING")
    assert smtp.parse_reply_line(b"250") == (250, False, "")
    assert asyncio.iscoroutinefunction(smtp.probe)
