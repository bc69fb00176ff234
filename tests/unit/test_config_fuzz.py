"""Property: whatever a valid config is mutated into, `load` answers with diagnostics or a model.

Seeds are the example configs (conf/) and the differential corpus. Mutations are what editors,
copies and people do to files: delete, duplicate or insert lines (random directive lines
included), flip bytes, switch to CRLF, swap tabs and spaces, truncate. For every result:
`load` does not raise, `config is None` exactly when some diagnostic is an error, and every
diagnostic can be printed as text and as JSON. No DNS: host names go to a static resolver.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldirectorpy.config import Severity, StaticResolver, load
from ldirectorpy.config.diagnostics import CODES

REPO = Path(__file__).resolve().parent.parent.parent
SEEDS = sorted([*(REPO / "conf").glob("*.cf"), *(REPO / "tests/differential/corpus").glob("*.cf")])
SEED_BYTES = [p.read_bytes() for p in SEEDS]

RESOLVER = StaticResolver(
    hosts={"localhost": "127.0.0.1", "www.example.org": "192.0.2.80"},
    services={"http": 80, "https": 443, "domain": 53, "ftp": 21, "smtp": 25},
)

DIRECTIVES = [
    # ldirectord's
    "virtual", "virtual6", "real", "real6", "checktimeout", "negotiatetimeout", "connecttimeout",
    "timeout", "checkinterval", "checkcount", "failurecount", "autoreload", "callback",
    "fallback", "fallback6", "fallbackcommand", "logfile", "emailalert", "emailalertfreq",
    "emailalertstatus", "emailalertfrom", "smtp", "execute", "supervised", "fork", "quiescent",
    "readdquiescent", "cleanstop", "maintenancedir", "checktype", "service", "checkcommand",
    "checkport", "request", "receive", "httpmethod", "virtualhost", "login", "passwd",
    "database", "secret", "load", "scheduler", "persistent", "netmask", "schedflags",
    "protocol", "ops", "monitorfile", "servicename", "comment",
    # ldirectorpy's additions (contract 3)
    "risecount", "rdpprotocols", "rdpcookie", "rdpnegfailure", "rdptls", "rdptlsfingerprint",
    "rdptlsexpirywarn", "maxprobes", "maxexternalchecks", "resyncinterval",
    # near misses
    "Virtual", "chektype", "real =", "",
]  # fmt: skip
VALUES = [
    "", "0", "1", "-1", "1.5", "0.5", "5s", "99999999999", "yes", "no", "yes # c", "maybe",
    "192.0.2.1:80", "192.0.2.1", "[2001:db8::1]:80", "[2001:db8::zz]:80", "42", "localhost:http",
    "no-such-host.invalid:80", "198.51.100.1:80 gate", "198.51.100.1->198.51.100.9:80 masq 2",
    '198.51.100.1:80 gate 1 "/", "ok" l:1 u:9', "[2001:db8::10]:80 ipip", "gate", "connect",
    "negotiate", "external", "3", "http", "rdp", "none", '"/health"', '"a#b"', '""', "wlc",
    "sh-port", "255.255.255.0", "64", "tcp", "udp", "fwm", "all", "none,running", "/bin/true",
    "/nonexistent/x", '"/var/log/x.log"', "ssl,hybrid", "ab:cd", "\x00", "\x1b[2J", "é", "#",
]  # fmt: skip

directive_line = st.builds(
    lambda indent, key, sep, value: f"{indent}{key}{sep}{value}".encode("utf-8", "surrogatepass"),
    st.sampled_from(["", "", "\t", "    ", "  ", " \t"]),
    st.sampled_from(DIRECTIVES),
    st.sampled_from(["=", " = ", "\t=\t", " ", ""]),
    st.one_of(st.sampled_from(VALUES), st.text(max_size=30)),
)


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


@st.composite
def mutation(draw: st.DrawFn, data: bytes) -> bytes:
    lines = _lines(data)
    kind = draw(
        st.sampled_from(
            ["delete", "duplicate", "flip", "insert", "crlf", "tabs", "spaces", "truncate"]
        )
    )
    if kind == "delete" and len(lines) > 1:
        del lines[draw(st.integers(0, len(lines) - 1))]
    elif kind == "duplicate":
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(draw(st.integers(0, len(lines))), lines[i])
    elif kind == "insert":
        lines.insert(draw(st.integers(0, len(lines))), draw(directive_line))
    elif kind == "flip" and data:
        pos = draw(st.integers(0, len(data) - 1))
        flipped = bytearray(data)
        flipped[pos] ^= draw(st.integers(1, 255))
        return bytes(flipped)
    elif kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    elif kind == "tabs":
        return data.replace(b"    ", b"\t")
    elif kind == "spaces":
        return data.replace(b"\t", draw(st.sampled_from([b"  ", b"    ", b"        "])))
    elif kind == "truncate" and data:
        return data[: draw(st.integers(0, len(data) - 1))]
    return b"\n".join(lines)


@st.composite
def mutated_config(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(SEED_BYTES))
    for _ in range(draw(st.integers(1, 6))):
        data = draw(mutation(data))
    return data


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "mutated.cf"


def test_there_are_seeds_from_conf_and_the_corpus() -> None:
    assert any(p.parent.name == "conf" for p in SEEDS), "no conf/*.cf examples yet"
    assert sum(p.parent.name == "corpus" for p in SEEDS) >= 60


@settings(
    max_examples=200,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=mutated_config())
def test_load_returns_diagnostics_or_a_model_never_raises(scratch: Path, data: bytes) -> None:
    scratch.write_bytes(data)
    scratch.chmod(0o644)
    result = load(scratch, resolver=RESOLVER)

    has_error = any(d.severity is Severity.ERROR for d in result.diagnostics)
    assert (result.config is None) == has_error, result.diagnostics
    line_count = data.count(b"\n") + 1
    for d in result.diagnostics:
        assert d.code in CODES
        assert d.severity is (Severity.ERROR if d.code.startswith("E") else Severity.WARNING)
        assert 0 <= d.line <= line_count + 1, d
        assert d.col >= 0, d
        d.text()
        json.dumps(d.as_dict(), ensure_ascii=True)


@settings(max_examples=50, deadline=timedelta(seconds=5))
@given(data=st.binary(max_size=2048))
def test_load_survives_arbitrary_bytes(scratch: Path, data: bytes) -> None:
    scratch.write_bytes(data)
    scratch.chmod(0o644)
    result = load(scratch, resolver=RESOLVER)
    has_error = any(d.severity is Severity.ERROR for d in result.diagnostics)
    assert (result.config is None) == has_error, result.diagnostics
