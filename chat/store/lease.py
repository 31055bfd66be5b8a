"""A lease in the database: which one node of a cluster does a piece of background work (the
retention sweep, the missed-message email look) until a time, renewed while it runs."""
from __future__ import annotations

from typing import Any

from chat.store.db import Database, DuplicateKeyError


class Lease:
    """One lease document ``{_id, owner, expiry}`` (epoch ms) in ``collection``."""

    def __init__(self, db: Database, collection: Any, lease_id: str) -> None:
        self._db = db
        self.collection = collection
        self.lease_id = lease_id

    async def take(self, owner: str, now: int, ttl_ms: int) -> bool:
        """Become (or stay) the holder until ``now + ttl_ms``: a conditional update that
        succeeds only when the lease is ours or has expired; two nodes never both win."""
        until = now + ttl_ms
        leases, key = self.collection, self.lease_id

        def work() -> bool:
            if leases.update_one({"_id": key, "owner": owner}, {"$set": {"expiry": until}}).matched_count:
                return True
            if leases.update_one({"_id": key, "expiry": {"$lt": now}},
                                 {"$set": {"owner": owner, "expiry": until}}).matched_count:
                return True
            try:
                leases.insert_one({"_id": key, "owner": owner, "expiry": until})
                return True
            except DuplicateKeyError:
                return False
        return await self._db.io(work)

    async def release(self, owner: str) -> None:
        """Give it up (at shutdown: another node takes it at its next pass)."""
        await self._db.io(lambda: self.collection.update_one({"_id": self.lease_id, "owner": owner},
                                                             {"$set": {"expiry": 0}}))
