"""Shared edges of every probe: one total deadline and errors turned into reasons.

A probe body is an ``async`` function that returns ``(ok, reason)`` or raises
``ProbeFailure`` (a down verdict with a reason), an ``OSError`` (network trouble)
or nothing at all; ``bounded`` runs it under ONE ``asyncio.timeout`` so a server
that trickles a byte a second cannot stretch the probe past its deadline.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections.abc import Awaitable, Callable

from ldirectorpy.checks.result import ProbeResult

__all__ = ["ProbeFailure", "Progress", "bounded", "describe_oserror"]


class ProbeFailure(Exception):
    """The peer answered wrongly: a down verdict whose message is the reason."""


class Progress:
    """What the probe is doing now, so a timeout can say where it happened."""

    __slots__ = ("stage",)

    def __init__(self, stage: str) -> None:
        self.stage = stage


Body = Callable[[Progress], Awaitable[tuple[bool, str]]]

_ERRNO_WORDS = {
    errno.ECONNREFUSED: "refused",
    errno.ECONNRESET: "reset by peer",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out (kernel)",
    errno.EPIPE: "broken pipe",
    errno.EADDRNOTAVAIL: "address not available",
    errno.EPERM: "operation not permitted",
    errno.EACCES: "permission denied",
}


def describe_oserror(exc: OSError) -> str:
    """A short phrase for an OSError: 'refused', 'reset by peer', an SSL reason..."""
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc.__class__.__name__}"
    if exc.errno in _ERRNO_WORDS:
        return _ERRNO_WORDS[exc.errno]
    if exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, ConnectionError):  # asyncio's errno-less "connection lost"
        return str(exc) or "connection closed by peer"
    return str(exc) or exc.__class__.__name__


def _fmt_seconds(value: float) -> str:
    return f"{value:g}s"


async def bounded(timeout: float, body: Body, first_stage: str = "connect") -> ProbeResult:
    """Run ``body`` within ``timeout`` seconds in total; never raise for network trouble."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    progress = Progress(first_stage)
    try:
        async with asyncio.timeout(timeout) as scope:
            ok, reason = await body(progress)
    except TimeoutError as exc:
        if scope.expired():
            ok, reason = False, f"{progress.stage}: no answer within {_fmt_seconds(timeout)}"
        else:  # a kernel-level ETIMEDOUT, not our deadline
            ok, reason = False, f"{progress.stage}: {describe_oserror(exc)}"
    except ProbeFailure as exc:
        ok, reason = False, f"{progress.stage}: {exc}"
    except OSError as exc:
        ok, reason = False, f"{progress.stage}: {describe_oserror(exc)}"
    return ProbeResult(ok, reason, loop.time() - start)
