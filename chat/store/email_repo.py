"""Missed-message email storage (README "Missed-message email"):

- ``email_state`` (``_id`` = user id): ``school``, ``due`` (epoch ms when the user is looked at
  next; null: nothing pending), ``lastEmailAt``, ``marks`` (``<conversationId>:<seq>``: the
  highest seq an email already told of, per conversation), ``claim``/``claimAt`` (an email taken
  for sending and not yet delivered).
- ``email_prefs`` (``_id`` = user id): ``offAt`` (email off since; null: on), ``previewsAt``
  (staff asked for previews since; null: not), ``updatedAt``.
- ``email_schools`` (``_id`` = school): ``staffPreviewsAt`` (null: no previews), ``updatedAt``,
  ``updatedBy``.
- ``email_lease``: which node looks for due email (owner and expiry, taken by a conditional
  update, as the retention sweep's lease).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from chat.store.db import UNSET, BulkWriteError, Database, DuplicateKeyError, UpdateOne
from chat.store.lease import Lease

LEASE_ID = "email"


class EmailStore:
    """State, preferences, school settings and the lease of missed-message email."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.state = db.collection("email_state")
        self.prefs = db.collection("email_prefs")
        self.schools = db.collection("email_schools")
        self.lease = db.collection("email_lease")
        self._lease = Lease(db, self.lease, LEASE_ID)

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.state.create_index("due")

    # ------------------------------------------------------------------ what is due
    async def note_due(self, rows: Sequence[Dict[str, Any]]) -> None:
        """For each ``{userId, school, due}``: the user's ``due`` becomes ``due`` unless it is
        already earlier (one ordered batch: insert when missing, else lower a null or later one)."""
        ops: List[Any] = []
        for row in rows:
            uid, due = row["userId"], int(row["due"])
            ops.append(UpdateOne({"_id": uid}, {"$setOnInsert": {
                "school": row["school"], "due": due, "lastEmailAt": None, "marks": [], "claim": None,
                "claimAt": None}}, upsert=True))
            ops.append(UpdateOne({"_id": uid, "due": UNSET}, {"$set": {"due": due}}))
            ops.append(UpdateOne({"_id": uid, "due": {"$gt": due}}, {"$set": {"due": due}}))
        if not ops:
            return

        def work() -> None:
            try:
                self.state.bulk_write(ops, ordered=True)
            except (DuplicateKeyError, BulkWriteError):  # two nodes inserted the same user at once: update it
                self.state.bulk_write(ops[1:], ordered=True)
        await self._db.io(work)

    async def due_users(self, now: int, limit: int) -> List[Dict[str, Any]]:
        """States whose ``due`` has come, earliest first (one range on the ``due`` index)."""
        return await self._db.io(lambda: list(self.state.find({"due": {"$gte": 0, "$lte": now}})
                                              .sort("due", 1).limit(limit)))

    async def get_state(self, user_id: str) -> Optional[Dict[str, Any]]:
        return await self._db.io(self.state.find_one, {"_id": user_id})

    async def set_due(self, user_id: str, seen_due: int, due: Optional[int]) -> bool:
        """Move ``due`` on from the value the scan read (a message that lowered it meanwhile wins)."""
        result = await self._db.io(lambda: self.state.update_one({"_id": user_id, "due": seen_due},
                                                                 {"$set": {"due": due}}))
        return bool(result.matched_count)

    async def claim(self, user_id: str, seen_due: int, claim_id: str, retry_at: int, now: int,
                    marks: List[str], read_sum: int, before: Dict[str, Any]) -> bool:
        """Take the user's email for sending (only one node, once): ``due`` moves to
        ``retry_at``, when another look sends it again unless :meth:`delivered` says it went
        (that look starts from ``before``: the marks, last email and read sum it replaced)."""
        fields = {"due": retry_at, "claim": claim_id, "claimAt": now, "lastEmailAt": now, "marks": marks,
                  "readSum": read_sum, "prevMarks": list(before.get("marks") or []),
                  "prevEmailAt": before.get("lastEmailAt"), "prevReadSum": int(before.get("readSum") or 0)}
        result = await self._db.io(lambda: self.state.update_one({"_id": user_id, "due": seen_due},
                                                                 {"$set": fields}))
        return bool(result.matched_count)

    async def delivered(self, user_id: str, claim_id: str, retry_at: int) -> None:
        """The claimed email went: nothing pending (unless a new message set an earlier ``due``)."""
        def work() -> None:
            done = self.state.update_one({"_id": user_id, "claim": claim_id, "due": retry_at},
                                         {"$set": {"claim": None, "due": None}})
            if not done.matched_count:
                self.state.update_one({"_id": user_id, "claim": claim_id}, {"$set": {"claim": None}})
        await self._db.io(work)

    # ------------------------------------------------------------------ preferences
    async def get_prefs(self, user_id: str) -> Dict[str, Any]:
        return await self._db.io(self.prefs.find_one, {"_id": user_id}) or {}

    async def set_prefs(self, user_id: str, fields: Dict[str, Any], now: int) -> Dict[str, Any]:
        def work() -> Dict[str, Any]:
            self.prefs.update_one({"_id": user_id}, {"$set": dict(fields, updatedAt=now)}, upsert=True)
            return self.prefs.find_one({"_id": user_id}) or {}
        return await self._db.io(work)

    async def get_school(self, school: str) -> Dict[str, Any]:
        return await self._db.io(self.schools.find_one, {"_id": school}) or {}

    async def set_school(self, school: str, fields: Dict[str, Any], by: str, now: int) -> Dict[str, Any]:
        def work() -> Dict[str, Any]:
            self.schools.update_one({"_id": school}, {"$set": dict(fields, updatedAt=now, updatedBy=by)},
                                    upsert=True)
            return self.schools.find_one({"_id": school}) or {}
        return await self._db.io(work)

    # ------------------------------------------------------------------ the lease
    async def take_lease(self, owner: str, now: int, ttl_ms: int) -> bool:
        """Become (or stay) the node doing this work until ``now + ttl_ms`` (chat/store/lease.py)."""
        return await self._lease.take(owner, now, ttl_ms)

    async def release_lease(self, owner: str) -> None:
        """Give the lease up at shutdown (another node takes it at its next pass)."""
        await self._lease.release(owner)
