"""Bot (service) accounts: ``bots``, one document per bot. Only a hash of a bot's token is
stored (SHA-256 of a random 256-bit secret: a lost database does not give the tokens away)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from chat.store.db import Database, ObjectId, ReturnDocument, oid
from chat.store.docs import out, outs

MAX_BOTS = 10000


class Bots:
    """Bots ``{school, name, conversationIds[], classIds[], tokenHash, createdBy, createdAt,
    revokedAt, revokedBy}``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.bots = db.collection("bots", durable=True)

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.bots.create_index("school")
        self.bots.create_index("tokenHash")

    async def insert(self, doc: Dict[str, Any], record_id: Optional[str] = None) -> Dict[str, Any]:
        """Insert ``doc`` (under ``record_id`` when the id was made first, for the audit entry)."""
        body = dict(doc, _id=ObjectId(record_id) if record_id else ObjectId())
        await self._db.io(self.bots.insert_one, body)
        stored = out(body)
        assert stored is not None
        return stored

    async def get(self, bot_id: str) -> Optional[Dict[str, Any]]:
        key = oid(bot_id)
        if key is None:
            return None
        return out(await self._db.io(self.bots.find_one, {"_id": key}))

    async def by_token_hash(self, token_hash: str) -> Optional[Dict[str, Any]]:
        return out(await self._db.io(self.bots.find_one, {"tokenHash": token_hash}))

    async def of_school(self, school: str) -> List[Dict[str, Any]]:
        """The school's bots, oldest first (revoked ones too)."""
        return outs(await self._db.io(lambda: list(self.bots.find({"school": school}).sort("_id", 1)
                                                   .limit(MAX_BOTS))))

    async def revoke(self, bot_id: str, actor: str, now: int) -> Optional[Dict[str, Any]]:
        """Mark it revoked (its token stops working); None: no such bot."""
        key = oid(bot_id)
        if key is None:
            return None
        return out(await self._db.io(lambda: self.bots.find_one_and_update(
            {"_id": key}, {"$set": {"revokedAt": now, "revokedBy": actor}}, return_document=ReturnDocument.AFTER)))
