"""Short TCP conversations driven by callbacks from one shared epoll.

A probe written as a coroutine pays asyncio's toll at every wait: a future, a
selector registration and its removal, a task wake-up, a timeout scope. The
connect and RDP probes are short fixed conversations (connect, send a few
bytes, read one answer, maybe a TLS handshake), so they run here instead as
small state machines (``StreamProbe`` subclasses). Per probe that costs one
edge-triggered epoll registration (removed by ``close``), one callback for the
verdict, and a place in a FIFO of deadlines shared by every probe with the same
timeout. The event loop watches the shared epoll as ONE reader.
benchmarks/probe_rate.py measures what this buys.

A ``ReactorCheck`` is such a probe as a check: awaitable like every other
(``await check()``), and startable without any task or future
(``check.start(done)``), which is how the health engine runs it.

Verdicts and reasons are those of ``_common.bounded``: "<stage>: no answer
within 5s", "<stage>: refused", "<stage>: <ProbeFailure text>".
"""

from __future__ import annotations

import _socket
import asyncio
import errno
import functools
import math
import os
import select
import socket
import time
import weakref
from collections import deque
from collections.abc import Callable

from ldirectorpy.checks._common import ProbeFailure, describe_oserror
from ldirectorpy.checks.result import ProbeResult
from ldirectorpy.checks.target import Target

__all__ = ["ReactorCheck", "StreamProbe", "run"]

# A verdict, or the exception of a bug in a hook (the caller must see it).
Outcome = ProbeResult | BaseException
Done = Callable[[Outcome], object]

_SOCK_FLAGS = socket.SOCK_STREAM | socket.SOCK_NONBLOCK
# Edge-triggered: one registration serves connect, send and receive. ERR and
# HUP are always reported.
_INTEREST = select.EPOLLIN | select.EPOLLOUT | select.EPOLLET
_READABLE = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP
_WRITABLE = select.EPOLLOUT
_TROUBLE = select.EPOLLERR | select.EPOLLHUP


class StreamProbe:
    """One probe's TCP conversation; subclasses say what to send and how to judge.

    Hooks, called from the reactor, may call ``send`` and ``finish`` or raise
    ``ProbeFailure``/``OSError`` (a down verdict for the current ``stage``):
      ``connected()``      the connection is established;
      ``received(chunk)``  bytes arrived (at most ``read_size``); ``b""`` is the
                           peer's close, and the hook must then finish or raise.
    """

    __slots__ = (
        "_connecting",
        "_deadline",
        "_done",
        "_outbox",
        "_reactor",
        "_sock",
        "_started",
        "_timeout",
        "read_size",
        "stage",
        "target",
    )

    def __init__(self, target: Target, stage: str = "connect") -> None:
        self.target = target
        self.stage = stage
        self.read_size = 512
        self._sock: _socket.socket | None = None
        self._done: Done | None = None
        self._reactor: _Reactor | None = None
        self._outbox = b""
        self._connecting = True
        self._started = self._deadline = self._timeout = 0.0

    # -- hooks ---------------------------------------------------------------

    def connected(self) -> None:
        raise NotImplementedError

    def received(self, chunk: bytes) -> None:
        raise ProbeFailure("unexpected data" if chunk else "connection closed by peer")

    # -- tools for the hooks -------------------------------------------------

    @property
    def done(self) -> bool:
        return self._sock is None

    def send(self, data: bytes) -> None:
        """Send ``data``; what the socket does not take now goes out when it can."""
        sock = self._sock
        assert sock is not None
        if not self._outbox:
            try:  # noqa: SIM105 (hot path: no context manager per probe)
                data = data[sock.send(data) :]
            except (BlockingIOError, InterruptedError):
                pass
        self._outbox += data

    def finish(self, ok: bool, reason: str) -> None:
        """Deliver the verdict and close the socket (no FIN handshake is awaited)."""
        done = self._close()
        if done is not None:
            assert self._reactor is not None
            done(ProbeResult(ok, reason, self._reactor.time() - self._started))

    def cancel(self) -> None:
        """The caller gave up: close without a verdict."""
        self._close()

    # -- driven by the reactor -----------------------------------------------

    def _close(self) -> Done | None:
        """Close the socket once; the caller's callback, the first time only."""
        sock, done = self._sock, self._done
        if sock is None:
            return None
        assert self._reactor is not None
        self._reactor.forget(sock.fileno())
        self._sock = self._done = None  # a finished probe holds no loop objects
        sock.close()  # also removes it from the epoll set
        return done

    def _fail(self, exc: BaseException) -> None:
        if isinstance(exc, ProbeFailure):
            self.finish(False, f"{self.stage}: {exc}")
        elif isinstance(exc, OSError):
            self.finish(False, f"{self.stage}: {describe_oserror(exc)}")
        else:  # a bug: let the caller see it rather than a made-up verdict
            done = self._close()
            if done is not None:
                done(exc)

    def _expire(self) -> None:
        self.finish(False, f"{self.stage}: no answer within {self._timeout:g}s")

    def _begin(self, sock: _socket.socket, epoll: select.epoll) -> None:
        err = sock.connect_ex(self.target.sockaddr)
        epoll.register(sock.fileno(), _INTEREST)
        if err == 0:
            self._established(select.EPOLLOUT)
        elif err not in (errno.EINPROGRESS, errno.EAGAIN):
            raise OSError(err, os.strerror(err))

    def _established(self, events: int) -> None:
        self._connecting = False
        self.connected()
        if self._sock is not None and events & _READABLE:
            self._read()  # edge-triggered: bytes that came with the connect count

    def _event(self, events: int) -> None:
        try:
            if self._connecting:
                sock = self._sock
                assert sock is not None
                # A pending error always comes with EPOLLERR: ask for it only then.
                if events & _TROUBLE:
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, os.strerror(err))
                if events & _WRITABLE:
                    self._established(events)
                return
            if self._outbox and events & _WRITABLE:
                self._flush()
            if self._sock is not None and events & _READABLE:
                self._read()
        except Exception as exc:
            self._fail(exc)

    def _flush(self) -> None:
        sock = self._sock
        assert sock is not None
        try:  # noqa: SIM105 (as in send)
            self._outbox = self._outbox[sock.send(self._outbox) :]
        except (BlockingIOError, InterruptedError):
            pass

    def _read(self) -> None:
        # Edge-triggered, so read until the socket is empty or the probe is over.
        while (sock := self._sock) is not None:
            try:
                chunk = sock.recv(self.read_size)
            except (BlockingIOError, InterruptedError):
                return
            self.received(chunk)
            if not chunk:
                if self._sock is not None:  # a hook that forgot to judge the close
                    raise ProbeFailure("connection closed by peer")
                return


class _Reactor:
    """The shared epoll of one event loop, and the deadlines of its probes."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weak: the registry below is keyed by the loop and must not keep it alive.
        self._loop_ref = ref = weakref.ref(loop)
        # The loop's clock, read a few times per probe: asyncio's own loops
        # read time.monotonic, so read it directly (no Python frame per read);
        # any other loop (uvloop) is asked, through the weak reference.
        self.time: Callable[[], float] = (
            time.monotonic
            if type(loop).time is asyncio.BaseEventLoop.time
            else lambda: _alive(ref).time()
        )
        self._epoll: select.epoll | None = None  # open only while probes run
        self._probes: dict[int, StreamProbe] = {}
        # One FIFO per timeout value: deadlines arrive in order, so expiry is
        # a look at the heads. Finished probes stay queued until their turn.
        self._queues: dict[float, deque[StreamProbe]] = {}
        self._timer: asyncio.TimerHandle | None = None
        # 0: react to every readiness at once. > 0: from the second wake-up
        # for readiness within one step of this grid, stop listening until the
        # next grid point (see ``use_grid``).
        self.grid = 0.0
        self._resume: asyncio.TimerHandle | None = None  # set while not listening
        self._step = -1  # the grid step of the last wake-up for readiness
        self._look_soon = False  # a look at fresh probes is due in this loop turn

    def start(self, probe: StreamProbe, timeout: float, done: Done) -> None:
        """Run ``probe``; ``done`` gets its outcome (perhaps before this returns)."""
        loop = self._loop_ref()
        assert loop is not None
        now = self.time()
        probe._done = done
        probe._reactor = self
        probe._started = now
        probe._timeout = timeout
        probe._deadline = deadline = now + timeout
        epoll = self._epoll
        if epoll is None:
            epoll = self._epoll = select.epoll()
            loop.add_reader(epoll.fileno(), self._ready)
        elif self._resume is not None and not self._look_soon:
            # Not listening (grid mode): still take the first step of the
            # probes started now (a connect is often done at once) in this
            # turn of the loop, which costs no wake-up.
            self._look_soon = True
            loop.call_soon(self._look)
        # The C socket type: socket.socket's Python wrapper (makefile and io
        # reference counting) costs more per probe than the probe's own logic.
        sock = _socket.socket(probe.target.family, _SOCK_FLAGS)
        fd = sock.fileno()
        probe._sock = sock
        self._probes[fd] = probe
        try:
            probe._begin(sock, epoll)
        except Exception as exc:
            probe._fail(exc)
        if probe._sock is not None:
            queue = self._queues.get(timeout)
            if queue is None:
                queue = self._queues[timeout] = deque()
            queue.append(probe)
            if self._timer is None or deadline < self._timer.when():
                self._arm(loop, deadline)

    def forget(self, fd: int) -> None:
        del self._probes[fd]
        if not self._probes:
            self._idle()

    def _idle(self) -> None:
        """Nothing in flight: drop the deadlines, the timer and the epoll (when
        paused on the grid, the epoll goes at the grid point, so the next probe
        cannot wake us earlier)."""
        self._queues.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._resume is None:
            self._close_epoll(listening=True)

    def _close_epoll(self, listening: bool) -> None:
        epoll, self._epoll = self._epoll, None
        if epoll is not None:
            loop = self._loop_ref()
            if listening and loop is not None and not loop.is_closed():
                loop.remove_reader(epoll.fileno())
            epoll.close()

    def _ready(self) -> None:
        if self._epoll is None:
            return
        ready = self._epoll.poll(0)
        loop = self._loop_ref()
        if self.grid and loop is not None:
            step = math.floor(self.time() / self.grid)
            if step == self._step:  # woken twice in one step: batch from now on
                self._pause()  # first: a probe that ends now must not close the epoll
            self._step = step
        self._dispatch(ready)

    def _dispatch(self, ready: list[tuple[int, int]]) -> None:
        probes = self._probes
        for fd, events in ready:
            probe = probes.get(fd)
            if probe is not None:
                probe._event(events)

    def _look(self) -> None:
        self._look_soon = False
        if self._resume is not None and self._epoll is not None:
            self._dispatch(self._epoll.poll(0))

    def _pause(self) -> None:
        """Grid mode: what becomes ready from now on waits for the next grid point."""
        loop = self._loop_ref()
        if self._epoll is None or self._resume is not None or loop is None:
            return
        loop.remove_reader(self._epoll.fileno())
        self._resume = loop.call_at(_next_point(self.time(), self.grid), self._listen)

    def _listen(self) -> None:
        """A grid point while not listening: what is ready now is handled now;
        if anything was, the reactor is busy and looks again at the next grid
        point instead of listening, so that under load it wakes once per step
        (with the checks that start there); it listens again once a grid point
        finds nothing ready (a hung server costs no wake-ups)."""
        self._resume = None
        loop = self._loop_ref()
        if not self._probes or loop is None:
            self._close_epoll(listening=False)
            return
        if self._epoll is None:
            return
        ready = self._epoll.poll(0)
        if not ready:
            loop.add_reader(self._epoll.fileno(), self._ready)
            return
        # first: a probe that ends now must not close the epoll
        self._resume = loop.call_at(_next_point(self.time(), self.grid), self._listen)
        self._step = math.floor(self.time() / self.grid)
        self._dispatch(ready)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._expire)

    def _expire(self) -> None:
        self._timer = None
        loop = self._loop_ref()
        if loop is None:
            return
        if self._resume is not None:
            self._ready()  # an answer that came while we were not listening counts
        now = self.time()
        for timeout, queue in list(self._queues.items()):
            # (``_sock is None``: ``done`` without a property call per probe)
            while queue and (queue[0]._sock is None or queue[0]._deadline <= now):
                probe = queue.popleft()
                if probe._sock is not None:
                    probe._expire()  # the last one in flight makes us idle
            if not queue:
                self._queues.pop(timeout, None)
        heads = [queue[0]._deadline for queue in self._queues.values()]
        if heads and self._probes:
            self._arm(loop, min(heads))


def _alive(ref: weakref.ref[asyncio.AbstractEventLoop]) -> asyncio.AbstractEventLoop:
    loop = ref()
    assert loop is not None
    return loop


def _next_point(now: float, grid: float) -> float:
    """The first point of the grid strictly after ``now``."""
    return (math.floor(now / grid) + 1) * grid


_reactors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Reactor] = (
    weakref.WeakKeyDictionary()
)
_last: list[tuple[weakref.ref[asyncio.AbstractEventLoop], _Reactor]] = []


def _reactor_for(loop: asyncio.AbstractEventLoop) -> _Reactor:
    if _last and _last[0][0]() is loop:
        return _last[0][1]
    reactor = _reactors.get(loop)
    if reactor is None:
        reactor = _reactors[loop] = _Reactor(loop)
    _last[:] = [(weakref.ref(loop), reactor)]
    return reactor


def use_grid(loop: asyncio.AbstractEventLoop, grid: float) -> None:
    """Let the probes on ``loop`` wake the process at most twice per ``grid``
    seconds for socket events: the first wake-up in a step of the grid
    (multiples of ``grid`` on the loop's clock) is handled at once, and a
    second one stops us listening until the next grid point, where everything
    that became ready meanwhile is handled together.

    With the daemon's checks starting on the same grid (healthclock.RealClock's
    slack) the wake-ups for probe I/O stay bounded whatever the number of real
    servers, a lone probe is not slowed down, and a hung server (nothing
    ready) costs no wake-up. Under load a verdict may come up to a grid step
    later per exchange; deadlines are kept to the loop's precision.
    """
    reactor = _reactor_for(loop)
    if reactor._probes:
        raise RuntimeError("change the grid only while no probe runs")
    reactor.grid = grid


async def run(probe: StreamProbe, timeout: float) -> ProbeResult:
    """Run ``probe`` to its verdict within ``timeout`` seconds in total."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[ProbeResult] = loop.create_future()
    _reactor_for(loop).start(probe, timeout, functools.partial(_settle, future))
    try:
        return await future
    except asyncio.CancelledError:
        probe.cancel()
        raise


def _settle(future: asyncio.Future[ProbeResult], outcome: Outcome) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class ReactorCheck:
    """A check made of a ``StreamProbe``: ``await check()`` as any probe, or
    ``check.start(done)``, which starts it without a task and hands ``done``
    the outcome (the health engine's way); ``cancel()`` the returned probe to
    give up. ``make`` builds a fresh probe for each run."""

    __slots__ = ("make", "timeout")

    def __init__(self, make: Callable[[], StreamProbe], timeout: float) -> None:
        self.make = make
        self.timeout = timeout

    async def __call__(self) -> ProbeResult:
        return await run(self.make(), self.timeout)

    def start(self, done: Done) -> StreamProbe:
        probe = self.make()
        _reactor_for(asyncio.get_running_loop()).start(probe, self.timeout, done)
        return probe
