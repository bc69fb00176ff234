"""ldirectorpy [-d|--debug] [--foreground] [--] [CONFIG] COMMAND [--json]

The ldirectord-compatible daemon commands, as heartbeat, pacemaker's OCF agent,
systemd and an operator at a shell call them:

  start         start the daemon; exit 0 once it holds its pid file and has opened
                the kernel's IPVS (or when it already runs); 2 on a config error
  stop          stop it and wait (up to --timeout seconds, default 30) until its
                cleanup is done and it has exited
  restart       stop (if running), then start
  try-restart   restart only if running
  reload        re-read the configuration (SIGHUP); 7 when not running
  force-reload  the same as reload
  status        0 running, 1 dead with a pid file left behind, 3 stopped

CONFIG defaults to ldirectord.cf, looked up as /etc/ha.d/CONFIG,
/etc/ha.d/conf/CONFIG, then CONFIG as given.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ldirectorpy.daemon import control
from ldirectorpy.daemon.pidfile import State, pid_path, probe

COMMANDS = ("start", "stop", "restart", "try-restart", "reload", "force-reload", "status")
DEFAULT_CONFIG = "ldirectord.cf"
DEFAULT_STOP_TIMEOUT = 30.0

# LSB init-script exit codes (the ones ldirectord's callers look at).
EXIT_OK = 0
EXIT_GENERIC = 1
EXIT_CONFIG = 2  # ldirectord's config-error code
EXIT_STATUS_DEAD = 1
EXIT_STATUS_STOPPED = 3
EXIT_NOT_RUNNING = 7
EXIT_USAGE = 255


class UsageError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Invocation:
    command: str
    config: str = DEFAULT_CONFIG
    debug: bool = False
    foreground: bool = False
    json: bool = False
    stop_timeout: float = DEFAULT_STOP_TIMEOUT


def parse_args(argv: Sequence[str]) -> Invocation:
    """ldirectord's grammar: options, an optional `--`, [CONFIG], the command last.

    `--json` and `--timeout S` may also follow the command.
    """
    debug = foreground = json = False
    stop_timeout = DEFAULT_STOP_TIMEOUT
    positional: list[str] = []
    args = list(argv)
    options_done = False
    while args:
        arg = args.pop(0)
        if not options_done and arg == "--":
            options_done = True
        elif not options_done and arg in ("-d", "--debug"):
            debug = True
        elif not options_done and arg == "--foreground":
            foreground = True
        elif arg == "--json":
            json = True
        elif arg == "--timeout" or arg.startswith("--timeout="):
            value = arg.partition("=")[2] if "=" in arg else (args.pop(0) if args else "")
            try:
                stop_timeout = float(value)
            except ValueError:
                raise UsageError(f"--timeout needs a number of seconds, not {value!r}") from None
            if stop_timeout <= 0:
                raise UsageError("--timeout needs a positive number of seconds")
        elif not options_done and arg.startswith("-") and arg != "-":
            raise UsageError(f"unknown option {arg}")
        else:
            positional.append(arg)
    if not positional:
        raise UsageError("no command given")
    if len(positional) > 2:
        raise UsageError(f"too many arguments: {' '.join(positional)}")
    command = positional[-1]
    if command not in COMMANDS:
        raise UsageError(f"unknown command {command!r}; expected one of {', '.join(COMMANDS)}")
    config = positional[0] if len(positional) == 2 else DEFAULT_CONFIG
    return Invocation(command, config, debug, foreground, json, stop_timeout)


# --- the commands -----------------------------------------------------------


def main(argv: Sequence[str]) -> int:
    try:
        inv = parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(f"ldirectorpy: {exc}\n{__doc__}")
        return EXIT_USAGE
    config_path = locate(inv.config)
    if inv.command == "status":
        return status(inv, config_path)
    if inv.command == "stop":
        return stop(config_path, inv.stop_timeout)
    if inv.command in ("reload", "force-reload"):
        return reload(config_path)
    if inv.command == "try-restart" and probe(pid_path(config_path)).state is not State.RUNNING:
        return EXIT_OK
    if inv.command in ("restart", "try-restart"):
        code = stop(config_path, inv.stop_timeout)
        if code != EXIT_OK:
            return code
    return start(inv, config_path)


def locate(name: str) -> Path:
    """The config file as ldirectord finds it; the name as given when absent."""
    from ldirectorpy.config import find_config

    found = find_config(name)
    return Path(os.path.abspath(found if found is not None else name))


def start(inv: Invocation, config_path: Path) -> int:
    from ldirectorpy.daemon import runner

    return runner.start(config_path, debug=inv.debug, foreground=inv.foreground)


def stop(config_path: Path, timeout: float) -> int:
    """SIGTERM the daemon and wait until it has cleaned up and let go of its pid file."""
    path = pid_path(config_path)
    current = probe(path)
    if current.state is State.STALE:
        # Nobody holds it, so nobody else will remove it.
        with contextlib.suppress(OSError):
            path.unlink()
        return EXIT_OK
    if current.state is State.STOPPED or current.pid is None:
        return EXIT_OK
    with contextlib.suppress(ProcessLookupError):
        os.kill(current.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while probe(path).state is State.RUNNING:
        if time.monotonic() >= deadline:
            sys.stderr.write(
                f"ldirectorpy for {config_path} (pid {current.pid}) "
                f"did not stop within {timeout:g}s\n"
            )
            return EXIT_GENERIC
        time.sleep(0.05)
    return EXIT_OK


def reload(config_path: Path) -> int:
    current = probe(pid_path(config_path))
    if current.state is not State.RUNNING or current.pid is None:
        # LSB says 7 here; ldirectord answers 1.
        sys.stderr.write(f"ldirectorpy for {config_path} is not running\n")
        return EXIT_NOT_RUNNING
    os.kill(current.pid, signal.SIGHUP)
    return EXIT_OK


def status(inv: Invocation, config_path: Path) -> int:
    """Exit 0 running, 1 dead with a pid file, 3 stopped; the first stdout line
    says `running`, `not running` or `stopped`, as heartbeat reads it."""
    from ldirectorpy.commands import status_view

    path = pid_path(config_path)
    current = probe(path)
    if current.state is State.RUNNING:
        report = control.request(control.socket_path(config_path))
        if inv.json:
            doc = {"state": "running", "pid": current.pid, "config": str(config_path)}
            sys.stdout.write(json.dumps({**doc, "daemon": report}, indent=2) + "\n")
        else:
            sys.stdout.write(f"ldirectorpy for {config_path} is running with pid: {current.pid}\n")
            sys.stdout.write(status_view.render(report))
        return EXIT_OK
    if current.state is State.STALE:
        message = f"ldirectorpy for {config_path} is not running (stale pid file {path})"
        code = EXIT_STATUS_DEAD
        state = "dead"
    else:
        message = f"ldirectorpy for {config_path} is stopped"
        code = EXIT_STATUS_STOPPED
        state = "stopped"
    if inv.json:
        sys.stdout.write(json.dumps({"state": state, "config": str(config_path)}) + "\n")
    else:
        sys.stdout.write(message + "\n")
    return code
