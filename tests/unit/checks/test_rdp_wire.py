"""The X.224 codec against the exact bytes in [MS-RDPBCGR] and observed from xrdp."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ldirectorpy.checks.rdp_wire import (
    PROTOCOL_HYBRID,
    PROTOCOL_RDP,
    PROTOCOL_SSL,
    ConnectionConfirm,
    NegFailure,
    NegResponse,
    RdpDecodeError,
    build_connection_request,
    parse_connection_confirm,
    parse_protocols,
    protocol_names,
)

H = bytes.fromhex


def test_the_19_byte_request_asks_for_ssl() -> None:
    assert build_connection_request(PROTOCOL_SSL) == H("030000130ee000000000000100080001000000")


def test_ssl_hybrid_request_sets_both_bits() -> None:
    request = build_connection_request(PROTOCOL_SSL | PROTOCOL_HYBRID)
    assert request[-4:] == H("03000000")


def test_spec_sample_with_cookie_eltons_is_44_bytes() -> None:
    expected = (
        H("0300002c27e00000000000") + b"Cookie: mstshash=eltons" + H("0d0a") + H("0100080000000000")
    )
    assert build_connection_request(PROTOCOL_RDP, "eltons") == expected


def test_freerdp_request_with_username_cookie() -> None:
    expected = (
        H("0300002f2ae00000000000") + b"Cookie: mstshash=probeuser\r\n" + H("0100080003000000")
    )
    assert build_connection_request(3, "probeuser") == expected


def test_legacy_request_has_no_negotiation_data() -> None:
    assert build_connection_request(None) == H("0300000b06e00000000000")


@pytest.mark.parametrize("cookie", ["a\r\nb", "caf\u00e9", "x" * 300])
def test_bad_cookies_are_refused(cookie: str) -> None:
    with pytest.raises(ValueError):
        build_connection_request(PROTOCOL_SSL, cookie)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("030000130ed000001234000201080001000000", NegResponse(flags=1, selected=PROTOCOL_SSL)),
        ("030000130ed000001234000201080000000000", NegResponse(flags=1, selected=PROTOCOL_RDP)),
        ("030000130ed000001234000300080001000000", NegFailure(code=1)),
        ("030000130ed000000000000203080001000000", NegResponse(flags=3, selected=PROTOCOL_SSL)),
        ("0300000b06d00000123400", None),
    ],
    ids=["xrdp-ssl", "xrdp-rdp", "xrdp-ssl-required", "freerdp-srcref-0", "legacy-11-byte"],
)
def test_observed_confirms_decode(wire: str, expected: NegResponse | NegFailure | None) -> None:
    assert parse_connection_confirm(H(wire)) == ConnectionConfirm(neg=expected)


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"HTTP/1.0 200 OK\r\n\r\n", "bad TPKT version byte 0x48"),
        (H("0300ffff0ed000001234000201080001000000"), "implausible TPKT length 65535"),
        (H("030000080ed00000"), "implausible TPKT length 8"),
        (H("030000130dd000001234000201080001000000"), "length indicator 13"),
        (H("030000130ee000001234000201080001000000"), "code 0xe0 is not a Connection Confirm"),
        (H("030000130ed000001234020201080001000000"), "class 2"),
        (H("030000130ed000001234000201090001000000"), "negotiation data length 9"),
        (H("030000130ed000001234000901080001000000"), "unknown negotiation type 9"),
        (H("0300000f0ad0000012340002010800"), "truncated negotiation data"),
        (H("030000130ed0000012340002010800010000"), "TPKT length 19 but 18 bytes"),
    ],
)
def test_malformed_confirms_say_why(wire: bytes, message: str) -> None:
    with pytest.raises(RdpDecodeError, match=message):
        parse_connection_confirm(wire)


def test_failure_codes_have_names() -> None:
    assert [NegFailure(c).name for c in (1, 5, 6)] == [
        "SSL_REQUIRED_BY_SERVER",
        "HYBRID_REQUIRED_BY_SERVER",
        "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
    ]
    assert NegFailure(99).name == "unknown failure code 99"


def test_protocol_lists_parse_like_the_directive() -> None:
    assert parse_protocols("ssl,hybrid") == 3
    assert parse_protocols("rdp") == 0
    assert parse_protocols(" SSL , hybrid_ex ") == 9
    with pytest.raises(ValueError, match="unknown RDP protocol 'tls'"):
        parse_protocols("tls")
    assert protocol_names(3) == "PROTOCOL_SSL|PROTOCOL_HYBRID"
    assert protocol_names(0) == "PROTOCOL_RDP"


@given(st.binary(max_size=64))
def test_any_bytes_either_decode_or_raise_a_decode_error(data: bytes) -> None:
    with contextlib.suppress(RdpDecodeError):
        parse_connection_confirm(data)
