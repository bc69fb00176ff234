"""service=smtp and submission: a 2xx banner and a 250 to EHLO (or HELO), then QUIT.

What Net::SMTP's constructor checks for ldirectord: the greeting, then EHLO
``localhost.localdomain``, falling back to HELO when EHLO is refused. No
STARTTLS, no AUTH; ``request`` and ``receive`` are not used. QUIT is sent but
its answer is not awaited: the verdict is already known.
"""

from __future__ import annotations

from ldirectorpy.checks._common import ProbeFailure, Progress, bounded
from ldirectorpy.checks._stream import Stream, open_stream, shown
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["HELO_NAME", "MAX_REPLY_LINES", "parse_reply_line", "probe", "read_reply"]

HELO_NAME = "localhost.localdomain"  # Net::SMTP's default Hello
MAX_REPLY_LINES = 64  # lines of one multi-line reply (EHLO lists extensions)


def parse_reply_line(line: bytes) -> tuple[int, bool, str]:
    """``250-PIPELINING`` -> (250, True, "PIPELINING"); True means more lines follow."""
    code = line[:3]
    sep = line[3:4]
    if len(line) < 3 or not code.isdigit() or sep not in (b"", b" ", b"-"):
        raise ProbeFailure(f"not an SMTP reply: {shown(line)!r}")
    return int(code), sep == b"-", shown(line[4:])


async def read_reply(stream: Stream) -> tuple[int, str]:
    """One (possibly multi-line) reply: its code and the text of its first line."""
    code, more, text = parse_reply_line(await stream.line())
    for _ in range(MAX_REPLY_LINES):
        if not more:
            return code, text
        next_code, more, _ = parse_reply_line(await stream.line())
        if next_code != code:
            raise ProbeFailure(f"reply code changed from {code} to {next_code} mid-reply")
    raise ProbeFailure(f"reply longer than {MAX_REPLY_LINES} lines")


async def _dialogue(target: Target, progress: Progress) -> tuple[bool, str]:
    stream = await open_stream(target)
    try:
        progress.stage = "SMTP banner"
        banner_code, banner = await read_reply(stream)
        if not 200 <= banner_code < 300:
            return False, f"SMTP banner {banner_code} {banner}".rstrip()
        progress.stage = "SMTP EHLO"
        await stream.send(f"EHLO {HELO_NAME}\r\n".encode())
        code, text = await read_reply(stream)
        verb = "EHLO"
        if code != 250:
            progress.stage = "SMTP HELO"
            verb = "HELO"
            await stream.send(f"HELO {HELO_NAME}\r\n".encode())
            code, text = await read_reply(stream)
        if code != 250:
            return False, f"SMTP {verb} answered {code} {text}".rstrip()
        stream.farewell(b"QUIT\r\n")
        return True, f"SMTP banner {banner_code}; {verb} 250"
    finally:
        stream.close()


async def probe(target: Target, timeout: float) -> ProbeResult:
    """Greet ``target`` as an SMTP client within ``timeout`` seconds in total."""
    return await bounded(timeout, lambda p: _dialogue(target, p))
