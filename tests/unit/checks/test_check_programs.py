"""checks/rdp-check: the RDP probe as an external check with ldirectord's four arguments."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from checks_loopback import closed_port, tcp_server

RDP_CHECK = Path(__file__).resolve().parents[3] / "checks" / "rdp-check"
FAILURE = bytes.fromhex("030000130ed000001234000300080001000000")


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(RDP_CHECK), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def answering_failure(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(512)
    writer.write(FAILURE)
    await writer.drain()
    await reader.read()


async def test_up_and_down_follow_the_probe_and_its_environment() -> None:
    async with tcp_server(answering_failure) as port:
        up = await run("192.0.2.1", "3389", "127.0.0.1", str(port))
        down = await run("192.0.2.1", "3389", "127.0.0.1", str(port),
                         env={"RDP_CHECK_NEGFAILURE": "down"})  # fmt: skip
    assert up[0] == 0, up[1]
    assert "RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER" in up[1]
    assert down[0] == 1


async def test_an_ipv6_real_in_brackets_is_understood() -> None:
    code, out = await run("[2001:db8::1]", "3389", "[::1]", str(closed_port(host="::1")))
    assert code == 1
    assert "connect: refused" in out


async def test_wrong_argument_count_is_a_usage_error() -> None:
    code, out = await run("127.0.0.1", "3389")
    assert code == 2
    assert "usage" in out
