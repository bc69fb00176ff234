"""The RDP probe: X.224 negotiation, then (by default) a TLS handshake.

Steps, all inside ONE deadline: TCP connect; send the Connection Request with
RDP_NEG_REQ and an ``mstshash`` cookie; read one TPKT (at most 512 bytes);
validate the Connection Confirm; judge the negotiation answer; when the server
selected an enhanced security protocol (SSL, HYBRID, ... all start with TLS),
complete a TLS handshake without verifying the certificate (RDP certificates are
usually self-signed), optionally pinning its SHA-256 and warning on expiry.
This catches "TermService listens but its certificate/Schannel is broken".
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ldirectorpy.checks import _sockio
from ldirectorpy.checks._common import ProbeFailure, Progress, bounded
from ldirectorpy.checks._der import cert_not_after
from ldirectorpy.checks.rdp_wire import (
    MAX_TPKT,
    PROTOCOL_HYBRID,
    PROTOCOL_RDP,
    PROTOCOL_SSL,
    ConnectionConfirm,
    NegFailure,
    NegResponse,
    RdpDecodeError,
    build_connection_request,
    parse_connection_confirm,
    protocol_names,
    tpkt_length,
)
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["RdpOptions", "Verdict", "judge", "parse_fingerprint", "probe"]


def parse_fingerprint(text: str) -> bytes:
    """SHA-256 hex, colons/spaces optional -> 32 bytes; ValueError otherwise."""
    cleaned = text.replace(":", "").replace(" ", "").strip()
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"fingerprint is not hex: {text!r}") from None
    if len(raw) != 32:
        raise ValueError(f"SHA-256 fingerprint must be 32 bytes, got {len(raw)}")
    return raw


@dataclass(frozen=True, slots=True)
class RdpOptions:
    """The rdp* directives (contract 3). ``protocols=None`` sends a legacy CR."""

    protocols: int | None = PROTOCOL_SSL | PROTOCOL_HYBRID
    cookie: str = "ldirectorpy"
    negfailure_up: bool = True
    tls: bool = True
    fingerprint: bytes | None = None
    expiry_warn_days: int = 14
    tls_min_version: ssl.TLSVersion | None = None  # None: the system's default
    request: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Encoded once per check, not once per probe.
        object.__setattr__(self, "request", build_connection_request(self.protocols, self.cookie))


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judgement of a Connection Confirm, before any TLS."""

    ok: bool
    reason: str
    tls: bool  # the server selected a protocol that starts with a TLS handshake


def judge(cc: ConnectionConfirm, options: RdpOptions) -> Verdict:
    """Decide what a Connection Confirm means for the probe (pure)."""
    neg = cc.neg
    if neg is None:
        return Verdict(True, "legacy X.224 CC (no negotiation data)", tls=False)
    if isinstance(neg, NegFailure):
        text = f"RDP_NEG_FAILURE {neg.name}"
        if options.negfailure_up:
            return Verdict(True, f"{text} (RDP stack answers; rdpnegfailure=up)", tls=False)
        return Verdict(False, text, tls=False)
    assert isinstance(neg, NegResponse)
    requested = options.protocols or 0
    selected = neg.selected
    name = protocol_names(selected)
    if selected == PROTOCOL_RDP:
        # Standard RDP security is every client's fallback (xrdp answers a
        # HYBRID-only request this way); it is an answer, not a failure.
        return Verdict(True, f"X.224 CC: {name} selected", tls=False)
    if selected & (selected - 1) or selected & requested != selected:
        return Verdict(
            False,
            f"X.224 CC: server selected {name}, not one of {protocol_names(requested)}",
            tls=False,
        )
    return Verdict(True, f"X.224 CC: {name} selected", tls=True)


@functools.lru_cache(maxsize=8)
def _tls_context(minimum: ssl.TLSVersion | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        ctx.minimum_version = minimum
        if minimum < ssl.TLSVersion.TLSv1_2:
            # Debian's SECLEVEL 2 refuses TLS 1.0/1.1 regardless of minimum_version.
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def _tls_report(ssl_object: ssl.SSLObject, options: RdpOptions, now: datetime) -> str:
    """Check the pin and the expiry of the peer certificate; raise ProbeFailure on a bad pin."""
    version = ssl_object.version() or "TLS"
    der = ssl_object.getpeercert(binary_form=True)
    if der is None:
        raise ProbeFailure(f"{version} handshake gave no server certificate")
    notes = [f"{version} ok"]
    if options.fingerprint is not None:
        digest = hashlib.sha256(der).digest()
        if digest != options.fingerprint:
            raise ProbeFailure(f"{version} ok but certificate SHA-256 {digest.hex()} is not pinned")
        notes.append("certificate pin matches")
    if options.expiry_warn_days > 0:
        try:
            not_after = cert_not_after(der)
        except ValueError as exc:
            notes.append(f"warning: cannot read certificate expiry ({exc})")
        else:
            days = (not_after - now).total_seconds() / 86400
            if days < 0:
                notes.append(f"warning: certificate expired {-days:.0f} days ago")
            elif days < options.expiry_warn_days:
                notes.append(f"warning: certificate expires in {days:.1f} days")
    return "; ".join(notes)


async def _receive_tpkt(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    """Read exactly one TPKT, never more than MAX_TPKT bytes in total."""
    buf = bytearray()
    need = 4
    while len(buf) < need:
        chunk = await _sockio.recv(loop, sock, MAX_TPKT - len(buf))
        if not chunk:
            raise RdpDecodeError(f"connection closed after {len(buf)} bytes")
        buf += chunk
        if need == 4 and len(buf) >= 4:
            need = tpkt_length(bytes(buf[:4]))
    return bytes(buf[:need])


MAX_TLS_HANDSHAKE = 64 * 1024  # bytes read during the handshake, at most


async def _tls_handshake(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, ctx: ssl.SSLContext
) -> ssl.SSLObject:
    """A TLS client handshake on our own socket, through memory BIOs.

    No asyncio transport takes the socket over, so the probe alone owns and
    closes its file descriptor (a transport that is still shutting down when
    the fd is closed and reused makes the loop refuse the next socket).
    """
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    # No SNI, no name check: RDP certificates are rarely for the IP.
    tls = ctx.wrap_bio(incoming, outgoing, server_side=False, server_hostname=None)
    received = 0
    while True:
        try:
            tls.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        pending = outgoing.read()
        if pending:
            await _sockio.sendall(loop, sock, pending)
        if done:
            return tls
        chunk = await _sockio.recv(loop, sock, 16384)
        if not chunk:
            raise ProbeFailure("connection closed by peer")
        received += len(chunk)
        if received > MAX_TLS_HANDSHAKE:
            raise ProbeFailure(f"more than {MAX_TLS_HANDSHAKE} bytes")
        incoming.write(chunk)


async def _negotiate(target: Target, options: RdpOptions, progress: Progress) -> tuple[bool, str]:
    loop = asyncio.get_running_loop()
    sock = _sockio.tcp_socket(target.family)
    try:
        await _sockio.connect(loop, sock, target.sockaddr)
        progress.stage = "X.224 request"
        await _sockio.sendall(loop, sock, options.request)
        progress.stage = "X.224 confirm"
        verdict = judge(parse_connection_confirm(await _receive_tpkt(loop, sock)), options)
        if not (verdict.ok and verdict.tls and options.tls):
            return verdict.ok, verdict.reason
        progress.stage = "TLS handshake"
        tls = await _tls_handshake(loop, sock, _tls_context(options.tls_min_version))
        return True, f"{verdict.reason}; {_tls_report(tls, options, datetime.now(UTC))}"
    finally:
        sock.close()  # no close_notify round trip; the probe is over


async def probe(target: Target, timeout: float, options: RdpOptions | None = None) -> ProbeResult:
    """Probe one RDP server within ``timeout`` seconds in total."""
    opts = options if options is not None else _DEFAULT_OPTIONS
    return await bounded(timeout, lambda p: _negotiate(target, opts, p))


_DEFAULT_OPTIONS = RdpOptions()
