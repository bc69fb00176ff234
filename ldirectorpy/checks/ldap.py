"""service=ldap and ldaps: bind, then a base-scope search of ``request``; up on
exactly one entry (whose DN matches ``receive``, when set).

As ldirectord's Net::LDAP check: an anonymous bind, or a simple bind as
``login`` with ``passwd``; then a search with base DN = ``request`` without
its leading ``/``, scope base, filter ``(objectClass=*)``. ldaps is the same
over TLS, without certificate verification. Differences, on purpose: one
deadline covers connect, bind and search (ldirectord's connect and bind
failures counted twice per pass, §5.4.6: here every pass is one verdict), no
attributes are asked for (``1.1``), and an unbind ends the session.

No library: the few LDAPv3 messages (RFC 4511) are BER-encoded here.

    LDAPMessage ::= SEQUENCE { messageID INTEGER, protocolOp CHOICE {...} }
    BindRequest     [APPLICATION 0]  { version 3, name, simple [0] password }
    BindResponse    [APPLICATION 1]  LDAPResult
    UnbindRequest   [APPLICATION 2]  NULL
    SearchRequest   [APPLICATION 3]  { base, scope, deref, sizeLimit,
                                       timeLimit, typesOnly, filter, attrs }
    SearchResultEntry [APPLICATION 4] { objectName, attributes }
    SearchResultDone  [APPLICATION 5] LDAPResult
    LDAPResult ::= { resultCode ENUMERATED, matchedDN, diagnosticMessage, ... }
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ldirectorpy.checks._common import ProbeFailure, Progress, bounded
from ldirectorpy.checks._stream import Stream, open_stream, shown
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = [
    "MAX_MESSAGE",
    "MAX_MESSAGES",
    "Message",
    "bind_request",
    "decode_message",
    "encode_length",
    "probe",
    "search_request",
]

MAX_MESSAGE = 64 * 1024  # bytes of one LDAP message
MAX_MESSAGES = 16  # messages read while waiting for SearchResultDone

_SEQUENCE, _INTEGER, _OCTETS, _ENUM, _BOOLEAN = 0x30, 0x02, 0x04, 0x0A, 0x01
BIND_REQUEST, BIND_RESPONSE, UNBIND_REQUEST = 0x60, 0x61, 0x42
SEARCH_REQUEST, SEARCH_ENTRY, SEARCH_DONE, SEARCH_REFERENCE = 0x63, 0x64, 0x65, 0x73
_SIMPLE_AUTH, _FILTER_PRESENT = 0x80, 0x87
RESULT_NAMES = {
    0: "success", 1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded",
    4: "sizeLimitExceeded", 7: "authMethodNotSupported", 8: "strongerAuthRequired",
    10: "referral", 32: "noSuchObject", 34: "invalidDNSyntax", 48: "inappropriateAuthentication",
    49: "invalidCredentials", 50: "insufficientAccessRights", 51: "busy", 52: "unavailable",
    53: "unwillingToPerform", 80: "other",
}  # fmt: skip


def encode_length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(value)) + value


def _int(tag: int, value: int) -> bytes:
    return _tlv(tag, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def _message(message_id: int, op: bytes) -> bytes:
    return _tlv(_SEQUENCE, _int(_INTEGER, message_id) + op)


def bind_request(message_id: int, dn: str, password: str) -> bytes:
    """A simple bind (anonymous when both are empty)."""
    body = _int(_INTEGER, 3) + _tlv(_OCTETS, dn.encode()) + _tlv(_SIMPLE_AUTH, password.encode())
    return _message(message_id, _tlv(BIND_REQUEST, body))


def search_request(message_id: int, base: str) -> bytes:
    """Base scope, never dereference, at most 2 entries, ``(objectClass=*)``, no attributes."""
    body = (
        _tlv(_OCTETS, base.encode())
        + _int(_ENUM, 0)  # scope: baseObject
        + _int(_ENUM, 0)  # derefAliases: never
        + _int(_INTEGER, 2)  # sizeLimit: 2 is enough to tell "exactly one"
        + _int(_INTEGER, 0)  # timeLimit: our deadline is the limit
        + _tlv(_BOOLEAN, b"\x00")  # typesOnly: false
        + _tlv(_FILTER_PRESENT, b"objectClass")
        + _tlv(_SEQUENCE, _tlv(_OCTETS, b"1.1"))  # RFC 4511 4.5.1.8: no attributes
    )
    return _message(message_id, _tlv(SEARCH_REQUEST, body))


def unbind_request(message_id: int) -> bytes:
    return _message(message_id, b"\x42\x00")


def _read_tlv(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, value, position after) of the element at ``pos``."""
    if pos + 2 > len(data):
        raise ProbeFailure("truncated LDAP message")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if not 0 < count <= 4 or pos + count > len(data):
            raise ProbeFailure("bad BER length in LDAP message")
        size = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        size = first
    if pos + size > len(data):
        raise ProbeFailure("truncated LDAP message")
    return tag, data[pos : pos + size], pos + size


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded response: its id, operation tag and, for results, code and text;
    for a SearchResultEntry, the entry's DN in ``text``."""

    message_id: int
    op: int
    code: int
    text: str


def decode_message(data: bytes) -> Message:
    """One LDAPMessage (the whole TLV) -> Message; ProbeFailure when malformed."""
    tag, body, _ = _read_tlv(data, 0)
    if tag != _SEQUENCE:
        raise ProbeFailure(f"not an LDAP message (tag 0x{tag:02x})")
    id_tag, id_bytes, pos = _read_tlv(body, 0)
    if id_tag != _INTEGER or not id_bytes:
        raise ProbeFailure("LDAP message without a message id")
    op, op_body, _ = _read_tlv(body, pos)
    message_id = int.from_bytes(id_bytes, "big", signed=True)
    if op == SEARCH_ENTRY:
        dn_tag, dn, _ = _read_tlv(op_body, 0)
        if dn_tag != _OCTETS:
            raise ProbeFailure("search entry without a DN")
        return Message(message_id, op, 0, dn.decode("utf-8", "replace"))
    if op in (BIND_RESPONSE, SEARCH_DONE):
        code_tag, code, pos = _read_tlv(op_body, 0)
        if code_tag != _ENUM or not code:
            raise ProbeFailure("LDAP result without a result code")
        _, _matched, pos = _read_tlv(op_body, pos)
        _, diagnostic, _ = _read_tlv(op_body, pos)
        text = diagnostic.decode("utf-8", "replace")
        return Message(message_id, op, int.from_bytes(code, "big"), text)
    return Message(message_id, op, 0, "")


async def _read_message(stream: Stream) -> Message:
    head = await stream.reader.readexactly(2)
    if head[0] != _SEQUENCE:  # say so now rather than wait for a length that means nothing
        raise ProbeFailure(f"not an LDAP message (tag 0x{head[0]:02x})")
    extra = b""
    if head[1] & 0x80:
        count = head[1] & 0x7F
        if not 0 < count <= 4:
            raise ProbeFailure("bad BER length in LDAP message")
        extra = await stream.reader.readexactly(count)
        size = int.from_bytes(extra, "big")
    else:
        size = head[1]
    if size > MAX_MESSAGE:
        raise ProbeFailure(f"LDAP message of {size} bytes is over the {MAX_MESSAGE}-byte cap")
    return decode_message(head + extra + await stream.reader.readexactly(size))


def _result(message: Message) -> str:
    name = RESULT_NAMES.get(message.code, f"result {message.code}")
    return f"{name}: {shown(message.text.encode())}" if message.text else name


async def _session(
    target: Target,
    progress: Progress,
    *,
    tls: bool,
    login: str,
    passwd: str,
    base: str,
    receive: re.Pattern[bytes] | None,
) -> tuple[bool, str]:
    stream = await open_stream(target, tls=tls, progress=progress)
    try:
        progress.stage = "LDAP bind"
        await stream.send(bind_request(1, login, passwd if login else ""))
        reply = await _read_message(stream)
        if reply.op != BIND_RESPONSE or reply.message_id != 1:
            raise ProbeFailure(f"expected a bind response, got operation 0x{reply.op:02x}")
        who = f"as {login!r}" if login else "anonymous"
        if reply.code != 0:
            return False, f"LDAP bind {who} failed: {_result(reply)}"
        progress.stage = "LDAP search"
        await stream.send(search_request(2, base))
        entries: list[str] = []
        for _ in range(MAX_MESSAGES):
            reply = await _read_message(stream)
            if reply.message_id != 2:
                continue
            if reply.op == SEARCH_ENTRY:
                entries.append(reply.text)
            elif reply.op == SEARCH_DONE:
                break
        else:
            raise ProbeFailure(f"no search result within {MAX_MESSAGES} messages")
        stream.farewell(unbind_request(3))
        if reply.code not in (0, 4) or not entries:  # 4: sizeLimitExceeded (more than 1)
            return False, f"LDAP search of {base!r}: {_result(reply)}, {len(entries)} entries"
        if len(entries) != 1:
            return False, f"LDAP search of {base!r}: {len(entries)} entries, not exactly 1"
        dn = entries[0]
        if receive is not None and not receive.search(dn.encode()):
            return False, (f"LDAP entry {dn!r} does not match receive {receive.pattern.decode()!r}")
        return True, f"LDAP bind {who}; entry {dn!r}"
    except EOFError as exc:  # IncompleteReadError
        raise ProbeFailure("connection closed mid-message") from exc
    finally:
        stream.close()


async def probe(
    target: Target,
    timeout: float,
    *,
    request: str = "/",
    receive: re.Pattern[bytes] | None = None,
    login: str = "",
    passwd: str = "",
    tls: bool = False,
) -> ProbeResult:
    """Bind to ``target`` and search ``request`` within ``timeout`` seconds in total."""
    base = request.removeprefix("/")
    return await bounded(
        timeout,
        lambda p: _session(
            target, p, tls=tls, login=login, passwd=passwd, base=base, receive=receive
        ),
    )
