"""``seq_counters``: the seqs handed out in a cluster, one document per school (``_id`` = the
school) with one integer field per conversation (``c<conversationId>``: the last seq reserved).

A writer batch reserves the seqs of all its conversations of one school with one
``find_one_and_update`` (``$inc`` of each of their fields, upserted; a document is updated
atomically, so no two processes get one seq), instead of one command per conversation: the
database's cost is per command far more than per field. :meth:`SeqCounters.raise_to` moves
counters up to the seqs already stored (``$max``: never down, whatever runs at the same time),
:meth:`SeqCounters.give_back` moves one back only while nobody reserved after (compare-and-set).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Mapping

from chat.store.db import Database, DuplicateKeyError, ReturnDocument

#: school -> conversation -> a count (or a floor)
PerSchool = Mapping[str, Mapping[str, int]]


def field(conversation_id: str) -> str:
    """A conversation's counter field (prefixed: an id is never taken for an array index)."""
    return "c" + conversation_id


class SeqCounters:
    """Seq counters as stored (see the module doc)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.counters = db.collection("seq_counters")

    async def reserve(self, counts: PerSchool) -> Dict[str, int]:
        """Add each count to its conversation's counter, one command per school, all in one
        executor job; returns the first seq of each conversation's range."""
        def work() -> Dict[str, int]:
            firsts: Dict[str, int] = {}
            for school, per_conv in counts.items():
                inc = {field(cid): n for cid, n in per_conv.items()}
                doc = _upserting(self.counters.find_one_and_update, {"_id": school}, {"$inc": inc},
                                 projection=dict.fromkeys(inc, 1), upsert=True, return_document=ReturnDocument.AFTER)
                for cid, n in per_conv.items():
                    firsts[cid] = int(doc[field(cid)]) - n + 1
            return firsts
        return await self._db.io(work)

    async def raise_to(self, floors: PerSchool) -> None:
        """Move counters up to these seqs (``$max``; a counter already past one stays)."""
        def work() -> None:
            for school, per_conv in floors.items():
                up = {field(cid): seq for cid, seq in per_conv.items()}
                _upserting(self.counters.update_one, {"_id": school}, {"$max": up}, upsert=True)
        await self._db.io(work)

    async def give_back(self, school: str, conversation_id: str, top: int, count: int) -> bool:
        """Move a counter from ``top`` back by ``count`` (seqs reserved and never stored), only
        while it still is ``top``: no seq above them was handed out. True if it moved."""
        name = field(conversation_id)
        result = await self._db.io(lambda: self.counters.update_one({"_id": school, name: top},
                                                                    {"$inc": {name: -count}}))
        return bool(result.modified_count)


def _upserting(op: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Two first upserts of one school's document at once: the loser finds it there on a retry."""
    try:
        return op(*args, **kwargs)
    except DuplicateKeyError:
        return op(*args, **kwargs)
