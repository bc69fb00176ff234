"""Lean non-blocking socket waits for probes.

``loop.sock_connect``/``sock_recv`` re-check on every call that no transport
owns the fd (a failed selector lookup that builds and throws a KeyError each
time) and resolve the address again; for a probe that is most of its Python
cost. These helpers try the syscall first and only then wait for readiness.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket

__all__ = ["connect", "recv", "sendall", "tcp_socket"]


def tcp_socket(family: socket.AddressFamily) -> socket.socket:
    """A non-blocking TCP socket in one syscall (no fcntl afterwards)."""
    return socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _wait(loop: asyncio.AbstractEventLoop, fd: int, write: bool) -> None:
    future: asyncio.Future[None] = loop.create_future()
    if write:
        loop.add_writer(fd, _wake, future)
    else:
        loop.add_reader(fd, _wake, future)
    try:
        await future
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


async def connect(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, addr: tuple[str, int]
) -> None:
    """connect() a non-blocking socket to an IP literal address."""
    err = sock.connect_ex(addr)
    if err in (errno.EINPROGRESS, errno.EAGAIN):
        await _wait(loop, sock.fileno(), write=True)
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        raise OSError(err, os.strerror(err))


async def recv(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    while True:
        try:
            return sock.recv(size)
        except (BlockingIOError, InterruptedError):
            await _wait(loop, sock.fileno(), write=False)


async def sendall(loop: asyncio.AbstractEventLoop, sock: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except (BlockingIOError, InterruptedError):
            await _wait(loop, sock.fileno(), write=True)
