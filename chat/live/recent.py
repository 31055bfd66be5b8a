"""What ``sync`` reads, kept until it changes: pages of messages per conversation, and the
messages changed (edited, deleted, reacted to) since a time.

After a restart every member of a conversation reconnects and asks for the same thing: the
messages after the last seq they saw, which is the same seq for all of them. Reading it once
and serving the other members from memory turns thousands of storage reads (each waiting on
the database's single lock) into one per conversation.

A page stays valid while nothing happened to its conversation: each message stored, edited,
reacted to or deleted (this is one of the service's event sinks) moves the conversation's
generation and kills its pages, and a page also carries the conversation's ``lastSeq`` when
it was read (a write whose outcome was unknown reloads the conversation, which moves it).
Memory is bounded in bytes of rendered messages; the least recently used pages go first.

The changes since a time are read for all conversations at once (one range on ``updatedAt``),
so that each reconnecting client's ``changedSince`` is answered without reading its
memberships: the read is kept while no message changes (any edit, delete or reaction moves
one generation), for at most ``CHANGES_TTL`` seconds, and only when it was complete (at most
``CHANGES_CAP`` changes); a later ``changedSince`` filters it, an earlier one reads again.

Only for a single process: a cluster node does not see its peers' writes as events.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

from chat.clock import Clock
from chat.events import Audience, NullEvents

Row = Tuple[Dict[str, Any], int]   # a message's client view and its JSON size in bytes
Key = Tuple[str, int, int]         # (conversation, after seq, most rows read)
CHANGES_CAP = 500     # more changes than this since a time: read per user instead
CHANGES_TTL = 10.0    # seconds (a write whose outcome was unknown sends no event)


@dataclasses.dataclass(slots=True)
class Page:
    generation: int
    last_seq: int
    rows: List[Row]
    more: bool      # storage held more than ``rows`` after ``after``
    size: int


class RecentPages(NullEvents):
    def __init__(self, max_bytes: int, clock: Clock) -> None:
        self.max_bytes = max_bytes
        self.clock = clock
        self._changes: Optional[Tuple[int, int, float, List[Dict[str, Any]]]] = None  # since, generation, at, docs
        self._change_generation = 0
        self._pages: "OrderedDict[Key, Page]" = OrderedDict()
        self._generation: Dict[str, int] = {}
        self._size = 0

    def generation(self, conversation_id: str) -> int:
        """Take before reading storage and hand to :meth:`put` (a change meanwhile voids it)."""
        return self._generation.get(conversation_id, 0)

    def get(self, conversation_id: str, after: int, want: int, last_seq: int) -> Optional[Page]:
        key = (conversation_id, after, want)
        page = self._pages.get(key)
        if page is None or page.generation != self.generation(conversation_id) or page.last_seq != last_seq:
            return None
        self._pages.move_to_end(key)
        return page

    def put(self, conversation_id: str, after: int, want: int, generation: int, last_seq: int,
            rows: List[Row], more: bool) -> None:
        if generation != self.generation(conversation_id):
            return  # the conversation changed while storage was read
        size = sum(size for _view, size in rows) + 100
        if size > self.max_bytes // 8:
            return  # one big page would push out many small ones
        key = (conversation_id, after, want)
        old = self._pages.pop(key, None)
        if old is not None:
            self._size -= old.size
        self._pages[key] = Page(generation, last_seq, rows, more, size)
        self._size += size
        while self._size > self.max_bytes and self._pages:
            _key, dropped = self._pages.popitem(last=False)
            self._size -= dropped.size

    def __len__(self) -> int:
        return len(self._pages)

    # ------------------------------------------------------------------ changes since a time
    def change_generation(self) -> int:
        """Take before reading the changes and hand to :meth:`put_changes`."""
        return self._change_generation

    def changes(self, since: int) -> Optional[List[Dict[str, Any]]]:
        """Every message (stored document) changed after ``since``, oldest change first, or
        None when that is not known here."""
        kept = self._changes
        if (kept is None or since < kept[0] or kept[1] != self._change_generation
                or self.clock.monotonic() - kept[2] >= CHANGES_TTL):
            return None
        return [d for d in kept[3] if (d.get("updatedAt") or 0) > since]

    def put_changes(self, since: int, generation: int, docs: List[Dict[str, Any]]) -> None:
        """Keep a complete read of the changes after ``since`` (taken at ``generation``)."""
        if generation == self._change_generation:
            self._changes = (since, generation, self.clock.monotonic(), docs)

    # ------------------------------------------------------------------ the events that void pages
    def _changed(self, conversation_id: str) -> None:
        # stale pages are not searched for: they fail the generation check and age out
        self._generation[conversation_id] = self._generation.get(conversation_id, 0) + 1

    def message_stored(self, message: Dict[str, Any], audience: Audience) -> None:
        self._changed(message["conversationId"])

    def message_updated(self, message: Dict[str, Any], audience: Audience) -> None:
        self._changed(message["conversationId"])
        self._change_generation += 1

    def message_deleted(self, data: Dict[str, Any], audience: Audience) -> None:
        self._changed(data["conversationId"])
        self._change_generation += 1
