"""`ldirectorpy probe`, run as users run it: a subprocess against loopback servers."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from checks_loopback import Handler, closed_port, tcp_server

from ldirectorpy.commands import probe as probe_command

RDP_SSL = bytes.fromhex("030000130ed000001234000201080001000000")
RDP_FAIL = bytes.fromhex("030000130ed000001234000300080001000000")


async def cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ldirectorpy", "probe", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def answering(reply: bytes) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(512)
        writer.write(reply)
        await writer.drain()
        await reader.read()

    return handle


async def test_rdp_up_exits_0_and_prints_verdict_reason_latency() -> None:
    async with tcp_server(answering(RDP_SSL)) as port:
        code, out, _ = await cli("rdp", f"127.0.0.1:{port}", "--no-tls")
    assert code == 0
    assert out.startswith(f"up    rdp 127.0.0.1:{port}  ")
    assert out.rstrip().endswith(" ms  X.224 CC: PROTOCOL_SSL selected")


async def test_negfailure_down_makes_a_failure_exit_1_in_json() -> None:
    async with tcp_server(answering(RDP_FAIL)) as port:
        code, out, _ = await cli("rdp", f"127.0.0.1:{port}", "--negfailure", "down", "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["verdict"] == "down"
    assert doc["reason"] == "RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER"
    assert doc["target"] == f"127.0.0.1:{port}"


async def test_connect_refused_exits_1() -> None:
    code, out, _ = await cli("connect", f"127.0.0.1:{closed_port()}", "--timeout", "0.5")
    assert code == 1
    assert out.rstrip().endswith("connect: refused")


async def test_a_name_is_resolved() -> None:
    code, out, _ = await cli("connect", f"localhost:{closed_port()}")
    assert code == 1
    assert " connect 127.0.0.1:" in out or " connect [::1]:" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe_command.main(["rdp", "127.0.0.1:3389", "--protocols", "tls"]) == 2
    assert probe_command.main(["rdp", "127.0.0.1:99999"]) == 2
    assert probe_command.main(["connect", "127.0.0.1"]) == 2  # connect needs a port
    assert probe_command.main(["rdp", "127.0.0.1", "--fingerprint", "abc"]) == 2
    assert probe_command.main(["rdp", "127.0.0.1", "--bogus"]) == 2
    assert probe_command.main(["rdp", "127.0.0.1", "--timeout", "0"]) == 2
    assert probe_command.main([]) == 2
    assert "--timeout must be > 0" in capsys.readouterr().err


async def test_config_table_has_a_row_per_real(tmp_path: Path) -> None:
    async with tcp_server(answering(RDP_SSL)) as rdp_port:
        dead = closed_port()
        conf = tmp_path / "ldirectord.cf"
        conf.write_text(
            "checktimeout=1\n"
            f"virtual=192.0.2.10:{rdp_port}\n"
            f"\treal=127.0.0.1:{rdp_port} gate\n"
            f"\treal=127.0.0.2:{dead} gate\n"
            "\tservice=rdp\n\tchecktype=negotiate\n\trdptls=no\n"
            "virtual=192.0.2.10:1521\n"
            "\treal=127.0.0.1:1521 gate\n"
            "\tservice=oracle\n\tchecktype=negotiate\n"
            "virtual=192.0.2.10:22\n"
            "\treal=127.0.0.1:22 gate\n"
            "\tchecktype=off\n"
        )
        code, out, err = await cli(str(conf), "--json")
    assert code == 1, err
    rows = {(r["virtual"], r["real"]): r for r in json.loads(out)}
    up = rows[(f"tcp:192.0.2.10:{rdp_port}", f"127.0.0.1:{rdp_port}")]
    assert (up["check"], up["verdict"]) == ("negotiate/rdp", "up")
    assert up["reason"] == "X.224 CC: PROTOCOL_SSL selected"
    down = rows[(f"tcp:192.0.2.10:{rdp_port}", f"127.0.0.2:{dead}")]
    assert (down["verdict"], down["reason"]) == ("down", "connect: refused")
    oracle = rows[("tcp:192.0.2.10:1521", "127.0.0.1:1521")]
    assert oracle["verdict"] == "error"
    assert "service=oracle is not supported" in oracle["reason"]
    assert rows[("tcp:192.0.2.10:22", "127.0.0.1:22")]["verdict"] == "off"


async def test_config_text_table_has_the_columns(tmp_path: Path) -> None:
    conf = tmp_path / "ldirectord.cf"
    conf.write_text("virtual=192.0.2.10:80\n\treal=127.0.0.1:1 gate\n\tchecktype=connect\n")
    code, out, _ = await cli(str(conf))
    header, row = out.splitlines()
    assert header.split() == ["VIRTUAL", "REAL", "CHECK", "VERDICT", "LATENCY", "REASON"]
    assert row.split()[:4] == ["tcp:192.0.2.10:80", "127.0.0.1:1", "connect", "down"]
    assert code == 1


async def test_an_invalid_config_exits_2(tmp_path: Path) -> None:
    conf = tmp_path / "ldirectord.cf"
    conf.write_text("virtual=192.0.2.10:80\n\treal=notanaddress!! gate\n\tbogus=1\n")
    code, _, err = await cli(str(conf))
    assert code == 2
    assert "configuration not usable" in err
