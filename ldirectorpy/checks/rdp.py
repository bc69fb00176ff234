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

import functools
import hashlib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ldirectorpy.checks import _reactor
from ldirectorpy.checks._common import ProbeFailure
from ldirectorpy.checks._der import cert_not_after
from ldirectorpy.checks._reactor import StreamProbe
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

__all__ = ["RdpOptions", "Verdict", "check", "judge", "judged", "parse_fingerprint", "probe"]


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
    # Connection Confirm bytes -> their verdict under these options (see judged).
    verdicts: dict[bytes, Verdict] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Encoded once per check, not once per probe.
        object.__setattr__(self, "request", build_connection_request(self.protocols, self.cookie))
        object.__setattr__(self, "verdicts", {})


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


JUDGED_MAX = 64  # distinct Connection Confirms remembered per set of options


def judged(data: bytes, options: RdpOptions) -> Verdict:
    """``judge(parse_connection_confirm(data), options)``, remembered: a server
    answers every probe with the same bytes, and at 200 reals in the emulated
    guest decoding and judging them anew was a good part of the probe's
    Python time. Undecodable answers raise as before and are not remembered."""
    memo = options.verdicts
    verdict = memo.get(data)
    if verdict is None:
        verdict = judge(parse_connection_confirm(data), options)
        if len(memo) >= JUDGED_MAX:
            memo.clear()
        memo[data] = verdict
    return verdict


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


MAX_TLS_HANDSHAKE = 64 * 1024  # bytes read during the handshake, at most
TLS_READ = 16384


class _RdpProbe(StreamProbe):
    """Connect, send the Connection Request, read ONE TPKT (at most MAX_TPKT
    bytes in total), judge it; then, when the server selected a protocol that
    starts with TLS, a TLS client handshake through memory BIOs on the probe's
    own socket (no transport takes the fd over, so the probe alone closes it).
    """

    __slots__ = (
        "_buf",
        "_incoming",
        "_need",
        "_options",
        "_outgoing",
        "_tls",
        "_tls_read",
        "_x224",
    )

    def __init__(self, target: Target, options: RdpOptions) -> None:
        super().__init__(target)
        self._options = options
        self._buf = b""
        self._need = 4  # the TPKT header, then the whole TPKT
        self.read_size = MAX_TPKT
        self._tls: ssl.SSLObject | None = None
        self._incoming = self._outgoing = _NO_BIO
        self._tls_read = 0
        self._x224 = ""

    def connected(self) -> None:
        self.stage = "X.224 request"
        self.send(self._options.request)
        self.stage = "X.224 confirm"

    def received(self, chunk: bytes) -> None:
        if self._tls is not None:
            self._tls_received(chunk)
            return
        if not chunk:
            raise RdpDecodeError(f"connection closed after {len(self._buf)} bytes")
        buf = self._buf = self._buf + chunk
        if self._need == 4 and len(buf) >= 4:
            self._need = tpkt_length(buf[:4])
        if len(buf) < self._need:
            self.read_size = MAX_TPKT - len(buf)
            return
        options = self._options
        verdict = judged(buf[: self._need], options)
        if not (verdict.ok and verdict.tls and options.tls):
            self.finish(verdict.ok, verdict.reason)
            return
        self.stage = "TLS handshake"
        self._x224 = verdict.reason
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        # No SNI, no name check: RDP certificates are rarely for the IP.
        self._tls = _tls_context(options.tls_min_version).wrap_bio(
            self._incoming, self._outgoing, server_side=False, server_hostname=None
        )
        self.read_size = TLS_READ
        self._tls_step(self._tls)

    def _tls_received(self, chunk: bytes) -> None:
        if not chunk:
            raise ProbeFailure("connection closed by peer")
        self._tls_read += len(chunk)
        if self._tls_read > MAX_TLS_HANDSHAKE:
            raise ProbeFailure(f"more than {MAX_TLS_HANDSHAKE} bytes")
        self._incoming.write(chunk)
        assert self._tls is not None
        self._tls_step(self._tls)

    def _tls_step(self, tls: ssl.SSLObject) -> None:
        try:
            tls.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        pending = self._outgoing.read()
        if pending:
            self.send(pending)  # our last flight goes out as the socket takes it
        if done:
            report = _tls_report(tls, self._options, datetime.now(UTC))
            self.finish(True, f"{self._x224}; {report}")


_NO_BIO = ssl.MemoryBIO()  # a placeholder until the TLS stage


async def probe(target: Target, timeout: float, options: RdpOptions | None = None) -> ProbeResult:
    """Probe one RDP server within ``timeout`` seconds in total."""
    return await check(target, timeout, options)()


def check(
    target: Target, timeout: float, options: RdpOptions | None = None
) -> _reactor.ReactorCheck:
    """``probe`` for one target, as a check the health engine starts without a task."""
    opts = options if options is not None else _DEFAULT_OPTIONS
    return _reactor.ReactorCheck(functools.partial(_RdpProbe, target, opts), timeout)


_DEFAULT_OPTIONS = RdpOptions()
