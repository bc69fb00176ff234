"""service=mysql/pgsql through their real drivers (PyMySQL, asyncpg) against
in-process servers speaking just enough of each wire protocol; oracle stays refused."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import struct
import sys
from dataclasses import dataclass, field

import pytest
from checks_loopback import closed_port, tcp_server

from ldirectorpy.checks import CheckSpec, UnsupportedCheck, build_probe, sql
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

TIMEOUT = 2.0  # generous: a driver's first import and thread start, on a busy machine
STALL = 0.5  # the deadline of the hung-query tests
SLACK = 0.3
# The drivers are extras; scripts/setup installs them for the tests.
needs_pymysql = pytest.mark.skipif(
    importlib.util.find_spec("pymysql") is None, reason="the [mysql] extra is not installed"
)
needs_asyncpg = pytest.mark.skipif(
    importlib.util.find_spec("asyncpg") is None, reason="the [pgsql] extra is not installed"
)


# -- MySQL: handshake v10, mysql_native_password, COM_QUERY text result set -----


def lenenc(data: bytes) -> bytes:
    assert len(data) < 251
    return bytes([len(data)]) + data


def native_token(password: bytes, salt: bytes) -> bytes:
    if not password:
        return b""
    stage1 = hashlib.sha1(password).digest()
    mix = hashlib.sha1(salt + hashlib.sha1(stage1).digest()).digest()
    return bytes(a ^ b for a, b in zip(stage1, mix, strict=True))


@dataclass
class Mysqld:
    rows: dict[bytes, list[bytes]] = field(
        default_factory=lambda: {b"SELECT 1": [b"1"], b"SELECT none": []}
    )
    users: dict[bytes, bytes] = field(default_factory=lambda: {b"probe": b"pw"})
    stall_query: bool = False
    seen: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(seq: int, payload: bytes) -> None:
            writer.write(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)

        async def receive() -> tuple[int, bytes]:
            head = await reader.readexactly(4)
            size = int.from_bytes(head[:3], "little")
            return head[3], await reader.readexactly(size)

        salt = os.urandom(20).replace(b"\0", b"x")
        caps = 0x1 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x80000
        send(0, b"\x0a5.7.99-fake\0" + struct.pack("<I", 7) + salt[:8] + b"\0"
             + struct.pack("<HBHH", caps & 0xFFFF, 33, 2, caps >> 16) + bytes([21]) + b"\0" * 10
             + salt[8:] + b"\0" + b"mysql_native_password\0")  # fmt: skip
        _, login = await receive()
        user, rest = login[32:].split(b"\0", 1)
        token = rest[1 : 1 + rest[0]]
        if user not in self.users or token != native_token(self.users[user], salt):
            send(2, b"\xff" + struct.pack("<H", 1045) + b"#28000Access denied for user")
            await writer.drain()
            return
        send(2, b"\x00\x00\x00\x02\x00\x00\x00")
        await writer.drain()
        while True:
            _, command = await receive()
            if command[:1] == b"\x01":  # COM_QUIT
                return
            query = command[1:]
            if query.upper().startswith(b"SET "):  # PyMySQL's session setup
                send(1, b"\x00\x00\x00\x02\x00\x00\x00")
                await writer.drain()
                continue
            self.seen.append(query)
            if self.stall_query:
                await asyncio.sleep(30)
            if query not in self.rows:
                send(
                    1,
                    b"\xff"
                    + struct.pack("<H", 1064)
                    + b"#42000You have an error in your SQL syntax",
                )
            else:
                send(1, b"\x01")
                send(2, b"".join(lenenc(x) for x in (b"def", b"", b"", b"", b"v", b""))
                     + b"\x0c" + struct.pack("<HIBHB", 33, 64, 0xFD, 0, 0) + b"\0\0")  # fmt: skip
                send(3, b"\xfe\0\0\x02\0")
                seq = 4
                for value in self.rows[query]:
                    send(seq, lenenc(value))
                    seq += 1
                send(seq, b"\xfe\0\0\x02\0")
            await writer.drain()


async def run(
    service: str, server: object, kw: dict[str, str] | None = None, timeout: float = TIMEOUT
) -> ProbeResult:
    options = {"login": "probe", "passwd": "pw", "request": "/SELECT 1", **(kw or {})}
    async with tcp_server(server.handle) as port:  # type: ignore[attr-defined]
        probe = build_probe(
            CheckSpec("negotiate", service, Target("127.0.0.1", port), negotiatetimeout=timeout,
                      **options)  # type: ignore[arg-type]
        )  # fmt: skip
        assert probe is not None
        return await probe()


@pytest.mark.parametrize(
    ("kw", "up", "reason"),
    [
        ({}, True, "query returned a row"),
        ({"request": "/SELECT none"}, False, "query returned no rows"),
        ({"passwd": "wrong"}, False, "MySQL: connect: Access denied for user (1045)"),
        (
            {"request": "/SELEKT"},
            False,
            "MySQL: query: You have an error in your SQL syntax (1064)",
        ),
    ],
)
@needs_pymysql
async def test_mysql_verdicts(kw: dict[str, str], up: bool, reason: str) -> None:
    result = await run("mysql", Mysqld(), kw)
    assert (result.ok, result.reason) == (up, reason)


@needs_pymysql
async def test_mysql_a_hung_query_is_down_at_the_deadline() -> None:
    # ldirectord had no timeout at all here: a hung database hung the daemon.
    result = await run("mysql", Mysqld(stall_query=True), timeout=STALL)
    assert (result.ok, result.reason) == (False, f"MySQL: no answer within {STALL:g}s")
    assert result.elapsed < STALL + SLACK


@needs_pymysql
async def test_mysql_refused() -> None:
    result = await sql.probe(
        "mysql", Target("127.0.0.1", closed_port()), TIMEOUT, sql.Query("probe", "", "", "SELECT 1")
    )
    assert not result.ok
    assert result.reason.startswith("MySQL: connect: Can't connect to MySQL server on '127.0.0.1'")


# -- PostgreSQL: startup, cleartext password, extended query ----------------------


def pg(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + struct.pack("!I", len(payload) + 4) + payload


def pg_error(code: bytes, message: bytes) -> bytes:
    return pg(b"E", b"SFATAL\0C" + code + b"\0M" + message + b"\0\0")


@dataclass
class Postgres:
    rows: dict[bytes, list[bytes]] = field(
        default_factory=lambda: {b"SELECT 1": [b"1"], b"SELECT none": []}
    )
    password: bytes = b"pw"
    stall_query: bool = False
    seen: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        size, code = struct.unpack("!II", await reader.readexactly(8))
        if code == 80877103:  # SSLRequest: no TLS here
            writer.write(b"N")
            size, code = struct.unpack("!II", await reader.readexactly(8))
        await reader.readexactly(size - 8)  # startup parameters
        writer.write(pg(b"R", struct.pack("!I", 3)))  # cleartext password, please
        kind, size = struct.unpack("!cI", await reader.readexactly(5))
        password = (await reader.readexactly(size - 4)).rstrip(b"\0")
        if password != self.password:
            writer.write(pg_error(b"28P01", b'password authentication failed for user "probe"'))
            await writer.drain()
            return
        writer.write(pg(b"R", struct.pack("!I", 0)))
        for key, value in [(b"server_version", b"16.0"), (b"client_encoding", b"UTF8"),
                           (b"integer_datetimes", b"on"), (b"DateStyle", b"ISO, MDY")]:  # fmt: skip
            writer.write(pg(b"S", key + b"\0" + value + b"\0"))
        writer.write(pg(b"K", struct.pack("!II", 1, 2)) + pg(b"Z", b"I"))
        await writer.drain()
        query = b""
        while True:
            kind, size = struct.unpack("!cI", await reader.readexactly(5))
            body = await reader.readexactly(size - 4)
            if kind == b"X":
                return
            if kind == b"P":
                query = body.split(b"\0")[1]
                self.seen.append(query)
                if self.stall_query:
                    await asyncio.sleep(30)
                if query not in self.rows:
                    writer.write(pg(b"E", b'SERROR\0C42601\0Msyntax error at or near "SELEKT"\0\0'))
                else:
                    writer.write(pg(b"1"))
            elif kind == b"D" and query in self.rows:
                writer.write(pg(b"t", b"\0\0"))
                field_ = b"v\0" + struct.pack("!IhIhih", 0, 0, 25, -1, -1, 0)
                writer.write(pg(b"T", struct.pack("!h", 1) + field_))
            elif kind == b"B":
                writer.write(pg(b"2"))
            elif kind == b"E":
                for value in self.rows[query][:1]:
                    writer.write(pg(b"D", struct.pack("!hI", 1, len(value)) + value))
                writer.write(pg(b"C", f"SELECT {len(self.rows[query][:1])}\0".encode()))
            elif kind == b"S":
                writer.write(pg(b"Z", b"I"))
            await writer.drain()


@pytest.mark.parametrize(
    ("kw", "up", "reason"),
    [
        ({}, True, "query returned a row"),
        ({"request": "/SELECT none"}, False, "query returned no rows"),
        ({"passwd": "wrong"}, False,
         'PostgreSQL connect: password authentication failed for user "probe"'),
        ({"request": "/SELEKT"}, False, 'PostgreSQL query: syntax error at or near "SELEKT"'),
    ],
)  # fmt: skip
@needs_asyncpg
async def test_pgsql_verdicts(kw: dict[str, str], up: bool, reason: str) -> None:
    result = await run("pgsql", Postgres(), kw)
    assert (result.ok, result.reason) == (up, reason)


@needs_asyncpg
async def test_pgsql_a_hung_query_is_down_at_the_deadline() -> None:
    result = await run("pgsql", Postgres(stall_query=True), timeout=STALL)
    assert (result.ok, result.reason) == (False, f"PostgreSQL query: no answer within {STALL:g}s")
    assert result.elapsed < STALL + SLACK


@needs_asyncpg
async def test_pgsql_refused() -> None:
    result = await sql.probe(
        "pgsql", Target("127.0.0.1", closed_port()), TIMEOUT, sql.Query("probe", "", "", "SELECT 1")
    )
    assert (result.ok, result.reason) == (False, "PostgreSQL connect: refused")


# -- configuration and missing drivers -----------------------------------------------


@pytest.mark.parametrize("service", ["mysql", "pgsql"])
async def test_without_login_or_query_it_is_down_every_pass_like_ldirectord(service: str) -> None:
    for options in ({"request": "/SELECT 1"}, {"login": "probe", "request": "/"}):
        probe = build_probe(CheckSpec("negotiate", service, Target("127.0.0.1", 1), **options))  # type: ignore[arg-type]
        assert probe is not None
        result = await probe()
        assert (result.ok, result.reason) == (
            False, f"service={service} needs login= and request= (the SQL query)"
        )  # fmt: skip


@pytest.mark.parametrize(("service", "module"), [("mysql", "pymysql"), ("pgsql", "asyncpg")])
async def test_without_the_driver_the_verdict_names_the_extra(
    service: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import now fails
    result = await sql.probe(service, Target("127.0.0.1", 1), TIMEOUT, sql.Query("u", "", "", "q"))
    assert (result.ok, result.reason) == (
        False, f"service={service} needs the [{service}] extra: pip install ldirectorpy[{service}]"
    )  # fmt: skip


def test_oracle_is_refused_with_a_reason() -> None:
    with pytest.raises(
        UnsupportedCheck, match="service=oracle is not supported by ldirectorpy: no Oracle driver"
    ):
        build_probe(CheckSpec("negotiate", "oracle", Target("127.0.0.1", 1521)))
