"""One pid file per configuration, and how to tell whether its daemon runs.

The daemon writes the pid file atomically (temporary file, then rename) and
keeps an exclusive flock on it for its whole life. "Running" is decided by that
lock, not by the pid alone, so a pid reused by another process after a crash
never looks like our daemon, and a stale file is recognised and replaced.
Nothing but the daemon that holds the lock ever deletes the file: a `status`
or `start` with a broken config cannot orphan a running daemon (ldirectord's
bug, reference §5.4 item 3).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

DEFAULT_RUN_DIR = Path("/run")


def run_dir() -> Path:
    """Where pid files and status sockets live; tests point it elsewhere."""
    return Path(os.environ.get("LDIRECTORPY_RUN_DIR", DEFAULT_RUN_DIR))


def instance_name(config_path: Path) -> str:
    """The name that identifies one daemon: the config file's basename.

    ldirectord names its pid file after the argument as typed, so `start` and
    `ldirectord.cf start` make two pid files for one daemon; we always use the
    basename of the file actually found.
    """
    return config_path.name


def pid_path(config_path: Path) -> Path:
    return run_dir() / f"ldirectorpy.{instance_name(config_path)}.pid"


class State(Enum):
    RUNNING = "running"
    STALE = "stale"  # a pid file whose daemon is gone
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Probe:
    state: State
    pid: int | None


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def probe(path: Path) -> Probe:
    """Whether the daemon owning `path` runs, without disturbing it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return Probe(State.STOPPED, None)
    except OSError:
        return Probe(State.STALE, None)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return Probe(State.RUNNING, _read_pid(path))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return Probe(State.STALE, _read_pid(path))
    finally:
        os.close(fd)


class AlreadyRunning(Exception):
    def __init__(self, pid: int | None) -> None:
        super().__init__(f"already running with pid {pid}")
        self.pid = pid


class PidFile:
    """The daemon's claim on its pid file, held until `release()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, pid: int | None = None) -> None:
        """Write our pid atomically and lock the file; AlreadyRunning if taken."""
        pid = os.getpid() if pid is None else pid
        self.path.parent.mkdir(parents=True, exist_ok=True)
        current = probe(self.path)
        if current.state is State.RUNNING:
            raise AlreadyRunning(current.pid)
        tmp = self.path.with_name(f".{self.path.name}.{pid}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            # Lock before the rename so there is no instant where the file is
            # visible and unlocked; a racing daemon then fails the check below.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, f"{pid}\n".encode())
            os.fsync(fd)
            if probe(self.path).state is State.RUNNING:
                raise AlreadyRunning(probe(self.path).pid)
            os.rename(tmp, self.path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self._fd = fd

    def release(self) -> None:
        """Remove the file, if it is still ours, and drop the lock."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                self.path.unlink()
        os.close(self._fd)
        self._fd = None
