"""Session-wide test setup: kernel tests are marked, and on the host they run in the guest.

Tests under tests/kernel/ and tests/e2e/ need Linux IPVS, which only the QEMU
guest has (scripts/guest/run). On the host pytest boots that guest once, runs
all the selected kernel tests there, and reports each one's outcome as its own;
with no kernel test selected, no guest is booted. See tests/guestrun.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import guestrun
import pytest

_TESTS = Path(__file__).resolve().parent
_GUEST = pytest.StashKey[guestrun.GuestRun]()


def pytest_configure(config: pytest.Config) -> None:
    results = os.environ.get(guestrun.RESULTS_ENV)
    if guestrun.IN_GUEST and results:
        config.pluginmanager.register(guestrun.ResultWriter(Path(results)), "guest-results")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # First, so that -m kernel / -m "not kernel" select on it.
    for item in items:
        if guestrun.is_kernel_test(item, _TESTS):
            item.add_marker(pytest.mark.kernel)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    # Last, after -k/-m deselection: only the tests that will run go to the guest.
    if guestrun.IN_GUEST:
        return
    guest = guestrun.delegate(session.config, session.items)
    if guest is not None:
        session.config.stash[_GUEST] = guest


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    guest = config.stash.get(_GUEST, None)
    if guest is not None:
        terminalreporter.write_line(guest.summary())
