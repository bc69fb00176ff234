"""Network-namespace plumbing for the test rungs, the benchmarks and the demo.

Python 3.11 has neither ``os.setns`` nor ``os.unshare``, so both go through
libc. ``setns(2)`` moves only the calling THREAD: the one running a test, its
event loop and the subprocesses it starts; other threads stay where they were.
Not used by the daemon itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import subprocess
from collections.abc import Iterator

__all__ = ["CLONE_NEWNET", "CLONE_NEWNS", "delete", "inside", "new", "setns", "unshare"]

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000

_serial = itertools.count(1)


def _libc_call(name: str, *args: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")


def setns(fd: int) -> None:
    """Move this thread into the network namespace open at ``fd``."""
    _libc_call("setns", fd, CLONE_NEWNET)


def unshare(flags: int = CLONE_NEWNET, *, lo_up: bool = True) -> None:
    """Move this process into fresh namespaces (``flags``), with ``lo`` up.

    Without lo up a new network namespace has no local routes: the kernel
    refuses IPv4 IPVS destinations with EINVAL and 127/8 is unreachable.
    """
    _libc_call("unshare", flags)
    if lo_up and flags & CLONE_NEWNET:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def new(prefix: str) -> str:
    """Create a named namespace (``ip netns``) with lo up; the caller deletes it."""
    name = f"ldp-{prefix}-{os.getpid()}-{next(_serial)}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    return name


def delete(name: str) -> None:
    subprocess.run(["ip", "netns", "delete", name], check=False, capture_output=True)


@contextlib.contextmanager
def inside(name: str) -> Iterator[None]:
    """Run the block (this thread only) in the named network namespace."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            setns(home)
    finally:
        os.close(home)
