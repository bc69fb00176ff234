"""Fixtures for tests against the real kernel (they run inside the QEMU guest).

IPVS tables are per network namespace, so every test that asks for `netns` gets
a fresh, empty one: the test process itself is moved into it for the test's
duration (with setns(2), so sockets, netlink and subprocesses all land there)
and moved back, and the namespace deleted, afterwards.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest

from ldirectorpy import _netns

IPVSADM = "/usr/sbin/ipvsadm"


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


def in_netns(name: str, *argv: str) -> str:
    """Runs argv inside the named network namespace (for multi-namespace topologies)."""
    return run("ip", "netns", "exec", name, *argv)


def make_netns(prefix: str = "t") -> str:
    """Creates a named network namespace with lo up; the caller deletes it."""
    return _netns.new(f"k{prefix}")


delete_netns = _netns.delete


@pytest.fixture
def netns() -> Iterator[str]:
    """Moves the test process into a fresh network namespace; yields its name."""
    name = make_netns()
    try:
        with _netns.inside(name):
            yield name
    finally:
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
