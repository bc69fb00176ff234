"""Log destinations with ldirectord's line formats, so existing watchers still work.

- a file:        `[Wed Nov 25 16:07:24 2026|ldirectord.cf|1234] message`; the file is
                 reopened when logrotate has moved it, so no signal is needed
- syslog:        `message`, with the facility named by `logfile=` (no leading /)
- supervised:    `[Wed Nov 25 16:07:24 2026] message` on stdout (daemontools, systemd)
- -d / --debug:  `message` on stderr, debug lines included
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from pathlib import Path

LOGGER_NAME = "ldirectorpy"
SYSLOG_IDENT = "ldirectorpy: "


def _ldirectord_time(record: logging.LogRecord) -> str:
    # Perl's scalar localtime(): day of month padded with a space.
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(record.created))


class FileFormatter(logging.Formatter):
    def __init__(self, instance: str) -> None:
        super().__init__()
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        stamp = _ldirectord_time(record)
        return f"[{stamp}|{self.instance}|{record.process}] {record.getMessage()}"


class SupervisedFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"[{_ldirectord_time(record)}] {record.getMessage()}"


def configure(
    logfile: str, instance: str, *, debug: bool = False, supervised: bool = False
) -> logging.Logger:
    """Point the `ldirectorpy` logger at one destination, replacing any other."""
    logger = logging.getLogger(LOGGER_NAME)
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    handler: logging.Handler
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
    elif supervised:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(SupervisedFormatter())
    elif logfile.startswith("/"):
        Path(logfile).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.WatchedFileHandler(logfile, encoding="utf-8")
        handler.setFormatter(FileFormatter(instance))
    else:
        facility = logging.handlers.SysLogHandler.facility_names.get(logfile.lower())
        if facility is None:
            raise ValueError(f"unknown syslog facility {logfile!r}")
        handler = logging.handlers.SysLogHandler("/dev/log", facility=facility)
        handler.ident = SYSLOG_IDENT
        handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    logger.propagate = False
    return logger
