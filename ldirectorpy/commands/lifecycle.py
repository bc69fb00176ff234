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

from collections.abc import Sequence
from dataclasses import dataclass

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
