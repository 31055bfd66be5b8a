"""Work done one item at a time, in the order it was queued (a user's socket open and close
must never overtake each other on their way to Redis)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, List, Optional

log = logging.getLogger("chat.presence")


#: the most items one ``run_many`` call is given
BATCH = 512


class SerialWork:
    """A queue with at most one worker task, started when work arrives and gone when it is done.

    Everything queued while the previous call ran goes to the next one, in order (up to
    :data:`BATCH` items): a reconnect storm's socket opens reach Redis in one pipeline instead
    of one round trip each."""

    def __init__(self, run: Callable[[List[Any]], Awaitable[None]]) -> None:
        self._run = run
        self._items: "asyncio.Queue[Any]" = asyncio.Queue()
        self._worker: Optional["asyncio.Task[None]"] = None

    def put(self, item: Any) -> "asyncio.Future[None]":
        """Queue ``item``; it is run after everything queued before it. The future returned is
        done once the call that ran it has returned (or raised)."""
        done: "asyncio.Future[None]" = asyncio.get_event_loop().create_future()
        self._items.put_nowait((item, done))
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._work())
        return done

    async def _work(self) -> None:
        try:
            while not self._items.empty():
                batch = [self._items.get_nowait()]
                while len(batch) < BATCH and not self._items.empty():
                    batch.append(self._items.get_nowait())
                try:
                    await self._run([item for item, _ in batch])
                except Exception:  # a failed call must not stall what is queued behind it
                    log.exception("queued work failed")
                finally:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._worker = None

    @property
    def pending(self) -> int:
        """Items queued, plus one while an item is being run."""
        return self._items.qsize() + (1 if self._worker is not None else 0)

    async def settle(self, timeout: float) -> bool:
        """Wait until the queue is empty; False when ``timeout`` seconds passed first."""
        worker = self._worker
        if worker is None:
            return True
        try:
            await asyncio.wait_for(asyncio.shield(worker), timeout)
        except asyncio.TimeoutError:
            return False
        return True
