"""Write-behind of conversation state: ``lastSeq``, ``lastMessage``, ``lastActivityAt``.

The writer changes these in memory for every message; writing them per message would cost
a database round trip each. They are written at most ``interval`` seconds after a change
(one bulk write for every changed conversation) and at shutdown; a crash in between loses
nothing because a reload recovers them from the newest stored message.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Optional

from chat.clock import Clock, Timer
from chat.errors import ChatError
from chat.live.convcache import ConversationCache
from chat.store import Conversations

log = logging.getLogger("chat.flusher")


class Flusher:
    """Writes dirty conversation states behind (see the module doc)."""

    def __init__(self, cache: ConversationCache, conversations: Conversations, clock: Clock,
                 interval: float) -> None:
        self.cache = cache
        self.conversations = conversations
        self.clock = clock
        self.interval = interval
        self._timer: Optional[Timer] = None
        self._running: Optional["asyncio.Task[None]"] = None

    def schedule(self) -> None:
        """Flush within ``interval`` (no-op when a flush is already due or running)."""
        if self._timer is None and self._running is None:
            self._timer = self.clock.call_later(self.interval, self._start)

    def _start(self) -> None:
        self._timer = None
        self._running = asyncio.ensure_future(self._flush_soon())

    async def _flush_soon(self) -> None:
        try:
            await self.flush()
        except ChatError:
            log.warning("could not write conversation state; will retry")
        finally:
            self._running = None
            if self.cache.dirty():
                self.schedule()

    async def flush(self) -> None:
        """Write every dirty state now."""
        dirty = self.cache.dirty()
        if not dirty:
            return
        for st in dirty:
            st.dirty = False
        try:
            await self.conversations.flush([(st.id, st.last_seq, st.last_message, st.last_activity) for st in dirty])
        except ChatError:
            for st in dirty:
                st.dirty = True
            raise

    async def close(self) -> None:
        """Cancel the timer, finish a running flush, and flush what is left."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._running is not None:
            await asyncio.shield(self._running)
        await self.flush()
