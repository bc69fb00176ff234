"""The IPVS generic-netlink wire format, pure: requests encoded, dumps decoded.

Wire layout of a request (integers in host order unless marked be = big-endian; each
attribute is padded to 4 bytes):

    nlmsghdr    len:u32 | type:u16 = IPVS family id | flags:u16 | seq:u32 | portid:u32
    genlmsghdr  cmd:u8 (IPVS_CMD_*) | version:u8 = 1 | reserved:u16
    nlattr      len:u16 | IPVS_CMD_ATTR_SERVICE:u16 | nested IPVS_SVC_ATTR_*:
                  AF:u16
                  PROTOCOL:u16, ADDR:16 bytes, PORT:be16      (an address service)
                  FWMARK:u32                                   (a fwmark service)
                  SCHED_NAME:asciiz, FLAGS:{flags:u32, mask:u32}, TIMEOUT:u32,
                  NETMASK:4 bytes (IPv4: the mask, be; IPv6: the prefix length, u32)
    nlattr      len:u16 | IPVS_CMD_ATTR_DEST:u16 | nested IPVS_DEST_ATTR_*:
                  ADDR:16 bytes, PORT:be16, ADDR_FAMILY:u16, FWD_METHOD:u32,
                  WEIGHT:u32, U_THRESH:u32, L_THRESH:u32

A destination request carries only the service's key (AF + FWMARK, or AF + PROTOCOL
+ ADDR + PORT); SET requests carry every attribute, because SET overwrites them all.
The kernel answers each request with NLMSG_ERROR (error 0 = ACK) and a dump with
messages of the same layout, ended by NLMSG_DONE.
"""

from __future__ import annotations

import functools
import ipaddress
import operator
import socket
import struct
from collections.abc import Iterator, Mapping

from ldirectorpy.ipvs.errors import (
    IPVSProtocolError,
)
from ldirectorpy.ipvs.normalize import service_flags, service_from_record
from ldirectorpy.ipvs.planner import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    EditDest,
    EditService,
    Op,
)
from ldirectorpy.ipvs.types import (
    AddressKey,
    Destination,
    DestKey,
    Family,
    Forward,
    FwmarkKey,
    IPAddress,
    Proto,
    Service,
    ServiceKey,
)

# -- vocabulary of linux/netlink.h and linux/ip_vs.h -----------------------------------

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
SOL_NETLINK = 270
NETLINK_GENERIC = 16
NETLINK_CAP_ACK = 10  # error ACKs without a copy of the request
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33

IPVS_GENL_VERSION = 1

IPVS_CMD_NEW_SERVICE = 1
IPVS_CMD_SET_SERVICE = 2
IPVS_CMD_DEL_SERVICE = 3
IPVS_CMD_GET_SERVICE = 4
IPVS_CMD_NEW_DEST = 5
IPVS_CMD_SET_DEST = 6
IPVS_CMD_DEL_DEST = 7
IPVS_CMD_GET_DEST = 8
IPVS_CMD_FLUSH = 17

IPVS_CMD_ATTR_SERVICE = 1
IPVS_CMD_ATTR_DEST = 2

IPVS_SVC_ATTR_AF = 1
IPVS_SVC_ATTR_PROTOCOL = 2
IPVS_SVC_ATTR_ADDR = 3
IPVS_SVC_ATTR_PORT = 4
IPVS_SVC_ATTR_FWMARK = 5
IPVS_SVC_ATTR_SCHED_NAME = 6
IPVS_SVC_ATTR_FLAGS = 7
IPVS_SVC_ATTR_TIMEOUT = 8
IPVS_SVC_ATTR_NETMASK = 9

IPVS_DEST_ATTR_ADDR = 1
IPVS_DEST_ATTR_PORT = 2
IPVS_DEST_ATTR_FWD_METHOD = 3
IPVS_DEST_ATTR_WEIGHT = 4
IPVS_DEST_ATTR_U_THRESH = 5
IPVS_DEST_ATTR_L_THRESH = 6
IPVS_DEST_ATTR_ADDR_FAMILY = 11

IP_VS_CONN_F_FWD_MASK = 0x7
NLA_TYPE_MASK = 0x3FFF  # strips NLA_F_NESTED / NLA_F_NET_BYTEORDER

_U16 = struct.Struct("=H")
_BE16 = struct.Struct(">H")
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")
_NLA = struct.Struct("=HH")
_NLMSGHDR = struct.Struct("=IHHII")
GENLHDR = struct.Struct("=BBH")
_FLAGS = struct.Struct("=II")

# -- codec (pure) -----------------------------------------------------------------------


def _nla(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return _NLA.pack(size, kind) + payload + b"\0" * (-size % 4)


def _addr16(address: IPAddress) -> bytes:
    return address.packed.ljust(16, b"\0")


def _netmask(family: Family, prefix: int) -> bytes:
    if family is Family.INET:
        return ((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF).to_bytes(4, "big")
    return _U32.pack(prefix)  # the kernel reads an IPv6 prefix length as a raw u32


@functools.lru_cache(maxsize=1 << 16)
def encode_service_key(key: ServiceKey) -> bytes:
    """The nested IPVS_CMD_ATTR_SERVICE payload naming `key` (no attributes)."""
    out = _nla(IPVS_SVC_ATTR_AF, _U16.pack(key.family))
    if isinstance(key, FwmarkKey):
        return out + _nla(IPVS_SVC_ATTR_FWMARK, _U32.pack(key.fwmark))
    return (
        out
        + _nla(IPVS_SVC_ATTR_PROTOCOL, _U16.pack(key.protocol))
        + _nla(IPVS_SVC_ATTR_ADDR, _addr16(key.address))
        + _nla(IPVS_SVC_ATTR_PORT, _BE16.pack(key.port))
    )


@functools.lru_cache(maxsize=1 << 16)
def service_key_attr(key: ServiceKey) -> bytes:
    return _nla(IPVS_CMD_ATTR_SERVICE, encode_service_key(key))


def encode_service(service: Service) -> bytes:
    """The full nested IPVS_CMD_ATTR_SERVICE payload, as NEW/SET_SERVICE need it."""
    assert service.netmask is not None
    flags, timeout = service_flags(service)
    return (
        encode_service_key(service.key)
        + _nla(IPVS_SVC_ATTR_SCHED_NAME, service.scheduler.encode("ascii") + b"\0")
        + _nla(IPVS_SVC_ATTR_FLAGS, _FLAGS.pack(flags, 0xFFFFFFFF))
        + _nla(IPVS_SVC_ATTR_TIMEOUT, _U32.pack(timeout))
        + _nla(IPVS_SVC_ATTR_NETMASK, _netmask(service.key.family, service.netmask))
    )


# A destination's attributes have a fixed layout: one pack() instead of seven
# (the port goes through htons because the format is in host order).
_DEST_KEY = struct.Struct("=HH16s HHH2x HHH2x")
_DEST = struct.Struct("=HH16s HHH2x HHH2x HHI HHI HHI HHI")
_DEST_ATTR_HEADER = _NLA.pack(4 + _DEST.size, IPVS_CMD_ATTR_DEST)
_DEST_KEY_ATTR_HEADER = _NLA.pack(4 + _DEST_KEY.size, IPVS_CMD_ATTR_DEST)


def encode_dest_key(key: DestKey) -> bytes:
    return _DEST_KEY.pack(
        20, IPVS_DEST_ATTR_ADDR, key.address.packed,
        6, IPVS_DEST_ATTR_PORT, socket.htons(key.port),
        6, IPVS_DEST_ATTR_ADDR_FAMILY, _af(key.address),
    )  # fmt: skip


def encode_dest(dest: Destination) -> bytes:
    """The full nested IPVS_CMD_ATTR_DEST payload, as NEW/SET_DEST need it."""
    return _DEST.pack(
        20, IPVS_DEST_ATTR_ADDR, dest.address.packed,
        6, IPVS_DEST_ATTR_PORT, socket.htons(dest.port),
        6, IPVS_DEST_ATTR_ADDR_FAMILY, _af(dest.address),
        8, IPVS_DEST_ATTR_FWD_METHOD, dest.forward,
        8, IPVS_DEST_ATTR_WEIGHT, dest.weight,
        8, IPVS_DEST_ATTR_U_THRESH, dest.upper,
        8, IPVS_DEST_ATTR_L_THRESH, dest.lower,
    )  # fmt: skip


_AF_INET, _AF_INET6 = int(socket.AF_INET), int(socket.AF_INET6)
MSG_TRUNC = int(socket.MSG_TRUNC)  # plain ints: enum arithmetic is slow in hot loops


def _af(address: IPAddress) -> int:
    return _AF_INET if address.version == 4 else _AF_INET6


def encode_request(family_id: int, cmd: int, seq: int, flags: int, attrs: bytes) -> bytes:
    body = GENLHDR.pack(cmd, IPVS_GENL_VERSION, 0) + attrs
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), family_id, flags, seq, 0) + body


def encode_op(op: Op, family_id: int, seq: int) -> bytes:
    """One request message for `op`, asking for an ACK."""
    match op:
        case AddService(service=s):
            cmd, attrs = IPVS_CMD_NEW_SERVICE, _nla(IPVS_CMD_ATTR_SERVICE, encode_service(s))
        case EditService(service=s):
            cmd, attrs = IPVS_CMD_SET_SERVICE, _nla(IPVS_CMD_ATTR_SERVICE, encode_service(s))
        case DelService(key=k):
            cmd, attrs = IPVS_CMD_DEL_SERVICE, service_key_attr(k)
        case AddDest(service=k, dest=d):
            cmd = IPVS_CMD_NEW_DEST
            attrs = service_key_attr(k) + _DEST_ATTR_HEADER + encode_dest(d)
        case EditDest(service=k, dest=d):
            cmd = IPVS_CMD_SET_DEST
            attrs = service_key_attr(k) + _DEST_ATTR_HEADER + encode_dest(d)
        case DelDest(service=k, dest=dk):
            cmd = IPVS_CMD_DEL_DEST
            attrs = service_key_attr(k) + _DEST_KEY_ATTR_HEADER + encode_dest_key(dk)
    return encode_request(family_id, cmd, seq, NLM_F_REQUEST | NLM_F_ACK, attrs)


def parse_attrs(buf: bytes) -> dict[int, bytes]:
    """Attribute type -> payload, for one level of attributes."""
    out: dict[int, bytes] = {}
    unpack = _NLA.unpack_from
    pos, end = 0, len(buf)
    while pos + 4 <= end:
        size, kind = unpack(buf, pos)
        stop = pos + size
        if size < 4 or stop > end:
            raise IPVSProtocolError(f"bad attribute length {size} at offset {pos}")
        out[kind & NLA_TYPE_MASK] = buf[pos + 4 : stop]
        pos = (stop + 3) & ~3
    return out


@functools.lru_cache(maxsize=1 << 16)
def _address(family: int, raw: bytes) -> IPAddress:
    if family == socket.AF_INET:
        return ipaddress.IPv4Address(raw[:4])
    return ipaddress.IPv6Address(raw[:16])


def _prefix(family: Family, raw: bytes) -> int:
    if family is Family.INET6:
        return int(_U32.unpack(raw[:4])[0])
    mask = int.from_bytes(raw[:4], "big")
    prefix = 32 - (~mask & 0xFFFFFFFF).bit_length()
    # A non-contiguous mask (ipvsadm -M 255.0.255.0) is no prefix: -1 differs from
    # anything we write, so the planner puts the configured one back.
    return prefix if mask == (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF else -1


def decode_service(attrs: Mapping[int, bytes]) -> Service:
    """A `Service` from the nested IPVS_CMD_ATTR_SERVICE attributes of a dump."""
    try:
        family = Family(_U16.unpack(attrs[IPVS_SVC_ATTR_AF][:2])[0])
        fwmark = (
            _U32.unpack(attrs[IPVS_SVC_ATTR_FWMARK][:4])[0]
            if (IPVS_SVC_ATTR_FWMARK in attrs)
            else 0
        )
        key: ServiceKey
        if fwmark:
            key = FwmarkKey(family, fwmark)
        else:
            key = AddressKey(
                family,
                Proto(_U16.unpack(attrs[IPVS_SVC_ATTR_PROTOCOL][:2])[0]),
                _address(family, attrs[IPVS_SVC_ATTR_ADDR]),
                _BE16.unpack(attrs[IPVS_SVC_ATTR_PORT][:2])[0],
            )
        flags, _mask = _FLAGS.unpack(attrs[IPVS_SVC_ATTR_FLAGS][:8])
        return service_from_record(
            key,
            attrs[IPVS_SVC_ATTR_SCHED_NAME].split(b"\0", 1)[0].decode("ascii"),
            flags,
            _U32.unpack(attrs[IPVS_SVC_ATTR_TIMEOUT][:4])[0],
            _prefix(family, attrs[IPVS_SVC_ATTR_NETMASK]),
        )
    except (KeyError, ValueError, struct.error) as exc:
        raise IPVSProtocolError(f"cannot decode a service record: {exc!r}") from exc


_FORWARDS = tuple(Forward)


def decode_dest(attrs: Mapping[int, bytes], service_family: Family) -> Destination:
    """A `Destination` from the nested IPVS_CMD_ATTR_DEST attributes of a dump."""
    try:
        family = (
            _U16.unpack(attrs[IPVS_DEST_ATTR_ADDR_FAMILY][:2])[0]
            if IPVS_DEST_ATTR_ADDR_FAMILY in attrs
            else service_family
        )
        return Destination(
            address=_address(family, attrs[IPVS_DEST_ATTR_ADDR]),
            port=_BE16.unpack(attrs[IPVS_DEST_ATTR_PORT][:2])[0],
            forward=_FORWARDS[
                _U32.unpack(attrs[IPVS_DEST_ATTR_FWD_METHOD][:4])[0] & IP_VS_CONN_F_FWD_MASK
            ],
            weight=_U32.unpack(attrs[IPVS_DEST_ATTR_WEIGHT][:4])[0],
            upper=_U32.unpack(attrs[IPVS_DEST_ATTR_U_THRESH][:4])[0],
            lower=_U32.unpack(attrs[IPVS_DEST_ATTR_L_THRESH][:4])[0],
        )
    except (KeyError, IndexError, ValueError, struct.error) as exc:
        raise IPVSProtocolError(f"cannot decode a destination record: {exc!r}") from exc


# How Linux (ip_vs_genl_fill_dest, 4.x to 6.x) lays out a destination record: with
# this layout (checked field by field), one unpack() decodes it; otherwise the
# generic attribute walk does. The stats attributes that follow are not read.
_DEST_DUMP = struct.Struct("=HHHH16s HHH2x HHI HHI HHB3x HHH2x HHH2x HHI HHI HHI HHI HHI HHH2x")
_DEST_DUMP_HEADERS = (
    (20, IPVS_DEST_ATTR_ADDR),
    (6, IPVS_DEST_ATTR_PORT),
    (8, IPVS_DEST_ATTR_FWD_METHOD),
    (8, IPVS_DEST_ATTR_WEIGHT),
    (5, 13),  # TUN_TYPE
    (6, 14),  # TUN_PORT
    (6, 15),  # TUN_FLAGS
    (8, IPVS_DEST_ATTR_U_THRESH),
    (8, IPVS_DEST_ATTR_L_THRESH),
    (8, 7),  # ACTIVE_CONNS
    (8, 8),  # INACT_CONNS
    (8, 9),  # PERSIST_CONNS
    (6, IPVS_DEST_ATTR_ADDR_FAMILY),
)


_DEST_DUMP_FLAT = tuple(x for pair in _DEST_DUMP_HEADERS for x in pair)


def stable_part(attrs: bytes) -> bytes:
    """A fast-layout record without its connection counters and stats (which change
    with traffic): ADDR .. L_THRESH, then ADDR_FAMILY."""
    return attrs[4:88] + attrs[112:120]


_dest_dump_heads = operator.itemgetter(*(i for n in range(13) for i in (2 + 3 * n, 3 + 3 * n)))


def is_fast_layout(attrs: bytes) -> bool:
    if len(attrs) < _DEST_DUMP.size:
        return False
    f = _DEST_DUMP.unpack_from(attrs, 0)
    return bool(
        f[1] & NLA_TYPE_MASK == IPVS_CMD_ATTR_DEST and _dest_dump_heads(f) == _DEST_DUMP_FLAT
    )


def decode_dest_message(attrs: bytes, service_family: Family) -> Destination | None:
    """The destination in the attributes of one GET_DEST dump message (None: none)."""
    if len(attrs) >= _DEST_DUMP.size:
        f = _DEST_DUMP.unpack_from(attrs, 0)
        if f[1] & NLA_TYPE_MASK == IPVS_CMD_ATTR_DEST and _dest_dump_heads(f) == _DEST_DUMP_FLAT:
            return Destination(
                address=_address(f[40], f[4]),
                port=socket.ntohs(f[7]),
                forward=_FORWARDS[f[10] & IP_VS_CONN_F_FWD_MASK],
                weight=f[13],
                upper=f[25],
                lower=f[28],
            )
    top = parse_attrs(attrs)
    if IPVS_CMD_ATTR_DEST not in top:
        return None
    return decode_dest(parse_attrs(top[IPVS_CMD_ATTR_DEST]), service_family)


def parse_messages(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """(type, flags, seq, payload) for each netlink message in one datagram."""
    pos, end = 0, len(data)
    while pos + _NLMSGHDR.size <= end:
        size, kind, flags, seq, _pid = _NLMSGHDR.unpack_from(data, pos)
        if size < _NLMSGHDR.size or pos + size > end:
            raise IPVSProtocolError(f"bad netlink message length {size}")
        yield kind, flags, seq, data[pos + _NLMSGHDR.size : pos + size]
        pos += (size + 3) & ~3


def error_code(payload: bytes) -> int:
    """The positive errno of an NLMSG_ERROR payload (0 for an ACK)."""
    return -int(_I32.unpack_from(payload, 0)[0])
