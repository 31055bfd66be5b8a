"""The word filter's storage: ``filters`` (one document per school: its lists and a version
number every change raises) and ``filter_flags`` (what the filter flagged, for moderators)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from chat.store.db import Database
from chat.store.docs import out, outs


class Filters:
    """Per school ``{lists: [{name, action, terms}], version, updatedAt, updatedBy}`` (``_id``
    is the school id) and the flag records."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.filters = db.collection("filters")
        self.flags = db.collection("filter_flags")

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.flags.create_index("school")
        self.flags.create_index("conversationId")

    async def get(self, school: str) -> Optional[Dict[str, Any]]:
        """The school's filter document (None: the school never set one)."""
        return out(await self._db.io(self.filters.find_one, {"_id": school}))

    async def version(self, school: str) -> int:
        """The school's filter version alone (0: never set): the cheap read a node makes to
        learn whether another node changed the lists."""
        doc = await self._db.io(self.filters.find_one, {"_id": school}, {"version": 1})
        return int(doc.get("version", 0)) if doc else 0

    async def put(self, school: str, lists: List[Dict[str, Any]], by: str, now: int) -> Dict[str, Any]:
        """Replace the school's lists (raising its version); the document as stored."""
        def work() -> Optional[Dict[str, Any]]:
            self.filters.update_one({"_id": school},
                                    {"$set": {"lists": lists, "updatedAt": now, "updatedBy": by},
                                     "$inc": {"version": 1}}, upsert=True)
            return self.filters.find_one({"_id": school})  # type: ignore[no-any-return]
        doc = out(await self._db.io(work))
        assert doc is not None
        return doc

    async def add_flag(self, record: Dict[str, Any]) -> None:
        """Store one flag record ``{school, conversationId, messageId, senderId, list, field,
        kind, at}`` (never the text)."""
        await self._db.io(self.flags.insert_one, dict(record))

    async def flags_of(self, school: str, limit: int = 1000) -> List[Dict[str, Any]]:
        """The school's flag records, oldest first."""
        return outs(await self._db.io(lambda: list(self.flags.find({"school": school}).sort("at", 1).limit(limit))))
