"""The running daemon's control socket: `status` asks it for its state.

A unix stream socket beside the pid file, mode 0600 (root only), speaking one
request line and one JSON reply, then closing. Requests: `status`.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ldirectorpy.daemon.pidfile import instance_name, run_dir

if TYPE_CHECKING:
    import asyncio

MAX_REQUEST = 256
Handler = Callable[[str], Awaitable[dict[str, Any]]]


def socket_path(config_path: Path) -> Path:
    return run_dir() / f"ldirectorpy.{instance_name(config_path)}.sock"


async def serve(path: Path, handler: Handler) -> asyncio.Server:
    """Listen on `path` (replacing a stale socket) and answer with `handler`."""
    import asyncio  # only the daemon needs it; `status` should start fast

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                request = (await reader.readline())[:MAX_REQUEST].decode(errors="replace")
                try:
                    reply = await handler(request.strip())
                except Exception as exc:  # a bug must not kill the daemon's control path
                    reply = {"error": f"{type(exc).__name__}: {exc}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (TimeoutError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    old_umask = os.umask(0o177)  # born 0600: no window where others may connect
    try:
        server = await asyncio.start_unix_server(answer, path=str(path))
    finally:
        os.umask(old_umask)
    return server


def request(path: Path, command: str = "status", timeout: float = 5.0) -> dict[str, Any] | None:
    """Ask the daemon; None when nothing answers (not running, or hung)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        return None
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None
