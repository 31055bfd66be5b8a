"""What the block rule reads on every send, kept in memory with the store as the truth.

Blocks (per user, both directions) and conversation mutes (per conversation; a moderator's
``mute_author`` is one of them, its ``reason`` the case id) are read through
a small bounded cache. In one process every change passes through :class:`BlockBook` (it
drops the entries a change touches), so the cache is exact and never expires. In a cluster
(``redis_url``) another node's change does not pass here: entries are then trusted for
``block_cache_ttl`` seconds of the injected clock and re-read after, so a node sees another
node's block or mute within that time.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Dict, FrozenSet, Generic, Hashable, NamedTuple, Optional, Tuple, TypeVar

from chat.clock import Clock
from chat.store import Store

V = TypeVar("V")

#: entries kept per cache (the least recently used go first)
CAPACITY = 20000


class TtlCache(Generic[V]):
    """A bounded LRU map whose entries expire ``ttl`` seconds after they were read (never
    when ``ttl`` is None)."""

    def __init__(self, clock: Clock, ttl: Optional[float], capacity: int = CAPACITY) -> None:
        self.clock = clock
        self.ttl = ttl
        self.capacity = capacity
        self._items: "collections.OrderedDict[Hashable, Tuple[float, V]]" = collections.OrderedDict()

    def get(self, key: Hashable) -> Optional[V]:
        item = self._items.get(key)
        if item is None:
            return None
        if self.ttl is not None and self.clock.monotonic() - item[0] >= self.ttl:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return item[1]

    def put(self, key: Hashable, value: V) -> None:
        self._items[key] = (self.clock.monotonic(), value)
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def drop(self, key: Hashable) -> None:
        self._items.pop(key, None)


@dataclasses.dataclass(frozen=True)
class UserBlocks:
    """One user's blocks: whom it blocks (``made``) and who blocks it (``against``)."""

    made: FrozenSet[str]
    against: FrozenSet[str]


class Mute(NamedTuple):
    """A member's mute: when it ends (epoch ms) and, for a moderator's, the case id."""

    until: int
    reason: Optional[str] = None


class BlockBook:
    """Blocks and mutes as the send path needs them (see the module doc)."""

    def __init__(self, store: Store, clock: Clock, ttl: Optional[float]) -> None:
        self.store = store
        self._blocks: TtlCache[UserBlocks] = TtlCache(clock, ttl)
        self._mutes: TtlCache[Dict[str, Mute]] = TtlCache(clock, ttl)
        # bumped by every change: a read that started before one does not fill the cache
        self._version = 0

    async def of_user(self, user_id: str) -> UserBlocks:
        found = self._blocks.get(user_id)
        if found is not None:
            return found
        version = self._version
        made, against = await self.store.blocks.involving(user_id)
        entry = UserBlocks(frozenset(d["blockedId"] for d in made), frozenset(d["blockerId"] for d in against))
        if version == self._version:
            self._blocks.put(user_id, entry)
        return entry

    async def mutes(self, conversation_id: str) -> Dict[str, Mute]:
        """userId -> its mute (ended ones too: callers compare ``until``)."""
        found = self._mutes.get(conversation_id)
        if found is not None:
            return found
        version = self._version
        entry = {d["userId"]: Mute(int(d["until"]), d.get("reason"))
                 for d in await self.store.blocks.mutes_of(conversation_id)}
        if version == self._version:
            self._mutes.put(conversation_id, entry)
        return entry

    def blocks_changed(self, *user_ids: str) -> None:
        self._version += 1
        for uid in user_ids:
            self._blocks.drop(uid)

    def mutes_changed(self, conversation_id: str) -> None:
        self._version += 1
        self._mutes.drop(conversation_id)
