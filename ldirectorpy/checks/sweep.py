"""Probe every real server of a configuration once, concurrently (``ldirectorpy probe CONFIG``).

Each (virtual, real) gets its own row; identical checks (same CheckSpec) are
probed once and shared, as the engine does. ``maxprobes`` caps probes in
flight and ``maxexternalchecks`` caps external programs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ldirectorpy.checks import CheckConfigError, CheckSpec, Probe, build_probe
from ldirectorpy.checks.fromconfig import spec_for
from ldirectorpy.checks.result import ProbeResult

if TYPE_CHECKING:
    from ldirectorpy.config.model import Config, Real, Virtual

__all__ = ["Row", "describe_check", "sweep"]

_MARGIN = 1.0  # seconds on top of a probe's own deadline before we give up on it


@dataclass(frozen=True, slots=True)
class Row:
    virtual: str
    real: str
    check: str
    verdict: str  # up | down | off | error
    elapsed: float | None
    reason: str


def describe_check(spec: CheckSpec) -> str:
    """'negotiate/rdp', 'connect', '3 (negotiate/rdp + connect)', ..."""
    if spec.checktype == "negotiate":
        return f"negotiate/{spec.service}"
    if spec.checktype.isdigit():
        return f"{spec.checktype} (negotiate/{spec.service}, connect)"
    if spec.checktype == "connect" and spec.protocol == "udp":
        return "connect/udp"
    return spec.checktype


async def _run(probe: Probe, timeout: float, cap: asyncio.Semaphore) -> ProbeResult:
    async with cap:
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            async with asyncio.timeout(timeout + _MARGIN):
                return await probe()
        except TimeoutError:
            return ProbeResult(
                False, f"no verdict within {timeout + _MARGIN:g}s", loop.time() - start
            )


async def sweep(config: Config) -> list[Row]:
    """One row per (virtual, real), in configuration order."""
    cap = asyncio.Semaphore(config.maxprobes)
    external_slots = asyncio.Semaphore(config.maxexternalchecks)
    planned: list[tuple[Virtual, Real, CheckSpec | None, str]] = []
    tasks: dict[CheckSpec, asyncio.Task[ProbeResult]] = {}
    for virtual in config.virtuals:
        for real in virtual.reals:
            try:
                spec = spec_for(virtual, real)
                probe = build_probe(spec, external_slots)
            except CheckConfigError as exc:
                planned.append((virtual, real, None, str(exc)))
                continue
            if probe is None:
                planned.append((virtual, real, spec, "checktype=off: state left as it is"))
                continue
            if spec not in tasks:
                tasks[spec] = asyncio.ensure_future(_run(probe, spec.timeout, cap))
            planned.append((virtual, real, spec, ""))
    if tasks:
        await asyncio.wait(tasks.values())
    rows = []
    for virtual, real, checked, note in planned:
        if checked is None:
            rows.append(Row(str(virtual), str(real), virtual.checktype, "error", None, note))
        elif checked not in tasks:
            rows.append(Row(str(virtual), str(checked.target), "off", "off", None, note))
        else:
            result = tasks[checked].result()
            verdict = "up" if result.ok else "down"
            row = Row(
                str(virtual), str(checked.target), describe_check(checked), verdict,
                result.elapsed, result.reason,
            )  # fmt: skip
            rows.append(row)
    return rows
