"""The pid file: one per configuration, atomic, lock-based liveness."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ldirectorpy.daemon.pidfile import AlreadyRunning, PidFile, State, pid_path, probe


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LDIRECTORPY_RUN_DIR", str(tmp_path))
    return tmp_path


def test_pid_file_is_named_after_the_config_basename_however_it_was_named(run_dir):
    assert pid_path(Path("ldirectord.cf")) == run_dir / "ldirectorpy.ldirectord.cf.pid"
    assert pid_path(Path("/etc/ha.d/ldirectord.cf")) == pid_path(Path("ldirectord.cf"))


def test_no_file_means_stopped(run_dir):
    assert probe(run_dir / "x.pid").state is State.STOPPED


def test_a_held_pid_file_means_running_with_its_pid(run_dir):
    pidfile = PidFile(run_dir / "x.pid")
    pidfile.acquire()
    try:
        assert probe(pidfile.path).state is State.RUNNING
        assert probe(pidfile.path).pid == os.getpid()
        assert pidfile.path.read_text() == f"{os.getpid()}\n"
    finally:
        pidfile.release()
    assert not pidfile.path.exists()


def test_a_second_daemon_cannot_take_a_held_pid_file(run_dir):
    first = PidFile(run_dir / "x.pid")
    first.acquire()
    try:
        with pytest.raises(AlreadyRunning) as err:
            PidFile(run_dir / "x.pid").acquire(pid=12345)
        assert err.value.pid == os.getpid()
        assert first.path.read_text() == f"{os.getpid()}\n"
    finally:
        first.release()


def test_a_pid_file_left_by_a_dead_daemon_is_stale_and_replaced(run_dir):
    path = run_dir / "x.pid"
    # A daemon killed with -9 leaves its file behind; its lock dies with it.
    code = (
        "import sys; from pathlib import Path; from ldirectorpy.daemon.pidfile import PidFile;"
        f"PidFile(Path({str(path)!r})).acquire()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert path.exists()
    assert probe(path).state is State.STALE
    pidfile = PidFile(path)
    pidfile.acquire()
    try:
        assert probe(path).state is State.RUNNING
    finally:
        pidfile.release()


def test_a_pid_reused_by_another_process_is_not_mistaken_for_the_daemon(run_dir):
    path = run_dir / "x.pid"
    path.write_text(f"{os.getpid()}\n")  # alive, but holds no lock
    assert probe(path).state is State.STALE


def test_release_leaves_a_file_that_is_no_longer_ours(run_dir):
    path = run_dir / "x.pid"
    pidfile = PidFile(path)
    pidfile.acquire()
    path.unlink()
    path.write_text("999\n")
    pidfile.release()
    assert path.read_text() == "999\n"
