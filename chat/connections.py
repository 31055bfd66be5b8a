"""The IOLoop-owned connection manager.

It stores connection ids, never sockets: frames leave through the injected ``send``
function, so the manager is testable without a network. Indexes, all O(1) per change:

- ``user -> connection ids``   (a user with phone + web has two)
- ``school -> user ids``, ``(school, role) -> user ids``, ``class -> user ids``  (online users)

Each index is changed by exactly one add/remove pair (:func:`_put` / :func:`_drop`) and
removal deletes empty buckets, so an idle server holds no empty sets.

Presence rules (PROTOCOL §6) are one symmetric relation, :meth:`peers`: the users whose
presence a user sees are exactly the users who see theirs.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import AbstractSet, Any, Callable, Dict, FrozenSet, Hashable, Iterable, List, Optional, Set, Tuple

from chat.protocol import push

log = logging.getLogger("chat.connections")

#: writes one serialized frame to every listed connection
SendMany = Callable[[List[str], str], None]


def _put(index: Dict[Hashable, Set[str]], key: Hashable, member: str) -> None:
    bucket = index.get(key)
    if bucket is None:
        bucket = index[key] = set()
    bucket.add(member)


def _drop(index: Dict[Hashable, Set[str]], key: Hashable, member: str) -> None:
    bucket = index.get(key)
    if bucket is None:
        return
    bucket.discard(member)
    if not bucket:
        del index[key]


@dataclasses.dataclass(slots=True)
class Presence:
    """An online user as presence rules see it."""

    user_id: str
    name: str
    role: str
    school: str
    class_ids: FrozenSet[str]
    contacts: AbstractSet[str]  # a shared empty frozenset until there is one (most users have none)
    since: int = 0

    def public(self) -> Dict[str, Any]:
        return {"userId": self.user_id, "name": self.name, "role": self.role}


class ConnectionManager:
    """Connections, online users and their indexes; pushes serialized frames through ``send``."""

    def __init__(self, send_many: Optional[SendMany] = None) -> None:
        self._send_many: SendMany = send_many or (lambda conn_ids, frame: None)
        self.connections: Dict[str, str] = {}                  # connection id -> user id
        self.schools: Dict[str, str] = {}                      # connection id -> its token's school
        self.by_user: Dict[Hashable, Set[str]] = {}            # user id -> connection ids
        self.users: Dict[str, Presence] = {}                   # online user id -> presence
        self.by_school: Dict[Hashable, Set[str]] = {}          # school -> user ids
        self.by_school_role: Dict[Hashable, Set[str]] = {}     # (school, role) -> user ids
        self.by_class: Dict[Hashable, Set[str]] = {}           # class id -> user ids

    def set_sender(self, send_many: SendMany) -> None:
        """Install the function that writes one frame to many connections."""
        self._send_many = send_many

    # ------------------------------------------------------------------ add / remove
    def add(self, conn_id: str, presence: Presence, school: Optional[str] = None) -> bool:
        """Register a connection (``school``: its token's, by default the presence's); True
        when it is the user's first (the user came online)."""
        user_id = presence.user_id
        self.connections[conn_id] = user_id
        self.schools[conn_id] = school or presence.school
        first = user_id not in self.by_user
        _put(self.by_user, user_id, conn_id)
        if first:
            self.users[user_id] = presence
            _put(self.by_school, presence.school, user_id)
            _put(self.by_school_role, (presence.school, presence.role), user_id)
            for class_id in presence.class_ids:
                _put(self.by_class, class_id, user_id)
        return first

    def remove(self, conn_id: str) -> Tuple[Optional[Presence], bool]:
        """Forget a connection; returns (its user's presence, True when it was the last one)."""
        user_id = self.connections.pop(conn_id, None)
        if user_id is None:
            return None, False
        self.schools.pop(conn_id, None)
        _drop(self.by_user, user_id, conn_id)
        presence = self.users[user_id]
        if user_id in self.by_user:
            return presence, False
        del self.users[user_id]
        _drop(self.by_school, presence.school, user_id)
        _drop(self.by_school_role, (presence.school, presence.role), user_id)
        for class_id in presence.class_ids:
            _drop(self.by_class, class_id, user_id)
        return presence, True

    # ------------------------------------------------------------------ queries
    def is_online(self, user_id: str) -> bool:
        return user_id in self.by_user

    def peers(self, school: str, role: str, class_ids: Iterable[str], contacts: Iterable[str],
              user_id: str) -> Set[str]:
        """Online users that share presence with this user (PROTOCOL §6), never across schools.

        A student shares with the teachers and students of its classes; a teacher with all
        teachers of the school and the students of the classes it teaches; an admin with the
        whole school (and every admin is seen by everyone of the school); users sharing a
        direct or group conversation (``contacts``) share too.
        """
        if role == "admin":
            out = set(self.by_school.get(school, ()))
        else:
            out = set(self.by_school_role.get((school, "admin"), ()))
            if role == "teacher":
                out |= self.by_school_role.get((school, "teacher"), set())
            for class_id in class_ids:
                out |= self.by_class.get(class_id, set())
        for other in contacts:
            peer = self.users.get(other)
            if peer is not None and peer.school == school:
                out.add(other)
        out.discard(user_id)
        return out

    def peer(self, user_id: str) -> Optional[Presence]:
        """An online user's presence (a cluster node also knows users of other nodes)."""
        return self.users.get(user_id)

    def audience(self, presence: Presence) -> Set[str]:
        return self.peers(presence.school, presence.role, presence.class_ids, presence.contacts, presence.user_id)

    def link(self, user_ids: Iterable[str]) -> None:
        """Make online users contacts of each other (a direct or group conversation now joins them)."""
        ids = list(user_ids)
        for uid in ids:
            presence = self.users.get(uid)
            if presence is not None:
                presence.contacts = set(presence.contacts) | {u for u in ids if u != uid}

    # ------------------------------------------------------------------ pushes
    def publish(self, event: str, data: Dict[str, Any], user_ids: Iterable[str], school: Optional[str] = None) -> int:
        """Serialize once, write the same frame to every connection of every user (with
        ``school``: only users online with a token of that school); returns the number of
        frames written."""
        return self.publish_frame(push(event, data), user_ids, school)

    def publish_frame(self, frame: str, user_ids: Iterable[str], school: Optional[str] = None) -> int:
        """:meth:`publish` of a frame serialized elsewhere (another node, through Redis)."""
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
        return {"connections": len(self.connections), "users": len(self.users)}
