"""Log lines keep ldirectord's formats."""

import logging
import os
import re

import pytest

from ldirectorpy.daemon.logsetup import configure


@pytest.fixture(autouse=True)
def restore_logger():
    yield
    logger = logging.getLogger("ldirectorpy")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def test_file_lines_carry_time_instance_and_pid(tmp_path):
    path = tmp_path / "ldirectorpy.log"
    configure(str(path), "ldirectord.cf").info("Restored real server: 192.0.2.11:3389")
    line = path.read_text()
    pattern = r"\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\|ldirectord\.cf\|(\d+)\] (.*)\n"
    match = re.fullmatch(pattern, line)
    assert match, line
    assert int(match.group(1)) == os.getpid()
    assert match.group(2) == "Restored real server: 192.0.2.11:3389"


def test_a_rotated_file_is_reopened_without_a_signal(tmp_path):
    path = tmp_path / "ldirectorpy.log"
    logger = configure(str(path), "x.cf")
    logger.info("before")
    path.rename(tmp_path / "ldirectorpy.log.1")
    logger.info("after")
    assert "after" in path.read_text()
    assert "after" not in (tmp_path / "ldirectorpy.log.1").read_text()


def test_debug_writes_bare_messages_to_stderr(capsys):
    configure("/unused", "x.cf", debug=True).debug("DEBUG2: probing")
    assert capsys.readouterr().err == "DEBUG2: probing\n"


def test_supervised_writes_timestamped_lines_to_stdout(capsys):
    configure("/unused", "x.cf", supervised=True).info("Added real server: x")
    out = capsys.readouterr().out
    assert re.fullmatch(r"\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] Added real server: x\n", out)


def test_an_unknown_syslog_facility_is_refused():
    with pytest.raises(ValueError, match="facility"):
        configure("local9", "x.cf")
