"""checktype=ping: ICMP echo on raw sockets (these tests need root, as ldirectord does)."""

from __future__ import annotations

import os
import struct

import pytest

from ldirectorpy.checks import ping
from ldirectorpy.checks.target import Target

root = pytest.mark.skipif(os.geteuid() != 0, reason="raw ICMP sockets need root")


@root
async def test_ping_ipv4_loopback() -> None:
    result = await ping.probe(Target("127.0.0.1", 0), 1.0, count=3)
    assert (result.ok, result.reason) == (True, "echo reply 1/3")


@root
async def test_ping_ipv6_loopback() -> None:
    result = await ping.probe(Target("::1", 0), 1.0)
    assert (result.ok, result.reason) == (True, "echo reply 1/1")


@root
async def test_many_concurrent_pings_each_get_their_own_reply() -> None:
    import asyncio

    results = await asyncio.gather(*(ping.probe(Target("127.0.0.2", 0), 1.0) for _ in range(50)))
    assert all(r.ok for r in results)


def test_checksum_of_a_known_echo_request() -> None:
    # Type 8, code 0, id 0x1234, seq 1, no payload: checksum 0xe5ca (worked by hand: ~0x1a35).
    header = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1)
    assert ping.checksum(header) == 0xE5CA
    packet = ping.echo_request(0x1234, 1, v6=False)
    assert ping.checksum(packet) == 0  # a correct checksum sums to zero


def test_replies_are_matched_by_type_identifier_and_sequence() -> None:
    ip_header = bytes([0x45]) + bytes(19)
    reply = struct.pack("!BBHHH", 0, 0, 0, 7, 2)
    assert ping.parse_echo_reply(ip_header + reply, v6=False) == (7, 2)
    request = struct.pack("!BBHHH", 8, 0, 0, 7, 2)
    assert ping.parse_echo_reply(ip_header + request, v6=False) is None  # our own request
    assert ping.parse_echo_reply(struct.pack("!BBHHH", 129, 0, 0, 7, 2), v6=True) == (7, 2)
    assert ping.parse_echo_reply(b"\x45", v6=False) is None
