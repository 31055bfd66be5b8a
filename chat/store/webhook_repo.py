"""Webhooks: ``webhooks`` (one document per school's webhook) and ``webhook_outbox`` (one
document per delivery still to make, or given up: the dead letters).

The outbox is the queue: an event is written here before anything is sent, a node claims one
delivery at a time by a conditional update (``leaseUntil`` past: free), so in a cluster each
delivery is made by one node, and what was queued when a server stopped is still here when
it starts. A delivered one is deleted.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from chat.store.db import Database, ObjectId, ReturnDocument, oid
from chat.store.docs import out, outs

PENDING = "pending"
DEAD = "dead"
#: most webhooks this server keeps in memory for all schools together
MAX_HOOKS = 10000


class Webhooks:
    """Webhooks ``{school, url, events[], secret, includeText (0/1), enabled (0/1),
    description, createdBy, createdAt, updatedAt}`` and their deliveries ``{school, hookId,
    event, body, state, attempts, nextAt, leaseUntil, owner, createdAt, lastStatus, lastError,
    deadAt}`` (times in epoch ms)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.hooks = db.collection("webhooks", durable=True)
        self.outbox = db.collection("webhook_outbox", durable=True)

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.hooks.create_index("school")
        self.outbox.create_index("hookId")

    # ------------------------------------------------------------------ webhooks
    async def insert_hook(self, doc: Dict[str, Any], record_id: Optional[str] = None) -> Dict[str, Any]:
        """Insert ``doc`` (under ``record_id`` when the id was made first, for the audit entry)."""
        body = dict(doc, _id=ObjectId(record_id) if record_id else ObjectId())
        await self._db.io(self.hooks.insert_one, body)
        stored = out(body)
        assert stored is not None
        return stored

    async def get_hook(self, hook_id: str) -> Optional[Dict[str, Any]]:
        key = oid(hook_id)
        if key is None:
            return None
        return out(await self._db.io(self.hooks.find_one, {"_id": key}))

    async def hooks_of(self, school: str) -> List[Dict[str, Any]]:
        """The school's webhooks, oldest first."""
        return outs(await self._db.io(lambda: list(self.hooks.find({"school": school}).sort("_id", 1)
                                                   .limit(MAX_HOOKS))))

    async def all_hooks(self) -> List[Dict[str, Any]]:
        """Every school's webhooks (what a node delivers for)."""
        return outs(await self._db.io(lambda: list(self.hooks.find({}).sort("_id", 1).limit(MAX_HOOKS))))

    async def update_hook(self, hook_id: str, fields: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        key = oid(hook_id)
        if key is None:
            return None
        return out(await self._db.io(lambda: self.hooks.find_one_and_update(
            {"_id": key}, {"$set": fields}, return_document=ReturnDocument.AFTER)))

    async def delete_hook(self, hook_id: str) -> bool:
        """Delete the webhook and every delivery of it (pending or dead)."""
        key = oid(hook_id)
        if key is None:
            return False

        def work() -> bool:
            gone = bool(self.hooks.delete_one({"_id": key}).deleted_count > 0)
            self.outbox.delete_many({"hookId": hook_id})
            return gone
        return await self._db.io(work)

    # ------------------------------------------------------------------ the outbox
    async def enqueue(self, docs: Sequence[Dict[str, Any]]) -> None:
        """Queue deliveries (one storage call)."""
        bodies = [dict(d, _id=ObjectId()) for d in docs]
        if bodies:
            await self._db.io(lambda: self.outbox.insert_many(bodies, ordered=False))

    async def pending_count(self, hook_id: str) -> int:
        return int(await self._db.io(lambda: self.outbox.count_documents({"hookId": hook_id, "state": PENDING})))

    async def claim(self, hook_id: str, owner: str, now: int, lease_ms: int) -> Optional[Dict[str, Any]]:
        """Take the hook's next delivery that is due and not held by a node (or whose node's
        lease ran out) until ``now + lease_ms``: one conditional update, so two nodes never
        both take it. None: nothing is due."""
        return out(await self._db.io(lambda: self.outbox.find_one_and_update(
            {"hookId": hook_id, "state": PENDING, "nextAt": {"$lte": now}, "leaseUntil": {"$lt": now}},
            {"$set": {"owner": owner, "leaseUntil": now + lease_ms}},
            sort=[("nextAt", 1)], return_document=ReturnDocument.AFTER)))

    async def next_due(self, hook_id: str) -> Optional[int]:
        """When the hook's earliest pending delivery falls due (None: none pending)."""
        def work() -> Optional[int]:
            docs = list(self.outbox.find({"hookId": hook_id, "state": PENDING}, {"nextAt": 1})
                        .sort("nextAt", 1).limit(1))
            return int(docs[0]["nextAt"]) if docs else None
        return await self._db.io(work)

    async def delivered(self, delivery_id: str, owner: str) -> None:
        key = oid(delivery_id)
        await self._db.io(lambda: self.outbox.delete_one({"_id": key, "owner": owner}))

    async def failed(self, delivery_id: str, owner: str, fields: Dict[str, Any]) -> None:
        """Record a failed attempt (a retry's time, or the dead letter)."""
        key = oid(delivery_id)
        await self._db.io(lambda: self.outbox.update_one({"_id": key, "owner": owner}, {"$set": fields}))

    async def release(self, owner: str) -> None:
        """Give up this node's claims at shutdown (another node, or the next start, takes them)."""
        await self._db.io(lambda: self.outbox.update_many({"owner": owner, "state": PENDING},
                                                          {"$set": {"leaseUntil": 0, "owner": None}}))

    async def dead_letters(self, hook_id: str, limit: int) -> List[Dict[str, Any]]:
        """The hook's given-up deliveries, newest first."""
        return outs(await self._db.io(lambda: list(
            self.outbox.find({"hookId": hook_id, "state": DEAD}).sort("_id", -1).limit(limit))))

    async def replay(self, hook_id: str, ids: Optional[Sequence[str]], now: int, limit: int) -> int:
        """Queue dead letters again (those ids, or the newest ``limit``): attempts start over."""
        def work() -> int:
            if ids is None:
                keys = [d["_id"] for d in self.outbox.find({"hookId": hook_id, "state": DEAD}, {"_id": 1})
                        .sort("_id", -1).limit(limit)]
            else:
                keys = [k for k in (oid(i) for i in ids) if k is not None]
            count = 0
            for key in keys:  # one small update each (equality on _id)
                done = self.outbox.update_one(
                    {"_id": key, "hookId": hook_id, "state": DEAD},
                    {"$set": {"state": PENDING, "attempts": 0, "nextAt": now, "leaseUntil": 0, "owner": None,
                              "deadAt": None}})
                count += done.modified_count
            return count
        return await self._db.io(work)
