"""`ldirectorpy --check`: output format, JSON, exit codes, several files, lookup."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cfgtest import V, write

from ldirectorpy.cli import main as cli_main
from ldirectorpy.commands import check
from ldirectorpy.config import find_config
from ldirectorpy.config.locate import candidates

GOOD = V
WARN = "autoreload = no # comment\n" + V
BAD = V + "    scheduler = wlcc\n"


def test_clean_file_exits_0_and_prints_nothing(capsys):
    assert check.main([str(write(GOOD))]) == 0
    out = capsys.readouterr()
    assert out.out == ""
    assert "0 error(s), 0 warning(s)" in out.err


def test_warnings_alone_exit_0(capsys):
    path = write(WARN)
    assert check.main([str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"{path}:1:")


def test_errors_exit_2_with_location_code_and_hint(capsys):
    path = write(BAD)
    assert check.main([str(path)]) == 2
    assert capsys.readouterr().out == (
        f"{path}:3:17: error: scheduler: unknown scheduler 'wlcc' [E216]\n"
        "    hint: did you mean 'wlc'? (accepted values: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, "
        "sed, nq, fo, ovf, mh, twos)\n"
    )


def test_unreadable_file_exits_1_even_with_other_errors(tmp_path, capsys):
    assert check.main([str(write(BAD)), str(tmp_path / "missing.cf")]) == 1
    out = capsys.readouterr().out
    assert "[E216]" in out and "missing.cf:0:0: error: cannot read" in out


def test_a_directory_exits_1(tmp_path, capsys):
    assert check.main([str(tmp_path)]) == 1
    assert "is a directory" in capsys.readouterr().out


def test_several_files_are_all_reported(capsys):
    a, b = write(BAD), write(WARN)
    assert check.main([str(a), str(b)]) == 2
    out = capsys.readouterr()
    assert str(a) in out.out and str(b) in out.out
    assert "2 file(s) checked: 1 error(s), 1 warning(s)" in out.err


def test_json_format(capsys):
    a, b = write(BAD), write(GOOD)
    assert check.main(["--format", "json", str(a), str(b)]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit"] == 2
    first, second = doc["files"]
    assert (first["path"], first["ok"], first["errors"]) == (str(a), False, 1)
    (d,) = first["diagnostics"]
    assert d == {
        "severity": "error",
        "path": str(a),
        "line": 3,
        "col": 17,
        "code": "E216",
        "message": "scheduler: unknown scheduler 'wlcc'",
        "hint": d["hint"],
    }
    assert (second["ok"], second["diagnostics"]) == (True, [])


def test_format_equals_form_and_bad_options(capsys):
    assert check.main(["--format=json", str(write(GOOD))]) == 0
    assert json.loads(capsys.readouterr().out)["exit"] == 0
    assert check.main(["--format", "xml"]) == 255
    assert check.main(["--frobnicate"]) == 255
    assert "usage:" in capsys.readouterr().err


def test_undecodable_bytes_do_not_break_the_output(capsys):
    path = write("")
    path.write_bytes(b"caf\xe9 = 1\n" + V.encode())
    assert check.main([str(path)]) == 2
    out = capsys.readouterr().out
    assert "[W108]" in out and "[E101]" in out


def test_through_the_cli_entry_point(capsys):
    assert cli_main(["--check", str(write(BAD))]) == 2
    assert "[E216]" in capsys.readouterr().out


def test_as_a_module_in_a_subprocess():
    path = write(BAD)
    proc = subprocess.run(
        [sys.executable, "-m", "ldirectorpy", "--check", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["files"][0]["diagnostics"][0]["code"] == "E216"


def test_find_config_order(tmp_path):
    ha, conf = tmp_path / "ha.d", tmp_path / "ha.d" / "conf"
    conf.mkdir(parents=True)
    dirs = (ha, conf)
    (conf / "x.cf").write_text(V)
    assert find_config("x.cf", dirs) == conf / "x.cf"
    (ha / "x.cf").write_text(V)
    assert find_config("x.cf", dirs) == ha / "x.cf"
    assert find_config("nope.cf", dirs) is None
    assert find_config(str(ha / "x.cf"), dirs) == ha / "x.cf"
    (ha / "d.cf").mkdir()
    assert find_config("d.cf", dirs) is None  # a directory is not a config
    assert candidates("x.cf", dirs) == [ha / "x.cf", conf / "x.cf", Path("x.cf")]
    assert candidates("/abs/x.cf", dirs) == [Path("/abs/x.cf")]


def test_relative_name_falls_back_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("local-only.cf").write_text(V)
    assert find_config("local-only.cf") == Path("local-only.cf")
