"""The in-memory index of classes and contacts that handshakes read instead of storage."""
from __future__ import annotations

from typing import Any, List

import pytest

from chat.clock import ManualClock
from chat.events import Audience
from chat.ops.roster import import_roster
from chat.presence.contacts import PeopleIndex
from tests.conftest import token

pytestmark = pytest.mark.usefixtures("school")


def _spy(targets: Any) -> List[str]:
    """Record the names of these storage methods as they are called: ``((repo, names), ...)``."""
    touched: List[str] = []
    for repo, names in targets:
        for name in names:
            real = getattr(repo, name)

            async def spy(*a: Any, _real: Any = real, _name: str = name, **k: Any) -> Any:
                touched.append(_name)
                return await _real(*a, **k)
            setattr(repo, name, spy)
    return touched


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
    touched = _spy(((runtime.store.directory, ("classes_of_user", "all_classes")),
                    (runtime.store.conversations, ("of_user", "contact_groups", "memberships_of_user"))))
    others = [await ws(u) for u in ("st2", "st3", "t1", "t2", "a1")]
    assert touched == []
    assert await first.ok("ping") and all([await o.ok("ping") for o in others])


@pytest.mark.gen_test
async def test_a_handshake_writes_the_directory_only_when_the_token_says_something_new(runtime, ws, api):
    """The directory is read once; users it already holds (the roster's) cost no write, so a
    school reconnecting after a restart does not queue one upsert per user."""
    await ws("st1")  # reads the directory
    writes, reads = [], []
    directory = runtime.store.directory
    for name, log in (("upsert_user", writes), ("identities", reads), ("get_user", reads)):
        real = getattr(directory, name)

        async def spy(*a, _real=real, _log=log, _name=name, **k):
            _log.append((_name,) + a[:2])
            return await _real(*a, **k)
        setattr(directory, name, spy)
    await ws("st2")
    await ws("t1")
    nameless = await ws("st3", tok=token("st3", name=""))
    assert nameless.frames[0]["data"]["user"]["name"] == "Stan Student"  # the directory's name
    assert writes == [] and reads == []  # all three as the roster has them
    renamed = await ws("st2", tok=token("st2", name="Sue S."))
    assert renamed.frames[0]["data"]["user"]["name"] == "Sue S."
    newcomer = await ws("n1", tok=token("n1", role="student", school="s1", name=""))
    assert newcomer.frames[0]["data"]["user"]["name"] == "n1"
    assert writes == [("upsert_user", "st2", "Sue S."), ("upsert_user", "n1", "")]
    await ws("st2", tok=token("st2", name="Sue S."))
    await ws("n1", tok=token("n1", role="student", school="s1", name=""))
    assert len(writes) == 2  # once per change, not per socket
    status, users = await api.call("GET", "/api/users?q=Sue", "t1")
    assert status == 200 and [u["name"] for u in users["data"]] == ["Sue S."]


@pytest.mark.gen_test
async def test_start_reads_the_directory_and_the_classes_before_the_first_handshake(runtime, ws):
    await runtime.start()
    # (the roster version is read again every roster_refresh seconds: a slow machine may get there)
    touched = _spy(((runtime.store.directory, ("identities", "all_classes", "upsert_user")),
                    (runtime.store.conversations, ("contact_groups",))))
    first = await ws("st1")
    assert touched == [] and await first.ok("ping")
