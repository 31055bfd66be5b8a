"""Who sees whose presence (PROTOCOL §6): one symmetric relation over an index of online users.

:class:`OnlineIndex` holds online users by school, (school, role) and class, each changed by
exactly one add/remove pair (:func:`_put` / :func:`_drop`); removal deletes empty buckets, so
an idle server holds no empty sets. Pure: no I/O, no clock. A node keeps one index of its own
sockets' users (the connection manager's) and, in a cluster, one of users online only on other
nodes (:mod:`chat.presence.shared`); the rule is the same for both.

Contacts (users sharing a direct or group conversation) come from one source, the contacts
index (:class:`chat.presence.contacts.PeopleIndex`), passed in at each question, so nothing here
keeps a copy that could disagree with it.
"""
from __future__ import annotations

import dataclasses
from typing import AbstractSet, Any, Callable, Dict, FrozenSet, Hashable, Iterable, Optional, Set

from chat.vocab import Role

#: (user id, school) -> the user's contacts in that school
ContactsOf = Callable[[str, str], AbstractSet[str]]


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
    since: int = 0

    def public(self) -> Dict[str, Any]:
        return {"userId": self.user_id, "name": self.name, "role": self.role}


class OnlineIndex:
    """Online users and the indexes the relation needs (see the module doc)."""

    __slots__ = ("users", "by_school", "by_school_role", "by_class")

    def __init__(self) -> None:
        self.users: Dict[str, Presence] = {}                   # online user id -> presence
        self.by_school: Dict[Hashable, Set[str]] = {}          # school -> user ids
        self.by_school_role: Dict[Hashable, Set[str]] = {}     # (school, role) -> user ids
        self.by_class: Dict[Hashable, Set[str]] = {}           # class id -> user ids

    def __contains__(self, user_id: object) -> bool:
        return user_id in self.users

    def __len__(self) -> int:
        return len(self.users)

    def add(self, presence: Presence) -> None:
        """The user is online (again: its previous entry is replaced)."""
        if presence.user_id in self.users:
            self.remove(presence.user_id)
        uid = presence.user_id
        self.users[uid] = presence
        _put(self.by_school, presence.school, uid)
        _put(self.by_school_role, (presence.school, presence.role), uid)
        for class_id in presence.class_ids:
            _put(self.by_class, class_id, uid)

    def remove(self, user_id: str) -> Optional[Presence]:
        """The user is offline; returns the presence it had."""
        presence = self.users.pop(user_id, None)
        if presence is None:
            return None
        _drop(self.by_school, presence.school, user_id)
        _drop(self.by_school_role, (presence.school, presence.role), user_id)
        for class_id in presence.class_ids:
            _drop(self.by_class, class_id, user_id)
        return presence

    def peer(self, user_id: str) -> Optional[Presence]:
        return self.users.get(user_id)

    def peers(self, presence: Presence, contacts: Iterable[str]) -> Set[str]:
        """Online users of this index that share presence with ``presence`` (never across
        schools).

        A student shares with the teachers and students of its classes; a teacher with all
        teachers of the school and the students of the classes it teaches; an admin with the
        whole school (and every admin is seen by everyone of the school); users sharing a
        direct or group conversation (``contacts``) share too.
        """
        school, role = presence.school, presence.role
        if role == Role.ADMIN:
            out = set(self.by_school.get(school, ()))
        else:
            out = set(self.by_school_role.get((school, Role.ADMIN.value), ()))
            if role == Role.TEACHER:
                out |= self.by_school_role.get((school, Role.TEACHER.value), set())
            for class_id in presence.class_ids:
                out |= self.by_class.get(class_id, set())
        for other in contacts:
            peer = self.users.get(other)
            if peer is not None and peer.school == school:
                out.add(other)
        out.discard(presence.user_id)
        return out
