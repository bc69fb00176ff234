"""Every diagnostic code, each shown triggered by a small file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cfgtest import RESOLVER, V, codes, lint, write

from ldirectorpy.config import Severity, load
from ldirectorpy.config.diagnostics import CODES, MAX_DIAGNOSTICS, UNREADABLE_CODES

R = "    real = 192.0.2.11:80 gate\n"

# code: the file text that triggers it (files needing more than text are below)
TRIGGERS: dict[str, str] = {
    "E101": V + "    schedular = wlc\n",
    "E102": "checkinterval 5\n" + V,
    "E103": V + "    fork = yes\n",
    "E104": "scheduler = wlc\n" + V,
    "E105": V + "    connecttimeout = 5\n",
    "E106": "checkinterval = 5\0\n" + V,
    "E107": V + "    virtual = 192.0.2.20:80\n" + R,
    "E108": "virtual =\n" + R,
    "E201": "checkinterval = abc\n" + V,
    "E202": V + "    checkport = 0\n",
    "E203": V + "    quiescent = maybe\n",
    "E204": "virtual = 192.0.2.10\n" + R,
    "E205": "virtual = nohost.example:80\n" + R,
    "E206": "virtual = 192.0.2.10:nosuchservice\n" + R,
    "E207": "virtual = 192.0.2.10:80\n    real = 192.0.2.11:80 nat\n",
    "E208": "virtual = 192.0.2.10:80\n    real = 192.0.2.20->192.0.2.10:80 gate\n",
    "E209": "fallback = 198.51.100.1:80 gate extra\n" + V,
    "E210": "virtual = [2001:db8::1]:80\n" + R,
    "E211": V + "    persistent = 60\n    netmask = 255.0.255.0\n",
    "E212": V + "    checktype = neg0\n",
    "E213": V + "    protocol = fwm\n",
    "E214": "emailalertstatus = sometimes\n" + V,
    "E215": V + "    rdptlsfingerprint = xyz\n",
    "E216": V + "    scheduler = xyz\n",
    "E217": V + "    schedflags = sh-fast\n",
    "E218": V + '    request = ""\n',
    "E301": V + V,
    "E302": V + R,
    "E303": "virtual = 192.0.2.10:80\n    real = 192.0.2.11:80 gate 1 l:10 u:5\n",
    "E304": V + "    checktype = external\n    checkcommand = /nonexistent/check\n",
    "W101": "autoreload = no\r\n" + V,
    "W102": V + "    quiescent = yes \n",
    "W103": "autoreload = no # reload by hand\n" + V,
    "W104": V + "\n    scheduler = wlc\n",
    "W105": V + "  scheduler = wlc\n",
    "W106": "  autoreload = no\n" + V,
    "W107": V + "    request = index.html\n",
    "W109": "supervised\n" + V,
    "W110": "autoreload = no\nautoreload = yes\n" + V,
    "W111": V + '    receive = "a#b"\n',
    "W112": "\ufeffautoreload = no\n" + V,
    "W113": "virtual=192.0.2.10:80\n    real=192.0.2.11:80 masq 1 u:100 l:10\n",
    "W201": "checkinterval = 5s\n" + V,
    "W202": "checkcount = 2\n" + V,
    "W203": "maintenancedir = /nonexistent/maintenance\n" + V,
    "W204": V + '    servicename = "Web"\n',
    "W301": "virtual = 7\n    real = 192.0.2.11 gate\n",
    "W302": "checkinterval = 2\nnegotiatetimeout = 5\n" + V,
    "W303": "virtual = 192.0.2.10:80\n",
    "W304": V + "    netmask = 255.255.255.0\n",
    "W306": 'callback = "/nonexistent/callback"\n' + V,
}


def _trigger_file(code: str, tmp_path: Path) -> Path:
    """Files that plain text cannot describe."""
    if code == "E001":
        return tmp_path / "missing.cf"
    if code == "E002":
        return tmp_path
    if code == "E003":
        path = tmp_path / "huge.cf"
        with path.open("wb") as f:
            f.truncate(65 * 1024 * 1024)  # sparse: costs no disk
        return path
    if code == "E305":
        path = write(V)
        path.chmod(0o666)
        return path
    if code == "W108":
        path = tmp_path / "latin1.cf"
        path.write_bytes("# caf\u00e9\n".encode("latin-1") + V.encode())
        return path
    if code == "W305":
        path = tmp_path / "many.cf"
        path.write_text("nonsense = 1\n" * (MAX_DIAGNOSTICS + 5) + V)
        return path
    path = tmp_path / "t.cf"
    path.write_bytes(TRIGGERS[code].encode())
    path.chmod(0o644)
    return path


def test_every_code_has_a_trigger():
    special = {"E001", "E002", "E003", "E305", "W108", "W305"}
    assert set(TRIGGERS) | special == set(CODES)


@pytest.mark.parametrize("code", sorted(CODES))
def test_code_is_triggered(code, tmp_path):
    path = _trigger_file(code, tmp_path)
    result = load(path, resolver=RESOLVER)
    assert code in codes(result), result.diagnostics
    d = next(x for x in result.diagnostics if x.code == code)
    assert d.severity is (Severity.ERROR if code.startswith("E") else Severity.WARNING)
    assert d.message
    if code.startswith("E"):
        assert result.config is None
    assert result.unreadable == (code in UNREADABLE_CODES)


def test_warnings_alone_still_give_a_model():
    for code, text in TRIGGERS.items():
        if code.startswith("W"):
            r = lint(text, dedent=False)
            assert all(c.startswith("W") for c in codes(r)), (code, r.diagnostics)
            assert r.config is not None, code


def test_diagnostics_point_at_the_line_and_column():
    r = lint(V + "    schedular = wlc\n")
    (d,) = r.diagnostics
    assert (d.line, d.col) == (3, 5)
    assert d.text().startswith(f"{r.path}:3:5: error: unknown directive")
    assert d.text().endswith("[E101]\n    hint: did you mean 'scheduler'?")


def test_codes_are_documented_in_the_scheme():
    for code in CODES:
        assert code[0] in "EW" and code[1:].isdigit() and len(code) == 4


def test_unreadable_file_message_says_why(tmp_path):
    loop = tmp_path / "loop.cf"
    os.symlink(loop, loop)
    (d,) = load(loop).diagnostics
    assert d.code == "E001" and "symbolic links" in d.message


def test_a_lower_threshold_alone_is_refused_like_the_kernel_does(tmp_path):
    from ldirectorpy.config import load

    path = tmp_path / "x.cf"
    path.write_text("virtual = 192.0.2.10:80\n    real = 192.0.2.11:80 gate 1 l:5\n")
    result = load(path)
    assert result.config is None
    assert [d.code for d in result.errors] == ["E303"]
