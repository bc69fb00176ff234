"""The sandbox the oracle runs in really keeps it away from the host."""

from __future__ import annotations

import uuid
from pathlib import Path

import oracle_sandbox as sandbox
import pytest

pytestmark = pytest.mark.interop


@pytest.fixture(autouse=True)
def _can_sandbox() -> None:
    if trouble := sandbox.problems():
        pytest.fail("cannot sandbox: " + "; ".join(trouble), pytrace=False)


def test_var_log_writes_stay_in_the_run_directory() -> None:
    name = f"ldirectorpy-sandbox-{uuid.uuid4().hex}.log"
    out = sandbox.run(["sh", "-c", f"echo hello > /var/log/{name}"])
    assert out.returncode == 0, out.describe()
    assert out.var_log == (name,)
    assert not Path("/var/log", name).exists()


def test_run_is_private_so_no_pid_file_is_seen_or_removed() -> None:
    host_pid = Path("/run", f"ldirectord.sandbox-test-{uuid.uuid4().hex}.pid")
    host_pid.write_text("1\n")
    try:
        out = sandbox.run(["sh", "-c", "ls -A /var/run; rm -f /var/run/*.pid"])
        assert out.returncode == 0, out.describe()
        assert host_pid.name not in out.stdout
        assert ".pid" not in out.stdout
        assert host_pid.exists()
    finally:
        host_pid.unlink()


def test_there_is_no_network_and_no_dns() -> None:
    out = sandbox.run(["getent", "hosts", "example.org"], timeout=30)
    assert out.returncode != 0, out.describe()
    links = sandbox.run(["ip", "-o", "link"])
    assert [ln.split(":")[1].strip() for ln in links.stdout.splitlines()] == ["lo"]


def test_etc_hosts_names_still_resolve() -> None:
    out = sandbox.run(["getent", "hosts", "localhost"])
    assert out.returncode == 0, out.describe()
    assert "127.0.0.1" in out.stdout


def test_ipvsadm_is_a_tripwire() -> None:
    out = sandbox.run(["/sbin/ipvsadm", "-C"])
    assert out.returncode != 0
    assert out.ipvsadm_calls == "ipvsadm -C\n"
