"""Message search: an escaped, case-insensitive literal substring, newest first.

Each conversation is scanned newest-first in ``search_chunk``-sized seq ranges, one short
query each, so a search never holds the database for long (one lock serializes every
nx-27017 client) and stops as soon as ``limit`` hits are found. Concurrent searches are
capped per user and in total (``search_per_user``, ``search_concurrency``): past the cap a
search is answered ``rate_limited`` instead of slowing every other user's sends.

With the search index on (``search_index``, chat/store/search_index.py) the history each
conversation's mark covers is not scanned: the index proposes the messages holding every
trigram of the query, newest first, and each is checked against the stored message (live,
and its current text holds the needle). What the index has not seen is searched as before:
the seqs after each mark by the chunked scan, and the texts edited since the indexer's last
pass by one query on ``updatedAt``. So the hits are exactly the substring rule's, whatever
the index holds; a query shorter than three characters has no trigram and is scanned.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Set

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.search_indexer import EDIT_SKEW_MS, EDITS_KEY
from chat.errors import BadRequest, RateLimited
from chat.rules import render
from chat.store import search_text
from chat.store.message_repo import MAX_SEQ_KEY
from chat.store.search_index import MIN_INDEXED, SearchIndex

#: edited messages one search reads beside the index; past it the search scans instead
EDITED_CAP = 1000


class SearchActions:
    def __init__(self, core: Core, index: Optional[SearchIndex] = None) -> None:
        self.core = core
        self.index = index
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
        if self.index is None or len(needle) < MIN_INDEXED:
            found = await self._scan(convs, needle, limit, {})
        else:
            found = await self._indexed(self.index, convs, needle, limit)
        found.sort(key=lambda d: (d["createdAt"], d["seq"]), reverse=True)
        return [render.message(d) for d in found[:limit]]

    async def _scan(self, convs: List[Dict[str, Any]], needle: str, limit: int, marks: Dict[str, int]
                    ) -> List[Dict[str, Any]]:
        """Each conversation newest first, chunk by chunk, down to its mark (0: all of it)."""
        chunk = max(1, self.core.settings.search_chunk)
        messages = self.core.store.messages
        found: List[Dict[str, Any]] = []
        for conv in convs:
            upper = conv.get("lastSeq", 0) + 1
            floor = marks.get(conv["id"], 0)
            # seqs past the lastSeq known here: stored through another node a moment ago
            hits = await messages.search_range(conv["id"], max(floor, upper - 1), MAX_SEQ_KEY, needle, limit)
            while upper > floor + 1 and len(hits) < limit:
                lower = max(floor, upper - chunk - 1)
                hits.extend(await messages.search_range(conv["id"], lower, upper, needle, limit - len(hits)))
                upper = lower + 1
            found.extend(hits)
        return found

    async def _indexed(self, index: SearchIndex, convs: List[Dict[str, Any]], needle: str, limit: int
                       ) -> List[Dict[str, Any]]:
        ids = [c["id"] for c in convs]
        if not ids:
            return []
        marks = await index.marks(ids)
        for conv in convs:  # an index ahead of the database (a restore) is not trusted
            if marks.get(conv["id"], 0) > conv.get("lastSeq", 0):
                marks.pop(conv["id"])
        found = await self._scan(convs, needle, limit, marks)
        since = await index.meta(EDITS_KEY, 0) - EDIT_SKEW_MS
        edited = await self.core.store.messages.search_changed(ids, since, needle, EDITED_CAP)
        if len(edited) >= EDITED_CAP:
            return await self._scan(convs, needle, limit, {})
        seen: Set[str] = set()
        unique: List[Dict[str, Any]] = []
        for doc in found + edited:  # a scanned tail message may also be an edited one
            if doc["id"] not in seen:
                seen.add(doc["id"])
                unique.append(doc)
        found = unique
        verified = 0
        below: Optional[int] = None
        want = limit * 2 + 10
        while verified < limit:
            rows = await index.candidates(ids, needle, below, want)
            if not rows:
                break
            below = rows[-1][0]
            wanted = list(dict.fromkeys(m for _, conv, seq, m in rows if seq <= marks.get(conv, 0)))
            for doc in await self.core.store.messages.get_many(wanted):
                if doc["id"] in seen or doc.get("deletedAt") or needle not in search_text(doc.get("text")):
                    continue  # a stale row: the message changed or went after it was indexed
                seen.add(doc["id"])
                found.append(doc)
                verified += 1
            if len(rows) < want:
                break
        return found
