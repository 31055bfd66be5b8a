"""Message search: an escaped, case-insensitive literal substring, newest first.

Each conversation is scanned newest-first in ``search_chunk``-sized seq ranges, one short
query each, so a search never holds the database for long (one lock serializes every
nx-27017 client) and stops as soon as ``limit`` hits are found. Concurrent searches are
capped per user and in total (``search_per_user``, ``search_concurrency``): past the cap a
search is answered ``rate_limited`` instead of slowing every other user's sends.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from chat.auth import Identity
from chat.domain.core import Core
from chat.errors import BadRequest, RateLimited
from chat.rules import render
from chat.store import search_text


class SearchActions:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._running: Dict[str, int] = {}
        self._total = 0

    async def search(self, ident: Identity, q: str, conversation_id: Optional[str], limit: int
                     ) -> List[Dict[str, Any]]:
        q = q.strip()
        if len(q) < 2:
            raise BadRequest("q must be at least 2 characters")
        if len(q) > 200:
            raise BadRequest("q must be at most 200 characters")
        settings = self.core.settings
        mine = self._running.get(ident.user_id, 0)
        if mine >= settings.search_per_user or self._total >= settings.search_concurrency:
            raise RateLimited("too many searches at once; try again shortly")
        self._running[ident.user_id] = mine + 1
        self._total += 1
        try:
            return await self._search(ident, q, conversation_id, limit)
        finally:
            self._total -= 1
            left = self._running[ident.user_id] - 1
            if left:
                self._running[ident.user_id] = left
            else:
                del self._running[ident.user_id]

    async def _search(self, ident: Identity, q: str, conversation_id: Optional[str], limit: int
                      ) -> List[Dict[str, Any]]:
        if conversation_id:
            convs = [(await self.core.reader(ident, conversation_id, "search")).as_doc()]
        else:
            _memberships, convs = await self.core.my_memberships(ident)
        needle = search_text(q)
        chunk = max(1, self.core.settings.search_chunk)
        messages = self.core.store.messages
        found: List[Dict[str, Any]] = []
        for conv in convs:
            hits: List[Dict[str, Any]] = []
            upper = conv.get("lastSeq", 0) + 1
            while upper > 1 and len(hits) < limit:
                lower = max(0, upper - chunk - 1)
                hits.extend(await messages.search_range(conv["id"], lower, upper, needle, limit - len(hits)))
                upper = lower + 1
            found.extend(hits)
        found.sort(key=lambda d: (d["createdAt"], d["seq"]), reverse=True)
        return [render.message(d) for d in found[:limit]]
