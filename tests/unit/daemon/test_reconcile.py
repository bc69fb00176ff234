"""The reconciler logs a change as done only when its write was not refused.

A write can fail after a retry: an edit of a real whose virtual someone deleted
between our dump and our write is retried as an add, and the add is refused too.
That change must be logged as failed, never as done.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Collection, Sequence

import pytest

from ldirectorpy.changes import Change
from ldirectorpy.config import load
from ldirectorpy.daemon.reconcile import Reconciler
from ldirectorpy.director import PairId, specs
from ldirectorpy.healthstate import State
from ldirectorpy.ipvs.backend import ApplyReport
from ldirectorpy.ipvs.memory import MemoryBackend
from ldirectorpy.ipvs.planner import DelService, Op
from ldirectorpy.ipvs.types import ServiceKey, Table

FARM = """
quiescent = yes
virtual = 192.0.2.100:3389
    real = 192.0.2.11:3389 gate 2
    real = 192.0.2.12:3389 gate 1
    service = rdp
virtual = 192.0.2.101:3389
    real = 192.0.2.21:3389 gate 2
    real = 192.0.2.22:3389 gate 1
    service = rdp
"""


class DeletedAfterDump:
    """The in-memory kernel, where someone runs `ipvsadm -D` on one virtual right
    after our next dump: the plan is made from a table that is already stale."""

    def __init__(self, memory: MemoryBackend) -> None:
        self.memory = memory
        self.victim: ServiceKey | None = None

    async def dump(self, owned: Collection[ServiceKey]) -> Table:
        table = await self.memory.dump(owned)
        if self.victim is not None:
            assert (await self.memory.apply([DelService(self.victim)])).ok
            self.victim = None
        return table

    async def apply(self, ops: Sequence[Op]) -> ApplyReport:
        return await self.memory.apply(ops)


async def test_a_write_that_failed_after_its_retry_is_logged_as_failed_not_done(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "farm.cf"
    path.write_text(textwrap.dedent(FARM))
    loaded = load(path)
    assert loaded.config is not None, loaded.diagnostics
    virtuals = specs(loaded.config)
    first, second = virtuals
    health: dict[PairId, State] = {r.pair: State.UP for v in virtuals for r in v.reals}
    backend = DeletedAfterDump(MemoryBackend())
    applied: list[list[Change]] = []
    reconciler = Reconciler(backend, virtuals, lambda: health, on_changes=applied.append)
    assert (await reconciler.reconcile()).error is None

    # The second real of each virtual fails its check: both are to be quiesced
    # (an EditDest each), but the first virtual is deleted behind our back.
    health[first.reals[1].pair] = State.DOWN
    health[second.reals[1].pair] = State.DOWN
    backend.victim = first.key
    applied.clear()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ldirectorpy"):
        result = await reconciler.reconcile()

    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert lines == [
        (
            logging.INFO,
            "Quiescent real server: 192.0.2.22:3389 (192.0.2.101:3389) (Weight set to 0)",
        ),
        (
            logging.ERROR,
            "IPVS update failed: EditDest TCP 192.0.2.100:3389 -> 192.0.2.12:3389: "
            "not found, retried as AddDest: No such process",
        ),
    ]
    assert [c.message for c in result.changes] == [lines[0][1]]
    assert [[c.message for c in batch] for batch in applied] == [[lines[0][1]]]
    assert result.error == (
        "1 IPVS update(s) failed, first: EditDest TCP 192.0.2.100:3389 -> 192.0.2.12:3389: "
        "not found, retried as AddDest: No such process"
    )
    assert first.key not in backend.memory.table.services  # and nothing was faked
