"""service=imap and imaps: an ``* OK`` greeting, LOGIN when ``login`` is set, LOGOUT.

As Net::IMAP::Simple does for ldirectord: the untagged greeting must be OK (a
PREAUTH greeting is accepted too), and with ``login`` a tagged ``OK`` to
LOGIN is needed. LOGOUT is sent and not awaited. imaps is the same over TLS
without certificate verification.
"""

from __future__ import annotations

from ldirectorpy.checks._common import ProbeFailure, Progress, bounded
from ldirectorpy.checks._stream import open_stream, shown
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["MAX_UNTAGGED", "probe", "quote"]

MAX_UNTAGGED = 64  # untagged lines tolerated before the tagged LOGIN answer


def quote(text: str) -> str:
    """An IMAP quoted string; CR/LF cannot be quoted (they would need a literal)."""
    if "\r" in text or "\n" in text:
        raise ValueError("IMAP login and password cannot contain CR or LF")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _dialogue(
    target: Target, tls: bool, login: str, passwd: str, progress: Progress
) -> tuple[bool, str]:
    stream = await open_stream(target, tls=tls, progress=progress)
    try:
        progress.stage = "IMAP greeting"
        greeting = await stream.line()
        words = greeting.split(None, 2)
        if len(words) < 2 or words[0] != b"*" or words[1].upper() not in (b"OK", b"PREAUTH"):
            return False, f"IMAP greeting is not * OK: {shown(greeting)!r}"
        if login:
            progress.stage = "IMAP LOGIN"
            await stream.send(f"a1 LOGIN {quote(login)} {quote(passwd)}\r\n".encode())
            for _ in range(MAX_UNTAGGED):
                answer = await stream.line()
                if answer.startswith(b"a1 "):
                    break
            else:
                raise ProbeFailure(f"no tagged answer within {MAX_UNTAGGED} lines")
            if answer[3:5].upper() != b"OK":
                return False, f"IMAP login as {login!r} refused: {shown(answer[3:])!r}"
        stream.farewell(b"a2 LOGOUT\r\n")
        greeted = f"IMAP * {words[1].upper().decode()} greeting"
        return True, greeted + (f"; logged in as {login!r}" if login else "")
    finally:
        stream.close()


async def probe(
    target: Target, timeout: float, *, tls: bool = False, login: str = "", passwd: str = ""
) -> ProbeResult:
    """Talk IMAP to ``target`` within ``timeout`` seconds in total."""
    return await bounded(timeout, lambda p: _dialogue(target, tls, login, passwd, p))
