"""The man page is the rendering of the table; the examples in conf/ pass --check."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldirectorpy.commands import check
from ldirectorpy.config import Forward, load
from ldirectorpy.config.compat import DIFFERENCES
from ldirectorpy.config.diagnostics import CODES
from ldirectorpy.config.directives import DIRECTIVES
from ldirectorpy.config.manpage import render

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "conf").glob("*.cf"))


def test_committed_man_page_is_the_rendering():
    committed = (ROOT / "man" / "ldirectord.cf.5").read_text()
    assert committed == render(), "run: python -m ldirectorpy.config.manpage > man/ldirectord.cf.5"


def test_man_page_documents_every_directive_code_and_difference():
    page = render()
    for d in DIRECTIVES:
        assert f".B {d.name}\n" in page
    for code in CODES:
        assert f".B {code}\n" in page
    for diff in DIFFERENCES:
        assert f".B {diff.id}" in page
    assert ".SH COMPATIBILITY" in page


def test_there_are_examples():
    names = {p.name for p in EXAMPLES}
    assert "terminal-servers.cf" in names
    assert len(names) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_passes_check_without_warnings(path, capsys):
    assert check.main([str(path)]) == 0
    assert capsys.readouterr().out == ""


def test_examples_cover_most_of_the_directive_set():
    text = "\n".join(p.read_text() for p in EXAMPLES)
    used = {d.name for d in DIRECTIVES if f"{d.name} =" in text or f"{d.name}=" in text}
    unused = {d.name for d in DIRECTIVES} - used
    # retired, deprecated or ignored ones, and those needing another file or a secret
    assert unused <= {"timeout", "connecttimeout", "checkcount", "load", "execute", "secret",
                      "rdptlsfingerprint", "monitorfile", "ops", "callback"}, unused  # fmt: skip


def test_terminal_server_farm():
    result = load(ROOT / "conf" / "terminal-servers.cf")
    assert result.config is not None and result.diagnostics == ()
    (v,) = result.config.virtuals
    assert (v.address, v.port, v.scheduler, v.quiescent) == ("192.0.2.100", 3389, "wlc", True)
    assert (v.checktype, v.service, v.service_explicit) == ("negotiate", "rdp", True)
    assert len(v.reals) == 6
    assert all(r.port == 3389 and r.forward is Forward.GATE for r in v.reals)
    assert all(r.address.startswith("192.0.2.") for r in v.reals)
    assert v.negotiatetimeout < v.checkinterval
