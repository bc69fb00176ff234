"""ldirectorpy probe: probe real servers once, touching no IPVS (an operator's dry run).

usage:
  ldirectorpy probe rdp|connect|ping|udp HOST[:PORT] [options]
  ldirectorpy probe CONFIG [--json]

One target: prints the verdict, the reason and the latency.
  --timeout S           total deadline in seconds (default 5)
  --json                one JSON object instead of text
  rdp:  --protocols LIST (ssl,hybrid)  --cookie TEXT (ldirectorpy; '' for none)
        --no-tls  --fingerprint SHA256HEX  --negfailure up|down (up)
        --expirywarn DAYS (14; 0 = off)  --tls-min 1.0|1.1|1.2|1.3
  ping: --count N (1)          udp: --request TEXT  --receive REGEX
HOST may be a name (the first address is used); PORT defaults to 3389 for rdp.

CONFIG: probes every real server of the configuration once, concurrently
(at most maxprobes at a time), and prints a table: virtual, real, check,
verdict, latency, reason.

Exit status: 0 every probe up, 1 any down (or not checkable), 2 usage or
configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import re
import socket
import ssl
import sys
from collections.abc import Sequence

from ldirectorpy.checks import ping, rdp, tcp, udp
from ldirectorpy.checks.rdp import RdpOptions, parse_fingerprint
from ldirectorpy.checks.rdp_wire import parse_protocols
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.sweep import Row
from ldirectorpy.checks.target import Target, parse_hostport

EXIT_UP, EXIT_DOWN, EXIT_USAGE = 0, 1, 2
KINDS = ("rdp", "connect", "ping", "udp")
_TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> _Parser:
    p = _Parser(prog="ldirectorpy probe", add_help=False)
    p.add_argument("kind", choices=KINDS)
    p.add_argument("target")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--protocols", default="ssl,hybrid")
    p.add_argument("--cookie", default="ldirectorpy")
    p.add_argument("--no-tls", action="store_true")
    p.add_argument("--fingerprint")
    p.add_argument("--negfailure", choices=("up", "down"), default="up")
    p.add_argument("--expirywarn", type=int, default=14)
    p.add_argument("--tls-min", choices=sorted(_TLS_VERSIONS))
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--request", default="")
    p.add_argument("--receive")
    return p


def _resolve(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UsageError(f"cannot resolve {host!r}: {exc}") from None
    return str(infos[0][4][0])


def _rdp_options(args: argparse.Namespace) -> RdpOptions:
    try:
        return RdpOptions(
            protocols=parse_protocols(args.protocols),
            cookie=args.cookie,
            negfailure_up=args.negfailure == "up",
            tls=not args.no_tls,
            fingerprint=parse_fingerprint(args.fingerprint) if args.fingerprint else None,
            expiry_warn_days=args.expirywarn,
            tls_min_version=_TLS_VERSIONS[args.tls_min] if args.tls_min else None,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


async def _one(args: argparse.Namespace, target: Target) -> ProbeResult:
    if args.kind == "rdp":
        return await rdp.probe(target, args.timeout, _rdp_options(args))
    if args.kind == "connect":
        return await tcp.probe(target, args.timeout)
    if args.kind == "ping":
        return await ping.probe(target, args.timeout, args.count)
    try:
        pattern = re.compile(args.receive.encode()) if args.receive else None
    except re.error as exc:
        raise UsageError(f"--receive is not a valid regex: {exc}") from None
    return await udp.probe(target, args.timeout, payload=args.request.encode(), receive=pattern)


def _single(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    if not args.timeout > 0:
        raise UsageError("--timeout must be > 0")
    if args.count < 1:
        raise UsageError("--count must be >= 1")
    default_port = {"rdp": 3389, "ping": 0}.get(args.kind)
    try:
        host, port = parse_hostport(args.target, default_port)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    target = Target(_resolve(host), port)
    if args.kind == "rdp":
        _rdp_options(args)  # usage errors before any traffic
    result = asyncio.run(_one(args, target))
    verdict = "up" if result.ok else "down"
    if args.json:
        print(json.dumps({
            "check": args.kind, "target": str(target), "verdict": verdict, "ok": result.ok,
            "reason": result.reason, "elapsed": round(result.elapsed, 6),
        }))  # fmt: skip
    else:
        print(f"{verdict:<5} {args.kind} {target}  {result.elapsed * 1000:.1f} ms  {result.reason}")
    return EXIT_UP if result.ok else EXIT_DOWN


def _table(rows: Sequence[Row]) -> str:
    header = ("VIRTUAL", "REAL", "CHECK", "VERDICT", "LATENCY", "REASON")
    cells = [header] + [
        (
            r.virtual, r.real, r.check, r.verdict,
            "-" if r.elapsed is None else f"{r.elapsed * 1000:.1f} ms", r.reason,
        )
        for r in rows
    ]  # fmt: skip
    widths = [max(len(c[i]) for c in cells) for i in range(len(header) - 1)]
    return "".join(
        "  ".join(c[i].ljust(widths[i]) for i in range(len(widths))) + "  " + c[-1] + "\n"
        for c in cells
    )


def _config(argv: Sequence[str]) -> int:
    from ldirectorpy.checks.sweep import sweep
    from ldirectorpy.config import find_config, load

    names = [a for a in argv if a != "--json"]
    unknown = [a for a in names if a.startswith("-")]
    if unknown or len(names) != 1:
        raise UsageError(f"unknown option {unknown[0]!r}" if unknown else "one CONFIG expected")
    loaded = load(find_config(names[0]) or names[0])
    if loaded.config is None:
        for diag in loaded.errors or loaded.diagnostics:
            sys.stderr.write(f"{diag}\n")
        sys.stderr.write(f"ldirectorpy probe: {loaded.path}: configuration not usable\n")
        return EXIT_USAGE
    rows = asyncio.run(sweep(loaded.config))
    if "--json" in argv:
        print(json.dumps([
            {"virtual": r.virtual, "real": r.real, "check": r.check, "verdict": r.verdict,
             "elapsed": None if r.elapsed is None else round(r.elapsed, 6), "reason": r.reason}
            for r in rows
        ], indent=1))  # fmt: skip
    else:
        sys.stdout.write(_table(rows))
    return EXIT_UP if all(r.verdict in ("up", "off") for r in rows) else EXIT_DOWN


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(__doc__ or "")
        return EXIT_UP if args else EXIT_USAGE
    try:
        if args[0] in KINDS:
            return _single(args)
        return _config(args)
    except UsageError as exc:
        sys.stderr.write(f"ldirectorpy probe: {exc}\n(see: ldirectorpy probe --help)\n")
        return EXIT_USAGE
