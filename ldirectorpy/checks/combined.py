"""ldirectord's numeric checktype N: one negotiate every N+1 passes.

The first pass negotiates. After a successful negotiate, N passes of connect
follow, then a negotiate again. A failed connect forces a negotiate on the next
pass, and a failed negotiate is retried as a negotiate on every pass.
``Combined`` is the pure schedule; ``CombinedProbe`` drives two probes with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from ldirectorpy.checks.result import ProbeResult

__all__ = ["Combined", "CombinedProbe", "Kind"]

Kind = Literal["negotiate", "connect"]


@dataclass(slots=True)
class Combined:
    """Which check the next pass runs; ``connects_left`` counts down the connects."""

    n: int
    connects_left: int = 0  # 0: the next pass negotiates

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("combined checktype needs N >= 1")

    def next_kind(self) -> Kind:
        return "connect" if self.connects_left > 0 else "negotiate"

    def record(self, kind: Kind, ok: bool) -> None:
        if kind == "negotiate":
            self.connects_left = self.n if ok else 0
        elif ok:
            self.connects_left -= 1
        else:
            self.connects_left = 0


class CombinedProbe:
    """A stateful zero-argument probe; one instance per monitored (virtual, real)."""

    __slots__ = ("_connect", "_negotiate", "schedule")

    def __init__(
        self,
        n: int,
        negotiate: Callable[[], Awaitable[ProbeResult]],
        connect: Callable[[], Awaitable[ProbeResult]],
    ) -> None:
        self.schedule = Combined(n)
        self._negotiate = negotiate
        self._connect = connect

    async def __call__(self) -> ProbeResult:
        kind = self.schedule.next_kind()
        result = await (self._negotiate() if kind == "negotiate" else self._connect())
        self.schedule.record(kind, result.ok)
        return ProbeResult(result.ok, f"{kind}: {result.reason}", result.elapsed)
