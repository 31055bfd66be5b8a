"""Scheduled messages: ``scheduled_messages``, one document per message a user scheduled
(:mod:`chat.domain.notify.scheduled`).

``{school, conversationId, senderId, senderName, senderRole, text, mentions, replyTo, sendAt,
status (scheduled|sending|sent|failed|held), attempts, claimedBy, claimedAt, messageId, sentAt, error,
createdAt, updatedAt}`` (times in epoch ms). A node takes a due one by a conditional
``find_one_and_update`` (``scheduled`` -> ``sending``, or a ``sending`` claim older than the
claim time), so one node at a time sends it; the send's ``clientMsgId`` is the document's id,
so a send repeated after a crash stores nothing twice. ``held``: its author was erased while a
legal hold covered it (kept hidden, never sent).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from chat.store.db import Database, ObjectId, ReturnDocument, oid
from chat.store.docs import out, outs

PENDING = ("scheduled", "sending")
#: what counts toward ``scheduled_max_pending``: a refused one keeps its text until its author dismisses it
COUNTED = PENDING + ("failed",)


class ScheduledMessages:
    """Scheduled messages as stored (see the module doc)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.scheduled = db.collection("scheduled_messages", durable=True)

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.scheduled.create_index("senderId")
        self.scheduled.create_index("status")

    async def insert(self, doc: Dict[str, Any]) -> Dict[str, Any]:
        body = dict(doc, _id=ObjectId())
        await self._db.io(self.scheduled.insert_one, body)
        stored = out(body)
        assert stored is not None
        return stored

    async def get(self, scheduled_id: str) -> Optional[Dict[str, Any]]:
        key = oid(scheduled_id)
        if key is None:
            return None
        return out(await self._db.io(self.scheduled.find_one, {"_id": key}))

    async def of_sender(self, sender_id: str, limit: int) -> List[Dict[str, Any]]:
        """The sender's scheduled messages that are not sent yet (pending or failed), soonest first."""
        def work() -> List[Dict[str, Any]]:
            # equality on the indexed field; the status is filtered on the few documents it finds
            return list(self.scheduled.find({"senderId": sender_id, "status": {"$in": ["scheduled", "sending",
                                                                                      "failed"]}})
                        .sort("sendAt", 1).limit(limit))
        return outs(await self._db.io(work))

    async def all_of_sender(self, sender_id: str, after: str, limit: int) -> List[Dict[str, Any]]:
        """Every one of the sender's scheduled messages, whatever its status, ids after ``after``
        ("": from the first), a page at a time (the sender's data export)."""
        query: Dict[str, Any] = {"senderId": sender_id}
        key = oid(after) if after else None
        if key is not None:
            query["_id"] = {"$gt": key}
        return outs(await self._db.io(lambda: list(self.scheduled.find(query).sort("_id", 1).limit(limit))))

    async def pending_count(self, sender_id: str) -> int:
        def work() -> int:
            return len(list(self.scheduled.find({"senderId": sender_id, "status": {"$in": list(COUNTED)}},
                                                {"_id": 1})))
        return int(await self._db.io(work))

    async def update_pending(self, scheduled_id: str, sender_id: str, fields: Dict[str, Any]
                             ) -> Optional[Dict[str, Any]]:
        """Change a message still waiting (``scheduled``); None when it is not (gone, sending, sent)."""
        key = oid(scheduled_id)
        if key is None:
            return None
        return out(await self._db.io(lambda: self.scheduled.find_one_and_update(
            {"_id": key, "senderId": sender_id, "status": "scheduled"}, {"$set": fields},
            return_document=ReturnDocument.AFTER)))

    async def remove(self, scheduled_id: str, sender_id: str, statuses: List[str]) -> bool:
        """Delete the sender's message if its status is one of these; whether it did."""
        key = oid(scheduled_id)
        if key is None:
            return False
        done = await self._db.io(lambda: self.scheduled.delete_one(
            {"_id": key, "senderId": sender_id, "status": {"$in": statuses}}))
        return bool(done.deleted_count)

    async def due(self, status: str, before: int, limit: int) -> List[Dict[str, Any]]:
        """Ids of messages with this status whose ``sendAt`` (``scheduled``) or ``claimedAt``
        (``sending``) is at or before ``before``, oldest first."""
        field = "sendAt" if status == "scheduled" else "claimedAt"

        def work() -> List[Dict[str, Any]]:
            return list(self.scheduled.find({"status": status, field: {"$lte": before}}, {"_id": 1, field: 1})
                        .sort(field, 1).limit(limit))
        return outs(await self._db.io(work))

    async def claim(self, scheduled_id: str, node: str, now: int, stale_before: int) -> Optional[Dict[str, Any]]:
        """Take a due message for ``node``: ``scheduled`` and due, or ``sending`` by a node whose
        claim is older than ``stale_before``. None: another node has it (or it is not due)."""
        key = oid(scheduled_id)
        if key is None:
            return None
        change = {"$set": {"status": "sending", "claimedBy": node, "claimedAt": now, "updatedAt": now},
                  "$inc": {"attempts": 1}}

        def work() -> Any:
            taken = self.scheduled.find_one_and_update({"_id": key, "status": "scheduled", "sendAt": {"$lte": now}},
                                                       change, return_document=ReturnDocument.AFTER)
            if taken is None:
                taken = self.scheduled.find_one_and_update(
                    {"_id": key, "status": "sending", "claimedAt": {"$lte": stale_before}}, change,
                    return_document=ReturnDocument.AFTER)
            return taken
        return out(await self._db.io(work))

    async def finish(self, scheduled_id: str, node: str, fields: Dict[str, Any]) -> bool:
        """Record the outcome of ``node``'s claim (sent, failed, or back to scheduled); False when
        the claim was taken over meanwhile."""
        key = oid(scheduled_id)
        if key is None:
            return False
        done = await self._db.io(lambda: self.scheduled.update_one(
            {"_id": key, "status": "sending", "claimedBy": node}, {"$set": fields}))
        return bool(done.modified_count)

    async def erase_sender(self, sender_id: str, covers: Callable[[str], bool]) -> int:
        """Erasure of the sender: the messages not sent yet go and a refused one's text is
        blanked, but those in a conversation ``covers`` says a hold covers, kept ``held``
        (hidden, never sent; a ``held`` one no hold covers any more goes). How many went."""
        def work() -> int:
            docs = list(self.scheduled.find({"senderId": sender_id, "status": {"$in": list(COUNTED) + ["held"]}},
                                            {"conversationId": 1, "status": 1}))
            kept = [d["_id"] for d in docs if covers(str(d.get("conversationId") or ""))]
            free = {"senderId": sender_id, "_id": {"$nin": kept}}
            if kept:
                self.scheduled.update_many({"_id": {"$in": kept}}, {"$set": {"status": "held", "claimedBy": None}})
            gone = self.scheduled.delete_many(dict(free, status={"$in": list(PENDING) + ["held"]}))
            self.scheduled.update_many(dict(free, status="failed"), {"$set": {"text": None, "mentions": []}})
            return int(gone.deleted_count)
        return int(await self._db.io(work))
