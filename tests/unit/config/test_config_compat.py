"""The deliberate differences from ldirectord: each example does what the list says."""

from __future__ import annotations

import pytest
from cfgtest import codes, write

from ldirectorpy.config import load
from ldirectorpy.config.compat import DIFFERENCES
from ldirectorpy.config.diagnostics import CODES


@pytest.mark.parametrize("diff", DIFFERENCES, ids=lambda d: d.id)
def test_difference_example_gets_the_documented_verdict(diff):
    path = write(diff.example)
    path.chmod(diff.mode)
    result = load(path)
    verdict = "error" if result.errors else "warning" if result.warnings else "ok"
    assert verdict == diff.verdict, result.diagnostics
    if diff.diagnostic:
        assert diff.diagnostic in codes(result)


def test_differences_are_unique_and_name_real_codes():
    ids = [d.id for d in DIFFERENCES]
    assert len(ids) == len(set(ids))
    for d in DIFFERENCES:
        assert d.diagnostic is None or d.diagnostic in CODES
        assert d.verdict in ("ok", "warning", "error")
        # we never reject what ldirectord accepts unless it is an ldirectord bug we name
        assert d.ldirectord and d.ours


def test_the_terminal_server_fix_is_listed():
    (d13,) = [d for d in DIFFERENCES if d.id == "D13"]
    result = load(write(d13.example))
    assert result.config is not None and result.config.virtuals[0].service == "rdp"
