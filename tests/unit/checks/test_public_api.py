"""The public names of the checks package, pinned (STYLE 14): changing them is a decision."""

from __future__ import annotations

from ldirectorpy import checks
from ldirectorpy.checks import combined, external, ping, rdp, rdp_wire, result, tcp, udp


def test_registry_module_exports() -> None:
    assert sorted(checks.__all__) == sorted([
        "CHECKTYPES", "LDIRECTORD_SERVICES", "SERVICES", "CheckConfigError", "CheckSpec",
        "Probe", "ProbeResult", "Target", "UnsupportedCheck", "build_probe", "use_grid",
    ])  # fmt: skip


def test_probe_modules_export_a_probe() -> None:
    for module in (rdp, tcp, udp, ping, external):
        assert "probe" in module.__all__, module.__name__
    assert result.__all__ == ["ProbeResult"]
    assert combined.__all__ == ["Combined", "CombinedProbe", "Kind"]
    assert "build_connection_request" in rdp_wire.__all__
    assert "parse_connection_confirm" in rdp_wire.__all__


def test_probe_result_is_the_contract_shape() -> None:
    r = result.ProbeResult(ok=True, reason="connect ok", elapsed=0.001)
    assert (r.ok, r.reason, r.elapsed) == (True, "connect ok", 0.001)
    assert result.ProbeResult.__slots__ == ("ok", "reason", "elapsed")
