"""The presence backend seam: who is online, and when a user comes online or goes offline.

The session tier tells the backend of every socket it opens and closes on this node; the
backend decides when the user came online or went offline (for one process: its first and last
socket here; for a cluster: anywhere, :mod:`chat.presence.shared`) and has the change announced
to the peers with sockets on this node through the :data:`Announce` function it was built with.
Presence rules and lists ask it who is online, so they see the whole deployment.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Protocol, Set

from chat.presence.relation import ContactsOf, OnlineIndex, Presence

#: (online, presence, receivers on this node, when in epoch ms or None for now): write
#: ``user:online``/``user:offline`` to those receivers' sockets here
Announce = Callable[[bool, Presence, Set[str], Optional[int]], None]


class PresenceBackend(Protocol):
    def opened(self, conn_id: str, presence: Presence, first_here: bool) -> None:
        """A socket of the user opened on this node (``first_here``: its first here)."""

    async def registered(self, conn_id: str) -> None:
        """Return once the socket ``opened`` told of counts for every node (bounded), so a
        client that has had an answer on it can rely on it keeping the user online."""

    def closed(self, conn_id: str, presence: Presence, last_here: bool) -> None:
        """A socket of the user closed on this node (``last_here``: its last here)."""

    def is_online(self, user_id: str) -> bool: ...

    def peer(self, user_id: str) -> Optional[Presence]:
        """An online user's presence, wherever its sockets are."""

    def peers(self, presence: Presence) -> Set[str]:
        """Users online anywhere who share presence with this one."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def stats(self) -> Dict[str, Any]: ...


class LocalPresence:
    """One process: a user is online while it has a socket here."""

    def __init__(self, local: OnlineIndex, contacts_of: ContactsOf, announce: Announce) -> None:
        self.local = local
        self.contacts_of = contacts_of
        self.announce = announce

    def opened(self, conn_id: str, presence: Presence, first_here: bool) -> None:
        if first_here:
            self.announce(True, presence, self.peers(presence), None)

    async def registered(self, conn_id: str) -> None:
        return None  # one process: counted as soon as the connection manager has it

    def closed(self, conn_id: str, presence: Presence, last_here: bool) -> None:
        if last_here:
            self.announce(False, presence, self.peers(presence), None)

    def is_online(self, user_id: str) -> bool:
        return user_id in self.local

    def peer(self, user_id: str) -> Optional[Presence]:
        return self.local.peer(user_id)

    def peers(self, presence: Presence) -> Set[str]:
        return self.local.peers(presence, self.contacts_of(presence.user_id, presence.school))

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def stats(self) -> Dict[str, Any]:
        return {}
