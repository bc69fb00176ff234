"""A probe's target: normalised once, with what every probe needs worked out once."""

from __future__ import annotations

import socket

import pytest

from ldirectorpy.checks.target import Target


def test_equal_addresses_make_equal_targets_whatever_their_spelling() -> None:
    assert Target("::0001", 3389) == Target("::1", 3389)
    assert hash(Target("::0001", 3389)) == hash(Target("::1", 3389))
    assert Target("192.0.2.1", 3389) != Target("192.0.2.1", 3390)


def test_family_and_socket_address_follow_from_the_address() -> None:
    v4, v6 = Target("192.0.2.1", 3389), Target("2001:db8::0001", 3389)
    assert (v4.family, v4.sockaddr) == (socket.AF_INET, ("192.0.2.1", 3389))
    assert (v6.family, v6.sockaddr) == (socket.AF_INET6, ("2001:db8::1", 3389))
    assert repr(v6) == "Target(host='2001:db8::1', port=3389)"
    assert str(v6) == "[2001:db8::1]:3389"


@pytest.mark.parametrize(("host", "port"), [("192.0.2.1", 70000), ("not-an-ip", 80)])
def test_a_bad_target_is_refused(host: str, port: int) -> None:
    with pytest.raises(ValueError):
        Target(host, port)
