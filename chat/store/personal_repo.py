"""One person's data, for export and erasure (:mod:`chat.domain.oversight.exports`,
:mod:`chat.domain.oversight.erasure`), and the export jobs.

- ``exports``: one document per export job ``{_id, school, userId, requestedBy, status
  (queued|running|done|failed|expired), progress {messages, files, bytes}, file, size, sha256
  (the archive's name in the upload storage), node, error, createdAt, startedAt, heartbeatAt,
  finishedAt, expiredAt}``, with the sweep's reads on single-field indexes (``status``);
- reads of what one user wrote or did, each a page of at most ``limit`` documents in ``_id``
  order after a cursor, by an equality on a single-field index (``messages.senderId``,
  ``edits.messageId``, ``reactions.userId``, ``case_reports.reporterId``, ``uploads.ownerId``),
  so an export never holds more than one page and no call holds nx-27017's lock long;
- the erasure's writes: a user's directory entry anonymised, the sender name of their messages.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from chat.store.db import Database, ObjectId, oid
from chat.store.docs import out, outs

#: the states of a job still being written
UNFINISHED = ("queued", "running")
#: what a page of a user's messages carries for the erasure (never the text)
ERASE_FIELDS = {"conversationId": 1, "seq": 1, "senderId": 1, "createdAt": 1, "attachments": 1, "deletedAt": 1,
                "deletedBy": 1, "deletedReason": 1, "purgedAt": 1, "heldAt": 1, "type": 1, "mentions": 1}


class PersonalData:
    """Export jobs, and one user's documents page by page."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.exports = db.collection("exports", durable=True)
        self.users = db.collection("users")
        self.messages = db.collection("messages", durable=True)
        self.edits = db.collection("edits")
        self.reactions = db.collection("reactions")
        self.reports = db.collection("case_reports")
        self.cases = db.collection("cases")
        self.uploads = db.collection("uploads")
        self.conversations = db.collection("conversations")

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.exports.create_index("school")
        self.exports.create_index("status")
        self.messages.create_index("senderId")
        self.messages.create_index("forwarded.authorId")  # an erased user's forwarded copies
        self.reactions.create_index("userId")
        self.reports.create_index("reporterId")
        self.uploads.create_index("ownerId")

    # ------------------------------------------------------------------ export jobs
    async def insert_job(self, doc: Dict[str, Any]) -> Dict[str, Any]:
        body = dict(doc, _id=ObjectId())
        await self._db.io(self.exports.insert_one, body)
        return out(body)  # type: ignore[return-value]

    async def get_job(self, job_id: str) -> Optional[Dict[str, Any]]:
        key = oid(job_id)
        if key is None:
            return None
        return out(await self._db.io(self.exports.find_one, {"_id": key}))

    async def jobs_of_school(self, school: str, limit: int) -> List[Dict[str, Any]]:
        """The school's export jobs, newest first."""
        return outs(await self._db.io(lambda: list(
            self.exports.find({"school": school}).sort("_id", -1).limit(limit))))

    async def update_job(self, job_id: str, fields: Dict[str, Any]) -> None:
        await self._db.io(lambda: self.exports.update_one({"_id": ObjectId(job_id)}, {"$set": fields}))

    async def touch_jobs(self, job_ids: Sequence[str], now: int) -> None:
        """The heartbeat of the jobs this process is writing."""
        keys = [ObjectId(j) for j in job_ids]
        if keys:
            await self._db.io(lambda: self.exports.update_many(
                {"_id": {"$in": keys}, "status": {"$in": list(UNFINISHED)}}, {"$set": {"heartbeatAt": now}}))

    async def unfinished_jobs(self, limit: int) -> List[Dict[str, Any]]:
        """Jobs ``queued`` or ``running`` (by any process), oldest first."""
        return outs(await self._db.io(lambda: list(
            self.exports.find({"status": {"$in": list(UNFINISHED)}}).sort("_id", 1).limit(limit))))

    async def unfinished_job_of(self, user_id: str) -> Optional[Dict[str, Any]]:
        """The oldest job ``queued`` or ``running`` that exports ``user_id``, if any (by the
        ``status`` index: unfinished jobs are few)."""
        return out(await self._db.io(lambda: next(iter(
            self.exports.find({"status": {"$in": list(UNFINISHED)}, "userId": user_id}).sort("_id", 1).limit(1)),
            None)))

    async def fail_job(self, job_id: str, error: str, now: int, stale_before: Optional[int] = None) -> bool:
        """``failed`` with ``error``, if still unfinished (and, with ``stale_before``, its
        heartbeat older than that); whether it changed."""
        query: Dict[str, Any] = {"_id": ObjectId(job_id), "status": {"$in": list(UNFINISHED)}}
        if stale_before is not None:
            query["heartbeatAt"] = {"$lt": stale_before}
        changed = await self._db.io(lambda: self.exports.update_one(
            query, {"$set": {"status": "failed", "error": error, "finishedAt": now}}))
        return bool(changed.modified_count)

    async def due_jobs(self, finished_before: int, limit: int) -> List[Dict[str, Any]]:
        """Done jobs finished before ``finished_before`` (their archives are due for removal)."""
        return outs(await self._db.io(lambda: list(
            self.exports.find({"status": "done", "finishedAt": {"$lt": finished_before}}).sort("_id", 1)
            .limit(limit))))

    async def expire_job(self, job_id: str, now: int) -> bool:
        """A done job becomes ``expired`` (its archive removed); whether it changed."""
        changed = await self._db.io(lambda: self.exports.update_one(
            {"_id": ObjectId(job_id), "status": "done"}, {"$set": {"status": "expired", "expiredAt": now}}))
        return bool(changed.modified_count)

    async def sha_in_uploads(self, sha256: str) -> bool:
        """Whether an upload (or its thumbnail) has these bytes too (then they stay stored)."""
        def work() -> bool:
            return (self.uploads.find_one({"sha256": sha256}, {"_id": 1}) is not None
                    or self.uploads.find_one({"thumbSha256": sha256}, {"_id": 1}) is not None)
        return bool(await self._db.io(work))

    # ------------------------------------------------------------------ one user's documents
    def _page(self, col: Any, query: Dict[str, Any], after: Any, limit: int,
              fields: Optional[Dict[str, int]] = None) -> List[Dict[str, Any]]:
        if after is not None:
            query = dict(query, _id={"$gt": after})
        return list(col.find(query, fields).sort("_id", 1).limit(limit))

    async def messages_of(self, user_id: str, after: str, limit: int, erasing: bool = False
                          ) -> List[Dict[str, Any]]:
        """Up to ``limit`` messages the user sent, ids after ``after`` ("" : from the first)
        (``erasing``: only what the erasure decides on, never the text)."""
        return outs(await self._db.io(self._page, self.messages, {"senderId": user_id}, oid(after), limit,
                                      ERASE_FIELDS if erasing else None))

    async def forwards_of(self, user_id: str, after: str, limit: int) -> List[Dict[str, Any]]:
        """Up to ``limit`` forwarded copies of the user's messages (``forwarded.authorId``), ids
        after ``after`` (only what the erasure decides on, never the text)."""
        return outs(await self._db.io(self._page, self.messages, {"forwarded.authorId": user_id}, oid(after), limit,
                                      ERASE_FIELDS))

    async def unattribute(self, messages: Sequence[Dict[str, Any]], name: str) -> None:
        """The author name of these forwarded copies' attribution becomes ``name``; a
        conversation whose last message is one of them shows no preview."""
        def work() -> None:
            for msg in messages:
                self.messages.update_one({"_id": ObjectId(msg["id"])}, {"$set": {"forwarded.authorName": name}})
                self.conversations.update_one({"_id": ObjectId(msg["conversationId"]), "lastMessage.id": msg["id"]},
                                              {"$set": {"lastMessage.preview": None, "lastMessage.deleted": 1}})
        if messages:
            await self._db.io(work)

    async def edits_of(self, message_id: str) -> List[Dict[str, Any]]:
        """The previous texts of one message, oldest first (a message has a few)."""
        return outs(await self._db.io(lambda: list(self.edits.find({"messageId": message_id}).sort("editedAt", 1))))

    async def reactions_of(self, user_id: str, after: str, limit: int) -> List[Dict[str, Any]]:
        return outs(await self._db.io(self._page, self.reactions, {"userId": user_id}, oid(after), limit))

    async def reports_of(self, user_id: str, after: str, limit: int) -> List[Dict[str, Any]]:
        """Reports the user made (``_id``: ``<caseId>:<reporterId>``), with the case's kind and
        subject."""
        def work() -> List[Dict[str, Any]]:
            docs = self._page(self.reports, {"reporterId": user_id}, after or None, limit)
            cases = {c["_id"]: c for c in self.cases.find(
                {"_id": {"$in": [k for k in (oid(d.get("caseId")) for d in docs) if k is not None]}},
                {"kind": 1, "subjectId": 1, "messageId": 1, "conversationId": 1})}
            for d in docs:
                case = cases.get(oid(d.get("caseId"))) or {}
                d.update(kind=case.get("kind"), subjectId=case.get("subjectId"),
                         messageId=case.get("messageId"), conversationId=case.get("conversationId"))
            return docs
        return outs(await self._db.io(work))

    async def uploads_of(self, user_id: str, after: str, limit: int) -> List[Dict[str, Any]]:
        """Uploads the user made (``_id`` a 24-hex string)."""
        return outs(await self._db.io(self._page, self.uploads, {"ownerId": user_id}, after or None, limit))

    # ------------------------------------------------------------------ erasure
    async def anonymise_user(self, user_id: str, name: str, now: int) -> None:
        """The directory entry keeps id, role and school; its name becomes ``name``, and
        ``erasedAt`` says why (a token's name claim does not replace it; a roster import does)."""
        await self._db.io(lambda: self.users.update_one(
            {"_id": user_id}, {"$set": {"name": name, "erasedAt": now, "updatedAt": now,
                                        "email": None, "tokenEmail": None}}))  # missed-message email's address

    async def rename_sender(self, messages: Sequence[Dict[str, Any]], name: str) -> None:
        """The sender name stored with these (erased, so deleted) messages becomes ``name``;
        a conversation whose last message is one of them shows that name and no preview."""
        def work() -> None:
            for msg in messages:
                self.messages.update_one({"_id": ObjectId(msg["id"])}, {"$set": {"senderName": name}})
                self.conversations.update_one({"_id": ObjectId(msg["conversationId"]), "lastMessage.id": msg["id"]},
                                              {"$set": {"lastMessage.senderName": name, "lastMessage.preview": None,
                                                        "lastMessage.deleted": 1}})
        if messages:
            await self._db.io(work)

    async def hide(self, message_id: str, actor: str, reason: str, now: int) -> bool:
        """Hide a message a hold keeps (its content stays, ``heldAt`` set, shown deleted with
        ``reason``); False when it was already deleted."""
        changed = await self._db.io(lambda: self.messages.update_one(
            {"_id": ObjectId(message_id), "deletedAt": {"$in": [None]}},
            {"$set": {"deletedAt": now, "deletedBy": actor, "deletedReason": reason, "heldAt": now,
                      "updatedAt": now}}))
        return bool(changed.modified_count)
