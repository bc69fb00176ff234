"""Interop: the smtp probe against Python 3.11's smtpd (a real, if retired, SMTP server)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from checks_loopback import closed_port, serving

from ldirectorpy.checks import smtp
from ldirectorpy.checks.target import Target

pytestmark = pytest.mark.interop
SYSTEM_PYTHON = Path("/usr/bin/python3")  # Debian 12: 3.11, the last with smtpd


@pytest.fixture(scope="module")
def smtpd_port() -> Iterator[int]:
    probe = subprocess.run([SYSTEM_PYTHON, "-W", "ignore", "-c", "import smtpd"], check=False)
    if probe.returncode != 0:
        pytest.skip("no Python with the smtpd module")
    port = closed_port()
    yield from serving(
        [str(SYSTEM_PYTHON), "-W", "ignore", "-m", "smtpd", "-n", "-c", "DebuggingServer",
         f"127.0.0.1:{port}"], port,
    )  # fmt: skip


async def test_smtpd_greets_and_accepts_ehlo(smtpd_port: int) -> None:
    result = await smtp.probe(Target("127.0.0.1", smtpd_port), 3.0)
    assert (result.ok, result.reason) == (True, "SMTP banner 220; EHLO 250")
