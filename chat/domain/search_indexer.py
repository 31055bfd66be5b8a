"""Feeding the search index (chat/store/search_index.py) from the database.

Every ``search_index_interval`` seconds one pass walks the conversations a page at a time
and, for each whose stored ``lastSeq`` is past its mark, reads the messages after the mark in
seq order, ``search_index_batch`` per query, and indexes them. The mark only moves over a
contiguous run of seqs: a seq not stored yet (a send still in a writer's batch on another
node) stops it there, and the next pass goes on from it. Then it indexes the texts edited
since its last pass (``editedAt``); a search covers what a pass has not reached yet by
scanning it (:mod:`chat.domain.search`), so the index only ever makes search faster, never
different.

Each node runs its own indexer into its own file: nothing is shared, no lease is needed, and
a lost file is rebuilt from the database. The passes run on the injected clock.

The messages this node's writer stores reach the indexer as they are stored (:class:`SearchFeed`,
an event sink), so a pass indexes them without reading them back: reading every message again
cost a quarter of a busy single node's CPU per delivery. The walk also leaves a conversation
whose next seq the feed already holds (stored while the pass ran) to the next pass. What the
feed does not have (another node's messages, a gap, what was fed past its memory bound, or
before a restart) the walk reads.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional, Tuple

from chat.domain.core import Core
from chat.domain.periodic import Periodic
from chat.events import Audience, NullEvents
from chat.store import search_text
from chat.store.search_index import SearchIndex
from chat.timeutil import parse_iso

log = logging.getLogger("chat.search")

#: conversations one page of the walk reads
PAGE = 500
#: how far back (ms) the edit follow-up (and a search, chat/domain/search.py) looks before the
#: last pass: the clocks of cluster nodes and a change's commit may lag its stamp that much
EDIT_SKEW_MS = 5_000
EDITS_KEY = "editsSeen"
#: the trigram counts held in memory are written every this many passes (and at stop)
COUNTS_EVERY = 10
#: characters of message text the feed holds between passes; past it the walk reads the rest
FEED_CHARS = 4_000_000

#: (seq, createdAt ms, search text, message id)
Row = Tuple[int, int, str, str]


class SearchFeed(NullEvents):
    """The event sink that hands this node's stored messages to the indexer's next pass."""

    def __init__(self, budget: int = FEED_CHARS) -> None:
        self.budget = budget
        self._rows: Dict[str, List[Row]] = {}
        self._chars = 0

    def message_stored(self, message: Dict[str, Any], audience: Audience) -> None:
        text = message.get("text") or ""
        if self._chars + len(text) > self.budget:
            return  # held back in memory no further: the walk reads it from the database
        try:
            row = (int(message["seq"]), parse_iso(message["createdAt"]), search_text(text) if text else "",
                   str(message["id"]))
        except (KeyError, TypeError, ValueError):
            return  # never the writer's trouble: the walk reads this one from the database
        self._chars += len(text) + 1
        self._rows.setdefault(message["conversationId"], []).append(row)

    def take(self) -> Dict[str, List[Row]]:
        """What was fed since the last call."""
        rows, self._rows, self._chars = self._rows, {}, 0
        return rows

    def continues(self, conversation_id: str, mark: int) -> bool:
        """Whether the feed holds the seq right after ``mark``: the next pass indexes it (and
        what follows without a gap) from memory, so the walk need not read it now."""
        want = mark + 1
        return any(row[0] == want for row in self._rows.get(conversation_id, ()))


class SearchIndexer:
    """Runs the passes; :meth:`run_once` is one pass (tests call it directly)."""

    def __init__(self, core: Core, index: SearchIndex) -> None:
        self.core = core
        self.index = index
        self.feed = SearchFeed()
        self.passes = 0
        self.fed = 0  # texts indexed from the feed, without a read (stats, tests)
        self._periodic = Periodic(core.clock, lambda: self.interval, self.run_once, "search indexing")

    @property
    def interval(self) -> float:
        return float(self.core.settings.search_index_interval)

    def start(self) -> None:
        """A first pass now, then one every interval."""
        self._periodic.start(now=True)

    async def settled(self) -> None:
        """Wait for the pass under way, if any."""
        await self._periodic.settled()

    async def stop(self) -> None:
        await self._periodic.stop()

    # ------------------------------------------------------------------ one pass
    async def run_once(self) -> int:
        """Index what is new everywhere; returns how many texts it indexed."""
        started = int(self.core.clock.time() * 1000)
        done = await self._fed()
        after: Optional[str] = None
        conversations = self.core.store.conversations
        cache = self.core.cache
        while True:
            page = await conversations.seq_page(after, PAGE)
            if not page:
                break
            after = page[-1][0]
            marks = await self.index.marks(c for c, _ in page)
            for conversation_id, stored_seq in page:
                mark = marks.get(conversation_id, 0)
                live = cache.peek(conversation_id)  # ahead of the stored lastSeq, written behind it
                last_seq = max(stored_seq, live.last_seq if live is not None else 0)
                if last_seq < mark and not await self._stored(conversation_id, mark):
                    # the database went back (a restore): index it again. (A stored lastSeq
                    # behind the mark is otherwise usual: it is written behind the messages.)
                    await self.index.drop_conversation(conversation_id)
                    mark = 0
                # stored here since this pass took the feed: the next pass has it from memory
                # (reading it now would read most of a busy node's messages a second time)
                if last_seq > mark and not self.feed.continues(conversation_id, mark):
                    done += await self.conversation(conversation_id, mark)
            await asyncio.sleep(0)
        done += await self._edits(started)
        self.passes += 1
        if self.passes % COUNTS_EVERY == 0:
            await self.index.write_counts()
        return done

    async def _stored(self, conversation_id: str, seq: int) -> bool:
        return bool(await self.core.store.messages.history(conversation_id, seq + 1, seq - 1, 1))

    async def _fed(self) -> int:
        """Index what the feed holds, per conversation as far as it runs on from the mark
        without a gap (the walk reads the rest)."""
        fed = self.feed.take()
        if not fed:
            return 0
        marks = await self.index.marks(fed)
        done = 0
        for conversation_id, rows in fed.items():
            mark = top = marks.get(conversation_id, 0)
            keep: List[Row] = []
            for row in sorted(rows):
                if row[0] <= top:
                    continue
                if row[0] != top + 1:
                    break
                top = row[0]
                if row[2]:
                    keep.append(row)
            if top > mark:
                await self.index.add(conversation_id, keep, top)
                done += len(keep)
        self.fed += done
        return done

    async def conversation(self, conversation_id: str, mark: int) -> int:
        """Index one conversation's messages after ``mark``, batch by batch, as far as its seqs
        run without a gap."""
        batch = max(1, int(self.core.settings.search_index_batch))
        messages = self.core.store.messages
        done = 0
        while True:
            docs = await messages.history(conversation_id, None, mark, batch)
            rows: List[Tuple[int, int, str, str]] = []
            top = mark
            for doc in docs:
                if doc["seq"] != top + 1:
                    break  # a gap: stop before it, and come back for it
                top = doc["seq"]
                if not doc.get("deletedAt") and doc.get("text"):
                    rows.append((top, int(doc.get("createdAt") or 0), search_text(doc["text"]), doc["id"]))
            if top == mark:
                return done
            await self.index.add(conversation_id, rows, top)
            done += len(rows)
            mark = top
            if len(docs) < batch or top != docs[-1]["seq"]:
                return done

    async def _edits(self, started: int) -> int:
        """Follow what changed since the last pass (an edit or a delete keeps the seq, so the
        walk above does not see it): a deleted, purged or erased message leaves the index, an
        edited one's row is replaced by its new text."""
        since = await self.index.meta(EDITS_KEY, 0)
        batch = max(1, int(self.core.settings.search_index_batch))
        done = 0
        cursor = max(0, since - EDIT_SKEW_MS)
        while True:
            docs = await self.core.store.messages.changed_any(cursor, batch)
            gone = [d["id"] for d in docs if d.get("deletedAt") or not d.get("text")]
            await self.index.remove(gone)
            by_conv: Dict[str, List[Dict[str, Any]]] = {}
            for d in docs:
                if (d.get("editedAt") or 0) > since - EDIT_SKEW_MS and not d.get("deletedAt") and d.get("text"):
                    by_conv.setdefault(d["conversationId"], []).append(d)
            marks = await self.index.marks(by_conv)
            for conversation_id, found in by_conv.items():
                walked = [d for d in found if d["seq"] <= marks.get(conversation_id, 0)]
                await self.index.remove([d["id"] for d in found if d not in walked])  # the walk indexes these
                rows = [(int(d["seq"]), int(d.get("createdAt") or 0), search_text(d["text"]), d["id"]) for d in walked]
                await self.index.add(conversation_id, rows, None, replace=True)
                done += len(rows)
            if len(docs) < batch:
                break
            cursor = int(docs[-1].get("updatedAt") or cursor)
            if cursor >= started:
                break
        await self.index.set_meta(EDITS_KEY, started)
        return done
