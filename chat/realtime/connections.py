"""The IOLoop-owned connection manager.

It stores connection ids, never sockets: frames leave through the injected ``send``
function, so the manager is testable without a network. Indexes, all O(1) per change:

- ``connection id -> user id`` and ``-> its token's school``;
- ``user -> connection ids``   (a user with phone + web has two);
- the online users of this node's sockets, :attr:`online` (a
  :class:`chat.presence.relation.OnlineIndex`: by school, role and class).

Removal deletes empty buckets, so an idle server holds no empty sets. Who sees whose presence
is the presence package's question, asked of :attr:`online`.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Hashable, Iterable, List, Optional, Set, Tuple

from chat.presence.relation import OnlineIndex, Presence
from chat.realtime.broker import Frame
from chat.realtime.protocol import push

log = logging.getLogger("chat.connections")

#: writes one serialized frame to every listed connection
SendMany = Callable[[List[str], Frame], None]

__all__ = ["ConnectionManager", "Frame", "Presence", "SendMany"]


class ConnectionManager:
    """Connections of this node and their users; pushes serialized frames through ``send``."""

    def __init__(self, send_many: Optional[SendMany] = None) -> None:
        self._send_many: SendMany = send_many or (lambda conn_ids, frame: None)
        self.connections: Dict[str, str] = {}                  # connection id -> user id
        self.schools: Dict[str, str] = {}                      # connection id -> its token's school
        self.by_user: Dict[Hashable, Set[str]] = {}            # user id -> connection ids
        self.online = OnlineIndex()                            # users with a socket here

    @property
    def users(self) -> Dict[str, Presence]:
        """Online user id -> presence, of this node's sockets."""
        return self.online.users

    def set_sender(self, send_many: SendMany) -> None:
        """Install the function that writes one frame to many connections."""
        self._send_many = send_many

    # ------------------------------------------------------------------ add / remove
    def add(self, conn_id: str, presence: Presence, school: Optional[str] = None) -> bool:
        """Register a connection (``school``: its token's, by default the presence's); True
        when it is the user's first here (the user came online on this node)."""
        user_id = presence.user_id
        self.connections[conn_id] = user_id
        self.schools[conn_id] = school or presence.school
        conns = self.by_user.get(user_id)
        if conns is None:
            self.by_user[user_id] = {conn_id}
            self.online.add(presence)
            return True
        conns.add(conn_id)
        return False

    def remove(self, conn_id: str) -> Tuple[Optional[Presence], bool]:
        """Forget a connection; returns (its user's presence, True when it was the last one)."""
        user_id = self.connections.pop(conn_id, None)
        if user_id is None:
            return None, False
        self.schools.pop(conn_id, None)
        conns = self.by_user[user_id]
        conns.discard(conn_id)
        presence = self.online.users[user_id]
        if conns:
            return presence, False
        del self.by_user[user_id]
        self.online.remove(user_id)
        return presence, True

    def sockets_of(self, user_id: str) -> int:
        return len(self.by_user.get(user_id, ()))

    def is_open(self, conn_id: str) -> bool:
        return conn_id in self.connections

    # ------------------------------------------------------------------ pushes
    def publish(self, event: str, data: Dict[str, Any], user_ids: Iterable[str],
                school: Optional[str] = None) -> int:
        """Serialize once, write the same frame to every connection of every user (with
        ``school``: only users online with a token of that school); returns the number of
        frames written."""
        return self.publish_frame(push(event, data), user_ids, school)

    def publish_frame(self, frame: Frame, user_ids: Iterable[str], school: Optional[str] = None) -> int:
        """:meth:`publish` of a frame serialized elsewhere (by the sink, or another node)."""
        targets: List[str] = []
        for uid in user_ids:
            conns = self.by_user.get(uid)
            if not conns:
                continue
            if school is None:
                targets.extend(conns)
            else:
                targets.extend(c for c in conns if self.schools.get(c) == school)
        if not targets:
            return 0
        self._send_many(targets, frame)
        return len(targets)

    def stats(self) -> Dict[str, int]:
        return {"connections": len(self.connections), "users": len(self.online)}
