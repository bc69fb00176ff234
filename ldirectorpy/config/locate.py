"""ldirectord's configuration lookup: /etc/ha.d/NAME, /etc/ha.d/conf/NAME, then NAME."""

from __future__ import annotations

import os
from pathlib import Path

SEARCH_DIRS = (Path("/etc/ha.d"), Path("/etc/ha.d/conf"))
DEFAULT_NAME = "ldirectord.cf"


def candidates(name: str | os.PathLike[str], dirs: tuple[Path, ...] = SEARCH_DIRS) -> list[Path]:
    """Where `name` is looked for, in order (an absolute name only as itself)."""
    path = Path(name)
    if path.is_absolute():
        return [path]
    return [d / path for d in dirs] + [path]


def find_config(
    name: str | os.PathLike[str] = DEFAULT_NAME, dirs: tuple[Path, ...] = SEARCH_DIRS
) -> Path | None:
    """The first candidate that exists as a file (ldirectord tests `-f`), else None."""
    for path in candidates(name, dirs):
        try:
            if path.is_file():
                return path
        except OSError:  # a symlink loop, a name too long...
            continue
    return None
