"""The audit log: ``audit_log``, one append-only collection of staff actions (see
:mod:`chat.domain.oversight.audit`). Nothing here updates or deletes an entry."""
from __future__ import annotations

from typing import Any, Dict, Optional

from chat.store.db import Database
from chat.store.docs import out


class AuditEntries:
    """Entries as stored: ``{school, seq, at, actor, action, target, detail, prev, hash}``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.entries = db.collection("audit_log", durable=True)

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.entries.create_index("school")
        self.entries.create_index("chainKey", unique=True)

    async def append(self, doc: Dict[str, Any]) -> None:
        """Store one entry (its ``chainKey`` is unique: two writers never extend a chain twice)."""
        await self._db.io(self.entries.insert_one, dict(doc))

    async def last(self, school: str) -> Optional[Dict[str, Any]]:
        """The school's newest entry (None: its log is empty)."""
        def work() -> Optional[Dict[str, Any]]:
            found = list(self.entries.find({"school": school}).sort("seq", -1).limit(1))
            return found[0] if found else None
        return out(await self._db.io(work))
