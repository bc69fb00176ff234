"""The reconciler: what it logs as done, and when it reads the kernel.

A write can fail after a retry: an edit of a real whose virtual someone deleted
between our dump and our write is retried as an add, and the add is refused too.
That change must be logged as failed, never as done.

A pass for a health change plans from the table the last clean pass left; the
kernel is read again at least every resync period and after a failed pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import textwrap
from collections.abc import Collection, Sequence

import pytest

from ldirectorpy.changes import Change
from ldirectorpy.config import load
from ldirectorpy.daemon.reconcile import COALESCE, Reconciler
from ldirectorpy.director import PairId, specs
from ldirectorpy.healthstate import State
from ldirectorpy.ipvs.backend import ApplyReport
from ldirectorpy.ipvs.memory import MemoryBackend
from ldirectorpy.ipvs.planner import DelDest, DelService, Op
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


def farm(tmp_path) -> tuple:  # type: ignore[no-untyped-def,type-arg]
    path = tmp_path / "farm.cf"
    path.write_text(textwrap.dedent(FARM))
    loaded = load(path)
    assert loaded.config is not None, loaded.diagnostics
    virtuals = specs(loaded.config)
    health: dict[PairId, State] = {r.pair: State.UP for v in virtuals for r in v.reals}
    return virtuals, health


def weights(memory: MemoryBackend) -> dict[str, int]:
    return {str(d.key.address): d.weight for _, dests in memory.table.entries() for d in dests}


async def test_a_pass_for_a_health_change_plans_from_the_last_clean_pass(tmp_path) -> None:
    virtuals, health = farm(tmp_path)
    memory = MemoryBackend()
    reconciler = Reconciler(memory, virtuals, lambda: health)
    assert (await reconciler.reconcile()).error is None
    assert reconciler.dumps == 1
    health[virtuals[0].reals[1].pair] = State.DOWN
    result = await reconciler.reconcile(reread=False)
    assert result.error is None and result.writes == 1
    assert reconciler.dumps == 1  # the kernel was not read again
    assert weights(memory)["192.0.2.12"] == 0


async def test_after_a_failed_pass_the_kernel_is_read_again(tmp_path) -> None:
    virtuals, health = farm(tmp_path)
    backend = DeletedAfterDump(MemoryBackend())
    reconciler = Reconciler(backend, virtuals, lambda: health)
    assert (await reconciler.reconcile()).error is None
    health[virtuals[0].reals[1].pair] = State.DOWN
    backend.victim = virtuals[0].key
    assert (await reconciler.reconcile()).error is not None
    dumps = reconciler.dumps
    result = await reconciler.reconcile(reread=False)
    assert reconciler.dumps == dumps + 1
    assert result.error is None  # the deleted virtual was put back, from a fresh read
    assert virtuals[0].key in backend.memory.table.services
    now = weights(backend.memory)
    assert now["192.0.2.11"] > 0 and now.get("192.0.2.12", 0) == 0


@contextlib.asynccontextmanager
async def running(tmp_path, resync: float):  # type: ignore[no-untyped-def]
    """The farm on the in-memory kernel after one clean pass, with the
    reconciler's loop running: (virtuals, health, memory, reconciler)."""
    virtuals, health = farm(tmp_path)
    memory = MemoryBackend()
    reconciler = Reconciler(memory, virtuals, lambda: health)
    assert (await reconciler.reconcile()).error is None
    task = asyncio.create_task(reconciler.run(resync=resync))
    try:
        yield virtuals, health, memory, reconciler
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_running_reconciler_reads_the_kernel_once_per_resync_period(tmp_path) -> None:
    async with running(tmp_path, resync=0.5) as (virtuals, health, memory, reconciler):
        health[virtuals[0].reals[1].pair] = State.DOWN
        reconciler.mark_dirty()
        await asyncio.sleep(0.2)
        assert weights(memory)["192.0.2.12"] == 0
        assert reconciler.dumps == 1  # the health change used the known table
        # Someone deletes a real by hand; the next resync reads and repairs it.
        (service, dests), *_ = memory.table.entries()
        victim = next(d for d in dests if str(d.key.address) == "192.0.2.11")
        assert (await memory.apply([DelDest(service.key, victim.key)])).ok
        await asyncio.sleep(0.6)
        assert reconciler.dumps == 2
        assert weights(memory)["192.0.2.11"] > 0


async def turns(n: int) -> None:
    """Let the loop go round `n` times, with no time passing on purpose."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_health_change_is_written_in_the_next_turns_of_the_loop(tmp_path) -> None:
    # No timer between the verdict and the write: on a loaded director every
    # hop through the loop is a turn of 100 ms or more.
    async with running(tmp_path, resync=60) as (virtuals, health, memory, reconciler):
        await turns(3)
        health[virtuals[0].reals[1].pair] = State.DOWN
        reconciler.mark_dirty()
        await turns(3)
        assert weights(memory)["192.0.2.12"] == 0


async def test_a_storm_of_changes_shares_passes_at_least_coalesce_apart(tmp_path) -> None:
    async with running(tmp_path, resync=60) as (virtuals, health, _memory, reconciler):
        passes = reconciler.passes
        loop = asyncio.get_running_loop()
        began = loop.time()
        pairs = [r.pair for v in virtuals for r in v.reals]
        while loop.time() - began < 0.2:  # a change every 5 ms for 200 ms
            pair = pairs[int((loop.time() - began) * 200) % len(pairs)]
            health[pair] = State.DOWN if health.get(pair) is not State.DOWN else State.UP
            reconciler.mark_dirty()
            await asyncio.sleep(0.005)
        await asyncio.sleep(COALESCE * 2)
        # 0.2 s of changes: at most one pass per COALESCE, plus the last one.
        assert 2 <= reconciler.passes - passes <= 0.2 / COALESCE + 2
