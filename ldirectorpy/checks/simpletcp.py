"""service=simpletcp: send ``request``, half-close, and look for a line matching ``receive``.

As ldirectord: the payload is ``request`` without its leading ``/`` and with
every literal ``\\n`` turned into a newline; over TCP the write side is then
shut down and lines are read until one matches ``receive`` (searched, per
line, the line keeping its newline as Perl's does) or the peer closes. Over
UDP (the virtual's protocol) the payload is one datagram and the lines of the
first reply are judged.

An empty ``receive``: Perl's empty pattern silently reused the last pattern
that matched anywhere in ldirectord, so the verdict depended on other checks.
Here an empty ``receive`` means "any answer": up when at least one byte comes
back, down on a peer that closes (or stays silent) without a word.
"""

from __future__ import annotations

import re
import socket

from ldirectorpy.checks import _dgram
from ldirectorpy.checks._common import ProbeFailure, Progress, bounded
from ldirectorpy.checks._stream import open_stream
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["MAX_ANSWER", "first_match", "payload", "probe"]

MAX_ANSWER = 64 * 1024  # bytes read before giving up on finding a match


def payload(request: str) -> bytes:
    """ldirectord's request: no leading ``/``, literal ``\\n`` -> newline."""
    return request.removeprefix("/").replace("\\n", "\n").encode()


def first_match(lines: list[bytes], receive: re.Pattern[bytes] | None) -> bytes | None:
    """The first line ``receive`` finds something in (any line when it is None)."""
    for line in lines:
        if receive is None or receive.search(line):
            return line
    return None


def _verdict(line: bytes, receive: re.Pattern[bytes] | None) -> tuple[bool, str]:
    if receive is None:
        return True, f"answered {line[:60]!r}"
    return True, f"line {line[:60]!r} matches receive"


def _no_match(size: int, receive: re.Pattern[bytes] | None, more: str) -> ProbeFailure:
    if size == 0:
        return ProbeFailure("closed without an answer")
    assert receive is not None
    return ProbeFailure(
        f"no line of the {size}-byte answer{more} matches receive {receive.pattern.decode()!r}"
    )


async def _over_tcp(
    target: Target, data: bytes, receive: re.Pattern[bytes] | None, progress: Progress
) -> tuple[bool, str]:
    stream = await open_stream(target)
    try:
        progress.stage = "send"
        await stream.send(data)
        sock = stream.writer.get_extra_info("socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_WR)
        progress.stage = "answer"
        pending = b""
        size = 0
        while size < MAX_ANSWER:
            chunk = await stream.reader.read(MAX_ANSWER - size)
            size += len(chunk)
            if not chunk:  # EOF: the last, unterminated line counts too (Perl's <$sock>)
                line = first_match([pending] if pending else [], receive)
                if line is None:
                    raise _no_match(size, receive, "")
                return _verdict(line, receive)
            *lines, pending = (pending + chunk).split(b"\n")
            line = first_match([ln + b"\n" for ln in lines], receive)
            if line is not None:
                return _verdict(line, receive)
        raise _no_match(size, receive, " (cut at the cap)")
    finally:
        stream.close()


async def _over_udp(
    target: Target, data: bytes, receive: re.Pattern[bytes] | None, progress: Progress
) -> tuple[bool, str]:
    progress.stage = "UDP reply"
    reply = await _dgram.exchange(target, data)
    line = first_match(reply.splitlines(keepends=True), receive)
    if line is None:
        raise _no_match(len(reply), receive, "")
    return _verdict(line, receive)


async def probe(
    target: Target,
    timeout: float,
    *,
    request: str = "/",
    receive: re.Pattern[bytes] | None = None,
    udp: bool = False,
) -> ProbeResult:
    """Send ``request`` to ``target`` and judge the answer within ``timeout`` seconds."""
    data = payload(request)
    exchange = _over_udp if udp else _over_tcp
    return await bounded(timeout, lambda p: exchange(target, data, receive, p))
