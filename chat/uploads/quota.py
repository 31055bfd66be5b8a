"""The daily upload quota, reserved as the bytes arrive.

Every upload holds a reservation (a :class:`Hold`) that grows before each piece of its body is
written: the whole declared ``Content-Length`` up front, or piece by piece for a chunked body.
A reservation is granted only while what the user stored this UTC day plus every reservation
of theirs still in flight stays within ``upload_quota_bytes``, checked and taken in one step,
so uploads running at the same time can never pass the quota together. When an upload is
stored, its stored size counts as used and the rest of its reservation is given back (an image
written again from its pixels may be smaller); a refused, failed or abandoned upload gives all
of it back.

:class:`LocalQuota` keeps the ledger in the process (one server). A cluster keeps it in Redis,
shared by every node (:class:`chat.cluster.quota.RedisQuota`).
"""
from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Awaitable, Callable, Dict, Optional, Protocol, Tuple

DAY_MS = 86_400_000

#: ``used_since(user_id, epoch_ms)``: bytes the user stored from then on (the uploads collection)
UsedSince = Callable[[str, int], Awaitable[int]]


@dataclasses.dataclass
class Hold:
    """One upload's reservation: ``held`` bytes of ``user_id``'s quota of UTC day ``day``."""

    user_id: str
    day: int
    key: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    held: int = 0
    settled: bool = False
    local: bool = True  # kept by the process (a cluster node sets it False for Redis holds)


class Quota(Protocol):
    """The ledger (see the module doc)."""

    def open(self, user_id: str) -> Hold:
        """A new, empty reservation of ``user_id`` for today."""

    async def reserve(self, hold: Hold, amount: int) -> bool:
        """Add ``amount`` bytes to the reservation if the quota allows it (else nothing)."""

    async def settle(self, hold: Hold, stored: Optional[int]) -> None:
        """End the reservation: ``stored`` bytes (None: nothing) now count as used today, the
        rest is given back. Idempotent."""


def today(now: Callable[[], float] = time.time) -> int:
    """The UTC day (days since the epoch) of ``now()``."""
    return int(now() // 86400)


@dataclasses.dataclass
class _Day:
    used: int
    holds: Dict[str, int] = dataclasses.field(default_factory=dict)


class LocalQuota:
    """The ledger of one process: per user and day, the bytes stored (read once from the
    database, then counted here) and the reservations in flight."""

    def __init__(self, limit: int, used_since: UsedSince, now: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._used_since = used_since
        self._now = now
        self._days: Dict[Tuple[str, int], _Day] = {}

    def open(self, user_id: str) -> Hold:
        return Hold(user_id, today(self._now))

    async def reserve(self, hold: Hold, amount: int) -> bool:
        entry = await self._entry(hold)
        if hold.settled:
            return False  # ended while the database was read
        if entry.used + sum(entry.holds.values()) + amount > self.limit:
            return False
        # no await between the check and the taking: atomic on the event loop
        entry.holds[hold.key] = entry.holds.get(hold.key, 0) + amount
        hold.held += amount
        return True

    async def settle(self, hold: Hold, stored: Optional[int]) -> None:
        if hold.settled:
            return
        hold.settled = True
        entry = self._days.get((hold.user_id, hold.day))
        if entry is None:
            return
        entry.holds.pop(hold.key, None)
        entry.used += stored or 0

    def in_flight(self) -> int:
        """Bytes reserved by uploads in progress (all users)."""
        return sum(sum(e.holds.values()) for e in self._days.values())

    async def _entry(self, hold: Hold) -> _Day:
        key = (hold.user_id, hold.day)
        entry = self._days.get(key)
        if entry is None:
            used = await self._used_since(hold.user_id, hold.day * DAY_MS)
            # another upload of the user may have read it meanwhile; no upload of theirs was
            # stored in between, since storing one needs its reservation in this entry first
            entry = self._days.get(key)
            if entry is None:
                self._forget_before(hold.day)
                entry = self._days[key] = _Day(used)
        return entry

    def _forget_before(self, day: int) -> None:
        for key in [k for k, e in self._days.items() if k[1] < day and not e.holds]:
            del self._days[key]
