"""ldirectorpy probe: probe real servers once, touching no IPVS (filled in by the checks work)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    sys.stderr.write("ldirectorpy probe: not built yet\n")
    return 1
