"""Sync pages kept in memory (chat/live/recent.py): members reconnecting together read storage once
per conversation, and no change to a conversation is ever hidden by a kept page."""
from __future__ import annotations

from typing import Any, List

import pytest

from chat.clock import ManualClock
from chat.events import Audience
from chat.live.recent import RecentPages

pytestmark = pytest.mark.usefixtures("school")


def _count_history_reads(runtime: Any) -> List[tuple]:
    reads: List[tuple] = []
    messages = runtime.store.messages
    real = messages.history

    async def spy(conversation_id, before, after, limit):
        reads.append((conversation_id, after))
        return await real(conversation_id, before, after, limit)
    messages.history = spy
    return reads


async def _sync(sock: Any, conversation_id: str, seen: int) -> Any:
    return await sock.ok("sync", {"conversations": {conversation_id: seen}})


@pytest.mark.gen_test
async def test_members_syncing_the_same_range_read_storage_once(runtime, api, ws):
    conv = await api.conversation("t1", "group", ["st1", "st2", "st3"], title="Lab")
    for k in range(3):
        await api.send("t1", conv["id"], "before %d" % k)
    socks = [await ws(u) for u in ("st1", "st2", "st3")]
    reads = _count_history_reads(runtime)
    replies = [await _sync(s, conv["id"], 1) for s in socks]
    assert reads == [(conv["id"], 1)]  # one read for the three members
    for reply in replies:
        assert [m["text"] for m in reply["messages"]] == ["before 1", "before 2"]
        assert reply["hasMore"] == {conv["id"]: False}


@pytest.mark.gen_test
async def test_every_change_to_the_conversation_reaches_the_next_sync(runtime, api, ws):
    conv = await api.conversation("t1", "group", ["st1", "st2"], title="Lab")
    first = await api.send("t1", conv["id"], "first")
    st1, st2 = await ws("st1"), await ws("st2")
    reads = _count_history_reads(runtime)

    async def both_see(texts: List[str]) -> List[Any]:
        got = [(await _sync(s, conv["id"], 0))["messages"] for s in (st1, st2)]
        for messages in got:
            assert [m.get("text") for m in messages] == texts
        return got[0]

    await both_see(["first"])
    assert len(reads) == 1
    await api.send("t1", conv["id"], "second")                                   # a new message
    await both_see(["first", "second"])
    assert len(reads) == 2
    status, _ = await api.call("PATCH", "/api/messages/%s" % first["id"], "t1", {"text": "first, edited"})
    assert status == 200                                                           # an edit
    await both_see(["first, edited", "second"])
    assert len(reads) == 3
    await st1.ok("message:react", {"messageId": first["id"], "emoji": "👍"})        # a reaction
    messages = await both_see(["first, edited", "second"])
    assert messages[0]["reactions"] and len(reads) == 4
    status, _ = await api.call("DELETE", "/api/messages/%s" % first["id"], "t1")    # a delete
    assert status == 200
    messages = await both_see([None, "second"])
    assert messages[0]["deleted"] is True and len(reads) == 5


@pytest.mark.gen_test
async def test_a_kept_page_is_not_used_when_the_conversation_moved_without_an_event(runtime, api, ws):
    """A write whose outcome was unknown reloads the conversation: its lastSeq moved, so the
    page (which carries the lastSeq it was read at) is read again."""
    conv = await api.conversation("t1", "group", ["st1"], title="Lab")
    await api.send("t1", conv["id"], "one")
    st1 = await ws("st1")
    reads = _count_history_reads(runtime)
    assert len((await _sync(st1, conv["id"], 0))["messages"]) == 1
    state = runtime.service.core.cache.peek(conv["id"])
    state.last_seq += 1  # as if a message were reserved and stored with no event yet
    await _sync(st1, conv["id"], 0)
    assert len(reads) == 2


def test_pages_are_voided_by_their_conversation_changing_and_bounded_in_bytes():
    pages = RecentPages(max_bytes=8000, clock=ManualClock())
    row = ({"id": "m1", "text": "x"}, 100)
    generation = pages.generation("c1")
    pages.message_stored({"conversationId": "c1"}, Audience("s1", ()))  # while storage was read
    pages.put("c1", 0, 10, generation, 1, [row], False)
    assert pages.get("c1", 0, 10, 1) is None and len(pages) == 0
    pages.put("c1", 0, 10, pages.generation("c1"), 1, [row], False)
    assert pages.get("c1", 0, 10, 1) is not None
    assert pages.get("c1", 0, 10, 2) is None      # lastSeq moved
    assert pages.get("c1", 0, 20, 1) is None      # another page size
    pages.message_updated({"conversationId": "c2"}, Audience("s1", ()))
    assert pages.get("c1", 0, 10, 1) is not None  # another conversation's change
    pages.message_deleted({"conversationId": "c1", "messageId": "m1"}, Audience("s1", ()))
    assert pages.get("c1", 0, 10, 1) is None
    big = [({"id": "b"}, 1000)]  # 1,100 bytes with the overhead: past an eighth of the budget
    pages.put("c3", 0, 10, 0, 1, big, False)
    assert pages.get("c3", 0, 10, 1) is None
    for k in range(20):  # 200 bytes each: the budget holds 40, the oldest go first
        pages.put("c4", k, 10, 0, 1, [row], False)
    assert len(pages) <= 40 and pages.get("c4", 19, 10, 1) is not None
    for k in range(60):
        pages.put("c5", k, 10, 0, 1, [row], False)
    assert pages.get("c4", 0, 10, 1) is None and pages.get("c5", 59, 10, 1) is not None
    assert sum(p.size for p in pages._pages.values()) <= 8000


@pytest.mark.gen_test
@pytest.mark.settings(sync_cache_bytes=0)
async def test_with_no_budget_every_sync_reads_storage(runtime, api, ws):
    conv = await api.conversation("t1", "group", ["st1", "st2"], title="Lab")
    await api.send("t1", conv["id"], "one")
    socks = [await ws(u) for u in ("st1", "st2")]
    reads = _count_history_reads(runtime)
    for s in socks:
        await _sync(s, conv["id"], 0)
    assert len(reads) == 2 and runtime.service.recent is None


def _count(runtime: Any, repo: Any, name: str) -> List[tuple]:
    calls: List[tuple] = []
    real = getattr(repo, name)

    async def spy(*a, **k):
        calls.append(a)
        return await real(*a, **k)
    setattr(repo, name, spy)
    return calls


@pytest.mark.gen_test
async def test_changes_since_a_time_are_read_once_for_everyone_and_filtered_per_user(runtime, api, ws):
    mine = await api.conversation("t1", "group", ["st1", "st2"], title="Lab")
    other = await api.conversation("t2", "group", ["st3"], title="Art")
    a = await api.send("t1", mine["id"], "in lab")
    b = await api.send("t2", other["id"], "in art")
    st1, st2, st3 = await ws("st1"), await ws("st2"), await ws("st3")
    for sock, conv in ((st1, mine), (st2, mine), (st3, other)):  # the states are in the cache now
        await _sync(sock, conv["id"], 0)
    since = "2000-01-01T00:00:00Z"
    for user, msg, text in (("t1", a, "lab, edited"), ("t2", b, "art, edited")):
        status, _ = await api.call("PATCH", "/api/messages/%s" % msg["id"], user, {"text": text})
        assert status == 200
    shared = _count(runtime, runtime.store.messages, "changed_any")
    per_user = _count(runtime, runtime.store.messages, "changed_since")
    memberships = _count(runtime, runtime.store.conversations, "memberships_of_user")
    got = {}
    for user, sock, conv in (("st1", st1, mine), ("st2", st2, mine), ("st3", st3, other)):
        reply = await sock.ok("sync", {"conversations": {conv["id"]: 1}, "changedSince": since})
        got[user] = [m["text"] for m in reply["changed"]]
    assert got == {"st1": ["lab, edited"], "st2": ["lab, edited"], "st3": ["art, edited"]}
    assert len(shared) == 1 and per_user == [] and memberships == []
    status, _ = await api.call("PATCH", "/api/messages/%s" % a["id"], "t1", {"text": "lab, again"})
    assert status == 200  # a change: the kept read is not used again
    reply = await st2.ok("sync", {"conversations": {mine["id"]: 1}, "changedSince": since})
    assert [m["text"] for m in reply["changed"]] == ["lab, again"] and len(shared) == 2


@pytest.mark.gen_test
async def test_too_many_changes_or_an_uncached_conversation_are_read_per_user(runtime, api, ws, monkeypatch):
    from chat.domain import sync

    conv = await api.conversation("t1", "group", ["st1"], title="Lab")
    msgs = [await api.send("t1", conv["id"], "m%d" % k) for k in range(3)]
    st1 = await ws("st1")
    await _sync(st1, conv["id"], 0)
    for m in msgs:
        status, _ = await api.call("PATCH", "/api/messages/%s" % m["id"], "t1", {"text": m["text"] + "!"})
        assert status == 200
    monkeypatch.setattr(sync, "CHANGES_CAP", 2)
    per_user = _count(runtime, runtime.store.messages, "changed_since")
    reply = await st1.ok("sync", {"conversations": {conv["id"]: 3}, "changedSince": "2000-01-01T00:00:00Z"})
    assert [m["text"] for m in reply["changed"]] == ["m0!", "m1!", "m2!"] and len(per_user) == 1
    monkeypatch.setattr(sync, "CHANGES_CAP", 500)
    other = await api.conversation("t2", "group", ["st3"], title="Art")
    elsewhere = await api.send("t2", other["id"], "art")
    status, _ = await api.call("PATCH", "/api/messages/%s" % elsewhere["id"], "t2", {"text": "art!"})
    assert status == 200
    runtime.service.core.cache.invalidate(other["id"])  # not cached: who takes part there is not known here
    reply = await st1.ok("sync", {"conversations": {conv["id"]: 3}, "changedSince": "2000-01-01T00:00:00Z"})
    assert [m["text"] for m in reply["changed"]] == ["m0!", "m1!", "m2!"] and len(per_user) == 2


@pytest.mark.gen_test
async def test_a_page_read_while_a_seq_is_handed_out_but_not_stored_is_not_kept(runtime, api, ws):
    """Seqs are handed out before their insert ends. A page read meanwhile stops short of the
    conversation's lastSeq; if the insert then lands with no event (its outcome was unknown),
    the next sync must still find it."""
    conv = await api.conversation("t1", "group", ["st1"], title="Lab")
    first = await api.send("t1", conv["id"], "one")
    st1 = await ws("st1")
    reads = _count_history_reads(runtime)
    state = runtime.service.core.cache.peek(conv["id"])
    state.last_seq += 1  # seq 2 handed out, its insert still running
    assert [m["seq"] for m in (await _sync(st1, conv["id"], 0))["messages"]] == [1]
    doc = {"id": None, "conversationId": conv["id"], "senderId": "t1", "senderName": "Tom Teacher", "type": "text",
           "text": "two", "attachments": [], "replyTo": None, "clientMsgId": "landed-late", "createdAt": 1,
           "editedAt": None, "deletedAt": None, "mentions": [], "seq": 2}
    from bson import ObjectId

    doc["id"] = str(ObjectId())
    outcome = await runtime.store.messages.insert_batch([doc])  # stored; no event was sent
    assert outcome.stored == 1 and first["seq"] == 1
    assert [m["seq"] for m in (await _sync(st1, conv["id"], 0))["messages"]] == [1, 2]
    assert len(reads) == 2
