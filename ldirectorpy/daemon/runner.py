"""`start`: validate, detach, and report success only once the daemon truly runs.

The parent validates the configuration (errors: exit 2, on stderr, with
file:line:col), then forks twice; the daemon takes its pid file, opens the
kernel's IPVS over netlink and only then tells the waiting parent, through a
pipe, that it is ready. So a kernel without IPVS, or a pid file someone else
holds, is an exit status and a sentence, not a silent death after exit 0
(ldirectord's parent exits before any of that happens).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import sys
import time
from pathlib import Path

from ldirectorpy.config import Config, load
from ldirectorpy.daemon import control
from ldirectorpy.daemon.logsetup import configure
from ldirectorpy.daemon.pidfile import AlreadyRunning, PidFile, State, pid_path, probe
from ldirectorpy.daemon.service import Daemon
from ldirectorpy.ipvs.errors import IPVSError

READY_TIMEOUT = 60.0
EXIT_OK = 0
EXIT_GENERIC = 1
EXIT_CONFIG = 2


def start(config_path: Path, *, debug: bool = False, foreground: bool = False) -> int:
    result = load(config_path)
    for diag in result.diagnostics:
        sys.stderr.write(diag.text() + "\n")
    if result.config is None:
        return EXIT_GENERIC if result.unreadable else EXIT_CONFIG
    config = result.config
    current = probe(pid_path(config_path))
    if current.state is State.RUNNING:
        sys.stdout.write(
            f"ldirectorpy for {config_path} is already running with pid: {current.pid}\n"
        )
        return EXIT_OK
    if debug or foreground or config.supervised:
        return asyncio.run(serve(config_path, config, debug=debug, supervised=not debug))
    return _detach(config_path, config)


def _detach(config_path: Path, config: Config) -> int:
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked daemon
        os.close(read_end)
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        os.chdir("/")
        os.umask(0o022)
        _stdio_to_devnull()
        code = EXIT_GENERIC
        try:
            code = asyncio.run(serve(config_path, config, ready_fd=write_end))
        finally:
            os._exit(code)
    os.close(write_end)
    os.waitpid(child, 0)
    message = _read_ready(read_end, READY_TIMEOUT)
    os.close(read_end)
    if message == "READY":
        return EXIT_OK
    sys.stderr.write(f"ldirectorpy: {message or 'the daemon exited before it was ready'}\n")
    return EXIT_GENERIC


def _read_ready(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    chunks = []
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    text = b"".join(chunks).decode(errors="replace").strip()
    return (
        text
        if text
        else ("" if time.monotonic() < deadline else "timed out waiting for the daemon")
    )


def _stdio_to_devnull() -> None:  # pragma: no cover - daemon only
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)


async def serve(
    config_path: Path,
    config: Config,
    *,
    ready_fd: int | None = None,
    debug: bool = False,
    supervised: bool = False,
) -> int:
    """The daemon proper: pid file, netlink, control socket, then the director."""

    def report(message: str) -> None:
        if ready_fd is None:
            if message != "READY":
                sys.stderr.write(f"ldirectorpy: {message}\n")
            return
        with contextlib.suppress(OSError):
            os.write(ready_fd, message.encode())
            os.close(ready_fd)

    configure(config.logfile, config_path.name, debug=debug, supervised=supervised)
    pidfile = PidFile(pid_path(config_path))
    try:
        pidfile.acquire()
    except AlreadyRunning as exc:
        report(f"already running with pid {exc.pid}")
        return EXIT_GENERIC
    except OSError as exc:
        report(f"cannot write the pid file {pidfile.path}: {exc.strerror}")
        return EXIT_GENERIC
    server = None
    backend = None
    try:
        from ldirectorpy.ipvs.netlink import NetlinkBackend

        try:
            backend = await NetlinkBackend.open()
        except IPVSError as exc:
            report(str(exc))
            return EXIT_GENERIC
        daemon = Daemon(config_path, config, backend)
        sock = control.socket_path(config_path)
        server = await control.serve(sock, daemon.status_report)
        return await daemon.run(on_ready=lambda: report("READY"))
    finally:
        if server is not None:
            server.close()
            with contextlib.suppress(OSError):
                control.socket_path(config_path).unlink()
        if backend is not None:
            backend.close()
        pidfile.release()
