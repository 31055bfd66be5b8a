"""School policies: ``school_policies`` (one document per school) and ``policy_changes`` (every
change, with who made it, when, and the values before and after)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from chat.store.db import Database, ObjectId
from chat.store.docs import out, outs


class Policies:
    """A school's safeguarding policy as stored (booleans kept as 0/1: the storage rules write
    no booleans by update) and the record of its changes."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.policies = db.collection("school_policies")
        self.changes = db.collection("policy_changes")
        self.users = db.collection("users")
        self.conversations = db.collection("conversations")

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.changes.create_index("school")

    async def get(self, school: str) -> Optional[Dict[str, Any]]:
        """The stored fields of a school's policy (None: never set, the defaults apply)."""
        return out(await self._db.io(self.policies.find_one, {"_id": school}))

    async def put(self, school: str, fields: Dict[str, Any], previous: Dict[str, Any], actor: str,
                  now: int) -> str:
        """Store the school's policy and record the change (``previous``: what applied before).
        The policy document keeps the change as pending (``pendingId``, ``pendingPrevious``,
        ``pendingActor``, ``pendingAt``) until :meth:`settle`: the conversations it affects are
        told after, and a crash in between leaves it to be completed. Returns the pending id."""
        change_id = str(ObjectId())

        def work() -> None:
            self.policies.update_one({"_id": school}, {"$set": dict(
                fields, updatedAt=now, updatedBy=actor, pendingId=change_id, pendingPrevious=dict(previous),
                pendingActor=actor, pendingAt=now)}, upsert=True)
            self.changes.insert_one({"_id": ObjectId(change_id), "school": school, "actorId": actor, "at": now,
                                     "previous": dict(previous), "policy": dict(fields)})
        await self._db.io(work)
        return change_id

    async def pending(self) -> List[Dict[str, Any]]:
        """Every school policy with a change whose conversations were not all told (a scan of
        one document per school, at start-up)."""
        return outs(await self._db.io(lambda: list(self.policies.find({"pendingAt": {"$gt": 0}}))))

    async def settle(self, school: str, change_id: str) -> None:
        """The change's conversations were all told (a newer change's pending stays)."""
        await self._db.io(lambda: self.policies.update_one(
            {"_id": school, "pendingId": change_id},
            {"$set": {"pendingId": None, "pendingPrevious": None, "pendingActor": None, "pendingAt": 0}}))

    async def changes_of(self, school: str) -> List[Dict[str, Any]]:
        """A school's recorded changes, oldest first."""
        return outs(await self._db.io(lambda: list(self.changes.find({"school": school}).sort("at", 1))))

    async def school_roles(self, school: str) -> Dict[str, str]:
        """Every user of the school and its role (``users.school`` is indexed)."""
        docs = await self._db.io(lambda: list(self.users.find({"school": school}, {"role": 1})))
        return {str(d["_id"]): str(d.get("role") or "") for d in docs}

    async def school_conversations(self, school: str) -> List[Dict[str, Any]]:
        """The school's direct and group conversations: type, creator and members (a policy
        change decides which of them it now governs). Not indexed: a scan, for a change an
        admin makes now and then, never on a request path of students."""
        fields = {"type": 1, "school": 1, "createdBy": 1, "memberIds": 1}

        def work() -> List[Dict[str, Any]]:
            return [d for kind in ("direct", "group")
                    for d in self.conversations.find({"type": kind, "school": school}, fields)]
        return outs(await self._db.io(work))
