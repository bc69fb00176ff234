"""Start-up to a fully programmed table, and an unchanged reload, at scale.

Runs inside the QEMU guest (a real kernel IPVS), each case in a fresh network
namespace:

    scripts/guest/run --timeout 3600 -- .venv/bin/python benchmarks/daemon_scale.py

Run on the host, it measures the same on the in-memory IPVS, at native speed
(Python in the TCG guest runs 10-20 times slower).

ldirectorpy's own daemon (in process, on the netlink backend) at 1,000 virtuals
x 10 reals and 100 x 400, and, as the peer in the same run, the original
ldirectord (Debian package) starting 200 reals. Every real uses checktype=on so
the numbers measure the director and the kernel, not probes. Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Collection, Sequence
from pathlib import Path

from ldirectorpy import _netns
from ldirectorpy.config import load
from ldirectorpy.daemon.service import Daemon
from ldirectorpy.ipvs.backend import ApplyReport
from ldirectorpy.ipvs.memory import MemoryBackend
from ldirectorpy.ipvs.netlink import NetlinkBackend
from ldirectorpy.ipvs.planner import Op
from ldirectorpy.ipvs.types import ServiceKey, Table


def address(base: int, index: int) -> str:
    value = base + index
    return f"198.{18 + (value >> 16)}.{(value >> 8) & 255}.{value & 255}"


def write_config(path: Path, virtuals: int, reals: int, logfile: Path) -> int:
    lines = [
        "checkinterval = 5",
        "quiescent = yes",
        "cleanstop = no",
        f'logfile = "{logfile}"',
    ]
    for v in range(virtuals):
        lines.append(f"virtual = {address(1, v)}:80")
        lines.append("    checktype = on")
        lines.append("    scheduler = wlc")
        lines.extend(f"    real = {address(70000, v * reals + r)}:80 gate" for r in range(reals))
    path.write_text("\n".join(lines) + "\n")
    return virtuals * reals


class Counting:
    """Any IPVS backend, counting the kernel writes sent through it."""

    def __init__(self, inner: MemoryBackend | NetlinkBackend) -> None:
        self.inner = inner
        self.writes = 0

    async def dump(self, owned: Collection[ServiceKey]) -> Table:
        return await self.inner.dump(owned)

    async def apply(self, ops: Sequence[Op]) -> ApplyReport:
        report = await self.inner.apply(ops)
        self.writes += report.total
        return report


async def ldirectorpy_case(
    virtuals: int, reals: int, tmp: Path, kernel: bool = True
) -> list[tuple[str, int, float, int]]:
    if kernel:
        _netns.unshare()
    path = tmp / f"scale-{virtuals}x{reals}.cf"
    total = write_config(path, virtuals, reals, tmp / "ldirectorpy.log")
    started = time.perf_counter()
    config = load(path).config
    assert config is not None
    backend = Counting(await NetlinkBackend.open() if kernel else MemoryBackend())
    daemon = Daemon(path, config, backend)
    task = asyncio.create_task(daemon.run())
    owned = daemon.reconciler.owned
    while True:
        table = await backend.dump(owned)
        up = sum(1 for _, ds in table.entries() for d in ds if d.weight > 0)
        if up == total:
            break
        await asyncio.sleep(0.05)
    startup = time.perf_counter() - started
    startup_writes = backend.writes
    backend.writes = 0
    started = time.perf_counter()
    assert await daemon.reload("benchmark")
    reload_time = time.perf_counter() - started
    reload_writes = backend.writes
    daemon.request_stop()
    await task
    if isinstance(backend.inner, NetlinkBackend):
        backend.inner.close()
    label = f"{virtuals} x {reals}" + ("" if kernel else " (in-memory IPVS, host)")
    return [
        (f"ldirectorpy start-up, {label}", total, startup, startup_writes),
        (f"ldirectorpy unchanged reload, {label}", total, reload_time, reload_writes),
    ]


def ldirectord_case(reals: int, tmp: Path) -> tuple[str, int, float, int]:
    _netns.unshare()
    path = tmp / "ldirectord-peer.cf"
    lines = [f'logfile="{tmp}/ldirectord.log"', "quiescent = yes", "checkinterval = 5"]
    lines.append(f"virtual = {address(1, 0)}:80")
    lines += [f"\treal = {address(70000, r)}:80 gate" for r in range(reals)]
    lines += ["\tchecktype = on", "\tscheduler = wlc"]
    path.write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    subprocess.run(["/usr/sbin/ldirectord", str(path), "start"], check=True)
    while True:
        listing = subprocess.run(
            ["/usr/sbin/ipvsadm", "-Ln"], capture_output=True, text=True, check=True
        ).stdout
        up = sum(1 for line in listing.splitlines() if re.match(r"\s+->.*Route\s+[1-9]", line))
        if up == reals:
            break
        time.sleep(0.2)
    took = time.perf_counter() - started
    subprocess.run(["/usr/sbin/ldirectord", str(path), "stop"], check=False)
    return (f"ldirectord start-up (peer), 1 x {reals}", reals, took, -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", default="1000x10,100x400", help="VIRTUALSxREALS,... (default %(default)s)"
    )
    parser.add_argument("--peer-reals", type=int, default=200, help="ldirectord's reals (0: skip)")
    args = parser.parse_args()
    kernel = os.environ.get("LDIRECTORPY_IN_GUEST") == "1"
    if not kernel:
        print("not in the guest: measuring the daemon on the in-memory IPVS at native speed")
    rows: list[tuple[str, int, float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            virtuals, reals = (int(n) for n in case.split("x"))
            rows += asyncio.run(ldirectorpy_case(virtuals, reals, Path(tmp), kernel))
            print(rows[-2], rows[-1], flush=True)
        if args.peer_reals and kernel:
            rows.append(ldirectord_case(args.peer_reals, Path(tmp)))
    print(f"{'case':<44} {'reals':>6} {'seconds':>9} {'writes':>7}")
    for name, reals, seconds, writes in rows:
        shown = "n/a" if writes < 0 else str(writes)
        print(f"{name:<44} {reals:>6} {seconds:>9.2f} {shown:>7}")
    print("keepalived's published figure: a reload of 2,277 virtuals / 37,205 reals in 0.24 s")


if __name__ == "__main__":
    main()
