"""Benchmark: lint a large generated config with `ldirectorpy --check`, and with ldirectord.

Generates a config of V virtual services x R real servers (default 1,000 x 40 = 40,000 reals,
documentation addresses from 198.18.0.0/15), then measures, in the same run:

- `ldirectorpy --check CONFIG`          (this project's linter)
- `ldirectord CONFIG status`            (the peer: it parses the whole file, exit 3 = parsed ok)

Each measurement runs in a fresh helper process that starts the program and reports its wall
time, its CPU time (user + system) and the peak resident memory of the program and its
descendants (getrusage(RUSAGE_CHILDREN), so the helper itself is not counted).
ldirectord runs inside the test suite's sandbox (tests/differential/oracle_sandbox.py: no
network, private /var/log and /run), which needs root.

usage: python benchmarks/check_large.py [--virtuals 1000[,N...]] [--reals 40] [--repeat 3]
                                        [--peer-repeat 1] [--peer-timeout 3600] [--no-peer]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LDIRECTORD = "/usr/sbin/ldirectord"
TIMED_OUT = -1


@dataclass(frozen=True, slots=True)
class Sample:
    seconds: float
    cpu_seconds: float  # user + system: less disturbed than wall time on a busy machine
    maxrss_kib: int
    returncode: int


def generate(path: Path, virtuals: int, reals: int) -> int:
    """Write the config; return its line count. Every address is unique, from 198.18.0.0/15."""
    pool = ipaddress.ip_network("198.18.0.0/15")
    if virtuals * (reals + 1) > pool.num_addresses - 2:
        raise SystemExit(f"{virtuals} x {reals} needs more addresses than 198.18.0.0/15 has")
    hosts = pool.hosts()
    lines = ["checktimeout = 3", "checkinterval = 10", "quiescent = yes"]
    for _ in range(virtuals):
        lines.append(f"virtual={next(hosts)}:3389")
        lines.extend(f"\treal={next(hosts)}:3389 gate" for _ in range(reals))
        lines.append("\tscheduler = wlc")
        lines.append("\tchecktype = connect")
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def _measure(argv: list[str], sandboxed: bool, timeout: float) -> Sample:
    """Run in a helper process, so RUSAGE_CHILDREN covers only the measured program."""
    helper = [sys.executable, __file__, "--measure", "--timeout", str(timeout)]
    if sandboxed:
        helper.append("--sandbox")
    out = subprocess.run(
        [*helper, "--", *argv], capture_output=True, text=True, check=False, timeout=timeout + 60
    )
    if out.returncode != 0:
        raise SystemExit(f"measuring {argv[0]} failed:\n{out.stderr}")
    doc = json.loads(out.stdout)
    return Sample(doc["seconds"], doc["cpu_seconds"], doc["maxrss_kib"], doc["returncode"])


def _helper(argv: list[str], sandboxed: bool, timeout: float) -> None:
    """The --measure side: run argv once and print {seconds, maxrss_kib, returncode}."""
    sys.path.insert(0, str(REPO / "tests" / "differential"))
    import oracle_sandbox  # type: ignore[import-not-found]  # (tests/differential, on sys.path above)

    started = time.perf_counter()
    try:
        if sandboxed:
            code = oracle_sandbox.run(argv, timeout=timeout).returncode
        else:
            quiet = subprocess.DEVNULL
            done = subprocess.run(argv, stdout=quiet, stderr=quiet, timeout=timeout, check=False)
            code = done.returncode
    except (subprocess.TimeoutExpired, oracle_sandbox.SandboxError):
        code = TIMED_OUT
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    doc = {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "maxrss_kib": usage.ru_maxrss,  # KiB on Linux
        "returncode": code,
    }
    print(json.dumps(doc))


def _row(name: str, samples: list[Sample], expected_exit: int) -> str:
    wall = statistics.median(s.seconds for s in samples)
    cpu = statistics.median(s.cpu_seconds for s in samples)
    rss = max(s.maxrss_kib for s in samples) / 1024
    codes = sorted({s.returncode for s in samples})
    if TIMED_OUT in codes:
        note = "  (timed out: the time is a lower bound)"
    elif codes != [expected_exit]:
        note = f"  (unexpected exit {codes})"
    else:
        note = ""
    exits = ",".join(map(str, codes))
    return f"{name:<28} {exits:>5} {wall:>9.2f} {cpu:>9.2f} {len(samples):>4} {rss:>9.1f}{note}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--virtuals", default="1000", help="comma list of sizes (default 1000)")
    ap.add_argument("--reals", type=int, default=40, help="reals per virtual (default 40)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of ldirectorpy (median)")
    ap.add_argument("--peer-repeat", type=int, default=1, help="runs of ldirectord (slow)")
    ap.add_argument("--peer-timeout", type=float, default=3600.0, help="seconds per run")
    ap.add_argument("--no-peer", action="store_true", help="skip ldirectord")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sandbox", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=float, default=3600.0, help=argparse.SUPPRESS)
    ap.add_argument("argv", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        _helper(args.argv, args.sandbox, args.timeout)
        return

    peer = not args.no_peer
    if peer and (os.geteuid() != 0 or not Path(LDIRECTORD).exists()):
        raise SystemExit(f"the peer needs root and {LDIRECTORD} (or pass --no-peer)")
    env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    print(f"ldirectorpy --check vs ldirectord status ({env_note})")
    with tempfile.TemporaryDirectory(prefix="ldirectorpy-bench-") as scratch:
        for virtuals in (int(v) for v in args.virtuals.split(",")):
            config = Path(scratch, f"large-{virtuals}x{args.reals}.cf")
            lines = generate(config, virtuals, args.reals)
            size = config.stat().st_size / 1024**2
            print(
                f"\nconfig: {virtuals:,} virtuals x {args.reals} reals = "
                f"{virtuals * args.reals:,} reals; {lines:,} lines, {size:.1f} MiB"
            )
            print(
                f"{'program':<28} {'exit':>5} {'wall s':>9} {'cpu s':>9} {'runs':>4} "
                f"{'peak MiB':>9}"
            )
            ours = [
                _measure(
                    [sys.executable, "-m", "ldirectorpy", "--check", str(config)], False, 600.0
                )
                for _ in range(args.repeat)
            ]
            print(_row("ldirectorpy --check", ours, 0), flush=True)
            if peer:
                theirs = [
                    _measure([LDIRECTORD, str(config), "status"], True, args.peer_timeout)
                    for _ in range(args.peer_repeat)
                ]
                print(_row("ldirectord CONFIG status", theirs, 3), flush=True)


if __name__ == "__main__":
    main()
