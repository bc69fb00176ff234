"""A scripted line-protocol server for the probe tests (smtp, pop, imap, nntp, ...).

A script is a sequence of steps: bytes are sent, ``READ`` reads one line from
the probe into the transcript, a float sleeps, ``CLOSE`` hangs up. After the script the server
waits for the probe to hang up, so the probe decides when the talk ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import cast

from checks_loopback import tcp_server


class _Mark:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


READ = _Mark("READ")  # read one line from the probe
CLOSE = _Mark("CLOSE")  # hang up now
Step = bytes | float | _Mark
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def scripted(steps: Sequence[Step], transcript: list[bytes]) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for step in steps:
            if step is CLOSE:
                return
            if step is READ:
                line = await reader.readline()
                if not line:
                    return
                transcript.append(line.rstrip(b"\r\n"))
            elif isinstance(step, float):
                await asyncio.sleep(step)
            elif isinstance(step, bytes):
                writer.write(step)
                await writer.drain()
        while line := await reader.readline():  # what the probe says before hanging up
            transcript.append(line.rstrip(b"\r\n"))

    return handle


def trickled(data: bytes, gap: float = 0.02) -> list[Step]:
    """``data`` one byte at a time, ``gap`` seconds apart."""
    steps: list[Step] = []
    for byte in data:
        steps += [bytes([byte]), gap]
    return steps


@asynccontextmanager
async def dialogue(
    steps: Sequence[Step], host: str = "127.0.0.1"
) -> AsyncIterator[tuple[int, list[bytes]]]:
    """Serve ``steps``; yields (port, transcript of the lines the probe sent)."""
    transcript: list[bytes] = []
    async with tcp_server(scripted(steps, transcript), host) as port:
        yield port, transcript


async def settled(transcript: list[bytes], count: int, within: float = 0.5) -> list[bytes]:
    """The transcript once it holds ``count`` lines (or after ``within`` seconds)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while len(transcript) < count and loop.time() < end:
        await asyncio.sleep(0.005)
    return transcript


@asynccontextmanager
async def udp_responder(
    answer: Callable[[bytes], Sequence[bytes]], host: str = "127.0.0.1"
) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A UDP server sending ``answer(request)`` datagrams back; yields (port, requests)."""
    seen: list[bytes] = []

    class Server(asyncio.DatagramProtocol):
        transport: asyncio.DatagramTransport

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.DatagramTransport, transport)

        def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
            seen.append(data)
            for reply in answer(data):
                self.transport.sendto(reply, addr)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Server, local_addr=(host, 0))
    try:
        yield transport.get_extra_info("sockname")[1], seen
    finally:
        transport.close()
