"""service=nntp: the server greeting must start with ``2`` (200 or 201).

ldirectord reads up to 64 bytes and looks at the first; its connect timeout
key was misspelt (``TimeOut``), so a dead host waited for the kernel's
connect timeout. Here the one deadline covers the connect too, and QUIT is
sent so the server does not log an aborted session.
"""

from __future__ import annotations

from ldirectorpy.checks._common import Progress, bounded
from ldirectorpy.checks._stream import open_stream, shown
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["probe"]


async def _dialogue(target: Target, progress: Progress) -> tuple[bool, str]:
    stream = await open_stream(target)
    try:
        progress.stage = "NNTP greeting"
        greeting = await stream.line()
        stream.farewell(b"QUIT\r\n")
        if greeting.startswith(b"2"):
            return True, f"NNTP greeting {shown(greeting)!r}"
        return False, f"NNTP greeting does not start with 2: {shown(greeting)!r}"
    finally:
        stream.close()


async def probe(target: Target, timeout: float) -> ProbeResult:
    """Read the NNTP greeting of ``target`` within ``timeout`` seconds in total."""
    return await bounded(timeout, lambda p: _dialogue(target, p))
