"""checktype=connect for TCP: a connect() within the deadline, then close."""

from __future__ import annotations

import asyncio

from ldirectorpy.checks import _sockio
from ldirectorpy.checks._common import Progress, bounded
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["probe"]


async def _connect(target: Target, progress: Progress) -> tuple[bool, str]:
    loop = asyncio.get_running_loop()
    sock = _sockio.tcp_socket(target.family)
    try:
        await _sockio.connect(loop, sock, target.sockaddr)
        return True, "connect ok"
    finally:
        sock.close()


async def probe(target: Target, timeout: float) -> ProbeResult:
    """Up when a TCP connection to ``target`` is established within ``timeout``."""
    return await bounded(timeout, lambda p: _connect(target, p))
