"""Oversight access grants: ``oversight_grants``, one document per grant (a school admin or
safeguarding lead reading one conversation read-only for a while, see
:mod:`chat.domain.oversight.grants`). Grants are records: nothing here updates or deletes one
(an expired grant simply stops answering :meth:`Grants.active_of_user`)."""
from __future__ import annotations

from typing import Any, Dict, List

from chat.store.db import Database, ObjectId
from chat.store.docs import out, outs

#: most active grants one user's look-up returns (a grant is a deliberate, audited act)
MAX_ACTIVE = 200


class Grants:
    """Grants as stored: ``{school, userId, conversationId, reason, createdAt, expiresAt}``
    (times in epoch ms)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.grants = db.collection("oversight_grants", durable=True)

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.grants.create_index("userId")

    async def insert(self, doc: Dict[str, Any]) -> Dict[str, Any]:
        """Store a new grant; returns it with its ``id``."""
        body = dict(doc, _id=ObjectId())
        await self._db.io(self.grants.insert_one, body)
        stored = out(body)
        assert stored is not None
        return stored

    async def active_of_user(self, user_id: str, now_ms: int) -> List[Dict[str, Any]]:
        """The user's grants that have not expired at ``now_ms``, newest first (at most
        :data:`MAX_ACTIVE`)."""
        def work() -> List[Dict[str, Any]]:
            # equality on the indexed field, the range filtered on the few documents it finds
            return list(self.grants.find({"userId": user_id, "expiresAt": {"$gt": now_ms}})
                        .sort("createdAt", -1).limit(MAX_ACTIVE))
        return outs(await self._db.io(work))
