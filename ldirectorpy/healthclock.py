"""Clocks for the health engine: the real one, and a fake one for tests.

The engine takes all its time from a `Clock`: monotonic time for schedules
and deadlines, wall time for events, and sleeping until a deadline.
`FakeClock` runs the engine in virtual time: tests advance it and see exact
probe times and transitions, without waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

__all__ = ["Clock", "Deadline", "FakeClock", "RealClock", "Timer"]


# -- clocks ------------------------------------------------------------------


class Deadline(Protocol):
    """An async context manager that cancels its body at a deadline (asyncio.Timeout)."""

    async def __aenter__(self) -> object: ...

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool | None: ...

    def expired(self) -> bool: ...


class Timer(Protocol):
    """A pending ``call_at`` (asyncio.TimerHandle)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Where the engine gets time: monotonic for schedules, wall for reports."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer: ...

    def timeout_at(self, deadline: float) -> Deadline: ...


class RealClock:
    """Time from the system. ``slack``: wake-ups are rounded UP to a grid of
    this many seconds, so checks due within one grid step start together and
    share one wake-up of the process (a probe is never started early).
    """

    # The system clocks themselves: the engine reads them a few times per
    # probe, and a method around them would be a Python call each time.
    monotonic = staticmethod(time.monotonic)
    wall = staticmethod(time.time)

    def __init__(self, slack: float = 0.0) -> None:
        self.slack = slack

    def _on_grid(self, when: float) -> float:
        return math.ceil(when / self.slack) * self.slack if self.slack > 0 else when

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        # The loop's clock need not be time.monotonic (uvloop): convert.
        loop = asyncio.get_running_loop()
        return loop.call_at(loop.time() + (self._on_grid(when) - time.monotonic()), callback)

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, self._on_grid(deadline) - time.monotonic()))

    def timeout_at(self, deadline: float) -> Deadline:
        # The loop's clock need not be time.monotonic (uvloop): convert.
        loop = asyncio.get_running_loop()
        return asyncio.timeout_at(loop.time() + (deadline - time.monotonic()))


class _Timer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """Virtual time for tests: nothing really waits.

    Tasks sleep on it as usual; ``await clock.advance(s)`` moves time forward,
    waking each sleeper at its exact deadline in order and letting the loop
    run everything runnable before moving on. Deadlines (``timeout_at``) are
    real ``asyncio.timeout`` objects fired by virtual time.
    """

    def __init__(self, start: float = 1000.0, wall_offset: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_offset
        self._timers: list[tuple[float, int, _Timer]] = []
        self._seq = 0

    def monotonic(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def call_at(self, when: float, callback: Callable[[], object]) -> _Timer:
        timer = _Timer(callback)
        self._seq += 1
        heapq.heappush(self._timers, (when, self._seq, timer))
        return timer

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        woken = asyncio.get_running_loop().create_future()
        timer = self.call_at(deadline, lambda: _wake(woken))
        try:
            await woken
        finally:
            timer.cancel()

    def timeout_at(self, deadline: float) -> Deadline:
        return _FakeTimeout(self, deadline)

    async def advance(self, seconds: float) -> None:
        await self.run_until(self._now + seconds)

    async def run_until(self, when: float) -> None:
        await self.settle()
        while self._timers and self._timers[0][0] <= when:
            due, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, due)
            timer.callback()
            await self.settle()
        self._now = max(self._now, when)
        await self.settle()

    @staticmethod
    async def settle() -> None:
        """Let the loop run until nothing is runnable (virtual time stands still)."""
        ready = getattr(asyncio.get_running_loop(), "_ready", None)  # CPython's run queue
        for _ in range(100_000 if ready is not None else 1000):
            await asyncio.sleep(0)
            if ready is not None and not ready:
                return


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _FakeTimeout:
    __slots__ = ("_clock", "_deadline", "_inner", "_timer")

    def __init__(self, clock: FakeClock, deadline: float) -> None:
        self._clock = clock
        self._deadline = deadline
        self._inner = asyncio.timeout(None)
        self._timer: _Timer | None = None

    async def __aenter__(self) -> _FakeTimeout:
        await self._inner.__aenter__()
        self._timer = self._clock.call_at(self._deadline, self._expire)
        if self._deadline <= self._clock.monotonic():
            self._expire()
        return self

    def _expire(self) -> None:
        if self._timer is not None and not self._timer.cancelled:
            self._timer.cancel()
            self._inner.reschedule(asyncio.get_running_loop().time())

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        if self._timer is not None:
            self._timer.cancel()
        await self._inner.__aexit__(et, e, tb)
        return None

    def expired(self) -> bool:
        return self._inner.expired()


# -- the engine ----------------------------------------------------------------
