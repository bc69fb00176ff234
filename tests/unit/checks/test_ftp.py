"""service=ftp: login, passive RETR and receive, against an in-process FTP server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from checks_loopback import closed_port, tcp_server

from ldirectorpy.checks import CheckSpec, build_probe, ftp
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

TIMEOUT = 0.3
SLACK = 0.25


@dataclass
class Ftpd:
    """Just enough of RFC 959: the replies it gives can be overridden per command."""

    files: dict[str, bytes] = field(default_factory=lambda: {"/index.html": b"<h1>It works</h1>"})
    greeting: bytes = b"220-Welcome\r\n220 ready\r\n"
    replies: dict[str, bytes] = field(default_factory=dict)
    pasv_host: str = "127,0,0,1"
    final: bytes = b"226 Transfer complete\r\n"
    trickle: bool = False
    said: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.greeting)
        data_conn: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()
        data_server = None
        try:
            while line := (await reader.readline()).decode().strip():
                self.said.append(line)
                verb, _, arg = line.partition(" ")
                if verb in self.replies:
                    writer.write(self.replies[verb])
                elif verb == "USER":
                    writer.write(b"331 Password required\r\n")
                elif verb == "PASS":
                    writer.write(
                        b"230 Logged in\r\n" if arg == "secret" else b"530 Login incorrect\r\n"
                    )
                elif verb in ("CWD", "TYPE"):
                    writer.write(b"250 ok\r\n" if verb == "CWD" else b"200 Type set to I\r\n")
                elif verb in ("PASV", "EPSV"):
                    data_server = await asyncio.start_server(
                        lambda _r, w: data_conn.set_result(w), reader_host(writer), 0
                    )
                    port = data_server.sockets[0].getsockname()[1]
                    if verb == "PASV":
                        writer.write(
                            f"227 Entering Passive Mode ({self.pasv_host},"
                            f"{port >> 8},{port & 255})\r\n".encode()
                        )
                    else:
                        writer.write(
                            f"229 Entering Extended Passive Mode (|||{port}|)\r\n".encode()
                        )
                elif verb == "RETR":
                    if arg not in self.files:
                        writer.write(b"550 No such file\r\n")
                        continue
                    writer.write(b"150 Opening BINARY mode data connection\r\n")
                    out = await data_conn
                    for i in range(0, len(self.files[arg]), 1 if self.trickle else 1 << 20):
                        out.write(self.files[arg][i : i + (1 if self.trickle else 1 << 20)])
                        await out.drain()
                        if self.trickle:
                            await asyncio.sleep(0.02)
                    out.close()
                    await asyncio.sleep(0.01)
                    writer.write(self.final)
                elif verb == "QUIT":
                    writer.write(b"221 bye\r\n")
                await writer.drain()
        finally:
            if data_conn.done():
                data_conn.result().close()
            if data_server is not None:
                data_server.close()


def reader_host(writer: asyncio.StreamWriter) -> str:
    return str(writer.get_extra_info("sockname")[0])


@asynccontextmanager
async def serving(ftpd: Ftpd, host: str = "127.0.0.1") -> AsyncIterator[int]:
    async with tcp_server(ftpd.handle, host) as port:
        yield port


async def fetch(ftpd: Ftpd, request: str = "/index.html", receive: str | None = "works",
                passwd: str = "secret") -> ProbeResult:  # fmt: skip
    async with serving(ftpd) as port:
        return await ftp.probe(
            Target("127.0.0.1", port), TIMEOUT, login="probe", passwd=passwd, request=request,
            receive=re.compile(receive.encode()) if receive is not None else None,
        )  # fmt: skip


async def test_a_matching_download_is_up_and_the_dialogue_is_ldirectords() -> None:
    ftpd = Ftpd()
    result = await fetch(ftpd)
    assert (result.ok, result.reason) == (True, "RETR /index.html: 17 bytes match receive")
    assert ftpd.said[:6] == [
        "USER probe",
        "PASS secret",
        "CWD /",
        "TYPE I",
        "PASV",
        "RETR /index.html",
    ]


@pytest.mark.parametrize(
    ("ftpd", "kw", "up", "reason"),
    [
        (Ftpd(), {"receive": "^<h2>"}, False,
         "FTP data: 17 bytes of /index.html do not match receive '^<h2>'"),
        (Ftpd(), {"passwd": "wrong"}, False, "FTP PASS: answered 530 Login incorrect"),
        (Ftpd(), {"request": "/missing"}, False, "FTP RETR /missing: answered 550 No such file"),
        (Ftpd(greeting=b"421 Too many users\r\n"), {}, False, "FTP greeting 421 Too many users"),
        (Ftpd(greeting=b"SSH-2.0-x\r\n"), {}, False, "FTP greeting: not an FTP reply: 'SSH-2.0-x'"),
        (Ftpd(replies={"USER": b"230 no password needed\r\n"}), {}, True,
         "RETR /index.html: 17 bytes match receive"),
        (Ftpd(replies={"PASV": b"502 no passive\r\n"}), {}, False,
         "FTP PASV: answered '502 no passive'"),
        (Ftpd(replies={"PASV": b"227 here (1,2,3)\r\n"}), {}, False,
         "FTP PASV: no address in the PASV reply '227 here (1,2,3)'"),
        # A 227 naming another host: we still connect to the real (no bounce).
        (Ftpd(pasv_host="192,0,2,99"), {}, True, "RETR /index.html: 17 bytes match receive"),
        # Empty receive: the transfer must complete.
        (Ftpd(), {"receive": None}, True, "RETR /index.html: 17 bytes"),
        (Ftpd(final=b"426 Connection closed; transfer aborted\r\n"), {"receive": None}, False,
         "RETR /index.html: transfer ended with 426 Connection closed; transfer aborted"),
        (Ftpd(files={"/index.html": b"x" * 100_000 + b"works"}), {}, False,
         "FTP data: first 65536 bytes of /index.html do not match receive 'works'"),
    ],
)  # fmt: skip
async def test_verdicts(ftpd: Ftpd, kw: dict[str, str | None], up: bool, reason: str) -> None:
    result = await fetch(ftpd, **kw)  # type: ignore[arg-type]
    assert (result.ok, result.reason) == (up, reason)


async def test_refused_silent_and_trickled() -> None:
    refused = await ftp.probe(Target("127.0.0.1", closed_port()), TIMEOUT)
    assert (refused.ok, refused.reason) == (False, "connect: refused")
    silent = await fetch(Ftpd(greeting=b""))
    assert (silent.ok, silent.reason) == (False, f"FTP greeting: no answer within {TIMEOUT:g}s")
    trickled = await fetch(Ftpd(files={"/index.html": b"z" * 100 + b"works"}, trickle=True))
    assert (trickled.ok, trickled.reason) == (False, f"FTP data: no answer within {TIMEOUT:g}s")
    assert trickled.elapsed < TIMEOUT + SLACK


async def test_ipv6_uses_epsv() -> None:
    ftpd = Ftpd()
    async with serving(ftpd, "::1") as port:
        result = await ftp.probe(
            Target("::1", port), TIMEOUT, login="probe", passwd="secret", request="/index.html"
        )
    assert result.ok, result.reason
    assert "EPSV" in ftpd.said


async def test_registry_runs_it_with_the_config_login() -> None:
    ftpd = Ftpd()
    async with serving(ftpd) as port:
        probe = build_probe(
            CheckSpec("negotiate", "ftp", Target("127.0.0.1", port), login="probe",
                      passwd="secret", request="/index.html", receive="It works",
                      negotiatetimeout=TIMEOUT)
        )  # fmt: skip
        assert probe is not None
        result = await probe()
    assert result.ok, result.reason


def test_passive_replies_parse() -> None:
    assert ftp.parse_pasv(b"227 Entering Passive Mode (192,0,2,1,19,137)") == 5001
    assert ftp.parse_epsv(b"229 Entering Extended Passive Mode (|||6446|)") == 6446
