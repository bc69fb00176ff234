"""checktype=external and external-perl: a program decides, exit 0 is up.

Run exactly like ldirectord: ``checkcommand VIP_or_FWMARK VPORT RIP RPORT``
(no shell; an IPv6 RIP or VIP keeps its brackets; a fwmark virtual passes the
mark and port 0). Differences, on purpose:

- the child runs in a new session, and on the deadline its whole process
  group gets SIGTERM, then SIGKILL after a short grace, and is reaped
  (ldirectord TERMs only the direct child, so a hung grandchild lingers);
- a semaphore caps external checks in flight (``maxexternalchecks``); time
  spent waiting for a slot counts against the probe's deadline;
- ``external-perl`` runs ``perl FILE ARGS...`` as a separate process.
  ldirectord instead compiles the file into its own interpreter once and
  caches it FOREVER (a reload does not re-read it), and treats "no exit at
  all" as up. A separate perl behaves the same for a script that ends with
  ``exit``; falling off the end also exits 0 (up), and the file is re-read on
  every run, so editing it takes effect at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence

from ldirectorpy.checks._common import Progress, bounded
from ldirectorpy.checks.result import ProbeResult

__all__ = ["KILL_GRACE", "OUTPUT_CAP", "check_argv", "probe"]

KILL_GRACE = 0.5  # seconds between SIGTERM and SIGKILL of the process group
OUTPUT_CAP = 256  # bytes of the check's output kept for the reason line
_EOF_WAIT = 0.1  # seconds to wait for the output pipe to close after the exit


def check_argv(
    command: Sequence[str], virtual: str, vport: int, real: str, rport: int
) -> list[str]:
    """ldirectord's argument vector; ``virtual``/``real`` already bracketed for IPv6."""
    return [*command, virtual, str(vport), real, str(rport)]


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _drain(stream: asyncio.StreamReader, keep: bytearray) -> None:
    """Keep the first OUTPUT_CAP bytes, discard the rest (a full pipe would block the child)."""
    while chunk := await stream.read(4096):
        if len(keep) < OUTPUT_CAP:
            keep += chunk[: OUTPUT_CAP - len(keep)]


def _first_line(output: bytes) -> str:
    line = output.decode("utf-8", "replace").strip().splitlines()
    return line[0][:120] if line else ""


async def _stop_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the group, SIGKILL it after the grace (grandchildren too), reap the leader."""
    _killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), KILL_GRACE)
    _killpg(proc.pid, signal.SIGKILL)  # the group can outlive its leader
    await proc.wait()


async def _run(
    argv: Sequence[str], slots: asyncio.Semaphore | None, progress: Progress
) -> tuple[bool, str]:
    if slots is not None:
        progress.stage = "waiting for a free external-check slot"
        await slots.acquire()
    try:
        progress.stage = f"running {argv[0]}"
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        output = bytearray()
        assert proc.stdout is not None
        drain = asyncio.ensure_future(_drain(proc.stdout, output))
        try:
            code = await proc.wait()
        except BaseException:
            # Deadline (or the engine cancelling us): kill the whole group now;
            # shield so a second cancellation cannot leave it running.
            await asyncio.shield(_stop_group(proc))
            raise
        else:
            # Collect what is already in the pipe, but a grandchild may hold it
            # open: wait for EOF only briefly.
            await asyncio.wait({drain}, timeout=_EOF_WAIT)
        finally:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
        note = _first_line(bytes(output))
        suffix = f": {note}" if note else ""
        if code == 0:
            return True, f"{argv[0]} exit 0{suffix}"
        if code < 0:
            return False, f"{argv[0]} killed by {signal.Signals(-code).name}{suffix}"
        return False, f"{argv[0]} exit {code}{suffix}"
    finally:
        if slots is not None:
            slots.release()


async def probe(
    argv: Sequence[str], timeout: float, slots: asyncio.Semaphore | None = None
) -> ProbeResult:
    """Run ``argv`` (see ``check_argv``); up on exit 0 within ``timeout``.

    A program that cannot be started is down with the OS's reason.
    """
    return await bounded(timeout, lambda p: _run(argv, slots, p), "starting check")
