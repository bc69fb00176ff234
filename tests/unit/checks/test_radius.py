"""service=radius: an Access-Request to an in-process RADIUS responder."""

from __future__ import annotations

import hashlib
import hmac
import socket
import struct
from collections.abc import Callable

import pytest
from checks_loopback import closed_port
from dialogue_server import udp_responder

from ldirectorpy.checks import CheckSpec, build_probe, radius
from ldirectorpy.checks.target import Target

TIMEOUT = 0.3
SECRET = b"s3cret"
USERS = {b"probe": b"right password"}


def attributes(packet: bytes) -> dict[int, bytes]:
    found, pos = {}, 20
    while pos < len(packet):
        kind, size = packet[pos], packet[pos + 1]
        found[kind] = packet[pos + 2 : pos + size]
        pos += size
    return found


def reveal(hidden: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """The server side of RFC 2865 §5.2, written independently of the probe."""
    plain, previous = b"", authenticator
    for i in range(0, len(hidden), 16):
        key = hashlib.md5(secret + previous).digest()
        plain += bytes(a ^ b for a, b in zip(hidden[i : i + 16], key, strict=True))
        previous = hidden[i : i + 16]
    return plain.rstrip(b"\0")


def reply(request: bytes, code: int, secret: bytes = SECRET, ident: int | None = None) -> bytes:
    ident = request[1] if ident is None else ident
    head = struct.pack("!BBH", code, ident, 20)
    auth = hashlib.md5(head + request[4:20] + secret).digest()
    return head + auth


def server(secret: bytes = SECRET) -> Callable[[bytes], list[bytes]]:
    def answer(request: bytes) -> list[bytes]:
        attrs = attributes(request)
        mac = attrs[80]
        zeroed = request.replace(mac, b"\0" * 16)
        assert hmac.new(secret, zeroed, hashlib.md5).digest() == mac, "Message-Authenticator"
        password = reveal(attrs[2], secret, request[4:20])
        ok = USERS.get(attrs[1]) == password
        return [reply(request, 2 if ok else 3, secret)]

    return answer


async def ask(answer: Callable[[bytes], list[bytes]], login: str, passwd: str) -> object:
    async with udp_responder(answer) as (port, _):
        return await radius.probe(
            Target("127.0.0.1", port), TIMEOUT, login=login, passwd=passwd, secret="s3cret"
        )


@pytest.mark.parametrize(
    ("answer", "login", "passwd", "up", "reason"),
    [
        (server(), "probe", "right password", True, "Access-Accept for 'probe'"),
        (server(), "probe", "wrong", False, "Access-Reject for 'probe'"),
        (server(), "nobody", "", False, "Access-Reject for 'nobody'"),
        (lambda r: [reply(r, 11)], "probe", "x", False, "Access-Challenge for 'probe'"),
        (lambda r: [reply(r, 2, b"other secret")], "probe", "x", False,
         "RADIUS reply: RADIUS reply authenticator is wrong (is the secret the same?)"),
        # Another identifier or a runt is not our answer: ignored, then silence.
        (lambda r: [reply(r, 2, ident=r[1] ^ 1), b"\x02"], "probe", "x", False,
         f"RADIUS reply: no answer within {TIMEOUT:g}s"),
        (lambda r: [], "probe", "x", False, f"RADIUS reply: no answer within {TIMEOUT:g}s"),
        (lambda r: [b"\x02" + r[1:2] + b"\xff\xff" + b"\0" * 16], "probe", "x", False,
         "RADIUS reply: RADIUS reply does not answer our request"),
    ],
)  # fmt: skip
async def test_verdicts(
    answer: Callable[[bytes], list[bytes]], login: str, passwd: str, up: bool, reason: str
) -> None:
    result = await ask(answer, login, passwd)
    assert (result.ok, result.reason) == (up, reason)  # type: ignore[attr-defined]


async def test_refused_at_once() -> None:
    result = await radius.probe(
        Target("127.0.0.1", closed_port(socket.SOCK_DGRAM)), TIMEOUT,
        login="a", passwd="b", secret="c",
    )  # fmt: skip
    assert (result.ok, result.reason) == (False, "RADIUS reply: refused")


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 128])
def test_password_hiding_round_trips(size: int) -> None:
    password = bytes(65 + i % 60 for i in range(size))
    auth = bytes(range(16))
    hidden = radius.hide_password(password, SECRET, auth)
    assert len(hidden) == max(16, -(-size // 16) * 16)
    assert reveal(hidden, SECRET, auth) == password


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"login": "a"}, "service=radius needs secret= (and login=, passwd=)"),
        ({"login": "a", "passwd": "x" * 200, "secret": "s"},
         "service=radius: a RADIUS password is at most 128 bytes"),
    ],
)  # fmt: skip
async def test_unusable_settings_are_down_every_pass_with_the_reason(
    options: dict[str, str], reason: str
) -> None:
    probe = build_probe(CheckSpec("negotiate", "radius", Target("127.0.0.1", 1812), **options))  # type: ignore[arg-type]
    assert probe is not None
    result = await probe()
    assert (result.ok, result.reason) == (False, reason)


async def test_registry_runs_it() -> None:
    async with udp_responder(server()) as (port, _):
        probe = build_probe(
            CheckSpec("negotiate", "radius", Target("127.0.0.1", port), login="probe",
                      passwd="right password", secret="s3cret", negotiatetimeout=TIMEOUT)
        )  # fmt: skip
        assert probe is not None
        result = await probe()
    assert result.ok, result.reason
