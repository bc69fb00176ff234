"""Bad input never raises: each gets diagnostics and the documented outcome."""

from __future__ import annotations

import ipaddress
import os
import random
import time

from cfgtest import RESOLVER, V, codes, lint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldirectorpy.config import load
from ldirectorpy.config.build import build
from ldirectorpy.config.diagnostics import MAX_DIAGNOSTICS, Sink
from ldirectorpy.config.parser import parse_text
from ldirectorpy.config.semantic import check_config

SAMPLE = (
    "checktimeout = 3\nquiescent = yes\nfallback = 198.51.100.9:80 gate\n"
    'virtual = 192.0.2.10:80\n    real = 192.0.2.11:80 gate 2 "/a", "b" l:1 u:9\n'
    '    real = 192.0.2.20->192.0.2.22 masq\n    service = http\n    request = "x"\n'
    "virtual6 = [2001:db8::1]:443\n    real6 = [2001:db8::2]:443 gate\n"
    "virtual = 7\n    real = 192.0.2.30 gate\n    checktype = 2\n    service = https\n"
)


def test_empty_file_is_a_valid_config_with_no_virtuals(tmp_path):
    path = tmp_path / "empty.cf"
    path.write_bytes(b"")
    r = load(path)
    assert r.diagnostics == ()
    assert r.config is not None and r.config.virtuals == ()


def test_binary_garbage(tmp_path):
    path = tmp_path / "garbage.cf"
    path.write_bytes(random.Random(1).randbytes(20000))
    r = load(path)
    assert r.config is None and codes(r) == ["E106"]


def test_binary_without_nul_bytes(tmp_path):
    path = tmp_path / "garbage.cf"
    path.write_bytes(random.Random(2).randbytes(20000).replace(b"\0", b"x"))
    r = load(path)
    assert r.config is None and "W108" in codes(r)


def test_a_one_megabyte_line(tmp_path):
    path = tmp_path / "long.cf"
    path.write_text(V + "    comment = " + "x" * 1_000_000 + '\n    receive = "' + "#" * 1000)
    started = time.perf_counter()
    r = load(path)
    assert time.perf_counter() - started < 5
    assert r.config is None  # the unterminated quote
    assert codes(r) == ["E102"]


def test_a_hundred_thousand_lines_is_linear(tmp_path):
    base = ipaddress.IPv4Address("198.18.0.0")
    lines = ["checkinterval = 30"]
    for i in range(2500):
        lines.append(f"virtual = {base + i + 1}:80")
        lines += [f"    real = {base + 65536 + i * 39 + j}:80 gate" for j in range(39)]
    path = tmp_path / "big.cf"
    path.write_text("\n".join(lines) + "\n")
    assert len(lines) == 100_001
    started = time.perf_counter()
    r = load(path, resolver=RESOLVER)
    elapsed = time.perf_counter() - started
    assert r.config is not None and len(r.config.virtuals) == 2500
    assert sum(len(v.reals) for v in r.config.virtuals) == 97_500
    assert elapsed < 30, elapsed  # about 3 s on a loaded 2-core machine


def test_symlink_loop_and_dangling_link(tmp_path):
    loop = tmp_path / "a.cf"
    os.symlink(tmp_path / "b.cf", loop)
    os.symlink(loop, tmp_path / "b.cf")
    assert codes(load(loop)) == ["E001"]
    dangling = tmp_path / "d.cf"
    os.symlink(tmp_path / "nowhere", dangling)
    r = load(dangling)
    assert codes(r) == ["E001"] and r.unreadable


def test_a_fifo_is_not_read(tmp_path):
    fifo = tmp_path / "fifo.cf"
    os.mkfifo(fifo)
    assert codes(load(fifo)) == ["E002"]


def test_a_path_with_a_nul_byte():
    r = load("bad\0name.cf")
    assert codes(r) == ["E001"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(SAMPLE)), st.integers(0, 8), st.text(max_size=6)),
        max_size=6,
    )
)
def test_mutated_files_only_ever_give_diagnostics_or_a_model(edits):
    text = SAMPLE
    for at, cut, insert in edits:
        text = text[:at] + insert + text[at + cut :]
    sink = Sink("mutated.cf")
    config = build(parse_text(text, "mutated.cf", sink), RESOLVER, sink)
    check_config(config, sink)
    for d in sink.finish():
        assert d.code and d.message and d.line >= 0


def test_terminal_escapes_in_values_are_escaped_in_messages():
    r = lint(V + "    scheduler = x\x1b[2Jy\n")
    (d,) = r.diagnostics
    assert "\x1b" not in d.message and "\\x1b[2J" in d.message


def test_undecodable_bytes_are_shown_as_escapes(tmp_path):
    path = tmp_path / "latin1.cf"
    path.write_bytes(V.encode() + b"    scheduler = caf\xe9\n")
    r = load(path)
    assert "\\xe9" in next(d.message for d in r.diagnostics if d.code == "E216")


def test_a_flood_of_warnings_never_hides_an_error():
    noisy = "".join(f"checkinterval = {i + 1}s\n" for i in range(MAX_DIAGNOSTICS + 50))
    r = lint(noisy + "nosuchdirective = 1\n" + V)
    assert r.config is None
    assert "E101" in codes(r) and codes(r)[-1] == "W305"


def test_a_flood_of_errors_is_capped_and_fast(tmp_path):
    path = tmp_path / "errors.cf"
    path.write_text("".join(f"nosuchdirective{i} = {i}\n" for i in range(100_000)))
    started = time.perf_counter()
    r = load(path)
    assert time.perf_counter() - started < 30
    assert len(r.diagnostics) == MAX_DIAGNOSTICS + 1
    assert (
        r.diagnostics[-1].message == f"{100_000 - MAX_DIAGNOSTICS} further diagnostics suppressed"
    )
