"""The RDP probe against loopback servers, one per verdict path."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from checks_loopback import closed_port, tcp_server

from ldirectorpy.checks import rdp
from ldirectorpy.checks.rdp import RdpOptions
from ldirectorpy.checks.rdp_wire import (
    FAILURE_CODES,
    PROTOCOL_HYBRID,
    PROTOCOL_RDP,
    PROTOCOL_SSL,
    RdpDecodeError,
    build_connection_request,
    parse_connection_confirm,
)
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

H = bytes.fromhex
LEGACY_CC = H("0300000b06d00000123400")
TIMEOUT = 0.4
SLACK = 0.25  # scheduling noise allowed past a deadline


def neg_rsp(selected: int, flags: int = 1) -> bytes:
    return H("030000130ed00000123400") + struct.pack("<BBHI", 2, flags, 8, selected)


def neg_failure(code: int) -> bytes:
    return H("030000130ed00000123400") + struct.pack("<BBHI", 3, 0, 8, code)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    header = await reader.readexactly(4)
    return header + await reader.readexactly(struct.unpack(">H", header[2:])[0] - 4)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def replying(reply: bytes, seen: list[bytes] | None = None) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        if seen is not None:
            seen.append(request)
        writer.write(reply)
        await writer.drain()
        await reader.read()  # until the probe hangs up

    return handle


async def probe_with(handler: Handler, options: RdpOptions | None = None) -> ProbeResult:
    async with tcp_server(handler) as port:
        return await rdp.probe(Target("127.0.0.1", port), TIMEOUT, options)


NO_TLS = RdpOptions(tls=False)


# -- the network paths --------------------------------------------------------


async def test_closed_port_is_down_at_once() -> None:
    result = await rdp.probe(Target("127.0.0.1", closed_port()), TIMEOUT)
    assert result == ProbeResult(False, "connect: refused", result.elapsed)
    assert result.elapsed < 0.1


async def test_accept_and_silent_is_down_at_the_deadline() -> None:
    async def silent(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
        await reader.read()

    result = await probe_with(silent)
    assert not result.ok
    assert result.reason == f"X.224 confirm: no answer within {TIMEOUT:g}s"
    assert TIMEOUT <= result.elapsed < TIMEOUT + SLACK


async def test_a_trickling_server_cannot_stretch_the_deadline() -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        for byte in neg_rsp(PROTOCOL_SSL):  # a valid answer, one byte per 50 ms
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)
        await reader.read()

    result = await probe_with(trickle)
    assert not result.ok
    assert "no answer within" in result.reason
    assert result.elapsed < TIMEOUT + SLACK


async def test_an_http_server_fails_at_the_version_byte() -> None:
    result = await probe_with(replying(b"HTTP/1.1 400 Bad Request\r\n\r\n"))
    assert not result.ok
    assert result.reason == "X.224 confirm: bad TPKT version byte 0x48 (not an RDP server?)"


async def test_reset_mid_answer_is_down() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(neg_rsp(PROTOCOL_SSL)[:7])
        await writer.drain()
        await asyncio.sleep(0.05)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # close with linger 0: an RST

    result = await probe_with(reset)
    assert not result.ok
    assert result.reason == "X.224 confirm: reset by peer"


async def test_close_mid_answer_says_how_much_arrived() -> None:
    async def close_early(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(neg_rsp(PROTOCOL_SSL)[:10])
        await writer.drain()

    result = await probe_with(close_early)
    assert result.reason == "X.224 confirm: connection closed after 10 bytes"


async def test_an_oversized_answer_is_refused_without_reading_it() -> None:
    huge = H("0300ffff") + b"\0" * 65531
    result = await probe_with(replying(huge))
    assert not result.ok
    assert result.reason == "X.224 confirm: implausible TPKT length 65535"


async def test_a_flood_after_a_plausible_header_is_judged_on_the_first_512_bytes() -> None:
    # Claims 512 bytes (the cap) and sends 1 MB: only the claimed PDU is decoded.
    flood = H("03000200") + b"\xff" * (1 << 20)
    result = await probe_with(replying(flood))
    assert (
        result.reason == "X.224 confirm: X.224 length indicator 255 does not match TPKT length 512"
    )


# -- correct answers ----------------------------------------------------------


async def test_the_request_carries_cookie_and_requested_protocols() -> None:
    seen: list[bytes] = []
    await probe_with(replying(neg_rsp(PROTOCOL_SSL), seen), RdpOptions(tls=False, cookie="lb1"))
    assert seen == [build_connection_request(PROTOCOL_SSL | PROTOCOL_HYBRID, "lb1")]


async def test_ssl_selected_is_up_without_tls_when_tls_is_off() -> None:
    result = await probe_with(replying(neg_rsp(PROTOCOL_SSL)), NO_TLS)
    assert result.ok
    assert result.reason == "X.224 CC: PROTOCOL_SSL selected"


async def test_standard_rdp_security_is_up() -> None:
    result = await probe_with(replying(neg_rsp(PROTOCOL_RDP)))
    assert result.ok
    assert result.reason == "X.224 CC: PROTOCOL_RDP selected"


async def test_a_protocol_we_did_not_ask_for_is_down() -> None:
    options = RdpOptions(protocols=PROTOCOL_SSL, tls=False)
    result = await probe_with(replying(neg_rsp(PROTOCOL_HYBRID)), options)
    assert not result.ok
    assert result.reason == "X.224 CC: server selected PROTOCOL_HYBRID, not one of PROTOCOL_SSL"


async def test_a_legacy_confirm_without_negotiation_data_is_up() -> None:
    seen: list[bytes] = []
    result = await probe_with(replying(LEGACY_CC, seen), RdpOptions(protocols=None, cookie=""))
    assert seen == [H("0300000b06e00000000000")]
    assert result.ok
    assert result.reason == "legacy X.224 CC (no negotiation data)"


@pytest.mark.parametrize("code", sorted(FAILURE_CODES))
async def test_a_negotiation_failure_is_up_by_default(code: int) -> None:
    result = await probe_with(replying(neg_failure(code)))
    assert result.ok
    assert result.reason == (
        f"RDP_NEG_FAILURE {FAILURE_CODES[code]} (RDP stack answers; rdpnegfailure=up)"
    )


@pytest.mark.parametrize("code", sorted(FAILURE_CODES))
async def test_a_negotiation_failure_is_down_when_asked(code: int) -> None:
    result = await probe_with(replying(neg_failure(code)), RdpOptions(negfailure_up=False))
    assert not result.ok
    assert result.reason == f"RDP_NEG_FAILURE {FAILURE_CODES[code]}"


async def test_ipv6_loopback_works() -> None:
    async with tcp_server(replying(neg_rsp(PROTOCOL_RDP)), host="::1") as port:
        result = await rdp.probe(Target("::1", port), TIMEOUT)
    assert result.ok


# -- TLS after SSL/HYBRID was selected -------------------------------------------


@pytest.fixture
def server_tls(tls_cert: tuple[Path, Path]) -> ssl.SSLContext:
    cert, key = tls_cert
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def cert_sha256(cert: Path) -> bytes:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).digest()


def tls_server(ctx: ssl.SSLContext, selected: int = PROTOCOL_SSL) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(neg_rsp(selected))
        await writer.drain()
        await writer.start_tls(ctx)
        await reader.read()

    return handle


async def test_tls_handshake_completes_after_ssl_is_selected(server_tls: ssl.SSLContext) -> None:
    result = await probe_with(tls_server(server_tls))
    assert result.ok
    assert result.reason.startswith("X.224 CC: PROTOCOL_SSL selected; TLSv1.3 ok")


async def test_hybrid_selected_also_gets_a_tls_handshake(server_tls: ssl.SSLContext) -> None:
    result = await probe_with(tls_server(server_tls, PROTOCOL_HYBRID))
    assert result.ok
    assert "PROTOCOL_HYBRID selected; TLSv1.3 ok" in result.reason


async def test_a_short_lived_certificate_is_up_with_a_warning(server_tls: ssl.SSLContext) -> None:
    result = await probe_with(tls_server(server_tls))  # the test cert lives 2 days
    assert result.ok
    assert "warning: certificate expires in 1." in result.reason or "in 2.0 days" in result.reason


async def test_no_expiry_warning_when_it_is_off(server_tls: ssl.SSLContext) -> None:
    result = await probe_with(tls_server(server_tls), RdpOptions(expiry_warn_days=0))
    assert result.reason == "X.224 CC: PROTOCOL_SSL selected; TLSv1.3 ok"


async def test_the_pinned_certificate_matches(
    server_tls: ssl.SSLContext, tls_cert: tuple[Path, Path]
) -> None:
    options = RdpOptions(fingerprint=cert_sha256(tls_cert[0]), expiry_warn_days=0)
    result = await probe_with(tls_server(server_tls), options)
    assert result.ok
    assert result.reason == "X.224 CC: PROTOCOL_SSL selected; TLSv1.3 ok; certificate pin matches"


async def test_another_certificate_than_the_pinned_one_is_down(server_tls: ssl.SSLContext) -> None:
    result = await probe_with(tls_server(server_tls), RdpOptions(fingerprint=b"\x00" * 32))
    assert not result.ok
    assert result.reason.startswith("TLS handshake: TLSv1.3 ok but certificate SHA-256 ")
    assert result.reason.endswith(" is not pinned")


async def test_garbage_instead_of_a_server_hello_is_down() -> None:
    async def fake_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(neg_rsp(PROTOCOL_SSL))
        await reader.read(1)  # the ClientHello
        writer.write(b"HTTP/1.0 400 nope\r\n\r\n")
        await writer.drain()
        await reader.read()

    result = await probe_with(fake_tls)
    assert not result.ok
    assert result.reason.startswith("TLS handshake: TLS error: ")


async def test_a_server_that_never_starts_tls_is_down_at_the_deadline() -> None:
    result = await probe_with(replying(neg_rsp(PROTOCOL_SSL)))
    assert not result.ok
    assert result.reason == f"TLS handshake: no answer within {TIMEOUT:g}s"
    assert result.elapsed < TIMEOUT + SLACK


def test_fingerprints_parse_with_or_without_colons() -> None:
    hexa = "ab" * 32
    assert rdp.parse_fingerprint(hexa) == b"\xab" * 32
    assert rdp.parse_fingerprint(":".join(["AB"] * 32)) == b"\xab" * 32
    with pytest.raises(ValueError, match="32 bytes"):
        rdp.parse_fingerprint("abcd")
    with pytest.raises(ValueError, match="not hex"):
        rdp.parse_fingerprint("zz" * 32)


async def test_a_server_that_hangs_up_instead_of_tls_is_down() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(neg_rsp(PROTOCOL_SSL))
        await writer.drain()
        await reader.read(1)  # the ClientHello, then close

    result = await probe_with(hang_up)
    assert not result.ok
    assert result.reason == "TLS handshake: connection closed by peer"
    assert result.elapsed < TIMEOUT


async def test_many_probes_at_once_each_get_their_own_verdict() -> None:
    async with tcp_server(replying(neg_rsp(PROTOCOL_RDP))) as port:
        good = [rdp.probe(Target("127.0.0.1", port), 2.0) for _ in range(200)]
        bad = [rdp.probe(Target("127.0.0.1", closed_port()), 2.0) for _ in range(20)]
        results = await asyncio.gather(*good, *bad)
    assert [r.ok for r in results] == [True] * 200 + [False] * 20


def test_the_reader_asks_for_no_more_than_completes_one_capped_tpkt() -> None:
    # The probe's receive hook, fed by hand: after each chunk it asks the socket
    # for at most what is missing from the one PDU (512 bytes here, MAX_TPKT).
    probe = rdp._RdpProbe(Target("127.0.0.1", 3389), NO_TLS)
    assert probe.read_size == 512
    probe.received(H("03000200"))
    assert probe.read_size == 508
    probe.received(b"\xee" * 100)
    assert probe.read_size == 408
    with pytest.raises(RdpDecodeError):  # judged on exactly those 512 bytes
        probe.received(b"\xee" * 408 + b"more that is never looked at")


async def test_handshakes_cut_short_by_the_deadline_leave_no_socket_behind() -> None:
    # A server that selects TLS and then never answers the ClientHello: each probe
    # times out mid-handshake. Closed file descriptors are reused at once, so any
    # transport left registered on one would make a later probe fail to start.
    writers: list[asyncio.StreamWriter] = []

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await read_request(reader)
        writer.write(neg_rsp(PROTOCOL_SSL))
        await writer.drain()
        await reader.read(4096)  # the ClientHello, never answered

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for _ in range(20):
            result = await rdp.probe(Target("127.0.0.1", port), 0.05)
            assert not result.ok
            assert "used by transport" not in result.reason
            assert "timed out" in result.reason or "no answer" in result.reason, result.reason
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()
    ok = await probe_with(replying(neg_rsp(PROTOCOL_SSL)), NO_TLS)
    assert ok.ok, ok.reason


# -- remembered verdicts --------------------------------------------------------


def test_the_same_confirm_is_judged_once_per_set_of_options() -> None:
    options = RdpOptions(tls=False)
    first = rdp.judged(neg_rsp(PROTOCOL_SSL), options)
    assert rdp.judged(neg_rsp(PROTOCOL_SSL), options) is first
    assert first == rdp.judge(parse_connection_confirm(neg_rsp(PROTOCOL_SSL)), options)
    # The verdict depends on the options: other options judge for themselves.
    strict = RdpOptions(protocols=PROTOCOL_HYBRID, tls=False)
    assert not rdp.judged(neg_rsp(PROTOCOL_SSL), strict).ok
    assert rdp.judged(neg_rsp(PROTOCOL_SSL), options).ok


def test_an_undecodable_answer_raises_every_time_and_is_not_remembered() -> None:
    options = RdpOptions()
    for _ in range(2):
        with pytest.raises(RdpDecodeError):
            rdp.judged(b"HTTP/1.1 400 Bad", options)
    assert options.verdicts == {}


def test_remembered_verdicts_are_bounded() -> None:
    options = RdpOptions()
    for code in range(3 * rdp.JUDGED_MAX):
        rdp.judged(neg_failure(code), options)
    assert 0 < len(options.verdicts) <= rdp.JUDGED_MAX


def test_options_compare_and_hash_without_their_memo() -> None:
    used, fresh = RdpOptions(), RdpOptions()
    rdp.judged(neg_rsp(PROTOCOL_SSL), used)
    assert used == fresh and hash(used) == hash(fresh)
