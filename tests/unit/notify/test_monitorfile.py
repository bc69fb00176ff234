"""monitorfile lines keep ldirectord's format and stay one line each."""

import os
import re

from ldirectorpy.notify.monitorfile import append, escape, format_line


def test_message_escaping_keeps_one_result_per_line():
    assert escape("100% | bad\r\nline") == "100%25 %7C bad%0D%0Aline"


def test_line_format(tmp_path):
    line = format_line("negotiate:rdp:tcp:192.0.2.11:3389", False, "connect refused")
    match = re.fullmatch(r"\[[^\]]+\] \[(\d+)\] (.*)\n", line)
    assert match
    assert int(match.group(1)) == os.getpid()
    assert match.group(2) == "negotiate rdp tcp 192.0.2.11 3389 down connect refused"
    path = tmp_path / "monitor.log"
    append(path, line)
    append(path, line)
    assert path.read_text() == line * 2
