"""service=http, https and http_proxy: one HTTP/1.0 GET or HEAD, redirects followed.

Like ldirectord's LWP check: ``httpmethod`` GET or HEAD; ``Host:`` is
``virtualhost`` or the real's address; up is a 2xx final status and, when
``receive`` is set, the body matching it (a regex, searched). Redirects (301,
302, 303, 307, 308) are followed up to 7 times, as LWP does for GET/HEAD. https
verifies no certificate (ldirectord: verify_hostname=0) but sends SNI =
``virtualhost`` when set, so a name-based TLS front serves the right site.
http_proxy sends the absolute URL in ``request`` to the real as an HTTP proxy
(an ``https://`` URL too, in absolute form; no CONNECT tunnel), with ``Host:``
from that URL.

Differences, on purpose:

- one total deadline covers every hop, and the body read stops at
  ``MAX_BODY`` bytes (``receive`` is judged on that prefix), so a server that
  trickles or floods cannot stretch the probe (keepalived #1822);
- a timeout is always a recorded down (ldirectord could return without
  calling service_set, §5.4.10);
- a redirect to the ``virtualhost`` name stays on the real server (LWP would
  resolve the name, usually to the VIP, and check some other real); a
  redirect to another host goes there, as in LWP.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from ldirectorpy.checks._common import ProbeFailure, Progress, bounded
from ldirectorpy.checks._stream import open_stream, shown
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = [
    "MAX_BODY",
    "MAX_HEAD",
    "MAX_REDIRECTS",
    "Hop",
    "Response",
    "build_request",
    "dechunk",
    "first_hop",
    "judge",
    "next_hop",
    "parse_headers",
    "parse_status",
    "probe",
    "url_for",
]

MAX_BODY = 64 * 1024  # bytes of body we read and match
MAX_HEAD = 16 * 1024  # bytes of status line and headers together
MAX_REDIRECTS = 7  # LWP::UserAgent's max_redirect
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORT = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Hop:
    """One request: where to connect, what to send, and how to speak TLS."""

    url: str
    connect: Target | tuple[str, int]  # the real, a proxy, or a host named in a redirect
    tls: bool
    sni: str
    host_header: str
    request_target: str  # origin form "/path?q", or the absolute URL through a proxy


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    phrase: str
    headers: Mapping[str, str]  # lower-cased names; the last value of a repeated one


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _split(url: str) -> tuple[str, str, int, str, str]:
    """scheme, hostname, port, origin-form target, authority for Host:."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORT or not parts.hostname:
        raise ProbeFailure(f"cannot fetch {url!r} (only http:// and https:// URLs)")
    try:
        port = parts.port or _DEFAULT_PORT[scheme]
    except ValueError:
        raise ProbeFailure(f"bad port in {url!r}") from None
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    host = parts.hostname
    shown_host = f"[{host}]" if ":" in host else host
    authority = shown_host if port == _DEFAULT_PORT[scheme] else f"{shown_host}:{port}"
    return scheme, host, port, target, authority


def first_hop(url: str, virtualhost: str = "", proxy: Target | None = None) -> Hop:
    """The first request for ``url`` (connect to its host, or to ``proxy``)."""
    scheme, host, port, target, authority = _split(url)
    if proxy is not None:
        # LWP through a proxy: absolute URL, Host from the URL, no TLS to the proxy.
        return Hop(url, proxy, False, "", authority, url)
    sni = virtualhost or ("" if _is_ip(host) else host)
    return Hop(url, (host, port), scheme == "https", sni, virtualhost or authority, target)


def next_hop(hop: Hop, location: str, virtualhost: str = "", proxy: Target | None = None) -> Hop:
    """The request a redirect to ``location`` leads to (relative locations resolved)."""
    url = urljoin(hop.url, location.strip())
    scheme, host, port, target, authority = _split(url)
    if proxy is not None:
        return Hop(url, proxy, False, "", authority, url)
    if virtualhost and host.lower() == virtualhost.lower():
        # Same site name: stay on the real; same port unless the URL names one
        # or the scheme changed.
        real_host, real_port = (
            (hop.connect.host, hop.connect.port) if isinstance(hop.connect, Target) else hop.connect
        )
        explicit = urlsplit(url).port
        same_scheme = urlsplit(hop.url).scheme.lower() == scheme
        keep = real_port if same_scheme and explicit is None else port
        return Hop(url, (real_host, keep), scheme == "https", virtualhost, virtualhost, target)
    sni = "" if _is_ip(host) else host
    return Hop(url, (host, port), scheme == "https", sni, authority, target)


def build_request(method: str, hop: Hop) -> bytes:
    """An HTTP/1.0 request: no keep-alive, no chunking to decode in the normal case."""
    lines = [
        f"{method} {hop.request_target} HTTP/1.0",
        f"Host: {hop.host_header}",
        "User-Agent: ldirectorpy",
        "Accept: */*",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


_STATUS = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})(?: (.*))?")


def parse_status(line: bytes) -> tuple[int, str]:
    """``HTTP/1.1 200 OK`` -> (200, "OK"); ProbeFailure for anything else."""
    match = _STATUS.fullmatch(line)
    if match is None:
        raise ProbeFailure(f"not an HTTP status line: {shown(line)!r}")
    return int(match.group(1)), (match.group(2) or b"").decode("latin-1").strip()


def parse_headers(lines: list[bytes]) -> dict[str, str]:
    """Header lines (without CRLF) -> {lower-cased name: last value}."""
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return headers


def dechunk(data: bytes) -> bytes:
    """Decode a chunked body, as much as is complete (we read at most MAX_BODY)."""
    out = bytearray()
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            break
        try:
            size = int(data[pos:end].split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += data[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2
        if pos > len(data):
            break
    return bytes(out)


def judge(
    response: Response,
    body: bytes,
    receive: re.Pattern[bytes] | None,
    truncated: bool = False,
) -> tuple[bool, str]:
    """ldirectord's verdict: 2xx, and ``receive`` (if any) found in the body."""
    status = f"HTTP {response.status} {response.phrase}".rstrip()
    if not 200 <= response.status < 300:
        return False, status
    if receive is None:
        return True, status
    if receive.search(body):
        return True, f"{status}; body matches receive"
    part = f"first {len(body)} bytes of the body" if truncated else f"body ({len(body)} bytes)"
    return False, f"{status} but {part} does not match receive {receive.pattern.decode()!r}"


async def _fetch(method: str, hop: Hop, progress: Progress) -> tuple[Response, bytes, bool]:
    host, port = (
        (hop.connect.host, hop.connect.port) if isinstance(hop.connect, Target) else hop.connect
    )
    progress.stage = "connect"
    stream = await open_stream(host, port, tls=hop.tls, server_hostname=hop.sni, progress=progress)
    try:
        progress.stage = "HTTP request"
        await stream.send(build_request(method, hop))
        progress.stage = "HTTP status"
        while True:
            status = parse_status(await stream.line())
            progress.stage = "HTTP headers"
            lines: list[bytes] = []
            size = 0
            while line := await stream.line():
                lines.append(line)
                size += len(line) + 2
                if size > MAX_HEAD:
                    raise ProbeFailure(f"headers longer than {MAX_HEAD} bytes")
            response = Response(status[0], status[1], parse_headers(lines))
            if not 100 <= response.status < 200:
                break  # skip interim 1xx answers
            progress.stage = "HTTP status"
        if method == "HEAD" or response.status in (204, 304):
            return response, b"", False
        progress.stage = "HTTP body"
        length_text = response.headers.get("content-length", "")
        chunked = "chunked" in response.headers.get("transfer-encoding", "").lower()
        length = int(length_text) if length_text.isdigit() and not chunked else None
        body = await stream.block(MAX_BODY, length)
        truncated = len(body) == MAX_BODY and (length is None or length > MAX_BODY)
        return response, dechunk(body) if chunked else body, truncated
    finally:
        stream.close()


async def _check(
    url: str,
    progress: Progress,
    *,
    method: str,
    virtualhost: str,
    receive: re.Pattern[bytes] | None,
    proxy: Target | None,
) -> tuple[bool, str]:
    hop = first_hop(url, virtualhost, proxy)
    redirects = 0
    while True:
        response, body, truncated = await _fetch(method, hop, progress)
        location = response.headers.get("location")
        if response.status not in REDIRECTS or not location:
            break
        if redirects == MAX_REDIRECTS:
            progress.stage = "HTTP redirect"
            raise ProbeFailure(f"more than {MAX_REDIRECTS} redirects (last to {location!r})")
        redirects += 1
        hop = next_hop(hop, location, virtualhost, proxy)
    ok, reason = judge(response, body, receive, truncated)
    if redirects:
        reason += f" (after {redirects} redirect{'s' if redirects > 1 else ''}, {hop.url})"
    return ok, reason


async def probe(
    url: str,
    timeout: float,
    *,
    method: str = "GET",
    virtualhost: str = "",
    receive: re.Pattern[bytes] | None = None,
    proxy: Target | None = None,
) -> ProbeResult:
    """Fetch ``url`` (through ``proxy`` when given) within ``timeout`` seconds in total."""
    return await bounded(
        timeout,
        lambda p: _check(
            url, p, method=method.upper(), virtualhost=virtualhost, receive=receive, proxy=proxy
        ),
    )


def url_for(service: str, target: Target, request: str) -> str:
    """ldirectord's URL: an absolute http(s):// request as it is, else scheme://real:port/path."""
    path = request.lstrip("/")
    if re.match(r"https?://", path, re.IGNORECASE):
        return path
    scheme = "https" if service == "https" else "http"
    return f"{scheme}://{target}/{path}"
