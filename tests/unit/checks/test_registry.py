"""The (checktype, service) registry: what is built, what is refused and why."""

from __future__ import annotations

import pytest
from checks_loopback import closed_port

from ldirectorpy.checks import (
    CHECKTYPES,
    LDIRECTORD_SERVICES,
    SERVICES,
    CheckConfigError,
    CheckSpec,
    Target,
    UnsupportedCheck,
    build_probe,
)
from ldirectorpy.checks.combined import CombinedProbe

T = Target("127.0.0.1", 3389)


def spec(checktype: str, service: str = "rdp", **kw: object) -> CheckSpec:
    return CheckSpec(checktype=checktype, service=service, target=T, **kw)  # type: ignore[arg-type]


def test_the_registry_lists_what_is_built() -> None:
    assert sorted(SERVICES) == sorted(LDIRECTORD_SERVICES - {"oracle"})
    assert sorted(CHECKTYPES) == ["connect", "external", "external-perl", "negotiate", "on", "ping"]


def test_off_is_no_probe_at_all() -> None:
    assert build_probe(spec("off")) is None


def test_the_ldirectord_service_not_built_is_refused_clearly() -> None:
    with pytest.raises(UnsupportedCheck) as info:
        build_probe(spec("negotiate", "oracle"))
    assert info.value.service == "oracle"
    assert "service=oracle is not supported by ldirectorpy" in str(info.value)


def test_a_combined_check_with_an_unsupported_service_is_refused_too() -> None:
    with pytest.raises(UnsupportedCheck):
        build_probe(spec("3", "oracle"))


@pytest.mark.parametrize(
    ("checktype", "service", "message"),
    [
        ("negotiate", "gopher", "unknown service 'gopher'"),
        ("sometimes", "rdp", "unknown checktype 'sometimes'"),
        ("external", "none", "checktype=external needs a checkcommand"),
        ("0", "rdp", "numeric checktype must be >= 1"),
    ],
)
def test_bad_descriptions_are_config_errors(checktype: str, service: str, message: str) -> None:
    with pytest.raises(CheckConfigError, match=message):
        build_probe(spec(checktype, service))


def test_unsupported_is_a_config_error_callers_can_catch_once() -> None:
    assert issubclass(UnsupportedCheck, CheckConfigError)


def test_a_bad_receive_regex_is_a_config_error() -> None:
    with pytest.raises(CheckConfigError, match="not a valid regex"):
        build_probe(spec("connect", protocol="udp", receive="("))


def test_a_numeric_checktype_builds_a_combined_probe() -> None:
    assert isinstance(build_probe(spec("2")), CombinedProbe)


async def test_service_none_and_checktype_on_are_up_without_traffic() -> None:
    for probe in (build_probe(spec("negotiate", "none")), build_probe(spec("on"))):
        assert probe is not None
        result = await probe()
        assert result.ok


async def test_negotiate_rdp_dispatches_to_the_rdp_probe() -> None:
    probe = build_probe(
        CheckSpec("negotiate", "rdp", Target("127.0.0.1", closed_port()), negotiatetimeout=0.5)
    )
    assert probe is not None
    assert (await probe()).reason == "connect: refused"


async def test_connect_on_a_udp_virtual_sends_a_datagram() -> None:
    import socket

    port = closed_port(socket.SOCK_DGRAM)
    probe = build_probe(CheckSpec("connect", "none", Target("127.0.0.1", port), protocol="udp"))
    assert probe is not None
    assert (await probe()).reason == "UDP reply: refused"


def test_timeouts_follow_the_checktype() -> None:
    assert spec("negotiate", negotiatetimeout=7.0, checktimeout=2.0).timeout == 7.0
    assert spec("connect", negotiatetimeout=7.0, checktimeout=2.0).timeout == 2.0
    assert spec("3", negotiatetimeout=7.0, checktimeout=2.0).timeout == 7.0
