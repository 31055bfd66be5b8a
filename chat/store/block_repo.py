"""``blocks`` (one document per blocker and blocked user) and conversation ``mutes`` (one
document per conversation and muted member, with the time the mute ends, who set it and, for a
moderator's ``mute_author``, the case as its ``reason``).

Both are read by single-field equality on an index (``blockerId``, ``blockedId``,
``conversationId``) and written by ``_id``; times are integer epoch milliseconds.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from chat.store.db import Database
from chat.store.docs import membership_id, out, outs


def block_id(blocker_id: str, blocked_id: str) -> str:
    """Unambiguous whatever the ids hold (the blocker's length first)."""
    return "%d:%s:%s" % (len(blocker_id), blocker_id, blocked_id)


class Blocks:
    """Blocks between users and mutes of conversation members."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.blocks = db.collection("blocks")
        self.mutes = db.collection("mutes")

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.blocks.create_index("blockerId")
        self.blocks.create_index("blockedId")
        self.mutes.create_index("conversationId")

    # ------------------------------------------------------------------ blocks
    async def put_block(self, school: str, blocker_id: str, blocked_id: str, now: int) -> Dict[str, Any]:
        """Record the block (idempotent: a second one keeps the first's time); returns it."""
        key = block_id(blocker_id, blocked_id)

        def work() -> Optional[Dict[str, Any]]:
            self.blocks.update_one({"_id": key}, {"$setOnInsert": {
                "school": school, "blockerId": blocker_id, "blockedId": blocked_id, "createdAt": now}}, upsert=True)
            return self.blocks.find_one({"_id": key})  # type: ignore[no-any-return]
        return out(await self._db.io(work)) or {}

    async def delete_block(self, blocker_id: str, blocked_id: str) -> bool:
        """Lift the block; False when there was none."""
        result = await self._db.io(self.blocks.delete_one, {"_id": block_id(blocker_id, blocked_id)})
        return bool(result.deleted_count)

    async def involving(self, user_id: str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
        """(the blocks ``user_id`` made, the blocks made against it), two indexed equalities."""
        def work() -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
            return list(self.blocks.find({"blockerId": user_id})), list(self.blocks.find({"blockedId": user_id}))
        made, against = await self._db.io(work)
        return outs(made), outs(against)

    # ------------------------------------------------------------------ mutes
    async def put_mute(self, conversation_id: str, user_id: str, until: int, by: str, now: int,
                       reason: Optional[str] = None) -> Dict[str, Any]:
        """Mute (or re-mute: the new end replaces the old one) a member; returns the mute.
        ``reason``: the moderation case of a moderator's mute (None: a conversation manager's)."""
        doc = {"conversationId": conversation_id, "userId": user_id, "until": until, "by": by, "createdAt": now,
               "reason": reason}
        key = membership_id(conversation_id, user_id)
        await self._db.io(lambda: self.mutes.update_one({"_id": key}, {"$set": doc}, upsert=True))
        return dict(doc, id=key)

    async def delete_mute(self, conversation_id: str, user_id: str) -> bool:
        """Lift a mute; False when there was none."""
        result = await self._db.io(self.mutes.delete_one, {"_id": membership_id(conversation_id, user_id)})
        return bool(result.deleted_count)

    async def mute_of(self, conversation_id: str, user_id: str) -> Optional[Dict[str, Any]]:
        """One member's stored mute (None: none)."""
        return out(await self._db.io(self.mutes.find_one, {"_id": membership_id(conversation_id, user_id)}))

    async def mutes_of(self, conversation_id: str) -> List[Dict[str, Any]]:
        """Every stored mute of the conversation (ended ones too: callers compare ``until``)."""
        return outs(await self._db.io(lambda: list(self.mutes.find({"conversationId": conversation_id}))))
