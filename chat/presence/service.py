"""Presence as users see it (PROTOCOL §6): who is online among the people one may see.

The relation lives in :mod:`chat.presence.relation`, who is online in the
:class:`chat.presence.backend.PresenceBackend` this service is built with (this process's
sockets, or a whole cluster's). This module builds a user's :class:`Presence` (classes of the
token's school from the in-memory :class:`chat.presence.contacts.PeopleIndex`: a handshake
reads nothing from storage), tells the backend of every socket, answers presence lists for REST
and sockets alike, and writes ``lastSeenAt`` behind, many users in one write.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional

from chat.auth import Identity
from chat.clock import Clock, Timer
from chat.errors import ChatError
from chat.presence.backend import PresenceBackend
from chat.presence.contacts import PeopleIndex
from chat.presence.relation import OnlineIndex, Presence
from chat.store import Store
from chat.timeutil import iso, now_ms

log = logging.getLogger("chat.presence")


class PresenceService:
    def __init__(self, store: Store, local: OnlineIndex, backend: PresenceBackend, people: PeopleIndex,
                 clock: Clock, last_seen_flush: float) -> None:
        self.store = store
        self.local = local
        self.backend = backend
        self.people = people
        self.clock = clock
        self.last_seen_flush = last_seen_flush
        self._seen: Dict[str, int] = {}
        self._timer: Optional[Timer] = None

    def is_online(self, user_id: str) -> bool:
        """Online anywhere (a socket on this node or, in a cluster, on another)."""
        return self.backend.is_online(user_id)

    async def presence_of(self, ident: Identity) -> Presence:
        """The user's presence: the online one here, or built from its classes of its token school."""
        online = self.local.peer(ident.user_id)
        if online is not None and online.school == ident.school:
            return online
        await self.people.ready()
        return Presence(ident.user_id, ident.name, ident.role, ident.school,
                        self.people.classes_of(ident.user_id, ident.school), int(self.clock.time() * 1000))

    def opened(self, conn_id: str, presence: Presence, first_here: bool) -> None:
        """A socket of the user opened here (after the connection manager registered it)."""
        self.backend.opened(conn_id, presence, first_here)

    async def registered(self, conn_id: str) -> None:
        """Return once every node counts the socket (see the backend's ``registered``)."""
        await self.backend.registered(conn_id)

    def closed(self, conn_id: str, presence: Presence, last_here: bool) -> None:
        """A socket of the user closed here; its last one here notes ``lastSeenAt``."""
        self.backend.closed(conn_id, presence, last_here)
        if last_here:
            self.seen(presence.user_id, now_ms())

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
        out = []
        for uid in self.backend.peers(presence):
            peer = self.backend.peer(uid)
            if peer is None or (class_id is not None and class_id not in peer.class_ids):
                continue
            if role is None or peer.role == role:
                out.append(dict(peer.public(), since=iso(peer.since)))
        out.sort(key=lambda x: (x["name"].lower(), x["userId"]))
        return out
