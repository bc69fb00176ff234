"""service=ldap/ldaps: bind and base search against an in-process LDAP responder."""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from checks_loopback import closed_port, tcp_server

from ldirectorpy.checks import CheckSpec, build_probe, ldap
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

TIMEOUT = 0.3
SLACK = 0.25


# -- an independent BER reader/writer for the server side -----------------------


def tlv(tag: int, value: bytes) -> bytes:
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    raw = size.to_bytes(4, "big")
    return bytes([tag, 0x84]) + raw + value


def parse(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        tag, size = data[pos], data[pos + 1]
        pos += 2
        if size & 0x80:
            count = size & 0x7F
            size = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        out.append((tag, data[pos : pos + size]))
        pos += size
    return out


def result(message_id: int, op: int, code: int, text: bytes = b"") -> bytes:
    body = tlv(0x0A, bytes([code])) + tlv(0x04, b"") + tlv(0x04, text)
    return tlv(0x30, tlv(0x02, bytes([message_id])) + tlv(op, body))


def entry(message_id: int, dn: bytes) -> bytes:
    return tlv(0x30, tlv(0x02, bytes([message_id])) + tlv(0x64, tlv(0x04, dn) + tlv(0x30, b"")))


@dataclass
class Slapd:
    entries: dict[bytes, int] = field(default_factory=lambda: {b"dc=example,dc=org": 1})
    users: dict[bytes, bytes] = field(
        default_factory=lambda: {b"cn=probe,dc=example,dc=org": b"pw"}
    )
    extra: bytes = b""  # sent before the search answer (e.g. a stray message)
    requests: list[tuple[int, list[tuple[int, bytes]]]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readexactly(2)
            size = head[1]
            if size & 0x80:
                size = int.from_bytes(await reader.readexactly(size & 0x7F), "big")
            body = await reader.readexactly(size)
            (_, mid), (op, payload) = parse(body)[:2]
            fields = parse(payload) if op != 0x42 else []
            self.requests.append((op, fields))
            if op == 0x60:
                dn, password = fields[1][1], fields[2][1]
                ok = (dn, password) == (b"", b"") or self.users.get(dn) == password
                writer.write(result(mid[0], 0x61, 0 if ok else 49, b"" if ok else b"bad password"))
            elif op == 0x63:
                base = fields[0][1]
                writer.write(self.extra)
                count = self.entries.get(base, 0)
                for _ in range(count):
                    writer.write(entry(mid[0], base))
                writer.write(result(mid[0], 0x65, 0 if count == 1 else (32 if count == 0 else 4)))
            elif op == 0x42:
                return
            await writer.drain()


async def search(slapd: Slapd, base: str = "/dc=example,dc=org", **kw: object) -> ProbeResult:
    async with tcp_server(slapd.handle) as port:
        result = await ldap.probe(Target("127.0.0.1", port), TIMEOUT, request=base, **kw)  # type: ignore[arg-type]
        for _ in range(100):  # let the server read the unbind sent on the way out
            if not result.ok or slapd.requests[-1][0] == 0x42:
                break
            await asyncio.sleep(0.005)
        return result


def test_an_anonymous_bind_is_the_canonical_bytes() -> None:
    assert ldap.bind_request(1, "", "") == bytes.fromhex("300c020101600702010304008000")


def test_long_lengths_use_the_long_form() -> None:
    assert ldap.encode_length(0x7F) == b"\x7f"
    assert ldap.encode_length(0x80) == b"\x81\x80"
    assert ldap.encode_length(0x1234) == b"\x82\x12\x34"


async def test_anonymous_bind_and_one_entry_is_up() -> None:
    slapd = Slapd()
    result = await search(slapd)
    assert (result.ok, result.reason) == (True, "LDAP bind anonymous; entry 'dc=example,dc=org'")
    (bind_op, _), (search_op, query), (unbind_op, _) = slapd.requests
    assert (bind_op, search_op, unbind_op) == (0x60, 0x63, 0x42)
    assert [v for _, v in query[:6]] == [
        b"dc=example,dc=org",
        b"\x00",
        b"\x00",
        b"\x02",
        b"\x00",
        b"\x00",
    ]
    assert query[6] == (0x87, b"objectClass")


@pytest.mark.parametrize(
    ("slapd", "base", "kw", "up", "reason"),
    [
        (Slapd(), "/dc=example,dc=org", {"login": "cn=probe,dc=example,dc=org", "passwd": "pw"},
         True, "LDAP bind as 'cn=probe,dc=example,dc=org'; entry 'dc=example,dc=org'"),
        (Slapd(), "/dc=example,dc=org", {"login": "cn=probe,dc=example,dc=org", "passwd": "no"},
         False,
         "LDAP bind as 'cn=probe,dc=example,dc=org' failed: invalidCredentials: bad password"),
        (Slapd(), "/dc=nowhere", {}, False, "LDAP search of 'dc=nowhere': noSuchObject, 0 entries"),
        (Slapd(entries={b"dc=example,dc=org": 2}), "/dc=example,dc=org", {}, False,
         "LDAP search of 'dc=example,dc=org': 2 entries, not exactly 1"),
        (Slapd(), "/dc=example,dc=org", {"receive": re.compile(rb"^dc=example")}, True,
         "LDAP bind anonymous; entry 'dc=example,dc=org'"),
        (Slapd(), "/dc=example,dc=org", {"receive": re.compile(rb"^ou=")}, False,
         "LDAP entry 'dc=example,dc=org' does not match receive '^ou='"),
        # A message for another id is skipped.
        (Slapd(extra=result(9, 0x65, 0)), "/dc=example,dc=org", {}, True,
         "LDAP bind anonymous; entry 'dc=example,dc=org'"),
        (Slapd(extra=b"\x30\x84\x7f\xff\xff\xff"), "/dc=example,dc=org", {}, False,
         "LDAP search: LDAP message of 2147483647 bytes is over the 65536-byte cap"),
        (Slapd(extra=b"\x04\x00"), "/dc=example,dc=org", {}, False,
         "LDAP search: not an LDAP message (tag 0x04)"),
    ],
)  # fmt: skip
async def test_verdicts(
    slapd: Slapd, base: str, kw: dict[str, object], up: bool, reason: str
) -> None:
    result = await search(slapd, base, **kw)
    assert (result.ok, result.reason) == (up, reason)


async def test_network_paths() -> None:
    refused = await ldap.probe(Target("127.0.0.1", closed_port()), TIMEOUT)
    assert (refused.ok, refused.reason) == (False, "connect: refused")

    async def silent(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
        await reader.read()

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(b"\x30\x0c\x02")

    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        await reader.read()

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        for byte in result(1, 0x61, 0):
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)

    outcomes = {}
    for name, handler in [
        ("silent", silent),
        ("hang_up", hang_up),
        ("http", http),
        ("trickle", trickle),
    ]:
        async with tcp_server(handler) as port:
            outcomes[name] = await ldap.probe(Target("127.0.0.1", port), TIMEOUT)
    assert outcomes["silent"].reason == f"LDAP bind: no answer within {TIMEOUT:g}s"
    assert outcomes["hang_up"].reason == "LDAP bind: connection closed mid-message"
    assert outcomes["http"].reason == "LDAP bind: not an LDAP message (tag 0x48)"
    assert outcomes["trickle"].reason == f"LDAP bind: no answer within {TIMEOUT:g}s"
    assert outcomes["trickle"].elapsed < TIMEOUT + SLACK
    assert not any(r.ok for r in outcomes.values())


async def test_ldaps_over_tls_via_the_registry(tls_cert: tuple[Path, Path]) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*tls_cert)
    slapd = Slapd()
    server = await asyncio.start_server(slapd.handle, "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        probe = build_probe(
            CheckSpec("negotiate", "ldaps", Target("127.0.0.1", port), request="/dc=example,dc=org",
                      receive="example", negotiatetimeout=TIMEOUT)
        )  # fmt: skip
        assert probe is not None
        result = await probe()
    finally:
        server.close()
        await server.wait_closed()
    assert (result.ok, result.reason) == (True, "LDAP bind anonymous; entry 'dc=example,dc=org'")
