"""The audit log: ``audit_log``, one append-only collection of staff actions (see
:mod:`chat.domain.oversight.audit` and the chain in :mod:`chat.domain.oversight.audit_chain`).
Nothing here updates or deletes an entry.

Every query ranges over the unique single-field ``chainKey`` index (``<len(school)>:<school>:<seq,
12 digits>``: one school's entries are one contiguous key range, in seq order), in short
bounded queries, as the storage rules ask (README "Data model and storage rules")."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from chat.errors import Duplicate
from chat.store.db import Database
from chat.store.docs import out, outs

#: seqs are 12 digits in the key
MAX_SEQ = 10 ** 12 - 1


def chain_key(school: str, seq: int) -> str:
    """The unique position of entry ``seq`` of ``school``. The length prefix keeps schools
    apart: no school's keys fall between another's, whatever its id."""
    return "%d:%s:%012d" % (len(school), school, seq)


def school_range(school: str) -> Tuple[str, str]:
    """``(lowest, highest)`` possible :func:`chain_key` of ``school`` (both inclusive)."""
    return chain_key(school, 0), chain_key(school, MAX_SEQ)


class AuditEntries:
    """Entries as stored: ``{school, seq, chainKey, at, actor, action, target, detail, prev, hash}``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.entries = db.collection("audit_log", durable=True)

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.entries.create_index("school")
        self.entries.create_index("chainKey", unique=True)

    async def append(self, doc: Dict[str, Any]) -> bool:
        """Store one entry; False when its ``chainKey`` is taken (another writer, another
        process of a cluster, extended the chain first: read the head again). A storage
        failure raises ``Unavailable``."""
        try:
            await self._db.io(self.entries.insert_one, dict(doc))
        except Duplicate:
            return False
        return True

    async def last(self, school: str) -> Optional[Dict[str, Any]]:
        """The school's newest entry (None: its log is empty)."""
        low, high = school_range(school)

        def work() -> List[Dict[str, Any]]:
            return list(self.entries.find({"chainKey": {"$gte": low, "$lte": high}}).sort("chainKey", -1).limit(1))
        found = await self._db.io(work)
        return out(found[0]) if found else None

    async def newest(self, school: str, low_seq: int, below_seq: int, match: Dict[str, Any],
                     limit: int) -> List[Dict[str, Any]]:
        """Up to ``limit`` entries with ``low_seq <= seq < below_seq`` that match the equality
        and ``at`` conditions in ``match``, newest first (one query over that key range)."""
        query: Dict[str, Any] = dict(match)
        query["chainKey"] = {"$gte": chain_key(school, max(low_seq, 0)),
                             "$lt": chain_key(school, min(below_seq, MAX_SEQ))}

        def work() -> List[Dict[str, Any]]:
            return list(self.entries.find(query).sort("chainKey", -1).limit(limit))
        return outs(await self._db.io(work))

    async def after(self, after_key: str, high_key: str, limit: int) -> List[Dict[str, Any]]:
        """Up to ``limit`` entries with ``after_key < chainKey <= high_key``, in key order
        (verify and export page through a school, or all schools, with it)."""
        def work() -> List[Dict[str, Any]]:
            return list(self.entries.find({"chainKey": {"$gt": after_key, "$lte": high_key}})
                        .sort("chainKey", 1).limit(limit))
        return outs(await self._db.io(work))
