"""From the configuration's virtual specs to the health engine's monitored pairs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import replace

from ldirectorpy.checks import CheckConfigError, Probe, ProbeResult, UnsupportedCheck, build_probe
from ldirectorpy.checks.fromconfig import spec_for
from ldirectorpy.director import VirtualSpec
from ldirectorpy.healthstate import Mode, Monitored, Policy

log = logging.getLogger("ldirectorpy")


def always_down(reason: str) -> Probe:
    async def probe() -> ProbeResult:
        return ProbeResult(False, reason, 0.0)

    return probe


# The engine's outer deadline trails the probe's own by this much, so that the
# probe's own, more precise reason ("X.224 confirm: no answer within 4s") wins.
DEADLINE_MARGIN = 0.25


def monitored(
    virtuals: tuple[VirtualSpec, ...], external_slots: asyncio.Semaphore | None
) -> Iterator[Monitored]:
    """One Monitored per (virtual, real).

    A service ldirectorpy cannot negotiate yet falls back to a TCP connect
    check, with a warning, rather than to no check at all.
    """
    for vs in virtuals:
        v = vs.virtual
        policy = Policy(v.failurecount, v.risecount)
        for rs in vs.reals:
            mode = rs.mode
            try:
                spec = spec_for(v, rs.real)
            except CheckConfigError as exc:
                # e.g. a fwmark real with no port to check: ldirectord's service none
                log.warning("%s (%s): %s; not checked, taken as up", v, rs.real, exc)
                spec, mode = None, Mode.ON
            probe = None
            if spec is not None and mode is Mode.PROBE:
                try:
                    probe = build_probe(spec, external_slots)
                except UnsupportedCheck as exc:
                    log.warning("%s (%s): %s; checking it with connect instead", v, rs.real, exc)
                    spec = replace(spec, checktype="connect")
                    probe = build_probe(spec, external_slots)
                except CheckConfigError as exc:
                    # e.g. a receive= that Python's re cannot compile: down, saying why
                    log.error("%s (%s): %s; the real server is taken as down", v, rs.real, exc)
                    probe = always_down(f"check not runnable: {exc}")
            # A numeric checktype keeps state per real: never share its probe.
            key: object = (spec, rs.pair) if spec is None or spec.checktype.isdigit() else spec
            yield Monitored(
                virtual=vs.key,
                real=rs.dest.key,
                key=key,
                probe=probe,
                interval=v.checkinterval,
                timeout=(spec.timeout if spec is not None else v.checktimeout) + DEADLINE_MARGIN,
                policy=policy,
                mode=mode,
            )
