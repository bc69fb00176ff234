"""Reading notAfter from a DER certificate, checked against openssl's own answer."""

from __future__ import annotations

import ssl
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ldirectorpy.checks._der import cert_not_after


def test_not_after_matches_openssl(tls_cert: tuple[Path, Path]) -> None:
    cert, _key = tls_cert
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-enddate", "-in", str(cert)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    # notAfter=Nov 27 16:20:00 2026 GMT
    expected = datetime.strptime(out.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
    assert cert_not_after(der) == expected.replace(tzinfo=UTC)


@pytest.mark.parametrize("der", [b"", b"\x30", b"\x02\x01\x00", b"\x30\x03\x30\x01\x00"])
def test_garbage_is_a_value_error(der: bytes) -> None:
    with pytest.raises(ValueError):
        cert_not_after(der)
