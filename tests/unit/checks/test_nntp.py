"""service=nntp against scripted loopback news servers."""

from __future__ import annotations

import contextlib
import socket

import pytest
from checks_loopback import closed_port
from dialogue_server import CLOSE, Step, dialogue, settled, trickled

from ldirectorpy.checks import CheckSpec, build_probe, nntp
from ldirectorpy.checks.target import Target

TIMEOUT = 0.3
SLACK = 0.25


@pytest.mark.parametrize(
    ("steps", "up", "reason"),
    [
        ([b"200 news.example InterNetNews server ready\r\n"], True,
         "NNTP greeting '200 news.example InterNetNews server ready'"),
        ([b"201 no posting\r\n"], True, "NNTP greeting '201 no posting'"),
        ([b"502 access denied\r\n"], False,
         "NNTP greeting does not start with 2: '502 access denied'"),
        ([b"400 service temporarily unavailable\r\n"], False,
         "NNTP greeting does not start with 2: '400 service temporarily unavailable'"),
        ([CLOSE], False, "NNTP greeting: connection closed without an answer"),
        ([b"2" * 10_000], False, "NNTP greeting: line longer than 4096 bytes"),
    ],
)  # fmt: skip
async def test_verdicts(steps: list[Step], up: bool, reason: str) -> None:
    async with dialogue(steps) as (port, transcript):
        result = await nntp.probe(Target("127.0.0.1", port), TIMEOUT)
        assert (result.ok, result.reason) == (up, reason)
        first = steps[0]
        if isinstance(first, bytes) and first.endswith(b"\r\n"):  # a whole greeting: QUIT follows
            assert await settled(transcript, 1) == [b"QUIT"]


async def test_refused() -> None:
    result = await nntp.probe(Target("127.0.0.1", closed_port()), TIMEOUT)
    assert (result.ok, result.reason) == (False, "connect: refused")


async def test_silent_and_trickled_greetings_are_down_at_the_deadline() -> None:
    for steps in ([5.0], trickled(b"200 " + b"z" * 50 + b"\r\n")):
        async with dialogue(steps) as (port, _):
            result = await nntp.probe(Target("127.0.0.1", port), TIMEOUT)
        assert (result.ok, result.reason) == (
            False,
            f"NNTP greeting: no answer within {TIMEOUT:g}s",
        )
        assert result.elapsed < TIMEOUT + SLACK


async def test_a_connect_that_hangs_is_bounded_too() -> None:
    # ldirectord's misspelt connect timeout: a full backlog that drops SYNs
    # kept it waiting for the kernel. Here the one deadline covers the connect.
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
            probe = build_probe(
                CheckSpec("negotiate", "nntp", Target("127.0.0.1", port), negotiatetimeout=TIMEOUT)
            )
            assert probe is not None
            result = await probe()
        finally:
            for sock in fillers:
                sock.close()
    assert (result.ok, result.reason) == (False, f"connect: no answer within {TIMEOUT:g}s")
    assert result.elapsed < TIMEOUT + SLACK
