"""MongoDB access. The only module that imports pymongo/bson.

Every pymongo call runs in a bounded ThreadPoolExecutor, entered at one seam
(:meth:`Store._io`), so the IOLoop never blocks on storage. Documents leave this module
as plain dicts whose ``_id`` is rendered as the string ``id``.

The queries keep to a subset that behaves identically on nx-27017 and real MongoDB
(see README "Storage rules"): ObjectId only as ``_id``, references as strings, integer
epoch-millisecond times, no booleans written by update, no subdocuments pushed into
arrays, single-field indexes for hot queries, ``{"$in": [None]}`` instead of ``None`` equality (nx-27017's ``count_documents`` matches
nothing on the latter) and ``{"$in": [v]}`` for array membership (see :func:`has`).

Measured on nx-27017 and so avoided on hot paths: ``$in`` over an indexed field other than
``_id`` scans the collection, ``$or`` is slower still, and ``count_documents`` with a range
scans too; equality, ``_id`` ``$in`` and single-field ranges use their index.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar

import pymongo
import pymongo.errors
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument, UpdateOne

from chat.errors import Duplicate, NotFound, Unavailable

log = logging.getLogger("chat.store")

T = TypeVar("T")

#: matches a field that is null or missing (works in find and count on both backends)
UNSET: Dict[str, Any] = {"$in": [None]}


def has(value: Any) -> Dict[str, Any]:
    """Array-membership filter. nx-27017 matches nothing for plain equality on an *indexed*
    array field; ``$in`` with one value means the same on both backends."""
    return {"$in": [value]}


def oid(value: Any) -> Optional[ObjectId]:
    """An ObjectId from a 24-hex string, or None for anything else."""
    if isinstance(value, str) and len(value) == 24:
        try:
            return ObjectId(value)
        except (InvalidId, TypeError):
            return None
    return None


def new_id() -> str:
    """A fresh ObjectId hex string (ids are generated before insert)."""
    return str(ObjectId())


def seq_key(conversation_id: str, seq: int) -> str:
    """Sortable single-field key for (conversation, seq): the planner ignores compound indexes."""
    return "%s:%012d" % (conversation_id, seq)


def reaction_key(emoji: str, user_id: str) -> str:
    """How a reaction is kept in a message's ``reactionKeys`` (emojis never contain ``|``)."""
    return emoji + "|" + user_id


def search_text(text: Optional[str]) -> str:
    """The stored search form of a text: lowercased, so search needs no case-insensitive
    regex (nx-27017 evaluates those outside SQL, ~100x slower)."""
    return (text or "").lower()


def _out(doc: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if doc is None:
        return None
    if "_id" in doc:
        doc["id"] = str(doc.pop("_id"))
    doc.pop("textLower", None)
    return doc


def _outs(docs: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [_out(d) for d in docs]  # type: ignore[misc]


def ping_uri(uri: str, timeout_ms: int = 500) -> bool:
    """True when a MongoDB at ``uri`` answers ``ping`` (blocking; for start-up checks)."""
    client: pymongo.MongoClient = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms, directConnection=True)
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


class Store:
    """Async facade over the collections: users, classes, conversations, memberships,
    messages, edits, reactions."""

    def __init__(self, uri: str, db_name: str, workers: int = 8, timeout_ms: int = 2000) -> None:
        self.uri = uri
        self.db_name = db_name
        self._client: pymongo.MongoClient = pymongo.MongoClient(
            uri,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=max(timeout_ms * 2, 1000),  # a frozen database answers unavailable, not a hang
            maxPoolSize=max(workers, 1) + 2,
            retryWrites=False,
            retryReads=False,  # an outage answers within ~2 timeouts; clients retry (idempotently)
        )
        self._db = self._client[db_name]
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store")
        self.users = self._db["users"]
        self.classes = self._db["classes"]
        self.conversations = self._db["conversations"]
        self.memberships = self._db["memberships"]
        self.messages = self._db["messages"]
        self.edits = self._db["edits"]
        self.reactions = self._db["reactions"]

    # ------------------------------------------------------------------ the seam
    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking pymongo work in the executor; storage failures become ``Unavailable``."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except pymongo.errors.DuplicateKeyError as exc:
            raise Duplicate() from exc
        except pymongo.errors.BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if errors and all(e.get("code") == 11000 for e in errors):
                raise Duplicate() from exc
            log.warning("storage error: %s", exc)
            raise Unavailable() from exc
        except pymongo.errors.PyMongoError as exc:
            log.warning("storage error: %s: %s", exc.__class__.__name__, exc)
            raise Unavailable() from exc

    def close(self) -> None:
        """Stop the executor and close the client."""
        self._executor.shutdown(wait=True)
        self._client.close()

    async def ping(self) -> bool:
        """True when storage answers."""
        try:
            await self._io(self._client.admin.command, "ping")
            return True
        except Unavailable:
            return False

    async def ensure_indexes(self) -> None:
        """Create every index; idempotent (safe at each start-up)."""
        def work() -> None:
            self.users.create_index("school")
            self.classes.create_index("school")
            self.classes.create_index("teacherIds")
            self.classes.create_index("studentIds")
            self.conversations.create_index("key", unique=True)
            self.conversations.create_index("memberIds")
            self.conversations.create_index("classId")
            self.memberships.create_index("userId")
            self.memberships.create_index("conversationId")
            self.messages.create_index([("senderId", 1), ("clientMsgId", 1)], unique=True)
            self.messages.create_index("clientMsgId")  # the planner ignores the compound one
            self.messages.create_index("seqKey", unique=True)
            self.messages.create_index("conversationId")
            self.messages.create_index("updatedAt")
            self.edits.create_index("messageId")
            self.reactions.create_index([("messageId", 1), ("userId", 1), ("emoji", 1)], unique=True)
            self.reactions.create_index("messageId")
        await self._io(work)

    # ------------------------------------------------------------------ users and classes
    async def upsert_user(self, user_id: str, name: str, role: str, school: str, now: int) -> None:
        """Insert or refresh a directory user (from token claims or a roster)."""
        fields: Dict[str, Any] = {"role": role, "school": school, "updatedAt": now}
        if name:
            fields["name"] = name
        await self._io(lambda: self.users.update_one(
            {"_id": user_id}, {"$set": fields, "$setOnInsert": {"createdAt": now}}, upsert=True))

    async def upsert_users(self, users: Sequence[Dict[str, Any]], now: int) -> int:
        """Bulk roster upsert; returns how many were new."""
        if not users:
            return 0
        ops = [UpdateOne({"_id": u["id"]},
                         {"$set": {"name": u["name"], "role": u["role"], "school": u["school"], "updatedAt": now},
                          "$setOnInsert": {"createdAt": now}}, upsert=True) for u in users]
        result = await self._io(lambda: self.users.bulk_write(ops, ordered=False))
        return result.upserted_count

    async def get_user(self, user_id: str) -> Optional[Dict[str, Any]]:
        return _out(await self._io(self.users.find_one, {"_id": user_id}))

    async def get_users(self, user_ids: Iterable[str]) -> Dict[str, Dict[str, Any]]:
        """Users by id (missing ids are absent from the result)."""
        ids = list(set(user_ids))
        if not ids:
            return {}
        docs = await self._io(lambda: list(self.users.find({"_id": {"$in": ids}})))
        return {d["id"]: d for d in _outs(docs)}

    async def find_users(self, school: str, q: str = "", role: str = "", limit: int = 50) -> List[Dict[str, Any]]:
        """Same-school users, optionally by role and case-insensitive name/id substring."""
        query: Dict[str, Any] = {"school": school}
        if role:
            query["role"] = role
        needle = q.lower()

        def work() -> List[Dict[str, Any]]:
            if not q:
                return list(self.users.find(query).sort("name", 1).limit(limit))
            # filtered here: $or and case-insensitive $regex take nx-27017's slow path
            found = [u for u in self.users.find(query, {"name": 1, "role": 1, "school": 1})
                     if needle in str(u["_id"]).lower() or needle in (u.get("name") or "").lower()]
            found.sort(key=lambda u: (u.get("name") or "", u["_id"]))
            return found[:limit]
        return _outs(await self._io(work))

    async def set_last_seen(self, user_id: str, when: int) -> None:
        await self._io(lambda: self.users.update_one({"_id": user_id}, {"$max": {"lastSeenAt": when}}))

    async def upsert_classes(self, classes: Sequence[Dict[str, Any]], now: int) -> int:
        """Bulk roster upsert of classes; returns how many were new."""
        if not classes:
            return 0
        ops = [UpdateOne({"_id": c["id"]},
                         {"$set": {"school": c["school"], "name": c["name"], "teacherIds": list(c["teacherIds"]),
                                   "studentIds": list(c["studentIds"]), "updatedAt": now},
                          "$setOnInsert": {"createdAt": now}}, upsert=True) for c in classes]
        result = await self._io(lambda: self.classes.bulk_write(ops, ordered=False))
        return result.upserted_count

    async def get_class(self, class_id: str) -> Optional[Dict[str, Any]]:
        return _out(await self._io(self.classes.find_one, {"_id": class_id}))

    async def classes_of_user(self, user_id: str) -> List[Dict[str, Any]]:
        """Classes the user teaches or is enrolled in (each doc carries both id lists)."""
        def work() -> List[Dict[str, Any]]:
            taught = list(self.classes.find({"teacherIds": has(user_id)}))
            seen = {c["_id"] for c in taught}
            return taught + [c for c in self.classes.find({"studentIds": has(user_id)}) if c["_id"] not in seen]
        return _outs(await self._io(work))

    # ------------------------------------------------------------------ conversations
    async def insert_conversation(self, doc: Dict[str, Any]) -> Tuple[Dict[str, Any], bool]:
        """Insert; on a duplicate ``key`` return the existing one. Returns (doc, created)."""
        body = dict(doc)
        body["_id"] = ObjectId(body.pop("id"))

        def work() -> Tuple[Dict[str, Any], bool]:
            try:
                self.conversations.insert_one(body)
                return _out(body), True  # type: ignore[return-value]
            except pymongo.errors.DuplicateKeyError:
                return _out(self.conversations.find_one({"key": doc["key"]})), False  # type: ignore[return-value]
        return await self._io(work)

    async def get_conversation(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        key = oid(conversation_id)
        if key is None:
            return None
        return _out(await self._io(self.conversations.find_one, {"_id": key}))

    async def get_conversations(self, conversation_ids: Iterable[str]) -> List[Dict[str, Any]]:
        keys = [k for k in (oid(c) for c in set(conversation_ids)) if k is not None]
        if not keys:
            return []
        return _outs(await self._io(lambda: list(self.conversations.find({"_id": {"$in": keys}}))))

    async def conversations_of_user(self, user_id: str) -> List[Dict[str, Any]]:
        """Through ``memberships.userId`` (an equality on an index) and ``_id`` ``$in``."""
        def work() -> List[Dict[str, Any]]:
            ids = [ObjectId(m["conversationId"]) for m in self.memberships.find({"userId": user_id}, {"conversationId": 1})]
            return list(self.conversations.find({"_id": {"$in": ids}})) if ids else []
        return _outs(await self._io(work))

    async def set_conversation_fields(self, conversation_id: str, fields: Dict[str, Any]) -> None:
        await self._io(lambda: self.conversations.update_one({"_id": ObjectId(conversation_id)}, {"$set": fields}))

    async def add_members(self, conversation_id: str, members: Sequence[Tuple[str, str]], now: int,
                          read_upto: int = 0) -> List[str]:
        """Add (userId, role) pairs; returns the user ids that were not members before. New
        members start with everything up to ``read_upto`` read."""
        def work() -> List[str]:
            ids = [m[0] for m in members]
            existing = {d["userId"] for d in self.memberships.find(
                {"_id": {"$in": [self._mid(conversation_id, u) for u in ids]}}, {"userId": 1})}
            fresh = [(u, r) for u, r in members if u not in existing]
            if fresh:
                self.memberships.bulk_write([UpdateOne(
                    {"_id": self._mid(conversation_id, u)},
                    {"$setOnInsert": {"conversationId": conversation_id, "userId": u, "role": r, "joinedAt": now,
                                      "lastReadSeq": read_upto, "lastReadAt": None, "lastDeliveredSeq": read_upto,
                                      "lastDeliveredAt": None, "unread": 0, "unreadSeq": read_upto,
                                      "mutedUntil": None, "pinnedAt": None, "archivedAt": None}}, upsert=True)
                    for u, r in fresh],
                    ordered=False)
                for u, _r in fresh:
                    self.conversations.update_one({"_id": ObjectId(conversation_id)}, {"$addToSet": {"memberIds": u}})
            return [u for u, _r in fresh]
        return await self._io(work)

    async def remove_member(self, conversation_id: str, user_id: str) -> bool:
        """Remove a member; False when it was not one."""
        def work() -> bool:
            gone = self.memberships.delete_one({"_id": self._mid(conversation_id, user_id)}).deleted_count
            self.conversations.update_one({"_id": ObjectId(conversation_id)}, {"$pull": {"memberIds": user_id}})
            return bool(gone)
        return await self._io(work)

    # ------------------------------------------------------------------ memberships
    @staticmethod
    def _mid(conversation_id: str, user_id: str) -> str:
        return conversation_id + ":" + user_id

    async def get_membership(self, conversation_id: str, user_id: str) -> Optional[Dict[str, Any]]:
        return _out(await self._io(self.memberships.find_one, {"_id": self._mid(conversation_id, user_id)}))

    async def memberships_of_user(self, user_id: str) -> List[Dict[str, Any]]:
        return _outs(await self._io(lambda: list(self.memberships.find({"userId": user_id}))))

    async def memberships_of(self, conversation_ids: Iterable[str]) -> List[Dict[str, Any]]:
        ids = list(set(conversation_ids))
        if not ids:
            return []
        # one equality query per conversation: nx-27017 answers $in on this index with a scan
        return _outs(await self._io(lambda: [m for cid in ids for m in self.memberships.find({"conversationId": cid})]))

    async def set_membership_fields(self, conversation_id: str, user_id: str, fields: Dict[str, Any]) -> None:
        await self._io(lambda: self.memberships.update_one({"_id": self._mid(conversation_id, user_id)},
                                                           {"$set": fields}))

    async def advance_marker(self, conversation_id: str, user_id: str, kind: str, seq: int, last_seq: int,
                             now: int) -> Optional[Dict[str, Any]]:
        """Move ``lastReadSeq``/``lastDeliveredSeq`` forward only and stamp its time when it
        moved; for ``read`` also recount ``unread`` exactly up to ``last_seq``. Returns the
        membership after."""
        field = "lastReadSeq" if kind == "read" else "lastDeliveredSeq"
        at_field = "lastReadAt" if kind == "read" else "lastDeliveredAt"
        mid = self._mid(conversation_id, user_id)

        def work() -> Optional[Dict[str, Any]]:
            moved = self.memberships.update_one({"_id": mid, field: {"$lt": seq}},
                                                {"$set": {field: seq, at_field: now}}).modified_count
            if kind == "read" and moved:
                # reading implies delivery: the delivered marker never trails the read one
                self.memberships.update_one({"_id": mid, "lastDeliveredSeq": {"$lt": seq}},
                                            {"$set": {"lastDeliveredSeq": seq, "lastDeliveredAt": now}})
            doc = self.memberships.find_one({"_id": mid})
            if doc is None or kind != "read":
                return _out(doc)
            upto = max(last_seq, doc["lastReadSeq"])
            unread = self._count_unread(conversation_id, user_id, doc["lastReadSeq"], upto)
            if unread != doc.get("unread") or doc.get("unreadSeq") != upto:
                self.memberships.update_one({"_id": mid}, {"$set": {"unread": unread, "unreadSeq": upto}})
                doc["unread"], doc["unreadSeq"] = unread, upto
            return _out(doc)
        return await self._io(work)

    def _count_unread(self, conversation_id: str, user_id: str, after_seq: int, upto_seq: int) -> int:
        if upto_seq <= after_seq:
            return 0
        # find + len, not count_documents: nx-27017 counts a range by scanning the collection
        return len(list(self.messages.find({
            "seqKey": {"$gt": seq_key(conversation_id, after_seq), "$lte": seq_key(conversation_id, upto_seq)},
            "senderId": {"$ne": user_id}, "deletedAt": UNSET, "type": {"$ne": "system"}}, {"_id": 1})))

    async def catch_up_unread(self, stale: Sequence[Tuple[Dict[str, Any], int]]) -> None:
        """Bring ``unread`` of memberships up to their conversation's ``lastSeq`` by counting
        only the messages after ``unreadSeq`` (each message is counted once per member, when
        that member looks). Updates the given membership dicts in place."""
        def work() -> None:
            for m, last_seq in stale:
                counted = m.get("unreadSeq", m.get("lastReadSeq", 0))
                extra = self._count_unread(m["conversationId"], m["userId"], counted, last_seq)
                mid = self._mid(m["conversationId"], m["userId"])
                done = self.memberships.update_one({"_id": mid, "unreadSeq": counted} if "unreadSeq" in m else
                                                   {"_id": mid}, {"$inc": {"unread": extra},
                                                                  "$set": {"unreadSeq": last_seq}}).modified_count
                if done:
                    m["unread"] = m.get("unread", 0) + extra
                    m["unreadSeq"] = last_seq
                else:  # another request caught it up first: take its result
                    fresh = self.memberships.find_one({"_id": mid})
                    if fresh is not None:
                        m["unread"], m["unreadSeq"] = fresh.get("unread", 0), fresh.get("unreadSeq", last_seq)
        await self._io(work)

    # ------------------------------------------------------------------ messages
    async def insert_messages(self, docs: Sequence[Dict[str, Any]]) -> None:
        """Insert messages whose ``seq`` is already assigned, in one round trip, in order.

        Raises :class:`Duplicate` with the position of the first refused document (those before
        it are stored, those after it are not) and the unique key that refused it.
        """
        bodies = []
        for doc in docs:
            body = dict(doc)
            body["_id"] = ObjectId(body.pop("id"))
            body["seqKey"] = seq_key(doc["conversationId"], doc["seq"])
            body["textLower"] = search_text(doc.get("text"))
            body.setdefault("reactionKeys", [])  # nx-27017: $addToSet on a missing field does nothing
            bodies.append(body)

        def work() -> None:
            try:
                self.messages.insert_many(bodies, ordered=True)
            except pymongo.errors.BulkWriteError as exc:
                first = (exc.details.get("writeErrors") or [{}])[0]
                if first.get("code") != 11000:
                    raise
                described = "%s %s" % (first.get("errmsg", ""), first.get("keyPattern", ""))
                raise Duplicate("duplicate message", index=first.get("index"),
                                field="clientMsgId" if "clientMsgId" in described else "seqKey") from exc
        await self._io(work)

    async def newest_message(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The message with the highest seq (recovers ``lastSeq`` after an unclean stop)."""
        docs = await self.history(conversation_id, None, None, 1)
        return docs[0] if docs else None

    async def flush_conversations(self, states: Sequence[Tuple[str, int, Optional[Dict[str, Any]], int]]) -> None:
        """Persist (conversationId, lastSeq, lastMessage, lastActivityAt) in one round trip;
        ``$max`` keeps a stale flush from moving anything backwards."""
        if not states:
            return
        ops = [UpdateOne({"_id": ObjectId(cid), "lastSeq": {"$lte": last_seq}},
                         {"$max": {"lastSeq": last_seq, "lastActivityAt": activity},
                          "$set": {"lastMessage": summary}}) for cid, last_seq, summary, activity in states]
        await self._io(lambda: self.conversations.bulk_write(ops, ordered=False))

    async def find_by_client_id(self, sender_id: str, client_msg_id: str) -> Optional[Dict[str, Any]]:
        return _out(await self._io(self.messages.find_one, {"senderId": sender_id, "clientMsgId": client_msg_id}))

    async def import_messages(self, conversation_id: str, docs: Sequence[Dict[str, Any]]) -> int:
        """Append many messages at once (history import, benchmarks): reserve a contiguous seq
        block with one ``$inc`` and insert them in order. Returns the first seq used."""
        if not docs:
            return 0
        key = ObjectId(conversation_id)

        def work() -> int:
            conv = self.conversations.find_one_and_update(
                {"_id": key}, {"$inc": {"lastSeq": len(docs)}}, projection={"lastSeq": 1},
                return_document=ReturnDocument.AFTER)
            if conv is None:
                raise NotFound("no such conversation")
            first = conv["lastSeq"] - len(docs) + 1
            bodies = []
            for offset, doc in enumerate(docs):
                body = dict(doc)
                body["_id"] = ObjectId(body.pop("id"))
                body["conversationId"] = conversation_id
                body["seq"] = first + offset
                body["seqKey"] = seq_key(conversation_id, first + offset)
                body["textLower"] = search_text(doc.get("text"))
                body.setdefault("reactionKeys", [])
                bodies.append(body)
            self.messages.insert_many(bodies, ordered=True)
            return first
        return await self._io(work)

    async def get_message(self, message_id: str) -> Optional[Dict[str, Any]]:
        key = oid(message_id)
        if key is None:
            return None
        return _out(await self._io(self.messages.find_one, {"_id": key}))

    async def history(self, conversation_id: str, before: Optional[int], after: Optional[int],
                      limit: int) -> List[Dict[str, Any]]:
        """Up to ``limit`` messages by seq: the newest before ``before``, or the oldest after
        ``after``; ascending. Uses the single-field ``seqKey`` index (no conversation scan)."""
        def work() -> List[Dict[str, Any]]:
            if after is not None:
                upper = before if before is not None else 10 ** 12 - 1
                query = {"seqKey": {"$gt": seq_key(conversation_id, after), "$lt": seq_key(conversation_id, upper)}}
                return list(self.messages.find(query).sort("seqKey", 1).limit(limit))
            upper = before if before is not None else 10 ** 12 - 1
            query = {"seqKey": {"$gt": seq_key(conversation_id, 0), "$lt": seq_key(conversation_id, upper)}}
            docs = list(self.messages.find(query).sort("seqKey", -1).limit(limit))
            docs.reverse()
            return docs
        return _outs(await self._io(work))

    async def changed_since(self, conversation_ids: Sequence[str], since: int, limit: int) -> List[Dict[str, Any]]:
        """Messages of these conversations edited, deleted or reacted to after ``since``."""
        ids = list(conversation_ids)
        if not ids:
            return []
        return _outs(await self._io(lambda: list(self.messages.find(
            {"updatedAt": {"$gt": since}, "conversationId": {"$in": ids}}).sort("updatedAt", 1).limit(limit))))

    async def edit_message(self, message_id: str, sender_id: str, text: str, now: int) -> Optional[Dict[str, Any]]:
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
            return _out(before)
        return await self._io(work)

    async def delete_message(self, message_id: str, actor_id: str, now: int) -> Optional[Dict[str, Any]]:
        """Soft delete (sets ``deletedAt``/``deletedBy``; text stays for audit) and decrement the
        unread counters of members who had not read it. None when already deleted."""
        key = ObjectId(message_id)

        def work() -> Optional[Dict[str, Any]]:
            doc = self.messages.find_one_and_update(
                {"_id": key, "deletedAt": UNSET},
                {"$set": {"deletedAt": now, "deletedBy": actor_id, "updatedAt": now}},
                return_document=ReturnDocument.AFTER)
            if doc is None:
                return None
            if doc.get("type") != "system":
                # members who had it counted and not read: one fewer (the others never count it)
                self.memberships.update_many(
                    {"conversationId": doc["conversationId"], "userId": {"$ne": doc["senderId"]},
                     "lastReadSeq": {"$lt": doc["seq"]}, "unreadSeq": {"$gte": doc["seq"]}, "unread": {"$gt": 0}},
                    {"$inc": {"unread": -1}})
            return _out(doc)
        return await self._io(work)

    async def search(self, conversations: Sequence[Tuple[str, int]], q: str, limit: int, chunk: int
                     ) -> List[Dict[str, Any]]:
        """Case-insensitive literal substring search in (conversationId, lastSeq) pairs, newest
        first, deleted messages excluded.

        Each conversation is scanned newest-first in ``chunk``-sized seq ranges on the
        ``seqKey`` index, one short query each: a search never holds the database for long (one
        lock serializes every nx-27017 client) and stops as soon as ``limit`` hits are found.
        """
        pattern = {"$regex": re.escape(search_text(q))}
        found: List[Dict[str, Any]] = []
        for conversation_id, last_seq in conversations:
            hits: List[Dict[str, Any]] = []
            upper = last_seq + 1
            while upper > 1 and len(hits) < limit:
                lower = max(0, upper - chunk - 1)
                query = {"seqKey": {"$gt": seq_key(conversation_id, lower), "$lt": seq_key(conversation_id, upper)},
                         "textLower": pattern, "deletedAt": UNSET}
                want = limit - len(hits)
                hits.extend(await self._io(lambda q=query, n=want: list(
                    self.messages.find(q).sort("seqKey", -1).limit(n))))
                upper = lower + 1
            found.extend(hits)
        found.sort(key=lambda d: (d["createdAt"], d["seq"]), reverse=True)
        return _outs(found[:limit])

    async def add_reaction(self, message_id: str, conversation_id: str, user_id: str, emoji: str,
                           now: int, max_emojis: int) -> Tuple[str, Optional[Dict[str, Any]]]:
        """Add one: a document in ``reactions`` (unique per message, user and emoji) and the key
        ``emoji|userId`` in the message's ``reactionKeys`` (so pages need no second query).
        Returns (``added``/``exists``/``too_many``, the message after)."""
        key = ObjectId(message_id)

        def work() -> Tuple[str, Optional[Dict[str, Any]]]:
            msg = self.messages.find_one({"_id": key})
            keys = (msg or {}).get("reactionKeys") or []
            if reaction_key(emoji, user_id) in keys:
                return "exists", _out(msg)
            emojis = {k.split("|", 1)[0] for k in keys}
            if emoji not in emojis and len(emojis) >= max_emojis:
                return "too_many", _out(msg)
            try:
                self.reactions.insert_one({"messageId": message_id, "conversationId": conversation_id,
                                           "userId": user_id, "emoji": emoji, "createdAt": now})
            except pymongo.errors.DuplicateKeyError:
                return "exists", _out(msg)
            after = self.messages.find_one_and_update(
                {"_id": key}, {"$addToSet": {"reactionKeys": reaction_key(emoji, user_id)}, "$set": {"updatedAt": now}},
                return_document=ReturnDocument.AFTER)
            return "added", _out(after)
        return await self._io(work)

    async def remove_reaction(self, message_id: str, user_id: str, emoji: str, now: int
                              ) -> Tuple[bool, Optional[Dict[str, Any]]]:
        """Remove one; returns (whether it existed, the message after)."""
        key = ObjectId(message_id)

        def work() -> Tuple[bool, Optional[Dict[str, Any]]]:
            gone = self.reactions.delete_one({"messageId": message_id, "userId": user_id, "emoji": emoji})
            if not gone.deleted_count:
                return False, _out(self.messages.find_one({"_id": key}))
            after = self.messages.find_one_and_update(
                {"_id": key}, {"$pull": {"reactionKeys": reaction_key(emoji, user_id)}, "$set": {"updatedAt": now}},
                return_document=ReturnDocument.AFTER)
            return True, _out(after)
        return await self._io(work)

    # ------------------------------------------------------------------ maintenance
    async def drop_database(self) -> None:
        """Drop the whole database (tests only)."""
        await self._io(self._client.drop_database, self.db_name)
