"""``conversations`` and their ``memberships`` (one document per member: role, markers,
unread counter, per-user flags)."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from chat.errors import NotFound
from chat.store.db import Database, DuplicateKeyError, ObjectId, ReturnDocument, UpdateOne, oid
from chat.store.docs import membership_id, out, outs
from chat.vocab import Marker

#: a flushed conversation: (conversationId, lastSeq, lastMessage summary, lastActivityAt)
FlushRow = Tuple[str, int, Optional[Dict[str, Any]], int]


class Conversations:
    """Conversation documents and memberships."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.conversations = db.collection("conversations")
        self.memberships = db.collection("memberships")

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.conversations.create_index("key", unique=True)
        self.conversations.create_index("memberIds")
        self.conversations.create_index("classId")
        self.memberships.create_index("userId")
        self.memberships.create_index("conversationId")

    # ------------------------------------------------------------------ conversations
    async def insert(self, doc: Dict[str, Any]) -> Tuple[Dict[str, Any], bool]:
        """Insert; on a duplicate ``key`` return the existing one. Returns (doc, created)."""
        body = dict(doc)
        body["_id"] = ObjectId(body.pop("id"))

        def work() -> Tuple[Optional[Dict[str, Any]], bool]:
            try:
                self.conversations.insert_one(body)
                return out(body), True
            except DuplicateKeyError:
                return out(self.conversations.find_one({"key": doc["key"]})), False
        found, created = await self._db.io(work)
        if found is None:
            raise NotFound("no such conversation")
        return found, created

    async def get(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        key = oid(conversation_id)
        if key is None:
            return None
        return out(await self._db.io(self.conversations.find_one, {"_id": key}))

    async def get_many(self, conversation_ids: Iterable[str]) -> List[Dict[str, Any]]:
        keys = [k for k in (oid(c) for c in set(conversation_ids)) if k is not None]
        if not keys:
            return []
        return outs(await self._db.io(lambda: list(self.conversations.find({"_id": {"$in": keys}}))))

    async def seq_page(self, after: Optional[str], limit: int) -> List[Tuple[str, int]]:
        """``(id, lastSeq)`` of up to ``limit`` conversations after id ``after``, in id order
        (the search indexer walks every conversation this way, one short query a page)."""
        query: Dict[str, Any] = {}
        key = oid(after) if after else None
        if key is not None:
            query["_id"] = {"$gt": key}

        def work() -> List[Tuple[str, int]]:
            found = self.conversations.find(query, {"lastSeq": 1}).sort("_id", 1).limit(limit)
            return [(str(d["_id"]), int(d.get("lastSeq") or 0)) for d in found]
        return await self._db.io(work)

    async def of_user(self, user_id: str) -> List[Dict[str, Any]]:
        """Through ``memberships.userId`` (an equality on an index) and ``_id`` ``$in``."""
        def work() -> List[Dict[str, Any]]:
            ids = [ObjectId(m["conversationId"])
                   for m in self.memberships.find({"userId": user_id}, {"conversationId": 1})]
            return list(self.conversations.find({"_id": {"$in": ids}})) if ids else []
        return outs(await self._db.io(work))

    async def of_class(self, class_id: str) -> List[Dict[str, Any]]:
        """The class's class and announcement conversations (``classId`` is indexed; one
        equality query per class: ``$in`` over it would scan)."""
        fields = {"type": 1, "title": 1, "classId": 1, "school": 1, "key": 1, "createdAt": 1}
        return outs(await self._db.io(lambda: list(self.conversations.find({"classId": class_id}, fields))))

    async def contact_groups(self) -> List[Dict[str, Any]]:
        """Every direct and group conversation's school and members (presence contacts);
        read once at start-up, then kept current from events."""
        def work() -> List[Dict[str, Any]]:
            fields = {"school": 1, "memberIds": 1}
            return [d for kind in ("direct", "group") for d in self.conversations.find({"type": kind}, fields)]
        return outs(await self._db.io(work))

    async def set_fields(self, conversation_id: str, fields: Dict[str, Any]) -> None:
        await self._db.io(lambda: self.conversations.update_one({"_id": ObjectId(conversation_id)},
                                                                {"$set": fields}))

    async def flush(self, rows: Sequence[FlushRow]) -> None:
        """Persist live (lastSeq, lastMessage, lastActivityAt) in one round trip; ``$max``
        keeps a stale flush from moving anything backwards."""
        if not rows:
            return
        ops = [UpdateOne({"_id": ObjectId(cid), "lastSeq": {"$lte": last_seq}},
                         {"$max": {"lastSeq": last_seq, "lastActivityAt": activity},
                          "$set": {"lastMessage": summary}}) for cid, last_seq, summary, activity in rows]
        await self._db.io(lambda: self.conversations.bulk_write(ops, ordered=False))

    async def raise_last_seq(self, conversation_id: str, seq: int) -> None:
        """Move the stored ``lastSeq`` up to ``seq`` (``$max``: never down), for messages stored
        with seqs from a cluster's counter (imports)."""
        await self._db.io(lambda: self.conversations.update_one({"_id": ObjectId(conversation_id)},
                                                                {"$max": {"lastSeq": seq}}))

    async def reserve_seqs(self, conversation_id: str, count: int) -> int:
        """Reserve ``count`` seqs with one ``$inc`` of ``lastSeq`` (imports into a single
        process's database); returns the first one."""
        key = ObjectId(conversation_id)

        def work() -> Optional[Dict[str, Any]]:
            return self.conversations.find_one_and_update(  # type: ignore[no-any-return]
                {"_id": key}, {"$inc": {"lastSeq": count}}, projection={"lastSeq": 1},
                return_document=ReturnDocument.AFTER)
        conv = await self._db.io(work)
        if conv is None:
            raise NotFound("no such conversation")
        return int(conv["lastSeq"]) - count + 1

    # ------------------------------------------------------------------ memberships
    async def add_members(self, conversation_id: str, members: Sequence[Tuple[str, str]], now: int,
                          read_upto: int = 0) -> List[str]:
        """Add (userId, role) pairs; returns the user ids that were not members before. New
        members start with everything up to ``read_upto`` read."""
        def work() -> List[str]:
            ids = [m[0] for m in members]
            existing = {d["userId"] for d in self.memberships.find(
                {"_id": {"$in": [membership_id(conversation_id, u) for u in ids]}}, {"userId": 1})}
            fresh = [(u, r) for u, r in members if u not in existing]
            if fresh:
                self.memberships.bulk_write([UpdateOne(
                    {"_id": membership_id(conversation_id, u)},
                    {"$setOnInsert": {"conversationId": conversation_id, "userId": u, "role": r, "joinedAt": now,
                                      "lastReadSeq": read_upto, "lastReadAt": None, "lastDeliveredSeq": read_upto,
                                      "lastDeliveredAt": None, "unread": 0, "unreadMentions": 0, "unreadSeq": read_upto,
                                      "unreadFrom": read_upto,
                                      "mutedUntil": None, "pinnedAt": None, "archivedAt": None}}, upsert=True)
                    for u, r in fresh],
                    ordered=False)
                for u, _r in fresh:
                    self.conversations.update_one({"_id": ObjectId(conversation_id)},
                                                  {"$addToSet": {"memberIds": u}})
            return [u for u, _r in fresh]
        return await self._db.io(work)

    async def remove_member(self, conversation_id: str, user_id: str) -> bool:
        """Remove a member; False when it was not one."""
        def work() -> bool:
            gone = self.memberships.delete_one({"_id": membership_id(conversation_id, user_id)}).deleted_count
            self.conversations.update_one({"_id": ObjectId(conversation_id)}, {"$pull": {"memberIds": user_id}})
            return bool(gone)
        return await self._db.io(work)

    async def membership(self, conversation_id: str, user_id: str) -> Optional[Dict[str, Any]]:
        return out(await self._db.io(self.memberships.find_one, {"_id": membership_id(conversation_id, user_id)}))

    async def memberships_of_user(self, user_id: str) -> List[Dict[str, Any]]:
        return outs(await self._db.io(lambda: list(self.memberships.find({"userId": user_id}))))

    async def memberships_of(self, conversation_ids: Iterable[str]) -> List[Dict[str, Any]]:
        ids = list(set(conversation_ids))
        if not ids:
            return []
        # one equality query per conversation: nx-27017 answers $in on this index with a scan
        return outs(await self._db.io(
            lambda: [m for cid in ids for m in self.memberships.find({"conversationId": cid})]))

    async def set_membership_fields(self, conversation_id: str, user_id: str, fields: Dict[str, Any]) -> None:
        await self._db.io(lambda: self.memberships.update_one({"_id": membership_id(conversation_id, user_id)},
                                                              {"$set": fields}))

    async def advance_marker(self, conversation_id: str, user_id: str, kind: str, seq: int, now: int
                             ) -> Optional[Dict[str, Any]]:
        """Move ``lastReadSeq``/``lastDeliveredSeq`` forward only and stamp its time when it
        moved (reading implies delivery). Returns the membership after."""
        field = "lastReadSeq" if kind == Marker.READ else "lastDeliveredSeq"
        at_field = "lastReadAt" if kind == Marker.READ else "lastDeliveredAt"
        mid = membership_id(conversation_id, user_id)

        def work() -> Optional[Dict[str, Any]]:
            moved = self.memberships.update_one({"_id": mid, field: {"$lt": seq}},
                                                {"$set": {field: seq, at_field: now}}).modified_count
            if kind == Marker.READ and moved:
                self.memberships.update_one({"_id": mid, "lastDeliveredSeq": {"$lt": seq}},
                                            {"$set": {"lastDeliveredSeq": seq, "lastDeliveredAt": now}})
            return out(self.memberships.find_one({"_id": mid}))
        return await self._db.io(work)

    async def set_unread(self, conversation_id: str, user_id: str, unread: int, mentions: int, unread_seq: int,
                         unread_from: int, expect: Dict[str, int]) -> bool:
        """Store a recounted ``unread`` over seqs (``unread_from``, ``unread_seq``] if the
        membership still has the ``expect`` field values it was counted from (a
        compare-and-set: concurrent counters never add up twice). Returns whether it was
        written."""
        query: Dict[str, Any] = {"_id": membership_id(conversation_id, user_id)}
        query.update(expect)
        result = await self._db.io(lambda: self.memberships.update_one(
            query, {"$set": {"unread": max(0, unread), "unreadMentions": max(0, mentions), "unreadSeq": unread_seq,
                             "unreadFrom": unread_from}}))
        return bool(result.matched_count)

    async def uncount_deleted(self, conversation_id: str, sender_id: str, seq: int, mentioned: Sequence[str]
                              ) -> None:
        """One fewer unread for every member whose counter had counted the message at
        ``seq`` (``unreadFrom < seq <= unreadSeq``), and one fewer mention for those it
        mentioned."""
        counted = {"unreadFrom": {"$lt": seq}, "unreadSeq": {"$gte": seq}}

        def work() -> None:
            self.memberships.update_many(dict(counted, conversationId=conversation_id, userId={"$ne": sender_id},
                                              unread={"$gt": 0}), {"$inc": {"unread": -1}})
            for uid in mentioned:  # equality on the membership id: no scan
                self.memberships.update_one(dict(counted, _id=membership_id(conversation_id, uid),
                                                 unreadMentions={"$gt": 0}), {"$inc": {"unreadMentions": -1}})
        await self._db.io(work)
