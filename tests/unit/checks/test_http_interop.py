"""Interop: the http probe against real servers on 127.0.0.1 (Python's http.server,
which redirects a directory without its slash, and busybox httpd)."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from checks_loopback import closed_port, serving

from ldirectorpy.checks import CheckSpec, build_probe, http
from ldirectorpy.checks.target import Target

pytestmark = pytest.mark.interop
TIMEOUT = 3.0


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("www")
    (root / "health.html").write_text("<p>status: green</p>\n")
    (root / "app").mkdir()
    (root / "app" / "index.html").write_text("app is alive\n")
    return root


@pytest.fixture(scope="module")
def python_http(site: Path) -> Iterator[int]:
    port = closed_port()
    yield from serving(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(site),
         str(port)], port,
    )  # fmt: skip


@pytest.fixture(scope="module")
def busybox_http(site: Path) -> Iterator[int]:
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed")
    port = closed_port()
    yield from serving([busybox, "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", str(site)], port)


def spec(port: int, request: str, receive: str = "", method: str = "GET") -> CheckSpec:
    return CheckSpec(
        "negotiate", "http", Target("127.0.0.1", port), request=request, receive=receive,
        httpmethod=method, negotiatetimeout=TIMEOUT,
    )  # fmt: skip


@pytest.mark.parametrize("server", ["python_http", "busybox_http"])
@pytest.mark.parametrize(
    ("case", "up"),
    [
        (("/health.html", "status: green", "GET"), True),
        (("/health.html", "status: red", "GET"), False),
        (("/health.html", "", "HEAD"), True),
        (("/missing.html", "", "GET"), False),
        (("/app/", "alive", "GET"), True),
    ],
)
async def test_verdicts_against_a_real_server(
    server: str, case: tuple[str, str, str], up: bool, request: pytest.FixtureRequest
) -> None:
    port = request.getfixturevalue(server)
    probe = build_probe(spec(port, *case))
    assert probe is not None
    result = await probe()
    assert result.ok is up, result.reason


async def test_a_directory_redirect_is_followed(python_http: int) -> None:
    result = await http.probe(
        f"http://127.0.0.1:{python_http}/app", TIMEOUT, receive=re.compile(b"alive")
    )
    assert result.ok, result.reason
    assert result.reason.endswith(f"(after 1 redirect, http://127.0.0.1:{python_http}/app/)")
