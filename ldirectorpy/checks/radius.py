"""service=radius: one RFC 2865 Access-Request; up only on an Access-Accept.

Like ldirectord's Authen::Radius ``check_pwd``: User-Name = ``login``,
User-Password = ``passwd`` hidden with the shared ``secret``, to the real on
the check port over UDP; an Access-Reject is down, so real credentials are
needed. Added: a Message-Authenticator (RFC 3579, what servers hardened
against BlastRADIUS demand), a NAS-Identifier, and a check of the Response
Authenticator, so a reply forged or signed with another secret is not taken
for an answer.

Packet (RFC 2865 §3): code(1) identifier(1) length(2) authenticator(16)
attributes: type(1) length(1) value.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

from ldirectorpy.checks import _dgram
from ldirectorpy.checks._common import ProbeFailure, Progress, bounded
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = [
    "ACCESS_ACCEPT",
    "ACCESS_REQUEST",
    "Request",
    "build_access_request",
    "hide_password",
    "judge",
    "probe",
]

ACCESS_REQUEST, ACCESS_ACCEPT, ACCESS_REJECT, ACCESS_CHALLENGE = 1, 2, 3, 11
USER_NAME, USER_PASSWORD, NAS_IDENTIFIER, MESSAGE_AUTHENTICATOR = 1, 2, 32, 80
_NAMES = {ACCESS_ACCEPT: "Access-Accept", ACCESS_REJECT: "Access-Reject",
          ACCESS_CHALLENGE: "Access-Challenge"}  # fmt: skip
NAS_ID = b"ldirectorpy"


def hide_password(password: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """RFC 2865 §5.2: pad to 16s, then XOR each block with MD5(secret + previous)."""
    if len(password) > 128:
        raise ValueError("a RADIUS password is at most 128 bytes")
    padded = password + b"\0" * (-len(password) % 16 or (16 if not password else 0))
    out = bytearray()
    previous = authenticator
    for i in range(0, len(padded), 16):
        key = hashlib.md5(secret + previous).digest()
        block = bytes(a ^ b for a, b in zip(padded[i : i + 16], key, strict=True))
        out += block
        previous = block
    return bytes(out)


def _attribute(kind: int, value: bytes) -> bytes:
    if len(value) > 253:
        raise ValueError(f"RADIUS attribute {kind} is longer than 253 bytes")
    return struct.pack("!BB", kind, len(value) + 2) + value


@dataclass(frozen=True, slots=True)
class Request:
    identifier: int
    authenticator: bytes
    packet: bytes


def build_access_request(
    login: str, passwd: str, secret: str, identifier: int, authenticator: bytes
) -> Request:
    """An Access-Request with User-Name, User-Password, NAS-Identifier and a
    Message-Authenticator (HMAC-MD5 over the packet with that field zeroed)."""
    key = secret.encode()
    attributes = (
        _attribute(USER_NAME, login.encode())
        + _attribute(USER_PASSWORD, hide_password(passwd.encode(), key, authenticator))
        + _attribute(NAS_IDENTIFIER, NAS_ID)
    )
    zeroed = _attribute(MESSAGE_AUTHENTICATOR, b"\0" * 16)
    length = 20 + len(attributes) + len(zeroed)
    head = struct.pack("!BBH", ACCESS_REQUEST, identifier, length) + authenticator
    mac = hmac.new(key, head + attributes + zeroed, hashlib.md5).digest()
    packet = head + attributes + _attribute(MESSAGE_AUTHENTICATOR, mac)
    return Request(identifier, authenticator, packet)


def judge(reply: bytes, request: Request, secret: str) -> tuple[bool, str]:
    """Accept only an authentic Access-Accept answering ``request``."""
    if len(reply) < 20:
        raise ProbeFailure(f"RADIUS reply of {len(reply)} bytes is too short")
    code, identifier, length = struct.unpack("!BBH", reply[:4])
    if identifier != request.identifier or not 20 <= length <= len(reply):
        raise ProbeFailure("RADIUS reply does not answer our request")
    packet = reply[:length]
    expected = hashlib.md5(
        packet[:4] + request.authenticator + packet[20:] + secret.encode()
    ).digest()
    if not hmac.compare_digest(expected, packet[4:20]):
        raise ProbeFailure("RADIUS reply authenticator is wrong (is the secret the same?)")
    name = _NAMES.get(code, f"code {code}")
    return code == ACCESS_ACCEPT, name


async def _ask(
    target: Target, login: str, passwd: str, secret: str, progress: Progress
) -> tuple[bool, str]:
    request = build_access_request(login, passwd, secret, os.urandom(1)[0], os.urandom(16))
    progress.stage = "RADIUS reply"
    reply = await _dgram.exchange(
        target, request.packet, lambda data: len(data) >= 20 and data[1] == request.identifier
    )
    ok, name = judge(reply, request, secret)
    return ok, f"{name} for {login!r}"


async def probe(
    target: Target, timeout: float, *, login: str, passwd: str, secret: str
) -> ProbeResult:
    """Ask ``target`` to authenticate ``login`` within ``timeout`` seconds in total."""
    return await bounded(timeout, lambda p: _ask(target, login, passwd, secret, p))
