"""One pass of background work every interval, on the injected clock.

The sweeps and senders that run on their own (retention, exports, scheduled messages, the
search indexer, the missed-message email look) share this: a pass still under way when the
next is due makes that one wait a whole interval more (passes never overlap), storage being
down is a warning and the next pass tries again, and stopping waits for the pass under way.
Tests drive it by advancing a ManualClock and awaiting :meth:`Periodic.settled`.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Optional

from chat.clock import Clock
from chat.errors import ChatError

log = logging.getLogger("chat.periodic")


class Periodic:
    """Runs ``work`` every ``interval()`` seconds (0 or less: never) once started."""

    def __init__(self, clock: Clock, interval: Callable[[], float], work: Callable[[], Awaitable[Any]],
                 what: str) -> None:
        self.clock = clock
        self.interval = interval
        self.work = work
        self.what = what
        self._timer: Any = None
        self._task: Optional["asyncio.Task[None]"] = None
        self._stopped = True

    def start(self, now: bool = False) -> None:
        """A pass every interval from now on (``now``: the first one at once)."""
        if self._stopped and self.interval() > 0:
            self._stopped = False
            if now:
                self._fire()
            else:
                self._schedule()

    def _schedule(self) -> None:
        if not self._stopped:
            self._timer = self.clock.call_later(self.interval(), self._fire)

    def _fire(self) -> None:
        if self._stopped or (self._task is not None and not self._task.done()):
            self._schedule()
            return
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            await self.work()
        except ChatError as exc:  # storage down: the next pass tries again
            log.warning("%s: %s", self.what, exc.message)
        except Exception:
            log.exception("%s failed", self.what)
        finally:
            self._schedule()

    async def settled(self) -> None:
        """Wait for the pass under way, if any."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        """No further passes; wait for the one under way."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        await self.settled()
