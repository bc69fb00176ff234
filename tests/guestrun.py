"""Delegates the kernel tests (tests/kernel, tests/e2e) to one QEMU guest boot.

On the host, every selected kernel test is replaced by a `GuestItem` with the
same node id. The first one to run boots the guest once (scripts/guest/run) and
runs pytest there on all of them; each GuestItem then reports the guest's
outcome for its node id, so the host's summary counts the guest's tests. A
guest that does not boot or crashes fails every kernel test, with the tail of
its console log. The console log and JUnit XML stay in /tmp/ldirectorpy-guest-*/.
Inside the guest (LDIRECTORPY_IN_GUEST=1) the tests run as usual, and
`ResultWriter` records each outcome for the host.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

IN_GUEST = os.environ.get("LDIRECTORPY_IN_GUEST") == "1"
KERNEL_DIRS = ("kernel", "e2e")
RESULTS_ENV = "LDIRECTORPY_GUEST_RESULTS"
TIMEOUT = float(os.environ.get("LDIRECTORPY_GUEST_TIMEOUT", "1800"))
LOG_TAIL = 60
RUNTIME_MARKS = frozenset(
    {"asyncio", "skip", "skipif", "xfail", "usefixtures", "parametrize", "filterwarnings"}
)


def is_kernel_test(item: pytest.Item, tests_dir: Path) -> bool:
    try:
        rel = item.path.relative_to(tests_dir)
    except ValueError:
        return False
    return rel.parts[0] in KERNEL_DIRS


# -- inside the guest ----------------------------------------------------------


class ResultWriter:
    """Records each test's phases as JSON for the host: {nodeid: {when: {...}}}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.results: dict[str, dict[str, dict[str, Any]]] = {}
        self.collect_errors: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", "")
        entry: dict[str, Any] = {
            "outcome": report.outcome,
            "text": report.longreprtext,
            "crash": str(crash),
        }
        if report.skipped and isinstance(report.longrepr, tuple):
            entry["text"] = str(report.longrepr[2])
        if hasattr(report, "wasxfail"):
            entry["xfail"] = str(report.wasxfail)
        self.results.setdefault(report.nodeid, {})[report.when] = entry

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {report.longreprtext}")

    def pytest_sessionfinish(self) -> None:
        data = {"tests": self.results, "collect_errors": self.collect_errors}
        self.path.write_text(json.dumps(data))


# -- on the host ---------------------------------------------------------------


@dataclass(slots=True)
class GuestRun:
    """The one guest boot of this session, started lazily by the first kernel test."""

    rootdir: Path
    nodeids: list[str]
    verbose_console: bool
    share: Path | None = None
    returncode: int | None = None
    elapsed: float = 0.0
    results: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    collect_errors: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def log(self) -> Path:
        assert self.share is not None
        return self.share / "console.log"

    def start(self, config: pytest.Config) -> None:
        self.share = Path(tempfile.mkdtemp(prefix="ldirectorpy-guest-"))
        say(
            config,
            f"kernel tests: booting the QEMU guest for {len(self.nodeids)} test(s);"
            f" console log: {self.log}",
        )
        (self.share / "nodeids.txt").write_text("".join(f"{n}\n" for n in self.nodeids))
        results = self.share / "results.json"
        command = [
            str(self.rootdir / "scripts" / "guest" / "run"),
            *("--timeout", str(int(TIMEOUT)), "--share", str(self.share), "--log", str(self.log)),
            "--",
            *("env", f"{RESULTS_ENV}={results}"),
            *(sys.executable, "-m", "pytest", "-v", "--color=no", "-p", "no:cacheprovider"),
            # Importing hypothesis's plugin costs ~15 s of emulated CPU; @given
            # works without it.
            *("-p", "no:hypothesispytest"),
            f"--junitxml={self.share / 'results.xml'}",
            f"@{self.share / 'nodeids.txt'}",
        ]
        began = time.monotonic()
        # Own session: an interrupted pytest takes the whole guest down with it.
        with subprocess.Popen(
            command,
            cwd=self.rootdir,
            stdin=subprocess.DEVNULL,
            stdout=None if self.verbose_console else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self.verbose_console else subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as runner:
            try:
                _, stderr = runner.communicate()
            except BaseException:
                os.killpg(runner.pid, signal.SIGTERM)
                runner.wait()
                raise
        self.elapsed = time.monotonic() - began
        say(config, f"kernel tests: the guest finished in {self.elapsed:.1f} s")
        self.returncode = runner.returncode
        if results.exists():
            data = json.loads(results.read_text())
            self.results = data["tests"]
            self.collect_errors = data["collect_errors"]
        else:
            why = (stderr or "").strip() or f"scripts/guest/run exited with {runner.returncode}"
            self.problem = f"the guest did not run the tests: {why}"

    def tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError as err:
            return f"(no console log: {err})"
        return "\n".join(lines[-LOG_TAIL:])

    def summary(self) -> str:
        """One line for the end of the host's run: where the guest's traces are."""
        if self.returncode is None:
            return "kernel tests: the guest was not started"
        return (
            f"kernel tests: {len(self.nodeids)} delegated to the QEMU guest, which ran"
            f" {self.elapsed:.0f} s (exit status {self.returncode});"
            f" console log {self.log}, JUnit XML {self.log.parent / 'results.xml'}"
        )


def say(config: pytest.Config, text: str) -> None:
    """Writes a line to the terminal even while the current test's output is captured."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.ensure_newline()
        reporter.write_line(text)


class GuestFailure(Exception):
    """A test failed in the guest; carries the guest's own report text."""


class GuestItem(pytest.Item):
    """Stands in on the host for a kernel test and reports the guest's outcome."""

    def __init__(self, *, original: pytest.Item, guest: GuestRun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.original = original
        self.guest = guest
        # Marks stay for -m and reports; the ones that act at run time (skipif,
        # xfail, asyncio, ...) are the guest's business, not the host's.
        self.own_markers = [m for m in original.iter_markers() if m.name not in RUNTIME_MARKS]
        for mark in self.own_markers:
            self.keywords[mark.name] = mark

    def reportinfo(self) -> tuple[Path, int | None, str]:
        path, line, name = self.original.reportinfo()
        return Path(path), line, name

    def _phase(self, when: str) -> dict[str, Any] | None:
        if self.guest.problem is not None:
            raise GuestFailure(
                f"{self.guest.problem}\nconsole log: {self.guest.log}\n{self.guest.tail()}"
            )
        phases = self.guest.results.get(self.nodeid)
        if phases is None:
            errors = "\n".join(self.guest.collect_errors)
            raise GuestFailure(
                f"the guest's pytest did not report this test (exit status {self.guest.returncode})"
                f"\n{errors}\nconsole log: {self.guest.log}\n{self.guest.tail()}"
            )
        return phases.get(when)

    def _replay(self, when: str) -> None:
        phase = self._phase(when)
        if phase is None:
            return
        if "xfail" in phase:
            if phase["outcome"] == "skipped":
                pytest.xfail(phase["xfail"])
            return
        if phase["outcome"] == "failed":
            crash = phase.get("crash") or "failed"
            raise GuestFailure(f"{crash}\n{phase['text']}")
        if phase["outcome"] == "skipped":
            reason = str(phase["text"]).removeprefix("Skipped: ")
            # Reported at the test's own location, as pytest does for skip marks.
            raise pytest.skip.Exception(f"in the guest: {reason}", _use_item_location=True)

    def setup(self) -> None:
        if self.guest.returncode is None:
            self.guest.start(self.config)
        # A guest that did not run the tests fails each one in runtest (a failure,
        # not a setup error).
        if self.guest.problem is None:
            self._replay("setup")

    def runtest(self) -> None:
        self._replay("call")

    def teardown(self) -> None:
        if self.guest.returncode is not None and self.guest.problem is None:
            self._replay("teardown")

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        if isinstance(excinfo.value, GuestFailure):
            # The first line is what the short summary shows.
            return f"[QEMU guest] {excinfo.value}"
        return str(super().repr_failure(excinfo, style))


def delegate(config: pytest.Config, items: list[pytest.Item]) -> GuestRun | None:
    """Replaces the selected kernel tests with GuestItems sharing one GuestRun."""
    tests_dir = Path(__file__).resolve().parent
    kernel = [i for i in items if is_kernel_test(i, tests_dir)]
    if not kernel:
        return None
    guest = GuestRun(
        rootdir=config.rootpath,
        nodeids=[i.nodeid for i in kernel],
        verbose_console=config.getoption("capture") == "no",
    )
    chosen = {id(i) for i in kernel}
    for index, item in enumerate(items):
        if id(item) in chosen:
            assert item.parent is not None
            items[index] = GuestItem.from_parent(
                item.parent, name=item.name, original=item, guest=guest
            )
    return guest
