"""Reactions: one record per (message, user, emoji), at most ``max_reaction_emojis`` distinct
emojis per message.

The cap is checked and the reaction added under a per-message lock, so concurrent distinct
reactions cannot overshoot it (one process owns its database; see README "Scaling out" for
several).
"""
from __future__ import annotations

import asyncio
from typing import Dict, List

from chat.auth import Identity
from chat.domain.core import Core
from chat.errors import Conflict
from chat.rules import policy, render
from chat.rules.validation import valid_emoji
from chat.timeutil import now_ms


class ReactionActions:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._locks: Dict[str, asyncio.Lock] = {}
        self._waiters: Dict[str, int] = {}

    async def react(self, ident: Identity, message_id: str, emoji: str, on: bool) -> Dict[str, List[str]]:
        """Add or remove the caller's reaction; returns the message's reactions."""
        emoji = valid_emoji(emoji)
        msg, state = await self.core.message(ident, message_id)
        if msg.get("deletedAt") is not None:
            raise Conflict("the message was deleted")
        messages = self.core.store.messages
        if on:
            lock = self._locks.setdefault(message_id, asyncio.Lock())
            self._waiters[message_id] = self._waiters.get(message_id, 0) + 1
            try:
                async with lock:
                    current = await messages.get(message_id) or msg
                    keys = current.get("reactionKeys") or []
                    emojis = {k.split("|", 1)[0] for k in keys}
                    if not policy.reaction_allowed(emojis, emoji, self.core.settings.max_reaction_emojis):
                        raise Conflict("at most %d different reactions per message"
                                         % self.core.settings.max_reaction_emojis)
                    changed, after = await messages.insert_reaction(message_id, state.id, ident.user_id, emoji,
                                                                    now_ms())
            finally:
                left = self._waiters[message_id] - 1
                if left:
                    self._waiters[message_id] = left
                else:  # nobody else holds or waits for it: drop the lock
                    del self._waiters[message_id]
                    del self._locks[message_id]
        else:
            changed, after = await messages.remove_reaction(message_id, ident.user_id, emoji, now_ms())
        view = render.message(after or msg)
        if changed:
            self.core.events.message_updated(view, state.audience())
        reactions: Dict[str, List[str]] = view["reactions"]
        return reactions
