"""Time as a dependency: what the server reads and schedules through.

Components that wait (typing timeouts, token buckets, token expiry, the write-behind flush)
take a :class:`Clock` instead of calling ``time``/``loop.call_later`` themselves, so tests
drive them with :class:`ManualClock` and never race the wall clock.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Any, Callable, List, Optional, Protocol, Tuple


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (intervals, buckets)."""

    def time(self) -> float:
        """Seconds since the epoch (token expiry, timestamps)."""

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        """Run ``callback(*args)`` on the event loop after ``delay`` seconds."""


class SystemClock:
    """The real clocks and the running event loop's timers."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        return asyncio.get_running_loop().call_later(delay, callback, *args)


class _ManualTimer:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that moves only when told (tests): :meth:`advance` runs every timer that
    falls due, in order, synchronously."""

    def __init__(self, start: float = 1_000_000.0, epoch: Optional[float] = None) -> None:
        self._now = start
        self._offset = (time.time() if epoch is None else epoch) - start
        self._timers: List[Tuple[float, int, _ManualTimer, Callable[..., Any], Tuple[Any, ...]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._now + self._offset

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        timer = _ManualTimer()
        heapq.heappush(self._timers, (self._now + max(0.0, delay), next(self._order), timer, callback, args))
        return timer

    def advance(self, seconds: float) -> None:
        """Move forward, firing due timers at their own time."""
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            when, _n, timer, callback, args = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            if not timer.cancelled:
                callback(*args)
        self._now = target

    def pending(self) -> int:
        """Timers not yet fired nor cancelled."""
        return sum(1 for t in self._timers if not t[2].cancelled)
