"""The RDP X.224 negotiation on the wire ([MS-RDPBCGR] 2.2.1.1 and 2.2.1.2), pure.

Client Connection Request (TPKT/X.224 fields big-endian, RDP_NEG_* little-endian)::

    03 00 LL LL   TPKT version 3, reserved, total length
    LI            X.224 length indicator: bytes after this one
    E0            CR code, credit 0
    00 00 00 00   DST-REF, SRC-REF
    00            class 0
    ...           "Cookie: mstshash=NAME\\r\\n" (optional)
    01 FF 08 00   RDP_NEG_REQ type 1, flags, length 8   (optional)
    PP PP PP PP   requestedProtocols

Server Connection Confirm: the same 11-byte header with code D0, then optionally
8 bytes of RDP_NEG_RSP (type 2, selectedProtocol) or RDP_NEG_FAILURE (type 3,
failureCode). SRC-REF varies between servers (xrdp 0x1234, FreeRDP 0) and is
not checked.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ldirectorpy.checks._common import ProbeFailure

__all__ = [
    "FAILURE_CODES",
    "MAX_TPKT",
    "MIN_TPKT",
    "PROTOCOLS",
    "PROTOCOL_HYBRID",
    "PROTOCOL_HYBRID_EX",
    "PROTOCOL_RDP",
    "PROTOCOL_RDSTLS",
    "PROTOCOL_SSL",
    "ConnectionConfirm",
    "NegFailure",
    "NegResponse",
    "RdpDecodeError",
    "build_connection_request",
    "parse_connection_confirm",
    "parse_protocols",
    "protocol_names",
    "tpkt_length",
]

PROTOCOL_RDP = 0x00
PROTOCOL_SSL = 0x01
PROTOCOL_HYBRID = 0x02
PROTOCOL_RDSTLS = 0x04
PROTOCOL_HYBRID_EX = 0x08
PROTOCOL_RDSAAD = 0x10

# Config spelling (rdpprotocols=) -> requestedProtocols bit.
PROTOCOLS: dict[str, int] = {
    "rdp": PROTOCOL_RDP,
    "ssl": PROTOCOL_SSL,
    "hybrid": PROTOCOL_HYBRID,
    "rdstls": PROTOCOL_RDSTLS,
    "hybrid_ex": PROTOCOL_HYBRID_EX,
}
_PROTOCOL_NAMES = {
    PROTOCOL_SSL: "PROTOCOL_SSL",
    PROTOCOL_HYBRID: "PROTOCOL_HYBRID",
    PROTOCOL_RDSTLS: "PROTOCOL_RDSTLS",
    PROTOCOL_HYBRID_EX: "PROTOCOL_HYBRID_EX",
    PROTOCOL_RDSAAD: "PROTOCOL_RDSAAD",
}

FAILURE_CODES: dict[int, str] = {
    1: "SSL_REQUIRED_BY_SERVER",
    2: "SSL_NOT_ALLOWED_BY_SERVER",
    3: "SSL_CERT_NOT_ON_SERVER",
    4: "INCONSISTENT_FLAGS",
    5: "HYBRID_REQUIRED_BY_SERVER",
    6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
}

MIN_TPKT = 11  # a CC without negotiation data
MAX_TPKT = 512  # generous sanity bound; real answers are 11 or 19 bytes

_TPKT_VERSION = 3
_CR = 0xE0
_CC = 0xD0
_NEG_REQ, _NEG_RSP, _NEG_FAILURE = 1, 2, 3


class RdpDecodeError(ProbeFailure):
    """The bytes are not a well-formed X.224 Connection Confirm."""


@dataclass(frozen=True, slots=True)
class NegResponse:
    flags: int
    selected: int


@dataclass(frozen=True, slots=True)
class NegFailure:
    code: int

    @property
    def name(self) -> str:
        return FAILURE_CODES.get(self.code, f"unknown failure code {self.code}")


@dataclass(frozen=True, slots=True)
class ConnectionConfirm:
    """A decoded CC; ``neg`` is None for a legacy server that sent no negotiation data."""

    neg: NegResponse | NegFailure | None


def protocol_names(value: int) -> str:
    """'PROTOCOL_RDP' for 0, else the set bits joined with '|'."""
    if value == PROTOCOL_RDP:
        return "PROTOCOL_RDP"
    names = [name for bit, name in _PROTOCOL_NAMES.items() if value & bit]
    unknown = value & ~sum(_PROTOCOL_NAMES)
    if unknown:
        names.append(f"0x{unknown:x}")
    return "|".join(names)


def parse_protocols(text: str) -> int:
    """``"ssl,hybrid"`` -> 3. ``"rdp"`` alone is 0; unknown names raise ValueError."""
    value = 0
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    if not words:
        raise ValueError("empty protocol list")
    for word in words:
        if word not in PROTOCOLS:
            raise ValueError(f"unknown RDP protocol {word!r} (known: {', '.join(PROTOCOLS)})")
        value |= PROTOCOLS[word]
    return value


def build_connection_request(protocols: int | None, cookie: str = "", flags: int = 0) -> bytes:
    """The client's X.224 Connection Request.

    ``protocols=None`` sends no RDP_NEG_REQ at all (a legacy pre-RDP-5.2 client).
    The cookie must be printable ASCII without CR/LF; it is ignored by servers
    but shows up in their logs and steers RD Connection Broker affinity.
    """
    variable = b""
    if cookie:
        if not cookie.isascii() or not cookie.isprintable():
            raise ValueError("RDP cookie must be printable ASCII")
        variable += b"Cookie: mstshash=" + cookie.encode("ascii") + b"\r\n"
    if protocols is not None:
        variable += struct.pack("<BBHI", _NEG_REQ, flags, 8, protocols)
    li = 6 + len(variable)
    if li > 254:
        raise ValueError("RDP cookie too long")
    header = struct.pack(">BBHBBHHB", _TPKT_VERSION, 0, 5 + li, li, _CR, 0, 0, 0)
    return header + variable


def tpkt_length(header: bytes) -> int:
    """The total PDU length from the first 4 bytes, after sanity checks."""
    if len(header) < 4:
        raise RdpDecodeError(f"short TPKT header ({len(header)} bytes)")
    if header[0] != _TPKT_VERSION:
        raise RdpDecodeError(f"bad TPKT version byte 0x{header[0]:02x} (not an RDP server?)")
    (length,) = struct.unpack_from(">H", header, 2)
    if not MIN_TPKT <= length <= MAX_TPKT:
        raise RdpDecodeError(f"implausible TPKT length {length}")
    return int(length)


def parse_connection_confirm(data: bytes) -> ConnectionConfirm:
    """Validate and decode one whole Connection Confirm PDU."""
    length = tpkt_length(data)
    if len(data) != length:
        raise RdpDecodeError(f"TPKT length {length} but {len(data)} bytes given")
    li, code = data[4], data[5]
    if li != length - 5:
        raise RdpDecodeError(f"X.224 length indicator {li} does not match TPKT length {length}")
    if code & 0xF0 != _CC:
        raise RdpDecodeError(f"X.224 code 0x{code:02x} is not a Connection Confirm (0xd0)")
    if data[10] != 0:
        raise RdpDecodeError(f"X.224 class {data[10]} is not class 0")
    if length == MIN_TPKT:
        return ConnectionConfirm(neg=None)
    if length < MIN_TPKT + 8:
        raise RdpDecodeError(f"truncated negotiation data ({length - MIN_TPKT} bytes)")
    neg_type, neg_flags, neg_len, value = struct.unpack_from("<BBHI", data, MIN_TPKT)
    if neg_len != 8:
        raise RdpDecodeError(f"negotiation data length {neg_len}, expected 8")
    if neg_type == _NEG_RSP:
        return ConnectionConfirm(neg=NegResponse(flags=neg_flags, selected=value))
    if neg_type == _NEG_FAILURE:
        return ConnectionConfirm(neg=NegFailure(code=value))
    raise RdpDecodeError(f"unknown negotiation type {neg_type}")
