"""Run a program in a throw-away mount and network namespace, so it cannot disturb this host.

Used to run the real ldirectord as an oracle (and ldirectorpy next to it, in the same
surroundings). What `ldirectord CONFIG status` touches, and how each is fenced off:

- It parses the whole config first, which resolves host names: the fresh network
  namespace has only a downed loopback, so a name outside /etc/hosts fails at once and no
  DNS query leaves the host.
- It test-opens `logfile` (default /var/log/ldirectord.log) and every `monitorfile`, and logs
  "Invoking ldirectord ..." there: /var/log is a private bind of a per-run temporary
  directory, which the caller can inspect.
- It reads /var/run/ldirectord.NAME.pid, and deletes it on a config error: /run (= /var/run)
  is an empty tmpfs, so no real pid file is seen or removed.
- It never needs ipvsadm for `status`, but to prove that, /usr/sbin/ipvsadm (= /sbin/ipvsadm)
  is replaced by a tripwire that records any call in the run directory and fails.

Requires root (unshare and mount). Everything disappears when the process exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TRIPWIRE_LOG = "ipvsadm-was-called"

# $1 = directory bound on /var/log, $2 = tripwire bound on ipvsadm, the rest = the command.
_SETUP = """
fail() { echo "SANDBOX-SETUP-FAILED: $*" >&2; exit 125; }
mount --bind "$1" /var/log || fail "bind /var/log"
mount -t tmpfs ldirectorpy-sandbox /run || fail "tmpfs /run"
mount --bind "$2" /usr/sbin/ipvsadm || fail "bind ipvsadm"
shift 2
exec "$@"
"""

_TRIPWIRE = f"""#!/bin/sh
echo "ipvsadm $*" >> /var/log/{TRIPWIRE_LOG}
exit 1
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    ipvsadm_calls: str  # what the tripwire recorded; "" when ipvsadm was never run
    var_log: tuple[str, ...]  # names of the files the program left in /var/log

    def describe(self) -> str:
        return (
            f"$ {' '.join(self.argv)}\n-> exit {self.returncode}\n"
            f"stdout:\n{self.stdout}stderr:\n{self.stderr}"
        )


class SandboxError(RuntimeError):
    """The sandbox itself could not be set up (not a result of the program inside)."""


def problems() -> list[str]:
    """Why the sandbox cannot run here (empty when it can)."""
    found = []
    if os.geteuid() != 0:
        found.append("must run as root (unshare --mount --net, mount)")
    for tool in ("unshare", "mount"):
        if shutil.which(tool) is None:
            found.append(f"{tool} not found (util-linux)")
    if not Path("/usr/sbin/ipvsadm").exists():
        found.append("/usr/sbin/ipvsadm is missing (the ldirectord package depends on it)")
    return found


def run(
    argv: Sequence[str],
    *,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    stdin_bytes: bytes | None = None,
) -> Outcome:
    """Run argv inside a fresh sandbox and return what it did."""
    with tempfile.TemporaryDirectory(prefix="ldirectorpy-sandbox-") as scratch:
        run_dir = Path(scratch, "var-log")
        run_dir.mkdir()
        run_dir.chmod(0o755)
        tripwire = Path(scratch, "ipvsadm")
        tripwire.write_text(_TRIPWIRE)
        tripwire.chmod(0o755)
        full = [
            "unshare",
            "--mount",
            "--net",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            _SETUP,
            "sandbox",
            str(run_dir),
            str(tripwire),
            *argv,
        ]
        proc = subprocess.Popen(
            full,
            stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # so a timeout can kill everything it started
        )
        try:
            out, err = proc.communicate(stdin_bytes, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise SandboxError(
                f"timed out after {timeout}s: {' '.join(argv)}\n"
                f"stdout: {out.decode(errors='replace')}\nstderr: {err.decode(errors='replace')}"
            ) from None
        stderr = err.decode(errors="replace")
        if "SANDBOX-SETUP-FAILED" in stderr or stderr.startswith("unshare:"):
            raise SandboxError(f"could not set up the sandbox: {stderr}")
        calls_file = run_dir / TRIPWIRE_LOG
        calls = calls_file.read_text() if calls_file.exists() else ""
        left = tuple(sorted(p.name for p in run_dir.iterdir() if p.name != TRIPWIRE_LOG))
        return Outcome(
            argv=tuple(argv),
            returncode=proc.returncode,
            stdout=out.decode(errors="replace"),
            stderr=stderr,
            ipvsadm_calls=calls,
            var_log=left,
        )
