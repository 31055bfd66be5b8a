"""What the retention sweep stores and reads (:mod:`chat.domain.oversight.retention`).

- ``retention_settings``: one document per school that changed its retention;
- ``retention_cursors``: per school, the last conversation a sweep finished (``_id`` order), so
  a restarted server resumes there;
- ``retention_marks``: per conversation, the highest seq the sweep has passed;
- ``retention_pending``: messages whose deletion waits (a hold covers them, an open case keeps
  them as evidence, or their author deleted them and the next sweep removes the content);
- ``retention_lease``: which node sweeps (owner and expiry, taken by a conditional update).

Every method is one storage call on at most ``limit`` documents: nx-27017 has one lock, and
the sweep must never hold it long enough to slow anyone's send.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from chat.store.db import UNSET, Database, DuplicateKeyError, ObjectId, oid
from chat.store.docs import out, outs, seq_key
from chat.store.lease import Lease

LEASE_ID = "sweep"

#: what a tombstone keeps of a message (and what the sweep reads to decide)
PAGE_FIELDS = {"conversationId": 1, "seq": 1, "senderId": 1, "createdAt": 1, "attachments": 1, "deletedAt": 1,
               "deletedBy": 1, "deletedReason": 1, "purgedAt": 1, "heldAt": 1, "type": 1, "forwarded": 1}


class RetentionStore:
    """Settings, cursors, marks, pending deletions and the lease of the retention sweep."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.settings = db.collection("retention_settings")
        self.cursors = db.collection("retention_cursors")
        self.marks = db.collection("retention_marks")
        self.pending = db.collection("retention_pending")
        self.lease = db.collection("retention_lease")
        self._lease = Lease(db, self.lease, LEASE_ID)
        self.messages = db.collection("messages", durable=True)
        self.edits = db.collection("edits")
        self.reactions = db.collection("reactions")
        self.conversations = db.collection("conversations")
        self.cases = db.collection("cases")
        self.uploads = db.collection("uploads")

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.pending.create_index("school")
        self.conversations.create_index("school")  # a school's conversations, page by page

    # ------------------------------------------------------------------ settings
    async def get_settings(self, school: str) -> Optional[Dict[str, Any]]:
        """The school's stored retention (None: the defaults apply)."""
        return out(await self._db.io(self.settings.find_one, {"_id": school}))

    async def put_settings(self, school: str, fields: Dict[str, Any], actor: str, now: int) -> None:
        await self._db.io(lambda: self.settings.update_one(
            {"_id": school}, {"$set": dict(fields, updatedAt=now, updatedBy=actor)}, upsert=True))

    async def schools(self, after: str, limit: int) -> List[Dict[str, Any]]:
        """Stored school settings with ``_id`` after ``after``, in order."""
        return outs(await self._db.io(lambda: list(
            self.settings.find({"_id": {"$gt": after}}).sort("_id", 1).limit(limit))))

    # ------------------------------------------------------------------ cursors and marks
    async def cursor(self, school: str) -> str:
        """The id of the last conversation the school's sweep finished ("" : from the start)."""
        doc = await self._db.io(self.cursors.find_one, {"_id": school})
        return str(doc.get("conversationId") or "") if doc else ""

    async def set_cursor(self, school: str, conversation_id: str, now: int) -> None:
        await self._db.io(lambda: self.cursors.update_one(
            {"_id": school}, {"$set": {"conversationId": conversation_id, "at": now}}, upsert=True))

    async def conversations_after(self, school: str, after: str, limit: int) -> List[Dict[str, Any]]:
        """The school's conversations with ids after ``after`` (``_id`` order): id and type."""
        query: Dict[str, Any] = {"school": school}
        key = oid(after)
        if key is not None:
            query["_id"] = {"$gt": key}
        return outs(await self._db.io(lambda: list(
            self.conversations.find(query, {"type": 1, "school": 1}).sort("_id", 1).limit(limit))))

    async def mark(self, conversation_id: str) -> int:
        """The highest seq of the conversation the sweep has passed (0: none)."""
        doc = await self._db.io(self.marks.find_one, {"_id": conversation_id})
        return int(doc.get("seq") or 0) if doc else 0

    async def set_mark(self, conversation_id: str, seq: int) -> None:
        await self._db.io(lambda: self.marks.update_one({"_id": conversation_id}, {"$set": {"seq": seq}},
                                                         upsert=True))

    # ------------------------------------------------------------------ messages
    async def page(self, conversation_id: str, after_seq: int, limit: int) -> List[Dict[str, Any]]:
        """Up to ``limit`` messages after ``after_seq``, ascending (the ``seqKey`` index), with
        only what the sweep decides on (never the text)."""
        query = {"seqKey": {"$gt": seq_key(conversation_id, after_seq), "$lt": seq_key(conversation_id, 10 ** 12 - 1)}}
        return outs(await self._db.io(lambda: list(
            self.messages.find(query, PAGE_FIELDS).sort("seqKey", 1).limit(limit))))

    async def messages_by_id(self, message_ids: Sequence[str]) -> List[Dict[str, Any]]:
        keys = [k for k in (oid(m) for m in message_ids) if k is not None]
        if not keys:
            return []
        return outs(await self._db.io(lambda: list(self.messages.find({"_id": {"$in": keys}}, PAGE_FIELDS))))

    async def purge(self, messages: Sequence[Dict[str, Any]], reason: str, now: int) -> List[str]:
        """Replace the content of these messages by a tombstone and delete their edits and
        reactions: seq, sender and times stay, with ``deletedReason`` (``reason`` for one still
        shown, else why it was deleted); text, attachments, mentions and reactions go. Returns
        the ids purged (one already purged is skipped)."""
        def work() -> List[str]:
            done: List[str] = []
            for msg in messages:
                deleted_at = msg.get("deletedAt")
                fields: Dict[str, Any] = {
                          "text": None, "textLower": "", "attachments": [], "mentions": [], "reactionKeys": [],
                          "deletedAt": deleted_at if deleted_at is not None else now,
                          # one already deleted stays "deleted" for its readers: they saw it go
                          "deletedReason": reason if deleted_at is None else (msg.get("deletedReason") or "deleted"),
                          "purgedAt": now, "heldAt": None, "updatedAt": now}
                changed = self.messages.update_one({"_id": ObjectId(msg["id"]), "purgedAt": UNSET},
                                                   {"$set": fields})
                if changed.modified_count:
                    self.edits.delete_many({"messageId": msg["id"]})
                    self.reactions.delete_many({"messageId": msg["id"]})
                    self.conversations.update_one(
                        {"_id": ObjectId(msg["conversationId"]), "lastMessage.id": msg["id"]},
                        {"$set": {"lastMessage.preview": None, "lastMessage.deleted": 1}})
                    done.append(msg["id"])
            return done
        return await self._db.io(work)

    async def mark_held(self, message_id: str, now: int) -> None:
        """The message's author deleted it while a hold covers it: its content stays for the hold."""
        await self._db.io(lambda: self.messages.update_one({"_id": ObjectId(message_id)},
                                                           {"$set": {"heldAt": now}}))

    # ------------------------------------------------------------------ pending deletions
    async def add_pending(self, docs: Sequence[Dict[str, Any]]) -> None:
        """Deletions that wait (``_id``: the message id; a second one for it changes nothing)."""
        def work() -> None:
            for doc in docs:
                try:
                    self.pending.insert_one(dict(doc, _id=doc["messageId"]))
                except DuplicateKeyError:
                    pass
        if docs:
            await self._db.io(work)

    async def pending_after(self, after: str, limit: int) -> List[Dict[str, Any]]:
        """Pending deletions with ids after ``after``, in order."""
        docs = await self._db.io(lambda: list(self.pending.find({"_id": {"$gt": after}}).sort("_id", 1).limit(limit)))
        return outs(docs)

    async def drop_pending(self, message_ids: Sequence[str]) -> None:
        ids = list(message_ids)
        if ids:
            await self._db.io(lambda: self.pending.delete_many({"_id": {"$in": ids}}))

    async def pending_count(self, school: str) -> int:
        return int(await self._db.io(lambda: self.pending.count_documents({"school": school})))

    # ------------------------------------------------------------------ cases and uploads
    async def evidence(self, school: str, limit: int) -> List[Dict[str, Any]]:
        """The school's cases about messages: message id, status and last change (the sweep
        keeps a message an open case, or one resolved recently, refers to)."""
        return outs(await self._db.io(lambda: list(self.cases.find(
            {"school": school, "kind": "message"}, {"messageId": 1, "status": 1, "updatedAt": 1}).limit(limit))))

    async def expired_uploads(self, school: str, deleted_before: int, limit: int) -> List[Dict[str, Any]]:
        """The school's uploads whose message was deleted before the cut-off."""
        docs = await self._db.io(lambda: list(self.uploads.find(
            {"deletedAt": {"$gte": 0, "$lt": deleted_before}, "school": school}).limit(limit)))
        for d in docs:
            d["id"] = str(d.pop("_id"))
        return docs

    # ------------------------------------------------------------------ the lease
    async def take_lease(self, owner: str, now: int, ttl_ms: int) -> bool:
        """Become (or stay) the node doing this work until ``now + ttl_ms`` (chat/store/lease.py)."""
        return await self._lease.take(owner, now, ttl_ms)

    async def release_lease(self, owner: str) -> None:
        """Give the lease up at shutdown (another node takes it at its next pass)."""
        await self._lease.release(owner)
