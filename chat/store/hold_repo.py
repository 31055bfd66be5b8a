"""Legal holds: ``legal_holds``, one document per held user or conversation of a school (see
:mod:`chat.domain.oversight.holds`). Releasing a hold removes its document; the audit log keeps
who set and released it."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from chat.store.db import Database
from chat.store.docs import out, outs


def hold_id(school: str, kind: str, target_id: str) -> str:
    """One hold per school, kind (``user`` or ``conversation``) and target: setting it again
    replaces its reason."""
    return "%s:%s:%s" % (school, kind, target_id)


class Holds:
    """Holds as stored: ``{_id, school, kind, targetId, reason, by, at}``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.holds = db.collection("legal_holds", durable=True)

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.holds.create_index("school")

    async def put(self, school: str, kind: str, target_id: str, reason: str, by: str, now: int
                  ) -> Dict[str, Any]:
        """Set (or re-set) a hold; returns it as stored."""
        key = hold_id(school, kind, target_id)
        fields = {"school": school, "kind": kind, "targetId": target_id, "reason": reason, "by": by, "at": now}
        await self._db.io(lambda: self.holds.update_one({"_id": key}, {"$set": fields}, upsert=True))
        return dict(fields, id=key)

    async def get(self, school: str, kind: str, target_id: str) -> Optional[Dict[str, Any]]:
        return out(await self._db.io(self.holds.find_one, {"_id": hold_id(school, kind, target_id)}))

    async def remove(self, school: str, kind: str, target_id: str) -> bool:
        """Release a hold; False when there was none."""
        gone = await self._db.io(self.holds.delete_one, {"_id": hold_id(school, kind, target_id)})
        return bool(gone.deleted_count)

    async def of_school(self, school: str, limit: int) -> List[Dict[str, Any]]:
        """A school's holds, oldest first (a school holds a few; ``limit`` bounds the answer)."""
        return outs(await self._db.io(lambda: list(
            self.holds.find({"school": school}).sort("at", 1).limit(limit))))
