"""Seqs shared by several processes: reserved atomically in MongoDB, per batch and conversation.

With one process the writer counts seqs in memory (nothing else writes the conversation). With
several, each batch reserves its seqs with one ``find_one_and_update`` ``$inc`` of the
conversation's ``lastSeq`` by the number of its messages in the batch, so no two processes can
hand out one seq, and the unique ``seqKey`` index remains the backstop.

Seqs reserved by a batch that stored none of them (storage failed, a message was refused)
are given back: :meth:`SeqReserver.give_back` moves ``lastSeq`` back only while it still
equals the top of them, i.e. no other process reserved after; otherwise the writer fills
them with tombstones (see :mod:`chat.live.writer`).

A database last written by a single process may hold a ``lastSeq`` behind its newest message
(written behind, then an unclean stop). The writer passes the seq it recovered from the newest
message as a floor; a reservation at or under it is discarded and made again above it.
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Dict, Mapping, Optional, Protocol

MAX_TRIES = 4


class SeqCounter(Protocol):
    """The storage a reservation needs (``chat.store.Conversations``)."""

    async def reserve_seqs(self, conversation_id: str, count: int) -> int: ...

    async def give_back_seqs(self, conversation_id: str, top: int, count: int) -> bool: ...


#: conversation -> count: the first reserved seq of each, in one storage job
ReserveMany = Callable[[Dict[str, int]], Awaitable[Dict[str, int]]]


class SeqReserver:
    """Reserves seq ranges in the database (see the module doc). ``many``, when given,
    reserves a whole batch's conversations in one storage job (``Conversations.reserve_seqs_many``)."""

    def __init__(self, counter: SeqCounter, many: Optional[ReserveMany] = None) -> None:
        self.counter = counter
        self.many = many
        self.reservations = 0  # round trips made (metrics, tests)

    async def reserve(self, counts: Mapping[str, int], floors: Mapping[str, int]) -> Dict[str, int]:
        """For each conversation, the first of ``counts[cid]`` consecutive seqs now owned by
        the caller, all above ``floors[cid]``."""
        cids = list(counts)
        if self.many is not None:
            self.reservations += len(cids)
            firsts = await self.many(dict(counts))
            # a counter behind the stored messages (rare: see the module doc) is moved past them
            lagging = [cid for cid in cids if firsts[cid] <= floors.get(cid, 0)]
            if lagging:
                again = await asyncio.gather(*(self._one(cid, counts[cid], floors.get(cid, 0), firsts[cid])
                                               for cid in lagging))
                firsts.update(zip(lagging, again, strict=True))
            return {cid: firsts[cid] for cid in cids}
        # one round trip per conversation, all at once: a batch spans many conversations, and
        # one after the other they would cost the sum of their latencies
        gathered = await asyncio.gather(*(self._one(cid, counts[cid], floors.get(cid, 0)) for cid in cids))
        return dict(zip(cids, gathered, strict=True))

    async def give_back(self, conversation_id: str, top: int, count: int) -> bool:
        """Return the ``count`` seqs ending at ``top`` (reserved, never stored) if nobody
        reserved after them; False when someone did (then they are tombstoned)."""
        self.reservations += 1
        return await self.counter.give_back_seqs(conversation_id, top, count)

    async def _one(self, cid: str, count: int, floor: int, first: Optional[int] = None) -> int:
        if first is None:
            first = await self._take(cid, count)
        tries = 1
        while first <= floor and tries < MAX_TRIES:
            # the counter lags stored messages: move it past them, then reserve again
            behind = floor - (first + count - 1)
            if behind > 0:
                await self._take(cid, behind)
            first = await self._take(cid, count)
            tries += 1
        return first

    async def _take(self, cid: str, count: int) -> int:
        self.reservations += 1
        return await self.counter.reserve_seqs(cid, count)
