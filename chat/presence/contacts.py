"""Who is related to whom, kept in memory: the classes of every user and the contacts that
direct and group conversations make.

A socket's handshake needs both (for presence) and must not wait on storage for them: the
index is read once (single flight) and then kept current. Classes come from roster imports,
which bump a version in storage that the index checks at most every ``refresh`` seconds;
contacts follow the conversation events the service emits (this is one of its event sinks).
"""
from __future__ import annotations

from typing import Any, Dict, FrozenSet, Set, Tuple

from chat.clock import Clock
from chat.events import Audience, NullEvents
from chat.singleflight import SingleFlight
from chat.store import Store
from chat.vocab import CONTACT_TYPES

EMPTY: FrozenSet[str] = frozenset()


class PeopleIndex(NullEvents):
    def __init__(self, store: Store, clock: Clock, refresh: float) -> None:
        self.store = store
        self.clock = clock
        self.refresh = refresh
        self._classes: Dict[Tuple[str, str], FrozenSet[str]] = {}   # (school, user) -> class ids
        self._conv: Dict[str, Tuple[str, Set[str]]] = {}            # direct/group conv -> (school, members)
        self._convs_of: Dict[str, Set[str]] = {}                    # user -> its direct/group convs
        self._version = -1
        self._checked = float("-inf")
        self._loading = SingleFlight()

    async def ready(self) -> None:
        """Load once; afterwards reload the classes when a roster import moved the version
        (checked at most every ``refresh`` seconds)."""
        if self._version >= 0 and self.clock.monotonic() - self._checked < self.refresh:
            return
        await self._loading.run(self._refresh)

    async def _refresh(self) -> None:
        first = self._version < 0
        version = await self.store.directory.roster_version()
        self._checked = self.clock.monotonic()
        if version != self._version:
            await self._load_classes()
            self._version = version
        if first:
            await self._load_contacts()

    async def _load_classes(self) -> None:
        index: Dict[Tuple[str, str], Set[str]] = {}
        for c in await self.store.directory.all_classes():
            for uid in list(c.get("teacherIds") or []) + list(c.get("studentIds") or []):
                index.setdefault((c.get("school", ""), uid), set()).add(c["id"])
        self._classes = {key: frozenset(ids) for key, ids in index.items()}

    async def _load_contacts(self) -> None:
        for conv in await self.store.conversations.contact_groups():
            self.set_members(conv["id"], conv.get("school", ""), conv.get("memberIds") or ())

    def classes_of(self, user_id: str, school: str) -> FrozenSet[str]:
        return self._classes.get((school, user_id), EMPTY)

    def contacts_of(self, user_id: str, school: str) -> Set[str]:
        out: Set[str] = set()
        for cid in self._convs_of.get(user_id, ()):
            conv_school, members = self._conv[cid]
            if conv_school == school:
                out |= members
        out.discard(user_id)
        return out

    # ------------------------------------------------------------------ kept current by events
    def set_members(self, conversation_id: str, school: str, members: Any) -> None:
        """The members of a direct or group conversation are now ``members`` (this node's events,
        or another node's change of it)."""
        now = set(members)
        before = self._conv.get(conversation_id, (school, set()))[1]
        for uid in before - now:
            self._unlink(uid, conversation_id)
        for uid in now:
            self._convs_of.setdefault(uid, set()).add(conversation_id)
        self._conv[conversation_id] = (school, now)

    def _unlink(self, user_id: str, conversation_id: str) -> None:
        convs = self._convs_of.get(user_id)
        if convs is not None:
            convs.discard(conversation_id)
            if not convs:
                del self._convs_of[user_id]

    def _follow(self, view: Dict[str, Any], audience: Audience) -> None:
        if view.get("type") in CONTACT_TYPES:
            self.set_members(view["id"], audience.school, (p["userId"] for p in view.get("participants", ())))

    def conversation_joined(self, view: Dict[str, Any], audience: Audience) -> None:
        self._follow(view, audience)

    def conversation_changed(self, view: Dict[str, Any], audience: Audience) -> None:
        self._follow(view, audience)

    def conversation_left(self, conversation_id: str, audience: Audience) -> None:
        entry = self._conv.get(conversation_id)
        if entry is None:
            return
        for uid in audience.user_ids:
            entry[1].discard(uid)
            self._unlink(uid, conversation_id)
