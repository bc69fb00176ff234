"""service=http/https/http_proxy against loopback HTTP servers, one per verdict path."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from checks_loopback import closed_port, tcp_server

from ldirectorpy.checks import CheckSpec, build_probe, http
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

TIMEOUT = 0.3
SLACK = 0.25

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_head(reader: asyncio.StreamReader) -> list[str]:
    lines = []
    while (line := (await reader.readline()).decode("latin-1").rstrip("\r\n")) != "":
        lines.append(line)
    return lines


Answer = bytes | Callable[[list[str]], bytes]


def answering(raw: Answer, seen: list[list[str]] | None = None) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_head(reader)
        if seen is not None:
            seen.append(head)
        writer.write(raw(head) if callable(raw) else raw)
        await writer.drain()

    return handle


def ok(body: bytes = b"hello world", status: str = "200 OK", extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


async def fetch(handler: Handler, path: str = "/", **kw: object) -> ProbeResult:
    async with tcp_server(handler) as port:
        return await http.probe(f"http://127.0.0.1:{port}{path}", TIMEOUT, **kw)  # type: ignore[arg-type]


# -- verdict table -----------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "receive", "up", "reason"),
    [
        (ok(), None, True, "HTTP 200 OK"),
        (ok(), rb"wor.d", True, "HTTP 200 OK; body matches receive"),
        (ok(), rb"^bye", False, "HTTP 200 OK but body (11 bytes) does not match receive '^bye'"),
        (ok(status="204 No Content", body=b""), None, True, "HTTP 204 No Content"),
        (ok(status="404 Not Found"), None, False, "HTTP 404 Not Found"),
        (
            ok(status="500 Internal Server Error"),
            rb"hello",
            False,
            "HTTP 500 Internal Server Error",
        ),
        (ok(status="302 Found"), None, False, "HTTP 302 Found"),  # no Location: not followed
        (
            b"HTTP/1.0 200 OK\r\n\r\nuntil close",
            rb"close$",
            True,
            "HTTP 200 OK; body matches receive",
        ),
        (b"HTTP/1.1 200\r\n\r\n", None, True, "HTTP 200"),
        (
            b"SSH-2.0-OpenSSH_9.2\r\n",
            None,
            False,
            "HTTP status: not an HTTP status line: 'SSH-2.0-OpenSSH_9.2'",
        ),
        (b"", None, False, "HTTP status: connection closed without an answer"),
        (
            b"HTTP/1.1 200 OK\r\nContent-",
            None,
            False,
            "HTTP headers: connection closed mid-line: 'Content-'",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            rb"hello world",
            True,
            "HTTP 200 OK; body matches receive",
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\n" + ok(),
            None,
            True,
            "HTTP 200 OK",
        ),
    ],
)
async def test_verdicts(answer: bytes, receive: bytes | None, up: bool, reason: str) -> None:
    pattern = re.compile(receive) if receive is not None else None
    result = await fetch(answering(answer), receive=pattern)
    assert (result.ok, result.reason) == (up, reason)


async def test_the_request_is_http_1_0_with_the_method_path_and_host() -> None:
    seen: list[list[str]] = []
    async with tcp_server(answering(ok(), seen)) as port:
        await http.probe(f"http://127.0.0.1:{port}/status?full=1", TIMEOUT, method="HEAD")
        await http.probe(f"http://127.0.0.1:{port}/", TIMEOUT, virtualhost="www.example.org")
    assert seen[0][0] == "HEAD /status?full=1 HTTP/1.0"
    assert f"Host: 127.0.0.1:{port}" in seen[0]
    assert seen[1][0] == "GET / HTTP/1.0"
    assert "Host: www.example.org" in seen[1]


async def test_head_reads_no_body_even_if_the_server_sends_one() -> None:
    result = await fetch(answering(ok(b"x" * 10)), method="HEAD", receive=None)
    assert (result.ok, result.reason) == (True, "HTTP 200 OK")


# -- network paths -------------------------------------------------------------


async def test_refused_is_down_at_once() -> None:
    result = await http.probe(f"http://127.0.0.1:{closed_port()}/", TIMEOUT)
    assert (result.ok, result.reason) == (False, "connect: refused")
    assert result.elapsed < 0.1


async def test_a_silent_server_is_down_at_the_deadline() -> None:
    async def silent(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
        await reader.read()

    result = await fetch(silent)
    assert (result.ok, result.reason) == (False, f"HTTP status: no answer within {TIMEOUT:g}s")
    assert TIMEOUT <= result.elapsed < TIMEOUT + SLACK


async def test_a_trickled_answer_cannot_beat_the_deadline() -> None:
    # keepalived #1822: every byte arrives before a per-read timeout would fire.
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        for byte in ok(b"y" * 100):
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.02)

    result = await fetch(trickle)
    assert not result.ok
    assert "no answer within" in result.reason
    assert result.elapsed < TIMEOUT + SLACK


async def test_an_oversized_body_is_judged_on_its_first_64_kib() -> None:
    flood = b"HTTP/1.0 200 OK\r\n\r\n" + b"a" * (1 << 20) + b"needle"
    result = await fetch(answering(flood), receive=re.compile(b"needle"))
    assert not result.ok
    assert result.reason == (
        "HTTP 200 OK but first 65536 bytes of the body does not match receive 'needle'"
    )


async def test_an_endless_header_line_is_refused() -> None:
    result = await fetch(answering(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 100_000))
    assert (result.ok, result.reason) == (False, "HTTP headers: line longer than 4096 bytes")


async def test_too_many_headers_are_refused() -> None:
    result = await fetch(answering(b"HTTP/1.1 200 OK\r\n" + b"X: aaaaaaaaaaaa\r\n" * 2000))
    assert (result.ok, result.reason) == (False, "HTTP headers: headers longer than 16384 bytes")


# -- redirects -------------------------------------------------------------------


def redirector(hops: int, location: Callable[[int], str]) -> Handler:
    count = 0

    def answer(head: list[str]) -> bytes:
        nonlocal count
        count += 1
        if count <= hops:
            return ok(b"", "302 Found", f"Location: {location(count)}\r\n")
        return ok(f"landed after {head[0]}".encode())

    return answering(answer)


async def test_redirects_are_followed_like_lwp() -> None:
    result = await fetch(redirector(2, lambda n: f"/step{n}"), receive=re.compile(b"landed"))
    assert result.ok
    assert result.reason.startswith("HTTP 200 OK; body matches receive (after 2 redirects, http://")
    assert result.reason.endswith("/step2)")


async def test_more_than_seven_redirects_are_down() -> None:
    result = await fetch(redirector(8, lambda n: f"/loop{n}"))
    assert (result.ok, result.reason) == (
        False,
        "HTTP redirect: more than 7 redirects (last to '/loop8')",
    )


async def test_seven_redirects_are_still_followed() -> None:
    result = await fetch(redirector(7, lambda n: f"/loop{n}"))
    assert result.ok


async def test_a_redirect_to_the_virtualhost_stays_on_the_real() -> None:
    seen: list[list[str]] = []

    def answer(head: list[str]) -> bytes:
        seen.append(head)
        if head[0].startswith("GET /old"):
            return ok(b"", "301 Moved", "Location: http://www.example.org/new\r\n")
        return ok(b"new page")

    result = await fetch(answering(answer), "/old", virtualhost="www.example.org")
    assert result.ok, result.reason
    assert [h[0] for h in seen] == ["GET /old HTTP/1.0", "GET /new HTTP/1.0"]
    assert "Host: www.example.org" in seen[1]


# -- https -------------------------------------------------------------------------


@pytest.fixture
def server_tls(tls_cert: tuple[Path, Path]) -> ssl.SSLContext:
    cert, key = tls_cert
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


async def test_https_ignores_the_self_signed_certificate_and_sends_sni(
    server_tls: ssl.SSLContext,
) -> None:
    names: list[str | None] = []
    server_tls.sni_callback = lambda _sock, name, _ctx: names.append(name)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(ok(b"secure"))
        await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_tls)
    port = server.sockets[0].getsockname()[1]
    try:
        url = f"https://127.0.0.1:{port}/"
        with_name = await http.probe(url, TIMEOUT, virtualhost="www.example.org")
        by_ip = await http.probe(url, TIMEOUT, receive=re.compile(b"secure"))
    finally:
        server.close()
        await server.wait_closed()
    assert (with_name.ok, with_name.reason) == (True, "HTTP 200 OK")
    assert (by_ip.ok, by_ip.reason) == (True, "HTTP 200 OK; body matches receive")
    assert names == ["www.example.org", None]


async def test_https_to_a_plain_http_server_is_a_tls_error() -> None:
    async with tcp_server(answering(ok())) as port:
        result = await http.probe(f"https://127.0.0.1:{port}/", TIMEOUT)
    assert not result.ok
    assert result.reason.startswith("TLS handshake: ")


# -- http_proxy and the registry -------------------------------------------------


async def test_http_proxy_sends_the_absolute_url_to_the_real() -> None:
    seen: list[list[str]] = []
    async with tcp_server(answering(ok(b"via proxy"), seen)) as port:
        spec = CheckSpec(
            "negotiate", "http_proxy", Target("127.0.0.1", port),
            request="/http://www.example.org/index.html", receive="via", negotiatetimeout=TIMEOUT,
        )  # fmt: skip
        probe = build_probe(spec)
        assert probe is not None
        result = await probe()
    assert (result.ok, result.reason) == (True, "HTTP 200 OK; body matches receive")
    assert seen[0][0] == "GET http://www.example.org/index.html HTTP/1.0"
    assert "Host: www.example.org" in seen[0]


async def test_http_proxy_without_an_absolute_url_is_down_every_pass_with_the_reason() -> None:
    spec = CheckSpec("negotiate", "http_proxy", Target("127.0.0.1", 3128), request="/index.html")
    probe = build_probe(spec)
    assert probe is not None
    result = await probe()
    assert (result.ok, result.reason) == (
        False,
        "service=http_proxy needs request= an absolute URL (http://...) "
        "to fetch through the real server",
    )


async def test_negotiate_http_builds_ldirectords_url_and_honours_httpmethod() -> None:
    seen: list[list[str]] = []
    async with tcp_server(answering(ok(), seen)) as port:
        spec = CheckSpec(
            "negotiate", "http", Target("127.0.0.1", port), request="/health",
            httpmethod="HEAD", virtualhost="site.example", negotiatetimeout=TIMEOUT,
        )  # fmt: skip
        probe = build_probe(spec)
        assert probe is not None
        result = await probe()
    assert result.ok
    assert seen[0][:2] == ["HEAD /health HTTP/1.0", "Host: site.example"]


@pytest.mark.parametrize(
    ("service", "request_", "url"),
    [
        ("http", "/", "http://192.0.2.5:8080/"),
        ("https", "/a/b?c", "https://192.0.2.5:8080/a/b?c"),
        ("http", "/http://198.51.100.7/x", "http://198.51.100.7/x"),
        ("http_proxy", "/http://198.51.100.7/x", "http://198.51.100.7/x"),
    ],
)
def test_url_for_follows_ldirectord(service: str, request_: str, url: str) -> None:
    assert http.url_for(service, Target("192.0.2.5", 8080), request_) == url


def test_url_for_brackets_ipv6() -> None:
    assert http.url_for("http", Target("2001:db8::5", 80), "/") == "http://[2001:db8::5]:80/"


async def test_ipv6_loopback() -> None:
    async with tcp_server(answering(ok()), host="::1") as port:
        result = await http.probe(http.url_for("http", Target("::1", port), "/"), TIMEOUT)
    assert (result.ok, result.reason) == (True, "HTTP 200 OK")


def test_dechunk_stops_at_an_incomplete_chunk() -> None:
    assert http.dechunk(b"3\r\nabc\r\nff\r\nxyz") == b"abcxyz"
    assert http.dechunk(b"zz\r\n") == b""
