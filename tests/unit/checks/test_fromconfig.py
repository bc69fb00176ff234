"""From ldirectord.cf (through ldirectorpy.config) to the checks that will run."""

from __future__ import annotations

from pathlib import Path

import pytest
from checks_loopback import closed_port
from configured import config, specs

from ldirectorpy.checks import Target
from ldirectorpy.checks.rdp import RdpOptions
from ldirectorpy.checks.rdp_wire import PROTOCOL_HYBRID, PROTOCOL_RDP, PROTOCOL_SSL
from ldirectorpy.checks.sweep import sweep


def test_port_3389_defaults_to_an_rdp_negotiate_check_with_default_options(tmp_path: Path) -> None:
    cfg = config(tmp_path, "virtual=192.0.2.10:3389\n\treal=198.51.100.5:3389 gate\n")
    (spec,) = specs(cfg)
    assert (spec.checktype, spec.service, spec.target) == (
        "negotiate", "rdp", Target("198.51.100.5", 3389)
    )  # fmt: skip
    assert spec.rdp == RdpOptions(protocols=PROTOCOL_SSL | PROTOCOL_HYBRID, cookie="ldirectorpy")


def test_rdp_directives_become_probe_options(tmp_path: Path) -> None:
    pin = "AB:" * 31 + "AB"
    cfg = config(
        tmp_path,
        "rdpcookie=lb-east\n"
        "virtual=192.0.2.10:3389\n"
        "\treal=198.51.100.5:3389 gate\n"
        "\trdpprotocols=rdp\n\trdpnegfailure=down\n\trdptls=no\n"
        f"\trdptlsfingerprint={pin}\n\trdptlsexpirywarn=0\n"
        "\tnegotiatetimeout=2.5\n",
    )
    (spec,) = specs(cfg)
    assert spec.rdp == RdpOptions(
        protocols=PROTOCOL_RDP, cookie="lb-east", negfailure_up=False, tls=False,
        fingerprint=b"\xab" * 32, expiry_warn_days=0,
    )  # fmt: skip
    assert spec.timeout == 2.5


def test_external_checks_get_ldirectords_arguments(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        "virtual6=[2001:db8::10]:80\n"
        "\treal6=[2001:db8::5]:8080 gate\n"
        "\tchecktype=external\n\tcheckcommand=/bin/true\n"
        "virtual=7\n"
        "\treal=198.51.100.5:80 gate\n"
        "\tchecktype=external\n\tcheckcommand=/bin/true\n",
    )
    v6, fwm = specs(cfg)
    assert (v6.virtual, v6.virtual_port, v6.target.host_for_argv, v6.target.port) == (
        "[2001:db8::10]", 80, "[2001:db8::5]", 8080
    )  # fmt: skip
    assert (fwm.virtual, fwm.virtual_port) == ("7", 0)


def test_numeric_checktype_and_checkport(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        "virtual=192.0.2.10:22\n\treal=198.51.100.5:22 gate\n"
        "\tchecktype=4\n\tservice=rdp\n\tcheckport=3389\n",
    )
    (spec,) = specs(cfg)
    assert (spec.checktype, spec.target.port) == ("4", 3389)


@pytest.mark.parametrize("protocol", ["udp"])
def test_udp_virtual_keeps_its_protocol(tmp_path: Path, protocol: str) -> None:
    cfg = config(
        tmp_path,
        f"virtual=192.0.2.10:53\n\tprotocol={protocol}\n\treal=198.51.100.5:53 gate\n"
        "\tchecktype=connect\n",
    )
    (spec,) = specs(cfg)
    assert spec.protocol == "udp"


async def test_sweep_probes_a_shared_target_once_with_a_row_per_virtual(tmp_path: Path) -> None:
    port = closed_port()
    cfg = config(
        tmp_path,
        "checktimeout=1\n"
        f"virtual=192.0.2.10:{port}\n\treal=127.0.0.1:{port} gate\n\tchecktype=connect\n"
        f"virtual=192.0.2.11:{port}\n\treal=127.0.0.1:{port} gate\n\tchecktype=connect\n",
    )
    rows = await sweep(cfg)
    assert [(r.virtual, r.real, r.verdict, r.reason) for r in rows] == [
        (f"tcp:192.0.2.10:{port}", f"127.0.0.1:{port}", "down", "connect: refused"),
        (f"tcp:192.0.2.11:{port}", f"127.0.0.1:{port}", "down", "connect: refused"),
    ]
    assert rows[0].elapsed == rows[1].elapsed  # one probe, shared
