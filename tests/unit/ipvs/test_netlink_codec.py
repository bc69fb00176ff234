"""The netlink codec, offline: golden bytes, pyroute2's decoder as a second reader,
and our decoder on records shaped like the kernel's dumps.

The golden messages were checked attribute by attribute against ip_vs.h and then
sent to Linux 6.1 in the test guest, which accepted them and showed them with
`ipvsadm -Ln` (tests/kernel/test_ipvs_netlink.py does that on every run).
"""

from __future__ import annotations

import socket
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroute2.netlink.generic import ipvs as pr2
from strategies import destinations, service_keys, services

from ldirectorpy.ipvs import nlcodec as nl
from ldirectorpy.ipvs.errors import IPVSProtocolError
from ldirectorpy.ipvs.planner import AddService, DelDest, DelService, EditDest
from ldirectorpy.ipvs.types import (
    AddressKey,
    Destination,
    Family,
    Forward,
    FwmarkKey,
    SchedFlag,
    Service,
    ip,
)

WEB = AddressKey.of("tcp", "192.0.2.10", 80)

# NEW_SERVICE TCP 192.0.2.10:80 wrr persistent 300 mask 255.255.255.0, family id 0x20, seq 1:
#   nlmsghdr  68000000 2000 0500 01000000 00000000    len 104, type 0x20, REQUEST|ACK
#   genl      01 01 0000                               IPVS_CMD_NEW_SERVICE, version 1
#   nla       5400 0100                                IPVS_CMD_ATTR_SERVICE
#     0600 0100 0200 0000                              AF = AF_INET
#     0600 0200 0600 0000                              PROTOCOL = TCP
#     1400 0300 c000020a 000000000000000000000000      ADDR (16 bytes)
#     0600 0400 0050 0000                              PORT = 80 (be16)
#     0800 0600 77727200                               SCHED_NAME "wrr\0"
#     0c00 0700 01000000 ffffffff                      FLAGS {PERSISTENT, mask ~0}
#     0800 0800 2c010000                               TIMEOUT = 300
#     0800 0900 ffffff00                               NETMASK 255.255.255.0 (be)
GOLDEN_NEW_SERVICE = bytes.fromhex(
    "68000000200005000100000000000000"
    "01010000"
    "54000100"
    "0600010002000000"
    "0600020006000000"
    "14000300c000020a000000000000000000000000"
    "0600040000500000"
    "0800060077727200"
    "0c00070001000000ffffffff"
    "080008002c010000"
    "08000900ffffff00"
)

# SET_DEST on fwmark 7 (IPv6) for [2001:db8::2]:0 masq weight 5 u:9 l:1, seq 2: the
# service key is AF + FWMARK (pyroute2's dump_key would drop the fwmark).
GOLDEN_SET_DEST_FWMARK6 = bytes.fromhex(
    "70000000200005000200000000000000"
    "06010000"
    "14000100"
    "060001000a000000"
    "0800050007000000"
    "48000200"
    "1400010020010db8000000000000000000000002"
    "0600020000000000"
    "06000b000a000000"
    "0800030000000000"
    "0800040005000000"
    "0800050009000000"
    "0800060001000000"
)


def test_new_service_golden_bytes() -> None:
    op = AddService(Service(WEB, "wrr", persistence=300, netmask=24))
    assert nl.encode_op(op, 0x20, 1) == GOLDEN_NEW_SERVICE


def test_set_dest_on_fwmark6_golden_bytes() -> None:
    dest = Destination.of("2001:db8::2", 0, forward=Forward.MASQ, weight=5, upper=9, lower=1)
    op = EditDest(FwmarkKey(Family.INET6, 7), dest)
    assert nl.encode_op(op, 0x20, 2) == GOLDEN_SET_DEST_FWMARK6


def pyroute2_reads(data: bytes) -> pr2.ipvsmsg:
    msg = pr2.ipvsmsg(data)
    msg.decode()
    return msg


def test_pyroute2_reads_our_service_request() -> None:
    msg = pyroute2_reads(GOLDEN_NEW_SERVICE)
    assert msg["cmd"] == pr2.IPVS_CMD_NEW_SERVICE
    get = lambda name: msg.get(("IPVS_CMD_ATTR_SERVICE", name))  # noqa: E731
    assert get("IPVS_SVC_ATTR_AF") == socket.AF_INET
    assert get("IPVS_SVC_ATTR_PORT") == 80
    assert get("IPVS_SVC_ATTR_SCHED_NAME") == "wrr"
    assert get("IPVS_SVC_ATTR_TIMEOUT") == 300
    assert get("IPVS_SVC_ATTR_NETMASK") == "255.255.255.0"
    assert get("IPVS_SVC_ATTR_FLAGS")["flags"] == 1


def test_pyroute2_reads_our_dest_request() -> None:
    msg = pyroute2_reads(GOLDEN_SET_DEST_FWMARK6)
    assert msg["cmd"] == pr2.IPVS_CMD_SET_DEST
    assert msg.get(("IPVS_CMD_ATTR_SERVICE", "IPVS_SVC_ATTR_FWMARK")) == 7
    d = lambda name: msg.get(("IPVS_CMD_ATTR_DEST", name))  # noqa: E731
    assert (d("IPVS_DEST_ATTR_WEIGHT"), d("IPVS_DEST_ATTR_FWD_METHOD")) == (5, 0)
    assert (d("IPVS_DEST_ATTR_U_THRESH"), d("IPVS_DEST_ATTR_L_THRESH")) == (9, 1)
    assert d("IPVS_DEST_ATTR_ADDR_FAMILY") == socket.AF_INET6


def test_ipv6_netmask_is_a_raw_prefix_length() -> None:
    six = Service(AddressKey.of("tcp", "2001:db8::1", 80))
    attrs = nl.parse_attrs(nl.encode_service(six))
    assert attrs[nl.IPVS_SVC_ATTR_NETMASK] == struct.pack("=I", 128)


def test_delete_requests_carry_keys_only() -> None:
    msg = pyroute2_reads(nl.encode_op(DelService(WEB), 0x20, 3))
    svc = dict(msg.get("IPVS_CMD_ATTR_SERVICE")["attrs"])
    assert set(svc) == {
        "IPVS_SVC_ATTR_AF",
        "IPVS_SVC_ATTR_PROTOCOL",
        "IPVS_SVC_ATTR_ADDR",
        "IPVS_SVC_ATTR_PORT",
    }
    msg = pyroute2_reads(
        nl.encode_op(DelDest(WEB, Destination.of("198.51.100.1", 80).key), 0x20, 4)
    )
    assert set(dict(msg.get("IPVS_CMD_ATTR_DEST")["attrs"])) == {
        "IPVS_DEST_ATTR_ADDR",
        "IPVS_DEST_ATTR_PORT",
        "IPVS_DEST_ATTR_ADDR_FAMILY",
    }


def kernel_service_record(service: Service, extra_flags: int = 0x2) -> dict[int, bytes]:
    """What a dump holds: our encoding plus HASHED, and a zero address for fwmark."""
    attrs = nl.parse_attrs(nl.encode_service(service))
    flags, _ = struct.unpack("=II", attrs[nl.IPVS_SVC_ATTR_FLAGS])
    attrs[nl.IPVS_SVC_ATTR_FLAGS] = struct.pack("=II", flags | extra_flags, 0xFFFFFFFF)
    if isinstance(service.key, FwmarkKey):
        attrs[nl.IPVS_SVC_ATTR_PROTOCOL] = struct.pack("=H", socket.IPPROTO_TCP)
        attrs[nl.IPVS_SVC_ATTR_ADDR] = bytes(16)
        attrs[nl.IPVS_SVC_ATTR_PORT] = bytes(2)
    attrs[nl.IPVS_SVC_ATTR_SCHED_NAME] += b"\0\0\0"  # padding the kernel may leave
    return attrs


@settings(max_examples=200)
@given(st.data())
def test_decode_inverts_encode_for_services(data: st.DataObject) -> None:
    service = data.draw(services(data.draw(service_keys)))
    assert nl.decode_service(kernel_service_record(service)) == service


@settings(max_examples=200)
@given(st.data())
def test_decode_inverts_encode_for_destinations(data: st.DataObject) -> None:
    key = data.draw(service_keys)
    dest = data.draw(destinations(key))
    attrs = nl.parse_attrs(nl.encode_dest(dest))
    attrs[nl.IPVS_DEST_ATTR_ADDR_FAMILY] = struct.pack("=H", key.family)
    assert nl.decode_dest(attrs, key.family) == dest


def test_hashed_and_unknown_flags_are_masked() -> None:
    service = Service(WEB, sched_flags=SchedFlag.SCHED3)
    assert nl.decode_service(kernel_service_record(service, extra_flags=0x2 | 0x4000)) == service


def test_localnode_and_connection_flags_decode_as_the_method() -> None:
    attrs = nl.parse_attrs(nl.encode_dest(Destination.of("198.51.100.1", 80)))
    attrs[nl.IPVS_DEST_ATTR_FWD_METHOD] = struct.pack("=I", 1 | 0x100)  # + a conn flag
    assert nl.decode_dest(attrs, Family.INET).forward is Forward.LOCALNODE


def test_a_non_contiguous_netmask_never_equals_a_configured_one() -> None:
    attrs = kernel_service_record(Service(WEB, persistence=60))
    attrs[nl.IPVS_SVC_ATTR_NETMASK] = bytes([255, 0, 255, 0])
    assert nl.decode_service(attrs).netmask == -1


def test_garbage_is_a_protocol_error_not_a_crash() -> None:
    with pytest.raises(IPVSProtocolError):
        nl.decode_service({nl.IPVS_SVC_ATTR_AF: b"\x02\x00"})
    with pytest.raises(IPVSProtocolError):
        nl.parse_attrs(b"\x02\x00\x01\x00")
    with pytest.raises(IPVSProtocolError):
        list(nl.parse_messages(b"\xff\x00\x00\x00" + bytes(12)))


def test_ack_and_error_codes() -> None:
    ack = struct.pack("=i", 0) + bytes(16)
    eexist = struct.pack("=i", -17) + bytes(16)
    assert (nl.error_code(ack), nl.error_code(eexist)) == (0, 17)


def test_addresses_read_back_in_canonical_form() -> None:
    dest = Destination.of("2001:DB8:0:0::0002", 80)
    assert str(dest.address) == "2001:db8::2"
    assert ip("[2001:db8::2]") == dest.address


def kernel_dest_message(dest: Destination, order: list[int] | None = None) -> bytes:
    """A GET_DEST dump message's attributes in Linux's order (ip_vs_genl_fill_dest)."""
    attrs = {
        1: nl._addr16(dest.address),
        2: struct.pack(">H", dest.port),
        3: struct.pack("=I", dest.forward),
        4: struct.pack("=I", dest.weight),
        13: b"\0",
        14: b"\0\0",
        15: b"\0\0",
        5: struct.pack("=I", dest.upper),
        6: struct.pack("=I", dest.lower),
        7: struct.pack("=I", 3),
        8: struct.pack("=I", 4),
        9: struct.pack("=I", 5),
        11: struct.pack("=H", socket.AF_INET if dest.address.version == 4 else socket.AF_INET6),
        10: nl._nla(1, bytes(4)),
        12: nl._nla(1, bytes(8)),
    }
    kinds = order if order is not None else list(attrs)
    return nl._nla(nl.IPVS_CMD_ATTR_DEST, b"".join(nl._nla(k, attrs[k]) for k in kinds))


@settings(max_examples=100)
@given(st.data())
def test_dest_dump_fast_path_and_attribute_walk_agree(data: st.DataObject) -> None:
    key = data.draw(service_keys)
    dest = data.draw(destinations(key))
    assert nl.decode_dest_message(kernel_dest_message(dest), key.family) == dest
    shuffled = data.draw(st.permutations([1, 2, 3, 4, 5, 6, 11, 13, 10, 12]))
    assert nl.decode_dest_message(kernel_dest_message(dest, shuffled), key.family) == dest


def test_the_stable_part_of_a_record_leaves_out_only_the_counters() -> None:
    dest = Destination.of("198.51.100.1", 80, weight=3, upper=9, lower=1)
    record = kernel_dest_message(dest)
    busier = record[:88] + bytes(record[88:92]) + struct.pack("=I", 999) + record[96:]
    assert nl.decode_dest_message(busier, Family.INET) == dest
    assert nl.stable_part(busier) == nl.stable_part(record)
    for other in (
        Destination.of("198.51.100.1", 80, weight=4, upper=9, lower=1),
        Destination.of("198.51.100.1", 80, weight=3, upper=9, lower=0),
        Destination.of("198.51.100.1", 80, forward=Forward.MASQ, weight=3, upper=9, lower=1),
    ):
        assert nl.stable_part(kernel_dest_message(other)) != nl.stable_part(record)
