"""The kernel backend: IPVS over generic netlink. The only module that imports pyroute2.

pyroute2's `AsyncIPVS` resolves the "IPVS" generic-netlink family (and tells us when
the kernel has none). Requests and dumps then go through our own codec on our own
socket: pyroute2's request objects cost about 0.9 ms per message on the host (10-20x
that in the test guest), they carry the quirks listed in the reference notes
("update" sends DEL, `from_message` mixes defaults into decoded values, fwmark is
dropped from a destination's service key, the IPv6 netmask is typed as an IPv4
address), and its request path sends one message and waits for its ACK. Here a batch
of requests goes out in one sendmsg() and the ACKs are matched by sequence number;
the kernel still checks and applies each request on its own, in order.

The wire format lives in `nlcodec`.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Collection, Sequence
from typing import Any

from ldirectorpy.ipvs.backend import ApplyReport, ReportBuilder, describe
from ldirectorpy.ipvs.errors import (
    IPVSError,
    IPVSPermissionError,
    IPVSProtocolError,
    IPVSRequestError,
    IPVSTimeout,
    IPVSUnavailable,
    request_error,
)
from ldirectorpy.ipvs.nlcodec import (
    GENLHDR,
    IPVS_CMD_ATTR_SERVICE,
    IPVS_CMD_FLUSH,
    IPVS_CMD_GET_DEST,
    IPVS_CMD_GET_SERVICE,
    MSG_TRUNC,
    NETLINK_CAP_ACK,
    NETLINK_GENERIC,
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    SO_RCVBUFFORCE,
    SO_SNDBUFFORCE,
    SOL_NETLINK,
    decode_dest_message,
    decode_service,
    encode_op,
    encode_request,
    error_code,
    is_fast_layout,
    parse_attrs,
    parse_messages,
    service_key_attr,
    stable_part,
)
from ldirectorpy.ipvs.planner import (
    Op,
)
from ldirectorpy.ipvs.types import (
    Destination,
    ServiceKey,
    Table,
)

# -- the backend ------------------------------------------------------------------------


async def resolve_family() -> int:
    """The IPVS generic-netlink family id, through pyroute2; IPVSUnavailable if none."""
    from pyroute2 import AsyncIPVS
    from pyroute2.netlink.exceptions import NetlinkError

    ipvs: Any = AsyncIPVS()
    try:
        await ipvs.setup_endpoint()
        return int(ipvs.prid)
    except NetlinkError as exc:
        if exc.code == errno.ENOENT:
            raise IPVSUnavailable("no IPVS generic netlink family") from exc
        raise IPVSError(f"resolving the IPVS netlink family: {exc}") from exc
    finally:
        ipvs.close()


class NetlinkBackend:
    """Implements `IPVSBackend` on the kernel of the current network namespace.

    Open with `await NetlinkBackend.open()`. Every kernel call is bounded by
    `timeout` seconds; after a timeout the socket is replaced (a late answer must
    not be taken for the next one) and the backend is `dirty` until the next dump.
    """

    def __init__(
        self, family_id: int, *, timeout: float = 10.0, batch: int = 1024, rcvbuf: int = 32 << 20
    ) -> None:
        self.family_id = family_id
        self.timeout = timeout
        self.rcvbuf_wanted = rcvbuf
        self.batch = batch
        self.dirty = False
        self.requests = 0  # kernel requests sent, dumps included
        self._seq = 1
        self._sock = self._socket()
        self._decoded: dict[bytes, Destination] = {}

    @classmethod
    async def open(cls, **kwargs: Any) -> NetlinkBackend:
        return cls(await resolve_family(), **kwargs)

    def close(self) -> None:
        self._sock.close()

    async def __aenter__(self) -> NetlinkBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    @property
    def rcvbuf(self) -> int:
        """The receive buffer the kernel granted (it reports twice the size asked)."""
        return self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    def _socket(self) -> socket.socket:
        sock = socket.socket(
            socket.AF_NETLINK,
            socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
            NETLINK_GENERIC,
        )
        # Large dumps and a batch of ACKs must fit; FORCE passes rmem_max (as root).
        for force, plain, size in (
            (SO_RCVBUFFORCE, socket.SO_RCVBUF, self.rcvbuf_wanted),
            (SO_SNDBUFFORCE, socket.SO_SNDBUF, 4 << 20),
        ):
            try:
                sock.setsockopt(socket.SOL_SOCKET, force, size)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, plain, size)
        sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        sock.bind((0, 0))
        # An ACK costs about 1 KiB of receive buffer: never send more than fit.
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.batch = max(1, min(self.batch, granted // 2048))
        return sock

    def _reset(self) -> None:
        self._sock.close()
        self._sock = self._socket()
        self.dirty = True

    def _next_seq(self, count: int = 1) -> int:
        """The first of `count` consecutive sequence numbers."""
        if self._seq + count >= 0x7FFFFFFF:
            self._seq = 1
        seq, self._seq = self._seq, self._seq + count
        return seq

    async def _recv(self, deadline: float) -> bytes:
        """The next datagram. The kernel answers within send() and recv() themselves, so
        the asyncio machinery (and the `deadline`) is only needed when none is queued."""
        while True:
            try:
                data, _anc, flags, _addr = self._sock.recvmsg(1 << 16)
            except BlockingIOError:
                async with asyncio.timeout_at(deadline):
                    await self._readable()
                continue
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    raise IPVSProtocolError("netlink receive buffer overflowed") from exc
                raise
            if flags & MSG_TRUNC:
                raise IPVSProtocolError("netlink message truncated")
            return data

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.timeout

    async def _readable(self) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = self._sock.fileno()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(fd)

    # -- dumps ---------------------------------------------------------------------

    async def _dump(self, cmd: int, attrs: bytes, what: object) -> list[bytes]:
        """The attributes (after the genl header) of every message of one dump."""
        seq = self._next_seq()
        request = encode_request(self.family_id, cmd, seq, NLM_F_REQUEST | NLM_F_DUMP, attrs)
        out: list[bytes] = []
        self.requests += 1
        deadline = self._deadline()
        try:
            self._sock.send(request)
            while True:
                for kind, _flags, mseq, payload in parse_messages(await self._recv(deadline)):
                    if mseq != seq:
                        continue
                    if kind == NLMSG_DONE:
                        return out
                    if kind == NLMSG_ERROR:
                        code = error_code(payload)
                        if code == errno.EPERM:
                            raise IPVSPermissionError()
                        raise request_error(code, f"dump {what}")
                    out.append(payload[GENLHDR.size :])
        except TimeoutError as exc:
            self._reset()
            raise IPVSTimeout(
                f"dump {what}: no answer from the kernel in {self.timeout} s"
            ) from exc
        except (IPVSRequestError, IPVSPermissionError):
            raise  # the kernel ended this dump with an error: the socket is clean
        except BaseException:
            # Garbage, or cancelled mid-dump: the kernel may still be dumping into
            # this socket (a new dump would get EBUSY), so start afresh.
            self._reset()
            raise

    async def dump(self, owned: Collection[ServiceKey]) -> Table:
        self.dirty = False
        services = []
        for raw in await self._dump(IPVS_CMD_GET_SERVICE, b"", "services"):
            top = parse_attrs(raw)
            if IPVS_CMD_ATTR_SERVICE in top:
                services.append(decode_service(parse_attrs(top[IPVS_CMD_ATTR_SERVICE])))
        # Records of the last dump by their stable bytes: an unchanged real is not
        # decoded again. Only the last dump's are kept, so memory follows the table.
        decoded: dict[bytes, Destination] = {}
        entries = []
        for n, service in enumerate(services):
            key = service.key
            if key not in owned:
                continue
            if n % 16 == 15:
                await asyncio.sleep(0)  # the kernel answers at once: let probes run too
            try:
                found = await self._dump(IPVS_CMD_GET_DEST, service_key_attr(key), key)
            except IPVSRequestError:
                continue  # deleted between the two dumps: absent, like its service
            dests = []
            for raw in found:
                stable = stable_part(raw)
                dest = self._decoded.get(stable)
                if dest is None:
                    dest = decode_dest_message(raw, key.family)
                    if dest is None:
                        continue
                    if not is_fast_layout(raw):
                        dests.append(dest)
                        continue
                decoded[stable] = dest
                dests.append(dest)
            entries.append((service, dests))
        self._decoded = decoded
        return Table.build(entries, normalize=False)

    # -- writes --------------------------------------------------------------------

    async def apply(self, ops: Sequence[Op]) -> ApplyReport:
        report = ReportBuilder()
        # (the op to send, the caller's op it stands for): a retry's failure is
        # reported against the planned op.
        pending = [(op, op) for op in ops]
        while pending:
            retries: list[tuple[Op, Op]] = []
            for start in range(0, len(pending), self.batch):
                chunk = pending[start : start + self.batch]
                if start:
                    # Between batches, let the rest of the daemon run; not before
                    # the first: with the loop busy (200 reals in the emulated
                    # guest) that one yield held a quiesce back by up to 0.5 s.
                    await asyncio.sleep(0)
                errors = await self._send_batch([sent for sent, _ in chunk])
                for (sent, planned), error in zip(chunk, errors, strict=True):
                    retry = report.outcome(sent, error, planned=planned)
                    if retry is not None:
                        retries.append((retry, planned))
            pending = retries
        result = report.report()
        if result.errors:
            self.dirty = True
        return result

    async def _send_batch(self, ops: Sequence[Op]) -> list[IPVSRequestError | None]:
        """Send `ops` in one datagram; the error (or None) of each, in order."""
        first = self._next_seq(len(ops))
        data = b"".join(encode_op(op, self.family_id, first + i) for i, op in enumerate(ops))
        codes: dict[int, int] = {}
        self.requests += len(ops)
        deadline = self._deadline()
        try:
            self._sock.send(data)
            while len(codes) < len(ops):
                for kind, _flags, seq, payload in parse_messages(await self._recv(deadline)):
                    if kind == NLMSG_ERROR and 0 <= seq - first < len(ops):
                        codes[seq] = error_code(payload)
        except (TimeoutError, IPVSProtocolError, OSError) as exc:
            # Unknown outcomes: report them; the next dump shows what happened.
            self._reset()
            code = errno.ETIMEDOUT if isinstance(exc, TimeoutError) else errno.EIO
            for i in range(len(ops)):
                codes.setdefault(first + i, code)
        out: list[IPVSRequestError | None] = []
        for i, op in enumerate(ops):
            code = codes[first + i]
            out.append(request_error(code, describe(op)) if code else None)
        return out

    async def flush(self) -> None:
        """Delete every service (IPVS_CMD_FLUSH). Never called by the reconciler."""
        seq = self._next_seq()
        self._sock.send(
            encode_request(self.family_id, IPVS_CMD_FLUSH, seq, NLM_F_REQUEST | NLM_F_ACK, b"")
        )
        deadline = self._deadline()
        while True:
            for kind, _flags, mseq, payload in parse_messages(await self._recv(deadline)):
                if kind == NLMSG_ERROR and mseq == seq:
                    code = error_code(payload)
                    if code:
                        raise request_error(code, "flush")
                    return
