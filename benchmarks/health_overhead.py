"""Engine overhead: CPU per scheduled probe and memory per monitored real.

Trivial probes (return at once), real clock, one core. Two kinds of probe:
"task", a coroutine function (http, external, ...: the engine runs each in a
task under its backstop deadline), and "callback", a probe with ``start``
(connect and RDP on the shared epoll: started from the timer, no task):

    .venv/bin/python benchmarks/health_overhead.py [--reals 10000] [--seconds 5]

Memory is what tracemalloc sees the engine hold for the monitored set once
every check has run (pair state, check tasks, their coroutine frames), over the
baseline; the probe function is shared, so per-target probe objects (a
functools.partial, ~100 B) come on top. CPU is process time per probe started
over whole intervals, i.e. the engine's own cost: scheduling, semaphore,
deadline, state step, fan-out. "skipped" counts slots the engine could not keep
(non-zero only when the process is starved of CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from collections.abc import Callable

from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.health import HealthEngine, Monitored
from ldirectorpy.healthstate import Policy, ProbeFn

OK = ProbeResult(True, "ok", 0.0)


async def trivial() -> ProbeResult:
    return OK


class TrivialCallback:
    """A probe the engine starts without a task; it answers at once."""

    async def __call__(self) -> ProbeResult:
        return OK

    def start(self, done: Callable[[ProbeResult], object]) -> TrivialCallback:
        done(OK)
        return self

    def cancel(self) -> None:
        pass


KINDS: dict[str, ProbeFn] = {"task": trivial, "callback": TrivialCallback()}


def pairs(reals: int, virtuals_per_real: int, interval: float, kind: str) -> list[Monitored]:
    policy = Policy(3, 1)
    probe = KINDS[kind]
    return [
        Monitored(f"v{v}", f"r{r}", ("connect", r), probe, interval, 1.0, policy)
        for r in range(reals // virtuals_per_real)
        for v in range(virtuals_per_real)
    ]


async def memory_per_real(reals: int, virtuals_per_real: int, kind: str) -> tuple[float, float]:
    """Bytes per monitored real: the engine's, once every check has run; the specs'."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    spec = pairs(reals, virtuals_per_real, 1.0, kind)
    spec_bytes = tracemalloc.get_traced_memory()[0] - base
    engine = HealthEngine(spec, events=lambda e: None, spread=lambda g: 0.0)
    engine.start()
    while engine.unresolved():
        await asyncio.sleep(0.05)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base - spec_bytes
    tracemalloc.stop()
    await engine.stop()
    return held / reals, spec_bytes / reals


async def cpu_per_probe(
    reals: int, virtuals_per_real: int, seconds: float, kind: str
) -> tuple[float, int, int]:
    """Process CPU microseconds per probe started, at a 1 s interval, after warm-up."""
    engine = HealthEngine(pairs(reals, virtuals_per_real, 1.0, kind), events=lambda e: None)
    engine.start()
    await asyncio.sleep(1.5)
    started, skipped, cpu0 = engine.probes_started, engine.slots_skipped, time.process_time()
    await asyncio.sleep(seconds)
    probes = engine.probes_started - started
    skipped = engine.slots_skipped - skipped
    cpu = time.process_time() - cpu0
    await engine.stop()
    return cpu / max(probes, 1) * 1e6, probes, skipped


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reals", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    print(
        f"{'probe':>8} {'monitored reals':>16} {'virtuals/real':>14} {'probes':>8} "
        f"{'skipped':>8} {'CPU us/probe':>13} {'engine B/real':>14} {'+spec B/real':>13}"
    )
    for kind in KINDS:
        for reals, share in ((1_000, 1), (args.reals, 1), (args.reals, 4)):
            per_real, spec = await memory_per_real(reals, share, kind)
            us, probes, skipped = await cpu_per_probe(reals, share, args.seconds, kind)
            print(
                f"{kind:>8} {reals:>16} {share:>14} {probes:>8} {skipped:>8} {us:>13.1f} "
                f"{per_real:>14.0f} {spec:>13.0f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
