"""service=pop and pops: a ``+OK`` greeting, USER/PASS when ``login`` is set, QUIT.

ldirectord's check (Mail::POP3Client) passed WITHOUT a login even when nothing
answered (the constructor returns an object on failure and only the login was
tested, §5.4.7); here the ``+OK`` greeting is always required. pops is the
same over TLS (no certificate verification, as ldirectord). Only USER/PASS is
tried (Mail::POP3Client could also use APOP or CRAM-MD5).
"""

from __future__ import annotations

from ldirectorpy.checks._common import Progress, bounded
from ldirectorpy.checks._stream import Stream, open_stream, shown
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["probe"]


async def _command(stream: Stream, line: str) -> tuple[bool, bytes]:
    await stream.send(line.encode() + b"\r\n")
    answer = await stream.line()
    return answer.startswith(b"+OK"), answer


async def _dialogue(
    target: Target, tls: bool, login: str, passwd: str, progress: Progress
) -> tuple[bool, str]:
    stream = await open_stream(target, tls=tls, progress=progress)
    try:
        progress.stage = "POP3 greeting"
        greeting = await stream.line()
        if not greeting.startswith(b"+OK"):
            return False, f"POP3 greeting is not +OK: {shown(greeting)!r}"
        if login:
            progress.stage = "POP3 USER"
            ok, answer = await _command(stream, f"USER {login}")
            if ok:
                progress.stage = "POP3 PASS"
                ok, answer = await _command(stream, f"PASS {passwd}")
            if not ok:
                return False, f"POP3 login as {login!r} refused: {shown(answer)!r}"
        stream.farewell(b"QUIT\r\n")
        return True, "POP3 +OK greeting" + (f"; logged in as {login!r}" if login else "")
    finally:
        stream.close()


async def probe(
    target: Target, timeout: float, *, tls: bool = False, login: str = "", passwd: str = ""
) -> ProbeResult:
    """Talk POP3 to ``target`` within ``timeout`` seconds in total."""
    return await bounded(timeout, lambda p: _dialogue(target, tls, login, passwd, p))
