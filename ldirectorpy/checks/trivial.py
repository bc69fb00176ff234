"""checktype=on and service=none: no traffic, always up.

checktype=off is not a probe at all (ldirectord changes no state for it); the
registry returns None for it and the engine keeps the current state.
"""

from __future__ import annotations

from ldirectorpy.checks.result import ProbeResult

__all__ = ["always_up"]


async def always_up(reason: str = "checktype=on (not checked)") -> ProbeResult:
    return ProbeResult(True, reason, 0.0)
