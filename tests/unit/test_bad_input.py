"""`ldirectorpy --check` on files that are not configs: a clear message, the right exit code.

Contract 2: exit 0 = no errors (warnings allowed), 2 = any error, 1 = the file cannot be read.
Whatever the input, the linter answers in bounded time and output and never shows a traceback,
in text and in JSON.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
MINIMAL = "virtual=192.0.2.1:80\n\treal=198.51.100.1:80 gate\n"
OUTPUT_LIMIT = 64 * 1024  # a message about a 1 MB line must not repeat the line


@dataclass(frozen=True, slots=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def printed(self) -> str:
        return self.stdout + self.stderr


def check(*args: str, user: str | None = None, timeout: float = 60.0) -> Run:
    argv: Sequence[str] = [sys.executable, "-m", "ldirectorpy", "--check", *args]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", *argv]
    started = time.monotonic()
    proc = subprocess.run(
        argv,
        capture_output=True,
        timeout=timeout,
        cwd="/",
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    return Run(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
        time.monotonic() - started,
    )


def assert_clean(run: Run, limit: int = OUTPUT_LIMIT) -> None:
    """No traceback, bounded output, and something said."""
    assert "Traceback" not in run.printed, run.printed[:4000]
    assert len(run.printed) < limit, f"{len(run.printed)} bytes of output"
    assert run.printed.strip(), "no message at all"


def assert_reports(run: Run, path: Path, severity: str, code: str) -> None:
    lines = [ln for ln in run.printed.splitlines() if ln.startswith(f"{path}:")]
    assert any(f": {severity}: " in ln and ln.endswith(f"[{code}]") for ln in lines), run.printed


def assert_json_is_clean(path: Path, expected_exit: int, limit: int = OUTPUT_LIMIT) -> None:
    run = check("--format", "json", str(path))
    assert run.returncode == expected_exit, run.printed
    assert "Traceback" not in run.printed
    assert len(run.printed) < limit
    if run.stdout.strip():
        json.loads(run.stdout)


def valid_lines(count: int) -> list[str]:
    """`count` lines of a valid config: virtuals of 39 reals each, documentation addresses."""
    reals = ipaddress.ip_network("198.18.0.0/15").hosts()  # 131,070 addresses: enough
    lines: list[str] = []
    v = 0
    while len(lines) < count:
        lines.append(f"virtual=203.0.113.{1 + v % 250}:{1000 + v // 250}")
        lines.extend(f"\treal={next(reals)}:3389 gate" for _ in range(min(39, count - len(lines))))
        v += 1
    return lines


# ---------------------------------------------------------------- readable, but not a config


def test_binary_garbage_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "garbage.cf"
    path.write_bytes(random.Random(2).randbytes(64 * 1024))
    run = check(str(path))
    assert run.returncode == 2, run.printed
    assert_clean(run)
    assert_reports(run, path, "error", "E106")
    assert_json_is_clean(path, 2)


def test_binary_garbage_without_nul_bytes_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.cf"
    noise = bytes(b for b in random.Random(3).randbytes(64 * 1024) if b)
    path.write_bytes(noise)
    run = check(str(path))
    assert run.returncode == 2, run.printed
    # One diagnostic per garbage line is fair; each one stays short.
    assert_clean(run, limit=8 * len(noise))
    assert max(len(line) for line in run.printed.splitlines()) < 1024
    assert_json_is_clean(path, 2, limit=16 * len(noise))


def test_an_empty_file_is_a_valid_config(tmp_path: Path) -> None:
    # ldirectord accepts an empty file too (no virtual services).
    path = tmp_path / "empty.cf"
    path.write_bytes(b"")
    run = check(str(path))
    assert run.returncode == 0, run.printed
    assert "Traceback" not in run.printed
    assert_json_is_clean(path, 0)


def test_a_100000_line_config_is_checked_in_reasonable_time(tmp_path: Path) -> None:
    path = tmp_path / "large.cf"
    lines = valid_lines(100_000)
    assert len(lines) == 100_000
    path.write_text("\n".join(lines) + "\n")
    run = check(str(path), timeout=120)
    assert run.returncode == 0, run.printed[:4000]
    assert "Traceback" not in run.printed
    assert run.seconds < 60, f"took {run.seconds:.1f}s"


def test_a_100000_line_file_full_of_errors_reports_a_bounded_list(tmp_path: Path) -> None:
    path = tmp_path / "errors.cf"
    path.write_text("".join(f"nosuchdirective{i} = {i}\n" for i in range(100_000)))
    run = check(str(path), timeout=120)
    assert run.returncode == 2
    assert "Traceback" not in run.printed
    assert len(run.printed) < 4 * 1024 * 1024, "the report should be capped"
    assert run.seconds < 60, f"took {run.seconds:.1f}s"


def test_invalid_utf8_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    # ldirectord reads bytes; values in another encoding are legal for it.
    path = tmp_path / "latin1.cf"
    path.write_bytes(
        b"# caf\xe9\nvirtual=192.0.2.1:80\n\treal=198.51.100.1:80 gate\n"
        b"\tservicename = caf\xe9 \xff\xfe\n"
    )
    run = check(str(path))
    assert run.returncode == 0, run.printed
    assert_clean(run)
    assert_reports(run, path, "warning", "W108")
    assert_json_is_clean(path, 0)


def test_a_1mb_comment_line_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "long-comment.cf"
    path.write_text(
        "# " + "x" * 1_000_000 + "\nvirtual=192.0.2.1:80\n\treal=198.51.100.1:80 gate\n"
    )
    run = check(str(path))
    assert run.returncode == 0, run.printed[:4000]
    assert "Traceback" not in run.printed
    assert len(run.printed) < OUTPUT_LIMIT


def test_a_1mb_garbage_line_is_reported_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "long-line.cf"
    path.write_text("A" * 1_000_000 + "\n" + MINIMAL)
    run = check(str(path))
    assert run.returncode == 2, run.printed[:4000]
    assert_clean(run)
    assert any(ln.startswith(f"{path}:1:") for ln in run.printed.splitlines()), run.printed[:4000]
    assert_json_is_clean(path, 2)


# A 1 MB value in each kind of directive: the message quotes a short, escaped excerpt.
LONG_VALUES = {
    "choice (service)": MINIMAL + "\tservice = {}\n",
    "yes/no (quiescent)": MINIMAL + "\tquiescent = {}\n",
    "number (checktimeout)": "checktimeout = {}\n" + MINIMAL,
    "scheduler": MINIMAL + "\tscheduler = {}\n",
    "checktype": MINIMAL + "\tchecktype = {}\n",
    "virtual address": "virtual = {}:80\n\treal=198.51.100.1:80 gate\n",
    "real server line": "virtual=192.0.2.1:80\n\treal = 198.51.100.1:80 {}\n",
    "unknown directive": MINIMAL + "\t{} = 1\n",
}


@pytest.mark.parametrize("template", LONG_VALUES.values(), ids=list(LONG_VALUES))
def test_a_1mb_value_is_reported_without_echoing_it(tmp_path: Path, template: str) -> None:
    path = tmp_path / "long-value.cf"
    path.write_text(template.format("h" * 1_000_000))
    run = check(str(path))
    assert run.returncode == 2, run.printed[:4000]
    assert_clean(run)
    assert_json_is_clean(path, 2)


@pytest.mark.parametrize("template", LONG_VALUES.values(), ids=list(LONG_VALUES))
def test_control_characters_in_a_value_are_not_sent_to_the_terminal(
    tmp_path: Path, template: str
) -> None:
    # ESC ] 0 ; ... BEL retitles a terminal, ESC [ 2 J clears it: a message must escape them.
    path = tmp_path / "escapes.cf"
    path.write_text(template.format("x\x1b]0;owned\x07\x1b[2Jy"))
    run = check(str(path))
    assert run.returncode == 2, run.printed
    assert "Traceback" not in run.printed
    assert "\x1b" not in run.printed, run.printed
    assert "\x07" not in run.printed, run.printed


# ---------------------------------------------------------------------- cannot be read: exit 1


def test_a_missing_file_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "missing.cf"
    run = check(str(path))
    assert run.returncode == 1, run.printed
    assert_clean(run)
    assert str(path) in run.printed
    assert_json_is_clean(path, 1)


def test_a_directory_exits_1(tmp_path: Path) -> None:
    run = check(str(tmp_path))
    assert run.returncode == 1, run.printed
    assert_clean(run)
    assert_reports(run, tmp_path, "error", "E002")
    assert_json_is_clean(tmp_path, 1)


def test_a_symlink_loop_exits_1(tmp_path: Path) -> None:
    a, b = tmp_path / "a.cf", tmp_path / "b.cf"
    a.symlink_to(b)
    b.symlink_to(a)
    run = check(str(a))
    assert run.returncode == 1, run.printed
    assert_clean(run)
    assert_reports(run, a, "error", "E001")
    assert_json_is_clean(a, 1)


def test_a_fifo_exits_1_without_blocking(tmp_path: Path) -> None:
    # Opening a FIFO for reading waits for a writer forever: it must be refused first.
    path = tmp_path / "pipe.cf"
    os.mkfifo(path)
    run = check(str(path), timeout=30)
    assert run.returncode == 1, run.printed
    assert_clean(run)
    assert_reports(run, path, "error", "E002")


def test_a_character_device_exits_1_without_reading_forever() -> None:
    path = Path("/dev/zero")
    run = check(str(path), timeout=30)
    assert run.returncode == 1, run.printed
    assert_clean(run)
    assert_reports(run, path, "error", "E002")


def test_a_huge_sparse_file_exits_1_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.cf"
    with path.open("wb") as f:
        f.truncate(4 * 1024**3)  # 4 GiB of holes: no disk used, but no config either
    run = check(str(path), timeout=30)
    assert run.returncode == 1, run.printed
    assert_clean(run)
    assert_reports(run, path, "error", "E003")
    assert run.seconds < 20


@pytest.fixture
def private_file() -> Iterator[Path]:
    """A valid config that only root can read, in a directory everyone can enter."""
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to drop privileges", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("this test drops privileges to 'nobody' and must start as root", pytrace=False)
    # Not under pytest's tmp root: that is 0700, and the file itself must be what blocks.
    root = Path(tempfile.mkdtemp(prefix="ldirectorpy-unreadable-", dir="/tmp"))
    try:
        root.chmod(0o755)
        path = root / "secret.cf"
        path.write_text(MINIMAL)
        path.chmod(0o600)
        yield path
    finally:
        shutil.rmtree(root)


def test_an_unreadable_file_exits_1(private_file: Path) -> None:
    can_read = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", private_file],
        capture_output=True,
        check=False,
    )
    assert can_read.returncode != 0, "nobody can read the file: the test would prove nothing"
    run = check(str(private_file), user="nobody")
    assert run.returncode == 1, run.printed
    assert_clean(run)
    assert_reports(run, private_file, "error", "E001")


def test_one_bad_file_does_not_hide_the_others(tmp_path: Path) -> None:
    good = tmp_path / "good.cf"
    good.write_text(MINIMAL)
    bad = tmp_path / "bad.cf"
    bad.write_text("nosuchdirective = 1\n")
    run = check(str(tmp_path / "missing.cf"), str(bad), str(good))
    assert run.returncode in (1, 2), run.printed
    assert_clean(run)
    assert str(tmp_path / "missing.cf") in run.printed
    assert_reports(run, bad, "error", "E101")


def test_an_error_is_never_hidden_behind_the_diagnostics_cap(tmp_path: Path) -> None:
    # 1,100 lines with two warnings each fill the report before the one error at the end.
    path = tmp_path / "noisy.cf"
    noisy = "".join(f"checkinterval = {i + 1}s\n" for i in range(1100))
    path.write_text(noisy + "nosuchdirective = 1\n" + MINIMAL)
    run = check(str(path))
    assert run.returncode == 2, run.printed[-2000:]
    assert "Traceback" not in run.printed
    assert_reports(run, path, "error", "E101")
