"""What every probe returns: a verdict as data (contract 4), never an exception."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ProbeResult"]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe's verdict.

    ``reason`` is short and human ("connect refused", "X.224 CC: PROTOCOL_SSL
    selected; TLS 1.3 ok"); ``elapsed`` is wall seconds spent on the probe.
    """

    ok: bool
    reason: str
    elapsed: float
