"""An author a moderator muted in one conversation (the ``mute_author`` action of a case) may
not post or edit there until the mute ends: ``muted``.

The mutes of a conversation are read once and kept (a send costs no read); the node that sets
a mute updates its copy at once, and other nodes of a cluster re-read theirs after
:data:`REFRESH_SECONDS`.
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Tuple

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.safety.gate import Post, SafetyRule
from chat.errors import Muted
from chat.live.convcache import ConvState
from chat.timeutil import iso

#: how long a node trusts its copy of a conversation's moderation mutes
REFRESH_SECONDS = 30.0
#: copies kept at most (the oldest are dropped: they are re-read when needed)
MAX_CONVERSATIONS = 10_000


class ModerationMuteRule(SafetyRule):
    """Refuses posts and edits of a muted author (see the module doc)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        # conversation -> (monotonic time read, user -> muted until, epoch ms)
        self._mutes: Dict[str, Tuple[float, Dict[str, int]]] = {}
        # conversation -> (the epoch it began in, the read under way)
        self._loading: Dict[str, Tuple[int, "asyncio.Future[List[Dict[str, Any]]]"]] = {}
        self._epoch = 0  # moves with every mute noted here

    def note(self, conversation_id: str, user_id: str, until: int) -> None:
        """This node just muted ``user_id`` in the conversation: effective here at once."""
        self._epoch += 1  # a read under way may predate the mute: it is read again
        known = self._mutes.get(conversation_id)
        if known is not None:
            known[1][user_id] = until

    async def _until(self, conversation_id: str, user_id: str) -> int:
        now = self.core.clock.monotonic()
        known = self._mutes.get(conversation_id)
        if known is None or now - known[0] > REFRESH_SECONDS:
            known = await self._load(conversation_id, now)
        return known[1].get(user_id, 0)

    async def _load(self, conversation_id: str, now: float) -> Tuple[float, Dict[str, int]]:
        """One read per conversation however many sends ask at once (a burst after a restart);
        a read that began before this node noted a mute is read again."""
        while True:
            entry = self._loading.get(conversation_id)
            if entry is None or entry[0] != self._epoch:
                entry = (self._epoch, asyncio.ensure_future(self.core.store.cases.mutes_of(conversation_id)))
                self._loading[conversation_id] = entry
            epoch, pending = entry
            try:
                docs = await asyncio.shield(pending)
            finally:
                if self._loading.get(conversation_id) is entry and pending.done():
                    del self._loading[conversation_id]
            if epoch == self._epoch:
                break
        if len(self._mutes) >= MAX_CONVERSATIONS and conversation_id not in self._mutes:
            self._mutes.pop(next(iter(self._mutes)))
        known = self._mutes[conversation_id] = (now, {d["userId"]: int(d["until"]) for d in docs})
        return known

    async def check_post(self, ident: Identity, state: ConvState, post: Post) -> None:
        until = await self._until(state.id, ident.user_id)
        if until > self.core.clock.time() * 1000:
            raise Muted("a moderator muted you in this conversation until %s" % iso(until))
