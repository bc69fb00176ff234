"""Interop: the RDP probe against real xrdp (Debian's package) on 127.0.0.1.

Three xrdp instances run side by side, one per ``security_layer`` (negotiate,
tls, rdp), each with a certificate generated here. For every requested
protocol set the probe's verdict and negotiated protocol must match the table
observed in ../shared/reference/rdp.md §4.1, the raw Connection Confirm bytes
must be the ones recorded there, and the TLS handshake must complete with the
certificate we generated (pinned by SHA-256).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldirectorpy.checks import rdp
from ldirectorpy.checks.rdp import RdpOptions
from ldirectorpy.checks.rdp_wire import (
    PROTOCOL_HYBRID,
    PROTOCOL_RDP,
    PROTOCOL_SSL,
    build_connection_request,
)
from ldirectorpy.checks.target import Target

pytestmark = pytest.mark.interop

XRDP = "/usr/sbin/xrdp"
LAYERS = ("negotiate", "tls", "rdp")
TIMEOUT = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"xrdp exited with {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"xrdp did not listen on 127.0.0.1:{port}")


def xrdp_ini(template: str, port: int, layer: str, files: dict[str, Path]) -> str:
    """The recipe of rdp.md §4.1 as line substitutions on Debian's xrdp.ini.

    Only the [Globals] ``port=`` changes; the session sections' ``port=`` lines
    are unrelated.
    """
    settings = {
        "security_layer": layer,
        "certificate": str(files["cert"]),
        "key_file": str(files["key"]),
        "LogFile": str(files["log"]),
        "EnableSyslog": "false",
    }
    out = []
    section = ""
    for line in template.splitlines():
        name = line.split("=", 1)[0]
        if line.startswith("["):
            section = line.strip()
        if section == "[Globals]" and name == "port":
            out.append(f"port=tcp://.:{port}")
        elif "=" in line and name in settings:
            out.append(f"{name}={settings[name]}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("xrdp-cert")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "30", "-subj", "/CN=xrdp-test"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def xrdp(
    cert: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, int]]:
    """security_layer -> port of a running xrdp; fails (never skips) without xrdp."""
    if shutil.which(XRDP) is None and not Path(XRDP).exists():
        pytest.fail("xrdp is not installed (apt-get install --no-install-recommends xrdp)")
    template = Path("/etc/xrdp/xrdp.ini").read_text()
    procs: list[subprocess.Popen[bytes]] = []
    ports: dict[str, int] = {}
    try:
        for layer in LAYERS:
            directory = tmp_path_factory.mktemp(f"xrdp-{layer}")
            port, log = free_port(), directory / "xrdp.log"
            ini = directory / "xrdp.ini"
            files = {"cert": cert[0], "key": cert[1], "log": log}
            ini.write_text(xrdp_ini(template, port, layer, files))
            proc = subprocess.Popen(
                [XRDP, "-n", "-c", str(ini)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            procs.append(proc)
            wait_listening(port, proc, log)
            ports[layer] = port
        yield ports
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # xrdp forks per connection: the group
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def exchange(port: int, request: bytes) -> bytes:
    """The raw Connection Confirm xrdp sends for ``request`` (one TPKT)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        header = sock.recv(4, socket.MSG_WAITALL)
        return header + sock.recv(int.from_bytes(header[2:4], "big") - 4, socket.MSG_WAITALL)


SSL_HYBRID = PROTOCOL_SSL | PROTOCOL_HYBRID
RSP_RDP = "030000130ed000001234000201080000000000"
RSP_SSL = "030000130ed000001234000201080001000000"
FAIL_SSL_REQUIRED = "030000130ed000001234000300080001000000"
LEGACY = "0300000b06d00000123400"

# (layer, requested, cookie, CC bytes from rdp.md, probe ok, reason starts with)
TABLE = [
    ("negotiate", PROTOCOL_RDP, "", RSP_RDP, True, "X.224 CC: PROTOCOL_RDP selected"),
    ("negotiate", PROTOCOL_SSL, "", RSP_SSL, True, "X.224 CC: PROTOCOL_SSL selected; TLSv1.3 ok"),
    ("negotiate", SSL_HYBRID, "ldirectorpy", RSP_SSL, True,
     "X.224 CC: PROTOCOL_SSL selected; TLSv1.3 ok"),
    ("negotiate", PROTOCOL_HYBRID, "", RSP_RDP, True, "X.224 CC: PROTOCOL_RDP selected"),
    ("negotiate", None, "", LEGACY, True, "legacy X.224 CC (no negotiation data)"),
    ("tls", PROTOCOL_RDP, "", FAIL_SSL_REQUIRED, True, "RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER"),
    ("tls", PROTOCOL_SSL, "", RSP_SSL, True, "X.224 CC: PROTOCOL_SSL selected; TLSv1.3 ok"),
    ("tls", SSL_HYBRID, "ldirectorpy", RSP_SSL, True,
     "X.224 CC: PROTOCOL_SSL selected; TLSv1.3 ok"),
    ("tls", PROTOCOL_HYBRID, "", FAIL_SSL_REQUIRED, True,
     "RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER"),
    ("rdp", PROTOCOL_RDP, "", RSP_RDP, True, "X.224 CC: PROTOCOL_RDP selected"),
    ("rdp", PROTOCOL_SSL, "", RSP_RDP, True, "X.224 CC: PROTOCOL_RDP selected"),
    ("rdp", SSL_HYBRID, "ldirectorpy", RSP_RDP, True, "X.224 CC: PROTOCOL_RDP selected"),
    ("rdp", PROTOCOL_HYBRID, "", RSP_RDP, True, "X.224 CC: PROTOCOL_RDP selected"),
]  # fmt: skip


def case_id(case: tuple[object, ...]) -> str:
    layer, requested, cookie = case[0], case[1], case[2]
    asked = "legacy" if requested is None else f"req{requested}"
    return f"{layer}-{asked}{'-cookie' if cookie else ''}"


@pytest.mark.parametrize("case", TABLE, ids=[case_id(c) for c in TABLE])
def test_xrdp_answers_the_bytes_recorded_in_the_reference(
    xrdp: dict[str, int], case: tuple[str, int | None, str, str, bool, str]
) -> None:
    layer, requested, cookie, wire, _ok, _reason = case
    assert exchange(xrdp[layer], build_connection_request(requested, cookie)).hex() == wire


@pytest.mark.parametrize("case", TABLE, ids=[case_id(c) for c in TABLE])
async def test_probe_verdict_and_protocol_match_the_reference(
    xrdp: dict[str, int],
    cert: tuple[Path, Path],
    case: tuple[str, int | None, str, str, bool, str],
) -> None:
    layer, requested, cookie, _wire, ok, reason = case
    pin = hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert[0].read_text())).digest()
    options = RdpOptions(protocols=requested, cookie=cookie, fingerprint=pin)
    result = await rdp.probe(Target("127.0.0.1", xrdp[layer]), TIMEOUT, options)
    assert result.ok is ok, result.reason
    assert result.reason.startswith(reason)
    if "TLSv1.3 ok" in reason:
        assert result.reason.endswith("; certificate pin matches")  # 30-day cert: no warning


async def test_a_wrong_pin_is_down_against_xrdp(xrdp: dict[str, int]) -> None:
    options = RdpOptions(protocols=PROTOCOL_SSL, fingerprint=b"\x01" * 32)
    result = await rdp.probe(Target("127.0.0.1", xrdp["negotiate"]), TIMEOUT, options)
    assert not result.ok
    assert "is not pinned" in result.reason


async def test_strict_negfailure_is_down_when_xrdp_requires_tls(xrdp: dict[str, int]) -> None:
    options = RdpOptions(protocols=PROTOCOL_RDP, negfailure_up=False)
    result = await rdp.probe(Target("127.0.0.1", xrdp["tls"]), TIMEOUT, options)
    assert (result.ok, result.reason) == (False, "RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER")


async def test_default_options_against_each_layer(xrdp: dict[str, int]) -> None:
    """What an operator gets with no rdp* directives at all."""
    results = {
        layer: await rdp.probe(Target("127.0.0.1", port), TIMEOUT) for layer, port in xrdp.items()
    }
    assert all(r.ok for r in results.values()), results
    assert results["negotiate"].reason.startswith("X.224 CC: PROTOCOL_SSL selected; TLSv1.3 ok")
    assert results["rdp"].reason == "X.224 CC: PROTOCOL_RDP selected"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ldirectorpy", "probe", *args],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_probe_command_pins_xrdps_certificate(
    xrdp: dict[str, int], cert: tuple[Path, Path]
) -> None:
    pin = hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert[0].read_text())).hexdigest()
    colons = ":".join(pin[i : i + 2] for i in range(0, 64, 2)).upper()
    done = cli("rdp", f"127.0.0.1:{xrdp['tls']}", "--fingerprint", colons, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["verdict"] == "up"
    assert doc["reason"].endswith("TLSv1.3 ok; certificate pin matches")


def test_probe_config_against_all_three_layers(xrdp: dict[str, int], tmp_path: Path) -> None:
    conf = tmp_path / "ldirectord.cf"
    conf.write_text(
        "negotiatetimeout=5\n"
        + "".join(
            f"virtual=192.0.2.{10 + i}:3389\n\treal=127.0.0.1:{port} gate\n"
            for i, port in enumerate(xrdp.values())
        )
        + f"virtual=192.0.2.20:3389\n\treal=127.0.0.1:{free_port()} gate\n\trdpprotocols=rdp\n"
    )
    done = cli(str(conf), "--json")
    assert done.returncode == 1, done.stderr  # the dead real
    rows = json.loads(done.stdout)
    assert [(r["check"], r["verdict"]) for r in rows] == [("negotiate/rdp", "up")] * 3 + [
        ("negotiate/rdp", "down")
    ]
    negotiate, tls, rdp_layer, _dead = (r["reason"] for r in rows)
    assert negotiate.startswith("X.224 CC: PROTOCOL_SSL selected; TLSv1.3 ok")
    assert tls.startswith("X.224 CC: PROTOCOL_SSL selected; TLSv1.3 ok")
    assert rdp_layer == "X.224 CC: PROTOCOL_RDP selected"
