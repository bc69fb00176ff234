"""Loopback servers for the probe tests: real sockets on 127.0.0.1 port 0."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def tcp_server(handler: Handler, host: str = "127.0.0.1") -> AsyncIterator[int]:
    """Serve ``handler`` on an ephemeral port; yields the port. Handler errors are the test's."""
    tasks: set[asyncio.Task[None]] = set()

    async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the probe hung up or the test is over
        finally:
            writer.close()

    server = await asyncio.start_server(wrapped, host, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def closed_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (bound, then released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


async def silent(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
    """A handler that never answers; it hangs up when the probe does."""
    await reader.read()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def settled_fds(expected: int) -> int:
    """Open fds once the server's side has seen our close (a few loop turns later)."""
    for _ in range(50):
        if open_fds() == expected:
            break
        await asyncio.sleep(0.02)
    return open_fds()


def serving(argv: list[str], port: int) -> Iterator[int]:
    """Run a server process until it accepts on 127.0.0.1:``port``; yield the port."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{argv[0]} exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{argv[0]} did not listen on 127.0.0.1:{port}")
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)
