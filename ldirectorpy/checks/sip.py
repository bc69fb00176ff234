"""service=sip: an OPTIONS request over UDP or TCP (the virtual's protocol); up on 200.

The request is ldirectord's (``OPTIONS sip:<login>``, Max-Forwards 70, CSeq
63104, ``Accept: application/sdp``, no body), with these changes: the Via
names the transport really used (ldirectord always wrote UDP), branch, tag
and Call-ID are random per probe (a fixed branch can be taken for a
retransmission), provisional 1xx answers are skipped, and nothing is printed
to stdout. Over UDP, only a reply carrying our Call-ID is taken. Up is a final
status line starting with ``SIP/2.0 200``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from ldirectorpy.checks import _dgram
from ldirectorpy.checks._common import ProbeFailure, Progress, bounded
from ldirectorpy.checks._stream import Stream, open_stream, shown
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["MAX_PROVISIONAL", "build_options", "judge_status", "probe"]

MAX_PROVISIONAL = 8  # 1xx answers skipped before giving up
_STATUS = re.compile(rb"SIP/2\.0 (\d{3})(?: .*)?")


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def build_options(
    login: str, target: Target, local: tuple[str, int], transport: str, call_id: str
) -> bytes:
    """The OPTIONS request; ``local`` is our (address, port) for the Via."""
    uri = f"sip:{login}" if login else f"sip:{_host(target.host)}:{target.port}"
    branch = "z9hG4bK" + secrets.token_hex(8)  # RFC 3261 magic cookie + a fresh id
    lines = [
        f"OPTIONS {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport} {_host(local[0])}:{local[1]};branch={branch}",
        "Max-Forwards: 70",
        f"To: <{uri}>",
        f"From: <{uri}>;tag={secrets.token_hex(4)}",
        f"Call-ID: {call_id}",
        "CSeq: 63104 OPTIONS",
        f"Contact: <{uri}>",
        "Accept: application/sdp",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def judge_status(line: bytes) -> tuple[bool | None, str]:
    """(True, ...) for 200, (False, ...) for another final status, (None, ...) for 1xx."""
    match = _STATUS.fullmatch(line)
    if match is None:
        raise ProbeFailure(f"not a SIP status line: {shown(line)!r}")
    code = int(match.group(1))
    if code < 200:
        return None, shown(line)
    return code == 200, shown(line)


def _final(status: bytes) -> tuple[bool, str]:
    ok, text = judge_status(status)
    return bool(ok), text if ok else f"OPTIONS answered {text!r}"


def _reply_for(call_id: str) -> Callable[[bytes], bool]:
    """Accepts a final answer carrying ``call_id``; ignores strays, 1xx and garbage."""
    marker = f"call-id: {call_id}".encode()
    compact = f"i: {call_id}".encode()  # RFC 3261 compact form

    def accept(data: bytes) -> bool:
        lower = data.lower()
        if marker not in lower and compact not in lower:
            return False
        try:
            ok, _ = judge_status(_first_line(data))
        except ProbeFailure:
            return False  # garbage: the deadline speaks if nothing better comes
        return ok is not None

    return accept


def _first_line(data: bytes) -> bytes:
    return data.split(b"\n", 1)[0].rstrip(b"\r")


async def _over_udp(target: Target, login: str, progress: Progress) -> tuple[bool, str]:
    call_id = secrets.token_hex(8)
    progress.stage = "SIP reply"
    reply = await _dgram.exchange(
        target,
        lambda local: build_options(login, target, local, "UDP", call_id),
        _reply_for(call_id),
    )
    return _final(_first_line(reply))


async def _skip_headers(stream: Stream) -> None:
    while await stream.line():
        pass


async def _over_tcp(target: Target, login: str, progress: Progress) -> tuple[bool, str]:
    stream = await open_stream(target)
    try:
        sock = stream.writer.get_extra_info("sockname")
        progress.stage = "SIP request"
        await stream.send(
            build_options(login, target, (sock[0], sock[1]), "TCP", secrets.token_hex(8))
        )
        progress.stage = "SIP reply"
        for _ in range(MAX_PROVISIONAL):
            status = await stream.line()
            ok, _text = judge_status(status)
            if ok is not None:
                return _final(status)
            await _skip_headers(stream)
        raise ProbeFailure(f"more than {MAX_PROVISIONAL} provisional answers")
    finally:
        stream.close()


async def probe(
    target: Target, timeout: float, *, login: str = "", udp: bool = True
) -> ProbeResult:
    """Send OPTIONS to ``target`` and wait for a 200 within ``timeout`` seconds in total."""
    exchange = _over_udp if udp else _over_tcp
    return await bounded(timeout, lambda p: exchange(target, login, p))
