"""service=ftp: log in, download ``request`` over a passive data connection,
and match its content against ``receive``.

As ldirectord's Net::FTP check: USER/PASS (``login``/``passwd``; the config
defaults them to anonymous), CWD /, TYPE I, PASV, RETR ``request`` (an
absolute path), QUIT; up when the content matches ``receive``. Differences,
on purpose:

- the data connection goes to the real's own address on the port the server
  announced (never to another host named in a 227 reply: NAT-safe and no FTP
  bounce); IPv6 uses EPSV;
- at most ``MAX_FILE`` bytes are read and matched;
- an empty ``receive`` (unreliable in ldirectord: Perl reused the last
  pattern) means the download must complete: RETR answers 1xx and the final
  reply after the data is 2xx.
"""

from __future__ import annotations

import re

from ldirectorpy.checks._common import ProbeFailure, Progress, bounded
from ldirectorpy.checks._stream import Stream, open_stream, shown
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["MAX_FILE", "MAX_REPLY_LINES", "parse_epsv", "parse_pasv", "probe", "read_reply"]

MAX_FILE = 64 * 1024  # bytes of the file we read and match
MAX_REPLY_LINES = 64
_PASV = re.compile(rb"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")
_EPSV = re.compile(rb"\((.)\1\1(\d{1,5})\1\)")


async def read_reply(stream: Stream) -> tuple[int, str]:
    """One reply (RFC 959 multi-line ``ddd-`` ... ``ddd ``): its code and first text."""
    first = await stream.line()
    if len(first) < 3 or not first[:3].isdigit() or first[3:4] not in (b"", b" ", b"-"):
        raise ProbeFailure(f"not an FTP reply: {shown(first)!r}")
    code, text = int(first[:3]), shown(first[4:])
    if first[3:4] == b"-":
        end = first[:3] + b" "
        for _ in range(MAX_REPLY_LINES):
            line = await stream.line()
            if line.startswith(end) or line == first[:3]:
                break
        else:
            raise ProbeFailure(f"reply longer than {MAX_REPLY_LINES} lines")
    return code, text


def parse_pasv(text: bytes) -> int:
    """The port of a ``227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)`` reply."""
    match = _PASV.search(text)
    if match is None:
        raise ProbeFailure(f"no address in the PASV reply {shown(text)!r}")
    high, low = int(match.group(5)), int(match.group(6))
    if high > 255 or low > 255:
        raise ProbeFailure(f"bad port in the PASV reply {shown(text)!r}")
    return high * 256 + low


def parse_epsv(text: bytes) -> int:
    """The port of a ``229 Entering Extended Passive Mode (|||port|)`` reply."""
    match = _EPSV.search(text)
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise ProbeFailure(f"no port in the EPSV reply {shown(text)!r}")
    return int(match.group(2))


async def _command(
    stream: Stream, progress: Progress, line: str, want: tuple[int, ...], shown_as: str = ""
) -> tuple[int, str]:
    progress.stage = f"FTP {shown_as or line}"
    await stream.send(line.encode() + b"\r\n")
    code, text = await read_reply(stream)
    if code // 100 not in want:
        raise ProbeFailure(f"answered {code} {text}".rstrip())
    return code, text


async def _passive_port(stream: Stream, target: Target, progress: Progress) -> int:
    verb = "EPSV" if ":" in target.host else "PASV"
    progress.stage = f"FTP {verb}"
    await stream.send(verb.encode() + b"\r\n")
    line = await stream.line()  # a 227/229 reply is one line
    if not line.startswith(b"227" if verb == "PASV" else b"229"):
        raise ProbeFailure(f"answered {shown(line)!r}")
    return parse_pasv(line) if verb == "PASV" else parse_epsv(line)


async def _session(
    target: Target,
    progress: Progress,
    *,
    login: str,
    passwd: str,
    path: str,
    receive: re.Pattern[bytes] | None,
) -> tuple[bool, str]:
    control = await open_stream(target)
    data: Stream | None = None
    try:
        progress.stage = "FTP greeting"
        code, text = await read_reply(control)
        if code // 100 != 2:
            return False, f"FTP greeting {code} {text}".rstrip()
        code, _ = await _command(control, progress, f"USER {login}", (2, 3))
        if code // 100 == 3:
            await _command(control, progress, f"PASS {passwd}", (2,), "PASS")
        await _command(control, progress, "CWD /", (2,))
        await _command(control, progress, "TYPE I", (2,))
        port = await _passive_port(control, target, progress)
        progress.stage = "FTP data connect"
        data = await open_stream(target.host, port)
        await _command(control, progress, f"RETR {path}", (1,))
        progress.stage = "FTP data"
        content = await data.block(MAX_FILE)
        truncated = len(content) == MAX_FILE
        if receive is not None:
            control.farewell(b"QUIT\r\n")
            if receive.search(content):
                return True, f"RETR {path}: {len(content)} bytes match receive"
            part = f"first {len(content)} bytes" if truncated else f"{len(content)} bytes"
            raise ProbeFailure(
                f"{part} of {path} do not match receive {receive.pattern.decode()!r}"
            )
        if truncated:
            control.farewell(b"QUIT\r\n")
            return True, f"RETR {path}: more than {MAX_FILE} bytes"
        progress.stage = "FTP transfer complete"
        code, text = await read_reply(control)
        control.farewell(b"QUIT\r\n")
        if code // 100 != 2:
            return False, f"RETR {path}: transfer ended with {code} {text}".rstrip()
        return True, f"RETR {path}: {len(content)} bytes"
    finally:
        if data is not None:
            data.close()
        control.close()


async def probe(
    target: Target,
    timeout: float,
    *,
    login: str = "anonymous",
    passwd: str = "",
    request: str = "/",
    receive: re.Pattern[bytes] | None = None,
) -> ProbeResult:
    """Download ``request`` from the FTP server ``target`` within ``timeout`` seconds."""
    path = "/" + request.lstrip("/")
    return await bounded(
        timeout,
        lambda p: _session(target, p, login=login, passwd=passwd, path=path, receive=receive),
    )
