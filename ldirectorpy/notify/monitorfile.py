"""monitorfile: one line per check result, in ldirectord's format.

`[localtime] [pid] <check id with ':' as spaces> up|down <message>`, where %, |,
CR and LF in the message are %-escaped so every result stays on one line.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def escape(message: str) -> str:
    return message.replace("%", "%25").replace("|", "%7C").replace("\r", "%0D").replace("\n", "%0A")


def format_line(check_id: str, up: bool, message: str, when: float | None = None) -> str:
    stamp = time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(when))
    ident = check_id.replace(":", " ").replace("\\", "")
    return f"[{stamp}] [{os.getpid()}] {ident} {'up' if up else 'down'} {escape(message)}\n"


def append(path: Path, line: str) -> None:
    """Append one line; opened per write so rotation needs no signal."""
    with path.open("a", encoding="utf-8") as out:
        out.write(line)
