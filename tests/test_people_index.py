"""The in-memory index of classes and contacts that handshakes read instead of storage."""
from __future__ import annotations

import pytest

from chat.clock import ManualClock
from chat.events import Audience
from chat.people import PeopleIndex
from chat.roster import import_roster

pytestmark = pytest.mark.usefixtures("school")


@pytest.mark.gen_test
async def test_classes_load_once_and_reload_after_a_roster_import(runtime):
    clock = ManualClock()
    people = PeopleIndex(runtime.store, clock, refresh=10)
    await people.ready()
    assert people.classes_of("st1", "s1") == {"c1"} and people.classes_of("t2", "s1") == {"c2"}
    assert people.classes_of("st1", "s2") == frozenset()  # classes are of the token's school
    calls = []
    real = runtime.store.directory.roster_version

    async def spy():
        calls.append(1)
        return await real()
    runtime.store.directory.roster_version = spy
    await import_roster(runtime.store, [], [{"id": "c9", "school": "s1", "name": "Chess", "teacherIds": ["t2"],
                                             "studentIds": ["st1"]}])
    await people.ready()
    assert calls == [] and people.classes_of("st1", "s1") == {"c1"}  # within the refresh: no storage read
    clock.advance(10)
    await people.ready()
    assert calls == [1] and people.classes_of("st1", "s1") == {"c1", "c9"}


@pytest.mark.gen_test
async def test_contacts_follow_conversation_events(runtime, api):
    people = PeopleIndex(runtime.store, ManualClock(), refresh=10)
    existing = await api.conversation("st1", "direct", ["st3"])
    await people.ready()
    assert people.contacts_of("st1", "s1") == {"st3"} and people.contacts_of("st3", "s2") == set()
    view = {"id": "g1", "type": "group", "participants": [{"userId": u} for u in ("st1", "st2", "t2")]}
    people.conversation_joined(view, Audience.one("s1", "st2"))
    assert people.contacts_of("st1", "s1") == {"st3", "st2", "t2"} and people.contacts_of("t2", "s1") == {"st1", "st2"}
    people.conversation_left("g1", Audience.one("s1", "t2"))
    assert people.contacts_of("t2", "s1") == set() and people.contacts_of("st1", "s1") == {"st3", "st2"}
    people.conversation_joined({"id": "k1", "type": "class", "participants": [{"userId": "st1"}, {"userId": "a1"}]},
                               Audience.one("s1", "a1"))
    assert "a1" not in people.contacts_of("st1", "s1")  # class conversations make no contacts
    assert existing["id"]


@pytest.mark.gen_test
async def test_a_handshake_reads_no_classes_or_conversations_from_storage(runtime, ws):
    first = await ws("st1")  # loads the index
    touched = []
    for repo, names in ((runtime.store.directory, ("classes_of_user", "all_classes")),
                        (runtime.store.conversations, ("of_user", "contact_groups", "memberships_of_user"))):
        for name in names:
            real = getattr(repo, name)

            async def spy(*a, _real=real, _name=name, **k):
                touched.append(_name)
                return await _real(*a, **k)
            setattr(repo, name, spy)
    others = [await ws(u) for u in ("st2", "st3", "t1", "t2", "a1")]
    assert touched == []
    assert await first.ok("ping") and all([await o.ok("ping") for o in others])
