"""One run of a piece of async work at a time: callers arriving while it runs wait for that run
(and get its error) instead of starting their own."""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Optional


class SingleFlight:
    def __init__(self) -> None:
        self._running: Optional["asyncio.Future[None]"] = None

    async def run(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work()`` unless a run is under way; then wait for that one."""
        if self._running is not None:
            await asyncio.shield(self._running)
            return
        running = self._running = asyncio.get_running_loop().create_future()
        try:
            await work()
            running.set_result(None)
        except BaseException as exc:
            running.set_exception(exc)
            running.exception()  # retrieved: the waiters get it through shield
            raise
        finally:
            self._running = None
