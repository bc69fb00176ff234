"""The reconciler: one place that writes the kernel, level-triggered.

Each pass dumps the owned services once, asks the director for the desired
table, plans the difference and applies it. Callers only mark it dirty; it
coalesces bursts of health events into one pass (seesaw's batching) and also
runs on a timer, which is what repairs a table someone changed by hand.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from ldirectorpy.changes import Change, describe
from ldirectorpy.director import PairId, VirtualSpec, adoptable, desired_table
from ldirectorpy.healthstate import State
from ldirectorpy.ipvs.backend import ApplyReport, IPVSBackend
from ldirectorpy.ipvs.errors import IPVSError
from ldirectorpy.ipvs.planner import plan
from ldirectorpy.ipvs.types import ServiceKey, Table

log = logging.getLogger("ldirectorpy")

COALESCE = 0.05  # least seconds between two passes: a storm of events shares passes
RETRY = 1.0  # seconds before retrying after a failed write


@dataclass(slots=True)
class PassResult:
    at: float
    writes: int
    changes: list[Change]
    error: str | None
    actual: Table  # the kernel after the pass, as far as we know


@dataclass(slots=True)
class Reconciler:
    backend: IPVSBackend
    virtuals: tuple[VirtualSpec, ...]
    health: Callable[[], Mapping[PairId, State]]
    readdquiescent: bool = False
    on_changes: Callable[[list[Change]], None] | None = None
    adopted: frozenset[PairId] = frozenset()
    programmed: set[PairId] = field(default_factory=set)
    last: PassResult | None = None
    passes: int = 0
    dumps: int = 0
    _dirty: asyncio.Event = field(default_factory=asyncio.Event)
    # The owned table as our last clean pass left it, and when the kernel was
    # last read: a pass for a health change plans from this view instead of
    # reading the whole table again (the periodic resync still reads it).
    _known: Table | None = None
    _read_at: float = 0.0

    @property
    def owned(self) -> frozenset[ServiceKey]:
        return frozenset(v.key for v in self.virtuals)

    async def adopt(self) -> Table:
        """Read the kernel before the first pass: reals serving now stay up
        until their first verdict."""
        actual = await self.backend.dump(self.owned)
        self.adopted = adoptable(self.virtuals, actual)
        return actual

    def mark_dirty(self) -> None:
        self._dirty.set()

    async def run(self, resync: float) -> None:
        """Pass whenever marked dirty, and at least every `resync` seconds.

        A health change is written in the next turn of the loop: every event
        that landed in this turn shares that pass. Passes start at least
        COALESCE apart, so a storm of events costs a bounded number of passes
        a second. Each hop through the loop counts: at 200 reals in the
        emulated guest one turn of a busy loop takes 100-300 ms.

        A pass for a health change plans from the table our last clean pass
        left (at 200 reals in the emulated guest, reading and decoding the
        table was most of a pass); the kernel is read again at least every
        `resync` seconds, after any failed pass, and by every other pass
        (start, reload, stop), so a table changed by hand is still repaired
        within one resync period.
        """
        began = -math.inf
        while True:
            try:
                async with asyncio.timeout(resync):
                    await self._dirty.wait()
                early = began + COALESCE - time.monotonic()
                if early > 0:
                    await asyncio.sleep(early)
            except TimeoutError:
                pass
            self._dirty.clear()
            began = time.monotonic()
            stale = began - self._read_at >= resync
            result = await self.reconcile(reread=stale)
            if result.error is not None:
                await asyncio.sleep(RETRY)
                self._dirty.set()

    async def reconcile(
        self,
        virtuals: tuple[VirtualSpec, ...] | None = None,
        owned: Collection[ServiceKey] | None = None,
        purge_tag: str = "resync",
        reread: bool = True,
    ) -> PassResult:
        """One pass. `virtuals`/`owned` override the current ones (stop, reload);
        `reread=False` plans from the last clean pass's view when there is one."""
        began = time.monotonic()
        overridden = virtuals is not None or owned is not None
        virtuals = self.virtuals if virtuals is None else virtuals
        owned = self.owned if owned is None else frozenset(owned)
        self.passes += 1
        known, self._known = self._known, None  # forgotten unless this pass ends clean
        if reread or known is None or overridden:
            try:
                actual = await self.backend.dump(owned)
            except IPVSError as exc:
                why = f"reading the IPVS table: {exc}"
                self.last = PassResult(time.time(), 0, [], why, Table())
                log.error("Reading the IPVS table failed: %s", exc)
                return self.last
            self.dumps += 1
            self._read_at = time.monotonic()
        else:
            actual = known
        desired = desired_table(
            virtuals,
            self.health(),
            actual,
            adopted=self.adopted,
            programmed=self.programmed,
            readdquiescent=self.readdquiescent,
        )
        ops = plan(desired, actual, owned)
        changes = describe(ops, virtuals, actual, purge_tag=purge_tag)
        report = await self.backend.apply(ops) if ops else ApplyReport()
        self.programmed.update(_pairs(desired))
        error = None
        # A failure names the planned op (a retry's too); a plan holds each op once.
        failed = {f.op for f in report.errors}
        done = changes
        if failed:  # hashing every op of a 10,000-real start-up only when needed
            done = [c for c, op in zip(changes, ops, strict=True) if op not in failed]
        for message in (c.message for c in done):
            log.info("%s", message)
        for failure in report.errors:
            log.error("IPVS update failed: %s", failure)
        if report.errors:
            error = f"{len(report.errors)} IPVS update(s) failed, first: {report.errors[0]}"
        self.last = PassResult(time.time(), report.total, done, error, desired)
        if error is None and not overridden:
            self._known = desired
        if done and self.on_changes is not None:
            self.on_changes(done)
        log.debug(
            "Reconcile pass (%s): %d write(s), kernel %s, %.1f ms",
            purge_tag,
            report.total,
            "read" if actual is not known else "not read",
            (time.monotonic() - began) * 1000,
        )
        return self.last


def _pairs(table: Table) -> Iterable[PairId]:
    for service, dests in table.destinations.items():
        for key in dests:
            yield (service, key)
