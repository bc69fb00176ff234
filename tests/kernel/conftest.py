"""Fixtures for tests against the real kernel (they run inside the QEMU guest).

IPVS tables are per network namespace, so every test that asks for `netns` gets
a fresh, empty one: the test process itself is moved into it for the test's
duration (with setns(2), so sockets, netlink and subprocesses all land there)
and moved back, and the namespace deleted, afterwards.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import subprocess
from collections.abc import Callable, Iterator

import pytest

CLONE_NEWNET = 0x40000000
IPVSADM = "/usr/sbin/ipvsadm"

_names = itertools.count(1)


class CommandFailed(subprocess.CalledProcessError):
    """A command exited non-zero; its message carries the command's stderr."""

    def __str__(self) -> str:
        err = (self.stderr or "").strip()
        return f"{' '.join(map(str, self.cmd))} exited with {self.returncode}: {err}"


def run(*argv: str) -> str:
    """Runs argv, returns its stdout, raises CommandFailed (with stderr) on failure."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CommandFailed(done.returncode, list(argv), done.stdout, done.stderr)
    return done.stdout


def _setns(fd: int) -> None:
    # Python 3.11 has no os.setns; setns(2) moves only the calling thread, which
    # is the one running the test, its event loop and its subprocesses.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def in_netns(name: str, *argv: str) -> str:
    """Runs argv inside the named network namespace (for multi-namespace topologies)."""
    return run("ip", "netns", "exec", name, *argv)


def make_netns(prefix: str = "t") -> str:
    """Creates a named network namespace with lo up; the caller deletes it."""
    name = f"ldpt-{prefix}-{os.getpid()}-{next(_names)}"
    run("ip", "netns", "add", name)
    run("ip", "-n", name, "link", "set", "lo", "up")
    return name


def delete_netns(name: str) -> None:
    subprocess.run(["ip", "netns", "delete", name], check=False, capture_output=True)


@pytest.fixture
def netns() -> Iterator[str]:
    """Moves the test process into a fresh network namespace; yields its name."""
    name = make_netns()
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield name
        finally:
            _setns(home)
    finally:
        os.close(home)
        delete_netns(name)


@pytest.fixture
def ipvsadm(netns: str) -> Callable[..., str]:
    """`ipvsadm(*args) -> stdout`, run in the test's namespace; raises CommandFailed."""

    def ipvsadm(*args: str) -> str:
        return run(IPVSADM, *args)

    return ipvsadm


@pytest.fixture(name="in_netns")
def in_netns_fixture() -> Callable[..., str]:
    """`in_netns(name, *argv) -> stdout`: runs argv in another named namespace."""
    return in_netns


@pytest.fixture
def namespaces() -> Iterator[Callable[[str], str]]:
    """A factory of extra named namespaces (lo up), all deleted after the test.

    For topologies: `director = namespaces("dir")`, then `in_netns(director, ...)`.
    """
    made: list[str] = []

    def make(prefix: str = "n") -> str:
        made.append(make_netns(prefix))
        return made[-1]

    yield make
    for name in reversed(made):
        delete_netns(name)
