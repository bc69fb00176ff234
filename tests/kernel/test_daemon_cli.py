"""The director on a real kernel, driven exactly as heartbeat drives it.

`ldirectorpy CONFIG start|status|reload|stop|restart` as subprocesses, in the
test's network namespace (the director); the real servers are processes in a
second namespace behind a veth, answering TCP on 192.0.2.11-13:3389. Every
claim is read back from the kernel with ipvsadm, a client written by no one here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

VIP = "192.0.2.100"
REALS = ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
INTERVAL = 1.0
TIMEOUT = 1.0
RESYNC = 2.0
# Python in the TCG guest is 10-20x slower than on the host: generous bounds.
SETTLE = 30.0

LISTENER = textwrap.dedent(
    """
    import socket, sys, time
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], 3389)); s.listen(64)
    print("listening", flush=True)
    while True:
        c, _ = s.accept(); c.close()
    """
)


class Farm:
    def __init__(self, tmp: Path, servers_ns: str, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.ns = servers_ns
        self.env = env
        self.config = tmp / "farm.cf"
        self.listeners: dict[str, subprocess.Popen[str]] = {}

    def write_config(
        self, reals: list[str] = REALS, extra: str = "", cleanstop: str = "yes"
    ) -> None:
        lines = "\n".join(f"    real = {addr}:3389 gate" for addr in reals)
        self.config.write_text(
            textwrap.dedent(
                f"""\
                checkinterval = {INTERVAL}
                checktimeout = {TIMEOUT}
                resyncinterval = {RESYNC}
                quiescent = yes
                cleanstop = {cleanstop}
                logfile = "{self.tmp}/ldirectorpy.log"
                {extra}
                """
            )
            + f"virtual = {VIP}:3389\n{lines}\n    checktype = connect\n    scheduler = wlc\n"
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ldirectorpy", str(self.config), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )

    def serve(self, address: str) -> None:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, "-c", LISTENER, address],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline() == "listening\n"
        self.listeners[address] = proc

    def kill(self, address: str) -> None:
        proc = self.listeners.pop(address)
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def close(self) -> None:
        for address in list(self.listeners):
            self.kill(address)

    def pid(self) -> int:
        run_dir = Path(self.env["LDIRECTORPY_RUN_DIR"])
        return int((run_dir / f"ldirectorpy.{self.config.name}.pid").read_text())


def weights(ipvsadm: Callable[..., str]) -> dict[str, int]:
    """Real server -> weight under the VIP, from `ipvsadm -Ln`."""
    out: dict[str, int] = {}
    for line in ipvsadm("-Ln").splitlines():
        match = re.match(r"\s+->\s+(\S+):3389\s+\w+\s+(\d+)", line)
        if match:
            out[match.group(1)] = int(match.group(2))
    return out


def until(predicate: Callable[[], bool], timeout: float = SETTLE) -> float:
    """Seconds it took for `predicate` to hold; fails after `timeout`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not reached within {timeout}s")
        time.sleep(0.1)
    return time.monotonic() - start


@pytest.fixture
def farm(netns: str, namespaces: Callable[[str], str], tmp_path: Path) -> Iterator[Farm]:
    servers = namespaces("srv")
    subprocess.run(
        ["ip", "link", "add", "dir0", "type", "veth", "peer", "name", "srv0", "netns", servers],
        check=True,
    )
    subprocess.run(["ip", "addr", "add", "192.0.2.1/24", "dev", "dir0"], check=True)
    subprocess.run(["ip", "link", "set", "dir0", "up"], check=True)
    for address in REALS:
        subprocess.run(
            ["ip", "-n", servers, "addr", "add", f"{address}/24", "dev", "srv0"], check=True
        )
    subprocess.run(["ip", "-n", servers, "link", "set", "srv0", "up"], check=True)
    env = {**os.environ, "LDIRECTORPY_RUN_DIR": str(tmp_path / "run")}
    farm = Farm(tmp_path, servers, env)
    farm.write_config()
    for address in REALS:
        farm.serve(address)
    yield farm
    if farm.cli("status").returncode == 0:
        farm.cli("stop")
    farm.close()


ALL_UP = dict.fromkeys(REALS, 1)


def test_start_status_stop_as_heartbeat_does(farm: Farm, ipvsadm: Callable[..., str]) -> None:
    started = farm.cli("start")
    assert started.returncode == 0, started.stderr
    until(lambda: weights(ipvsadm) == ALL_UP)
    status = farm.cli("status")
    assert status.returncode == 0
    assert status.stdout.startswith(f"ldirectorpy for {farm.config} is running with pid: ")
    assert "3/3 up" in status.stdout
    assert farm.cli("start").returncode == 0  # already running: a no-op
    stopped = farm.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"TCP  {VIP}:3389" not in ipvsadm("-Ln")  # cleanstop=yes
    after = farm.cli("status")
    assert (after.returncode, after.stdout) == (3, f"ldirectorpy for {farm.config} is stopped\n")


def test_a_failed_real_is_quiesced_and_restored_in_the_kernel(
    farm: Farm, ipvsadm: Callable[..., str]
) -> None:
    assert farm.cli("start").returncode == 0
    until(lambda: weights(ipvsadm) == ALL_UP)
    farm.kill(REALS[1])
    took = until(lambda: weights(ipvsadm).get(REALS[1]) == 0)
    assert weights(ipvsadm) == {**ALL_UP, REALS[1]: 0}  # the others untouched
    farm.serve(REALS[1])
    until(lambda: weights(ipvsadm) == ALL_UP)
    log = (farm.tmp / "ldirectorpy.log").read_text()
    assert f"Quiescent real server: {REALS[1]}:3389 ({VIP}:3389) (Weight set to 0)" in log
    assert f"Restored real server: {REALS[1]}:3389 ({VIP}:3389) (Weight set to 1)" in log
    print(f"quiesced {took:.1f}s after the kill")


def test_a_flushed_table_is_repaired_within_one_resync(
    farm: Farm, ipvsadm: Callable[..., str]
) -> None:
    assert farm.cli("start").returncode == 0
    until(lambda: weights(ipvsadm) == ALL_UP)
    ipvsadm("-C")
    until(lambda: weights(ipvsadm) == ALL_UP, timeout=RESYNC + SETTLE / 2)
    ipvsadm("-e", "-t", f"{VIP}:3389", "-r", f"{REALS[0]}:3389", "-g", "-w", "9")
    until(lambda: weights(ipvsadm) == ALL_UP, timeout=RESYNC + SETTLE / 2)


def test_reload_good_and_broken(farm: Farm, ipvsadm: Callable[..., str]) -> None:
    assert farm.cli("start").returncode == 0
    until(lambda: weights(ipvsadm) == ALL_UP)
    farm.write_config(REALS[:2])
    assert farm.cli("reload").returncode == 0
    until(lambda: weights(ipvsadm) == dict.fromkeys(REALS[:2], 1))
    before = ipvsadm("-Ln")
    farm.config.write_text(farm.config.read_text() + "    weight = heavy\n")
    assert farm.cli("reload").returncode == 0
    until(lambda: "NOT reloaded" in farm.cli("status").stdout)
    status = farm.cli("status")
    assert status.returncode == 0
    assert f"{farm.config}:" in status.stdout
    assert ipvsadm("-Ln") == before


def test_autoreload_follows_an_edited_file(farm: Farm, ipvsadm: Callable[..., str]) -> None:
    farm.write_config(extra="autoreload = yes")
    assert farm.cli("start").returncode == 0
    until(lambda: weights(ipvsadm) == ALL_UP)
    farm.write_config(REALS[:1], extra="autoreload = yes")
    until(lambda: weights(ipvsadm) == {REALS[0]: 1})


def test_cleanstop_no_leaves_the_table_serving(farm: Farm, ipvsadm: Callable[..., str]) -> None:
    farm.write_config(cleanstop="no")
    assert farm.cli("start").returncode == 0
    until(lambda: weights(ipvsadm) == ALL_UP)
    assert farm.cli("stop").returncode == 0
    assert weights(ipvsadm) == ALL_UP


def test_restart_and_kill_9_then_start_disturb_no_healthy_real(
    farm: Farm, ipvsadm: Callable[..., str]
) -> None:
    farm.write_config(cleanstop="no")
    assert farm.cli("start").returncode == 0
    until(lambda: weights(ipvsadm) == ALL_UP)
    assert farm.cli("restart").returncode == 0
    assert weights(ipvsadm) == ALL_UP
    os.kill(farm.pid(), signal.SIGKILL)
    until(lambda: farm.cli("status").returncode == 1)
    assert "not running" in farm.cli("status").stdout
    farm.kill(REALS[2])  # goes down while no director watches
    assert farm.cli("start").returncode == 0
    # Adopted reals keep serving from the first moment; the dead one is found out.
    assert weights(ipvsadm)[REALS[0]] == 1
    until(lambda: weights(ipvsadm) == {**ALL_UP, REALS[2]: 0})
    assert farm.cli("status").returncode == 0
