"""checktype=connect for TCP: a connect() within the deadline, then close."""

from __future__ import annotations

import functools

from ldirectorpy.checks import _reactor
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["check", "probe"]


class _ConnectProbe(_reactor.StreamProbe):
    __slots__ = ()

    def connected(self) -> None:
        self.finish(True, "connect ok")


async def probe(target: Target, timeout: float) -> ProbeResult:
    """Up when a TCP connection to ``target`` is established within ``timeout``."""
    return await check(target, timeout)()


def check(target: Target, timeout: float) -> _reactor.ReactorCheck:
    """``probe`` for one target, as a check the health engine starts without a task."""
    return _reactor.ReactorCheck(functools.partial(_ConnectProbe, target), timeout)
