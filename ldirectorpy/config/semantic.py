"""Checks across lines, on the built model: what parses but cannot be what was meant."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from ldirectorpy.config.diagnostics import Loc, Sink
from ldirectorpy.config.model import Config, Protocol, Virtual

_NEGOTIATING = ("negotiate", "combined")


def check_config(config: Config, sink: Sink) -> None:
    seen: dict[object, Virtual] = {}
    for v in config.virtuals:
        first = seen.setdefault(v.key, v)
        if first is not v:
            sink.add(
                "E301",
                v.loc,
                f"duplicate virtual service {v}",
                f"first defined at line {first.loc.line}",
            )
        check_virtual(v, sink)
    if config.callback and not (
        os.path.isfile(config.callback) and os.access(config.callback, os.X_OK)
    ):
        sink.add(
            "W306",
            config.where("callback"),
            f"callback '{config.callback}' is not an executable file; it will never run",
            "ldirectord and ldirectorpy run it only when it is executable",
        )
    if config.maintenancedir is not None and not os.path.isdir(config.maintenancedir):
        sink.add(
            "W203",
            config.where("maintenancedir"),
            f"maintenance directory '{config.maintenancedir}' does not exist",
        )


def check_virtual(v: Virtual, sink: Sink) -> None:
    if not v.reals:
        sink.add("W303", v.loc, f"virtual service {v} has no real servers")
    seen: dict[tuple[str, int], int] = {}
    for r in v.reals:
        # a range yields several reals from one line, never the same one twice
        line = seen.setdefault(r.key, r.loc.line)
        if line != r.loc.line:
            sink.add("E302", r.loc, f"real server {r} is listed twice", f"see line {line}")
        if r.lower > r.upper:
            # The kernel compares the two even when u: is 0 ("no limit") and
            # refuses the real with ERANGE, so l: alone never works.
            sink.add(
                "E303",
                r.loc,
                f"lower threshold l:{r.lower} is above upper threshold u:{r.upper}"
                if r.upper
                else f"lower threshold l:{r.lower} without an upper one: the kernel refuses it",
                "write u:N too, with N >= the lower threshold",
            )
    if v.checktype in _NEGOTIATING and v.service == "none" and not v.service_explicit:
        why = "a fwmark has no port" if v.fwmark is not None else f"port {v.port} has none"
        sink.add(
            "W301",
            v.loc,
            f"{v} has negotiate checks but no service ({why}): its servers are never checked",
            "set service = (e.g. http, rdp), or checktype = connect; service = none says "
            "you mean it",
        )
    timeout = v.negotiatetimeout if v.checktype in _NEGOTIATING else v.checktimeout
    which = "negotiatetimeout" if v.checktype in _NEGOTIATING else "checktimeout"
    # ldirectord's own defaults (30s > 10s) only count once someone set one of them
    explicit = v.where(which) or v.where("checkinterval")
    if v.checktype not in ("on", "off") and timeout > v.checkinterval and explicit:
        sink.add(
            "W302",
            v.where(which) or v.where("checkinterval") or v.loc,
            f"{which} {timeout:g}s is longer than checkinterval {v.checkinterval:g}s",
            "a hung server then delays the next check; make the timeout shorter",
        )
    if v.checktype in ("external", "external-perl"):
        _check_command(v, sink)
    if v.netmask is not None and v.persistent is None:
        sink.add("W304", v.where("netmask"), "netmask has no effect without persistent")
    if v.ops and v.protocol is not Protocol.UDP:
        sink.add("W304", v.where("ops"), "ops (one-packet scheduling) only applies to UDP")


def _check_command(v: Virtual, sink: Sink) -> None:
    loc = v.where("checkcommand") or v.loc
    cmd = v.checkcommand
    if not os.path.isabs(cmd):
        # exec'd like execvp: a bare name is looked up on PATH
        if shutil.which(cmd) is None:
            sink.add(
                "E304",
                loc,
                f"checkcommand '{cmd}' is not found on PATH",
                "use an absolute path; the command is run without a shell, so no arguments",
            )
    elif not os.path.isfile(cmd):
        sink.add("E304", loc, f"checkcommand '{cmd}' does not exist")
    elif v.checktype == "external" and not os.access(cmd, os.X_OK):
        sink.add("E304", loc, f"checkcommand '{cmd}' is not executable", f"chmod +x {cmd}")


def check_permissions(path: str, st: os.stat_result, sink: Sink) -> None:
    """Root runs commands this file names: nobody else may be able to write it."""
    loc = Loc(path, 0, 0)
    if st.st_mode & stat.S_IWOTH:
        sink.add(
            "E305",
            loc,
            "the configuration file is world-writable; anyone can make root run commands",
            f"chmod o-w {path}",
        )
    parent = Path(path).resolve().parent
    try:
        pst = parent.stat()
    except OSError:
        return
    if pst.st_mode & stat.S_IWOTH and not pst.st_mode & stat.S_ISVTX:
        sink.add(
            "E305",
            loc,
            f"its directory {parent} is world-writable; anyone can replace the file",
            f"chmod o-w {parent}",
        )
