"""ldirectorpy --check: lint ldirectord.cf files (filled in by the config work)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    sys.stderr.write("ldirectorpy --check: not built yet\n")
    return 1
