"""Running the operator's scripts: fallbackcommand and callback.

They run asynchronously (a slow script never delays a probe), exec'd with an
argument list, never through a shell, and are killed with their whole process
group when they overrun. ldirectord ran `system("$cmd start VIP:PORT proto")`,
so a value with arguments worked there; we split the value shell-style
(quotes respected, no expansion) to keep that without a shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger("ldirectorpy")

DEFAULT_TIMEOUT = 60.0
KILL_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class ScriptResult:
    argv: tuple[str, ...]
    returncode: int | None  # None: could not start, or killed after the timeout
    reason: str


def command_argv(command: str, *args: str) -> tuple[str, ...]:
    return (*shlex.split(command), *args)


async def run_script(argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> ScriptResult:
    """Run `argv`, wait at most `timeout` s, kill its process group after that."""
    argv = tuple(argv)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        return ScriptResult(argv, None, f"cannot run {argv[0]}: {exc.strerror}")
    try:
        async with asyncio.timeout(timeout):
            code = await proc.wait()
    except TimeoutError:
        await kill_group(proc)
        return ScriptResult(argv, None, f"killed after {timeout:g}s")
    except asyncio.CancelledError:
        await kill_group(proc)
        raise
    return ScriptResult(argv, code, f"exit status {code}")


async def kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the process group, SIGKILL it after a grace period, and reap."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            async with asyncio.timeout(KILL_GRACE):
                await proc.wait()
            return
        except TimeoutError:
            continue
    await proc.wait()


class FallbackCommand:
    """ldirectord's fallbackcommand: `cmd start|stop VIP:VPORT PROTO`, run only
    when the action differs from the last one run for that virtual."""

    def __init__(self, command: str, endpoint: str, protocol: str) -> None:
        self.command = command
        self.endpoint = endpoint
        self.protocol = protocol
        self.last: str | None = None

    def argv_for(self, action: str) -> tuple[str, ...] | None:
        if action == self.last:
            return None
        self.last = action
        return command_argv(self.command, action, self.endpoint, self.protocol)
