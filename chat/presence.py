"""Presence as users see it (PROTOCOL §6): who is online among the people one may see.

The relation itself lives in :class:`chat.connections.ConnectionManager` (indexes of online
users); this module builds a user's :class:`Presence` (classes and contacts of the token's
school) and answers presence lists for REST and sockets alike.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Set

from chat.auth import Identity
from chat.clock import Clock
from chat.connections import ConnectionManager, Presence
from chat.store import Store
from chat.timeutil import iso


class PresenceService:
    def __init__(self, store: Store, manager: ConnectionManager, clock: Clock) -> None:
        self.store = store
        self.manager = manager
        self.clock = clock

    async def presence_of(self, ident: Identity) -> Presence:
        """The user's presence: online one, or built from its classes and direct/group
        contacts of its token school."""
        online = self.manager.users.get(ident.user_id)
        if online is not None and online.school == ident.school:
            return online
        classes = await self.store.directory.classes_of_user(ident.user_id)
        class_ids = frozenset(c["id"] for c in classes if c.get("school") == ident.school)
        contacts: Set[str] = set()
        for conv in await self.store.conversations.of_user(ident.user_id):
            if conv.get("type") in ("direct", "group") and conv.get("school") == ident.school:
                contacts.update(conv.get("memberIds", ()))
        contacts.discard(ident.user_id)
        return Presence(ident.user_id, ident.name, ident.role, ident.school, class_ids,
                        contacts or frozenset(), int(self.clock.time() * 1000))

    async def presence_list(self, ident: Identity, class_id: Optional[str], role: Optional[str],
                            presence: Optional[Presence] = None) -> List[Dict[str, Any]]:
        """Online users this user may see, optionally of one class or role."""
        if presence is None:
            presence = await self.presence_of(ident)
        peers = self.manager.audience(presence)
        if class_id is not None:
            peers &= self.manager.by_class.get(class_id, set())
        out = []
        for uid in peers:
            peer = self.manager.users[uid]
            if role is None or peer.role == role:
                out.append(dict(peer.public(), since=iso(peer.since)))
        out.sort(key=lambda x: (x["name"].lower(), x["userId"]))
        return out
