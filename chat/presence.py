"""Presence as users see it (PROTOCOL §6): who is online among the people one may see.

The relation itself lives in :class:`chat.connections.ConnectionManager` (indexes of online
users); this module builds a user's :class:`Presence` (classes and contacts of the token's
school, from the in-memory :class:`chat.people.PeopleIndex`: a handshake reads nothing from
storage), answers presence lists for REST and sockets alike, and writes ``lastSeenAt``
behind, many users in one write.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional

from chat.auth import Identity
from chat.clock import Clock, Timer
from chat.connections import ConnectionManager, Presence
from chat.errors import ChatError
from chat.people import PeopleIndex
from chat.store import Store
from chat.timeutil import iso

log = logging.getLogger("chat.presence")


class PresenceService:
    def __init__(self, store: Store, manager: ConnectionManager, people: PeopleIndex, clock: Clock,
                 last_seen_flush: float) -> None:
        self.store = store
        self.manager = manager
        self.people = people
        self.clock = clock
        self.last_seen_flush = last_seen_flush
        self._seen: Dict[str, int] = {}
        self._timer: Optional[Timer] = None

    async def presence_of(self, ident: Identity) -> Presence:
        """The user's presence: online one, or built from its classes and direct/group
        contacts of its token school."""
        online = self.manager.users.get(ident.user_id)
        if online is not None and online.school == ident.school:
            return online
        await self.people.ready()
        contacts = self.people.contacts_of(ident.user_id, ident.school)
        return Presence(ident.user_id, ident.name, ident.role, ident.school,
                        self.people.classes_of(ident.user_id, ident.school), contacts or frozenset(),
                        int(self.clock.time() * 1000))

    def seen(self, user_id: str, when: int) -> None:
        """Note a user's ``lastSeenAt``; written with others within ``last_seen_flush`` s."""
        self._seen[user_id] = max(when, self._seen.get(user_id, 0))
        if self._timer is None:
            self._timer = self.clock.call_later(self.last_seen_flush, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        asyncio.ensure_future(self.flush())

    async def flush(self) -> None:
        """Write the noted ``lastSeenAt`` values now (kept for the next try on failure)."""
        batch, self._seen = self._seen, {}
        try:
            await self.store.directory.set_last_seen_many(batch)
        except ChatError:
            log.warning("could not write lastSeenAt of %d users; will retry", len(batch))
            for uid, when in batch.items():
                self._seen[uid] = max(when, self._seen.get(uid, 0))
            if self._timer is None:
                self._timer = self.clock.call_later(self.last_seen_flush, self._flush_soon)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush()

    async def presence_list(self, ident: Identity, class_id: Optional[str], role: Optional[str],
                            presence: Optional[Presence] = None) -> List[Dict[str, Any]]:
        """Online users this user may see, optionally of one class or role."""
        if presence is None:
            presence = await self.presence_of(ident)
        peers = self.manager.audience(presence)
        out = []
        for uid in peers:
            peer = self.manager.peer(uid)
            if peer is None or (class_id is not None and class_id not in peer.class_ids):
                continue
            if role is None or peer.role == role:
                out.append(dict(peer.public(), since=iso(peer.since)))
        out.sort(key=lambda x: (x["name"].lower(), x["userId"]))
        return out
