"""``messages`` with their ``edits`` (audit of old texts) and ``reactions``."""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from chat.store.db import UNSET, BulkWriteError, Database, DuplicateKeyError, ObjectId, ReturnDocument, encodable, oid
from chat.store.docs import out, outs, reaction_key, search_text, seq_key

MAX_SEQ_KEY = 10 ** 12 - 1
IMPORT_SLICE = 200


@dataclasses.dataclass(frozen=True)
class InsertOutcome:
    """What an ordered batch insert did: the first ``stored`` documents are stored; when
    ``refused`` is set, that document was refused for ``reason`` (``duplicate_client``: the
    sender already stored this clientMsgId; ``duplicate_seq``: the seq is taken;
    ``invalid``: the database cannot store the document) and those after it were not tried."""

    stored: int
    refused: Optional[int] = None
    reason: str = ""


def _body(doc: Dict[str, Any]) -> Dict[str, Any]:
    body = dict(doc)
    body["_id"] = oid(body.pop("id")) or ObjectId()
    body["seqKey"] = seq_key(doc["conversationId"], doc["seq"])
    body["textLower"] = search_text(doc.get("text"))
    body.setdefault("reactionKeys", [])  # nx-27017: $addToSet on a missing field does nothing
    return body


class Messages:
    """Message documents, edits and reactions."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.messages = db.collection("messages", durable=True)
        self.edits = db.collection("edits")
        self.reactions = db.collection("reactions")

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.messages.create_index([("senderId", 1), ("clientMsgId", 1)], unique=True)
        self.messages.create_index("clientMsgId")  # the planner ignores the compound one
        self.messages.create_index("seqKey", unique=True)
        self.messages.create_index("conversationId")
        self.messages.create_index("updatedAt")
        self.edits.create_index("messageId")
        self.reactions.create_index([("messageId", 1), ("userId", 1), ("emoji", 1)], unique=True)
        self.reactions.create_index("messageId")

    # ------------------------------------------------------------------ writing
    async def insert_batch(self, docs: Sequence[Dict[str, Any]]) -> InsertOutcome:
        """Insert messages whose ``seq`` is assigned, in order, in one round trip.

        Stops at the first document the database refuses and says which and why (see
        :class:`InsertOutcome`); a document that cannot be encoded at all is found before
        anything is sent, so it never takes the batch down with it. Raises ``Unavailable``
        when storage failed and what was stored is unknown.
        """
        bodies = [_body(d) for d in docs]

        def work() -> InsertOutcome:
            bad = next((i for i, b in enumerate(bodies) if not encodable(b)), None)
            batch = bodies if bad is None else bodies[:bad]
            if batch:
                try:
                    self.messages.insert_many(batch, ordered=True)
                except BulkWriteError as exc:
                    errors = exc.details.get("writeErrors") or []
                    if not errors:  # e.g. a write concern error: stored or not is unknown
                        raise
                    first = errors[0]
                    index = int(first.get("index", 0))
                    if first.get("code") == 11000:
                        described = "%s %s" % (first.get("errmsg", ""), first.get("keyPattern", ""))
                        reason = "duplicate_client" if "clientMsgId" in described else "duplicate_seq"
                    else:
                        reason = "invalid"
                    return InsertOutcome(index, index, reason)
            if bad is not None:
                return InsertOutcome(bad, bad, "invalid")
            return InsertOutcome(len(bodies))
        return await self._db.io(work)

    async def stored_ids(self, message_ids: Sequence[str]) -> Set[str]:
        """Which of these message ids are stored (the truth after an ambiguous failure)."""
        keys = [k for k in (oid(m) for m in message_ids) if k is not None]
        if not keys:
            return set()
        docs = await self._db.io(lambda: list(self.messages.find({"_id": {"$in": keys}}, {"_id": 1})))
        return {str(d["_id"]) for d in docs}

    async def insert_imported(self, conversation_id: str, first_seq: int, docs: Sequence[Dict[str, Any]]) -> None:
        """Insert imported history at consecutive seqs from ``first_seq`` (already reserved)."""
        bodies = [_body(dict(d, conversationId=conversation_id, seq=first_seq + i)) for i, d in enumerate(docs)]
        # in slices: one long insert would hold nx-27017's single lock for everyone
        for start in range(0, len(bodies), IMPORT_SLICE):
            part = bodies[start:start + IMPORT_SLICE]
            await self._db.io(lambda part=part: self.messages.insert_many(part, ordered=True))

    # ------------------------------------------------------------------ reading
    async def find_by_client_id(self, sender_id: str, client_msg_id: str) -> Optional[Dict[str, Any]]:
        return out(await self._db.io(self.messages.find_one, {"senderId": sender_id, "clientMsgId": client_msg_id}))

    async def get(self, message_id: str) -> Optional[Dict[str, Any]]:
        key = oid(message_id)
        if key is None:
            return None
        return out(await self._db.io(self.messages.find_one, {"_id": key}))

    async def newest(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The message with the highest seq (recovers ``lastSeq`` after an unclean stop)."""
        docs = await self.history(conversation_id, None, None, 1)
        return docs[0] if docs else None

    async def history(self, conversation_id: str, before: Optional[int], after: Optional[int],
                      limit: int) -> List[Dict[str, Any]]:
        """Up to ``limit`` messages by seq: the newest before ``before``, or the oldest after
        ``after``; ascending. Uses the single-field ``seqKey`` index (no conversation scan)."""
        upper = seq_key(conversation_id, before if before is not None else MAX_SEQ_KEY)

        def work() -> List[Dict[str, Any]]:
            if after is not None:
                query = {"seqKey": {"$gt": seq_key(conversation_id, after), "$lt": upper}}
                return list(self.messages.find(query).sort("seqKey", 1).limit(limit))
            query = {"seqKey": {"$gt": seq_key(conversation_id, 0), "$lt": upper}}
            docs = list(self.messages.find(query).sort("seqKey", -1).limit(limit))
            docs.reverse()
            return docs
        return outs(await self._db.io(work))

    async def changed_since(self, conversation_ids: Sequence[str], since: int, limit: int) -> List[Dict[str, Any]]:
        """Messages of these conversations edited, deleted or reacted to after ``since``,
        oldest change first."""
        ids = list(conversation_ids)
        if not ids:
            return []
        return outs(await self._db.io(lambda: list(self.messages.find(
            {"updatedAt": {"$gt": since}, "conversationId": {"$in": ids}}).sort("updatedAt", 1).limit(limit))))

    async def changed_any(self, since: int, limit: int) -> List[Dict[str, Any]]:
        """Messages of any conversation changed after ``since``, oldest change first (one
        range on ``updatedAt``)."""
        return outs(await self._db.io(lambda: list(self.messages.find(
            {"updatedAt": {"$gt": since}}).sort("updatedAt", 1).limit(limit))))

    async def count_countable(self, conversation_id: str, user_id: str, after_seq: int, upto_seq: int
                              ) -> Tuple[int, int]:
        """Messages in seqs (after_seq, upto_seq] that count as unread for ``user_id`` (sent by
        someone else, not deleted, not system), and how many of those mention the user. One
        range query on ``seqKey``."""
        if upto_seq <= after_seq:
            return 0, 0
        # find, not count_documents: nx-27017 counts a range by scanning the collection
        query = {"seqKey": {"$gt": seq_key(conversation_id, after_seq), "$lte": seq_key(conversation_id, upto_seq)},
                 "senderId": {"$ne": user_id}, "deletedAt": UNSET, "type": {"$ne": "system"}}

        def work() -> Tuple[int, int]:
            found = list(self.messages.find(query, {"mentions": 1}))
            return len(found), sum(1 for d in found if user_id in (d.get("mentions") or ()))
        return await self._db.io(work)

    async def get_many(self, message_ids: Sequence[str]) -> List[Dict[str, Any]]:
        """The messages with these ids (absent ones left out): one ``_id`` ``$in``."""
        keys = [k for k in (oid(m) for m in message_ids) if k is not None]
        if not keys:
            return []
        return outs(await self._db.io(lambda: list(self.messages.find({"_id": {"$in": keys}}))))

    async def search_changed(self, conversation_ids: Sequence[str], since: int, needle: str, limit: int
                             ) -> List[Dict[str, Any]]:
        """Live messages of these conversations edited after ``since`` whose text contains
        ``needle`` (what the search index may not have seen), from at most ``limit`` changes:
        one range on the ``updatedAt`` index, the rest checked here (nx-27017 would otherwise
        plan on ``conversationId`` and scan whole conversations). A full answer means more
        changes than ``limit``: the caller cannot rely on it."""
        ids = set(conversation_ids)
        if not ids:
            return []

        def work() -> List[Dict[str, Any]]:
            changed = list(self.messages.find({"updatedAt": {"$gt": since}}).sort("updatedAt", 1).limit(limit))
            if len(changed) >= limit:
                return changed
            return [d for d in changed if d.get("conversationId") in ids and (d.get("editedAt") or 0) > since
                    and d.get("deletedAt") is None and needle in (d.get("textLower") or "")]
        return outs(await self._db.io(work))

    async def search_range(self, conversation_id: str, lower: int, upper: int, needle: str, limit: int
                           ) -> List[Dict[str, Any]]:
        """Live messages with seq in (lower, upper) whose lowercased text contains ``needle``
        (already lowercased), newest first: one short query on the ``seqKey`` index."""
        query = {"seqKey": {"$gt": seq_key(conversation_id, lower), "$lt": seq_key(conversation_id, upper)},
                 "textLower": {"$regex": re.escape(needle)}, "deletedAt": UNSET}
        return outs(await self._db.io(lambda: list(self.messages.find(query).sort("seqKey", -1).limit(limit))))

    # ------------------------------------------------------------------ changing
    async def edit(self, message_id: str, sender_id: str, text: str, now: int) -> Optional[Dict[str, Any]]:
        """Replace the text of a live message of this sender, keeping the old text in ``edits``.
        Returns the message after, or None when no such live message."""
        key = ObjectId(message_id)

        def work() -> Optional[Dict[str, Any]]:
            before = self.messages.find_one_and_update(
                {"_id": key, "senderId": sender_id, "deletedAt": UNSET},
                {"$set": {"text": text, "textLower": search_text(text), "editedAt": now, "updatedAt": now}},
                return_document=ReturnDocument.BEFORE)
            if before is None:
                return None
            self.edits.insert_one({"messageId": message_id, "conversationId": before["conversationId"],
                                   "text": before.get("text"), "editorId": sender_id, "editedAt": now})
            before["text"], before["editedAt"], before["updatedAt"] = text, now, now
            return out(before)
        return await self._db.io(work)

    async def soft_delete(self, message_id: str, actor_id: str, now: int) -> Optional[Dict[str, Any]]:
        """Set ``deletedAt``/``deletedBy`` (the text stays for audit). None when already deleted."""
        key = ObjectId(message_id)
        return out(await self._db.io(lambda: self.messages.find_one_and_update(
            {"_id": key, "deletedAt": UNSET},
            {"$set": {"deletedAt": now, "deletedBy": actor_id, "updatedAt": now}},
            return_document=ReturnDocument.AFTER)))

    async def insert_reaction(self, message_id: str, conversation_id: str, user_id: str, emoji: str,
                              now: int) -> Tuple[bool, Optional[Dict[str, Any]]]:
        """Record one reaction (unique per message, user and emoji) and its key
        ``emoji|userId`` in the message's ``reactionKeys`` (so pages need no second query).
        Returns (added, the message after)."""
        key = ObjectId(message_id)

        def work() -> Tuple[bool, Optional[Dict[str, Any]]]:
            try:
                self.reactions.insert_one({"messageId": message_id, "conversationId": conversation_id,
                                           "userId": user_id, "emoji": emoji, "createdAt": now})
            except DuplicateKeyError:
                return False, out(self.messages.find_one({"_id": key}))
            after = self.messages.find_one_and_update(
                {"_id": key}, {"$addToSet": {"reactionKeys": reaction_key(emoji, user_id)},
                               "$set": {"updatedAt": now}},
                return_document=ReturnDocument.AFTER)
            return True, out(after)
        return await self._db.io(work)

    async def remove_reaction(self, message_id: str, user_id: str, emoji: str, now: int
                              ) -> Tuple[bool, Optional[Dict[str, Any]]]:
        """Remove one; returns (whether it existed, the message after)."""
        key = ObjectId(message_id)

        def work() -> Tuple[bool, Optional[Dict[str, Any]]]:
            gone = self.reactions.delete_one({"messageId": message_id, "userId": user_id, "emoji": emoji})
            if not gone.deleted_count:
                return False, out(self.messages.find_one({"_id": key}))
            after = self.messages.find_one_and_update(
                {"_id": key}, {"$pull": {"reactionKeys": reaction_key(emoji, user_id)}, "$set": {"updatedAt": now}},
                return_document=ReturnDocument.AFTER)
            return True, out(after)
        return await self._db.io(work)


