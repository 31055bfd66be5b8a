"""Unread counts never stall storage and never depend on a write: a first count of a long
conversation is computed once however many requests ask for it, in bounded queries that leave
storage threads to everyone else, and a read still answers when the counter cannot be written
back (a full disk). End-to-end through real HTTP, real nx-27017."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Dict, List

import pymongo.errors
import pytest
import tornado.httpclient

from chat.store import new_id
from tests.conftest import token

pytestmark = pytest.mark.usefixtures("school")

MESSAGES = 1000
CHUNK = 100


async def long_conversation(api: Any, runtime: Any, members: List[str]) -> Dict[str, Any]:
    """A group of ``members`` (the first owns it) with MESSAGES messages from someone else,
    stored directly (as an import does): unread for every member, never counted."""
    conv = await api.conversation(members[0], "group", members[1:], title="Long")
    docs = [{"id": new_id(), "senderId": "zz", "senderName": "Zed", "type": "text", "text": "m%d" % i,
             "attachments": [], "replyTo": None, "clientMsgId": "bulk-%d" % i, "createdAt": 1, "editedAt": None,
             "deletedAt": None} for i in range(MESSAGES)]
    await runtime.service.messages.import_history(conv["id"], docs)
    return conv


def wide(api: Any) -> Any:
    """``api`` with a client of its own that sends 30 requests at once (the shared one queues past 10)."""
    api.client = tornado.httpclient.AsyncHTTPClient(force_instance=True, max_clients=30)
    return api


def on_settle(runtime: Any, users: int, entered: asyncio.Event) -> None:
    """Set ``entered`` once ``users`` requests have asked to bring a counter up to date."""
    counter = runtime.service.markers.counter
    real = counter.settle
    calls = []

    async def spy(m: Dict[str, Any], last_seq: int) -> Dict[str, Any]:
        calls.append(m["userId"])
        if len(calls) == users:
            entered.set()
        return await real(m, last_seq)
    counter.settle = spy


@pytest.mark.settings(unread_chunk=CHUNK, db_timeout_ms=15000)  # the bulk import only: a slow machine
@pytest.mark.gen_test(timeout=300)
async def test_twenty_concurrent_first_counts_of_one_user_are_counted_once_in_bounded_queries(api, runtime):
    await long_conversation(api, runtime, ["st1", "st2"])
    api = wide(api)
    entered = asyncio.Event()
    on_settle(runtime, 20, entered)
    real = runtime.store.messages.count_countable
    ranges = []

    async def spy(cid: str, user: str, after: int, upto: int) -> Any:
        await entered.wait()  # every request is in before the first count gets an answer
        ranges.append((user, upto - after))
        return await real(cid, user, after, upto)
    runtime.store.messages.count_countable = spy
    paths = ["/api/unread", "/api/conversations"] * 10
    answers = await asyncio.gather(*(api.get(p, "st1") for p in paths))
    for path, (status, data) in zip(paths, answers, strict=True):
        assert status == 200, data
        if path == "/api/unread":
            assert data["data"]["total"] == MESSAGES
        else:
            assert data["data"][0]["unread"] == MESSAGES
    assert sum(n for _u, n in ranges) == MESSAGES  # counted once for all twenty
    assert max(n for _u, n in ranges) <= CHUNK  # in queries of at most unread_chunk seqs
    ranges.clear()
    status, data = await api.get("/api/unread", "st1")
    assert status == 200 and data["data"]["total"] == MESSAGES and ranges == []  # stored: not counted again


@pytest.mark.settings(unread_chunk=CHUNK, db_workers=4, db_timeout_ms=15000)
@pytest.mark.gen_test(timeout=300)
async def test_first_counts_never_take_the_storage_threads_another_school_sends_with(api, runtime):
    members = ["st1", "st2", "st3", "t1", "t2"]  # more first counts at once than storage threads
    await long_conversation(api, runtime, members)
    other = await api.conversation("x1", "direct", ["x2"])
    entered = asyncio.Event()
    on_settle(runtime, len(members), entered)
    real = runtime.store.messages.count_countable
    held = threading.Event()  # a counting query that does not finish: it keeps its storage thread
    in_storage = []
    first_in = asyncio.Event()

    def stuck() -> None:
        held.wait(120)

    async def spy(cid: str, user: str, after: int, upto: int) -> Any:
        in_storage.append(user)
        first_in.set()
        await runtime.store.db.io(stuck)
        in_storage.remove(user)
        return await real(cid, user, after, upto)
    runtime.store.messages.count_countable = spy
    counts = [asyncio.ensure_future(api.get("/api/unread", u)) for u in members]
    try:
        await entered.wait()  # every first count has started (unbounded, each went straight to storage)
        await first_in.wait()
        assert len(in_storage) == 1  # unread_concurrency: one counting query in storage, the others wait
        status, data = await api.post("/api/conversations/%s/messages" % other["id"], "x1", {"text": "still here"})
        assert status == 201 and data["data"]["seq"] == 1  # while a count holds storage
        assert len(in_storage) == 1
    finally:
        held.set()
    for status, data in await asyncio.gather(*counts):
        assert status == 200 and data["data"]["total"] == MESSAGES


class DiskFull:
    """A collection whose writes fail as on a full disk (SQLite: "database or disk is full");
    reads pass through."""

    WRITES = ("insert_one", "insert_many", "update_one", "update_many", "bulk_write", "replace_one",
              "find_one_and_update", "delete_one", "delete_many")

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        if name in self.WRITES:
            def refuse(*_args: Any, **_kw: Any) -> Any:
                raise pymongo.errors.WriteError("database or disk is full", 13)
            return refuse
        return getattr(self._real, name)


@pytest.mark.settings(unread_chunk=CHUNK)
@pytest.mark.gen_test(timeout=120)
async def test_reads_answer_with_the_right_counts_when_counters_cannot_be_written(api, runtime):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    quiet = await api.conversation("st1", "direct", ["st3"])
    for i in range(5):
        await api.send("st2", conv["id"], "hello %d" % i)
    await api.post("/api/conversations/%s/read" % conv["id"], "st1", {"seq": 2})
    for i in range(3):
        await api.send("st2", conv["id"], "more %d" % i)  # not counted yet: the next look counts them
    store = runtime.store.conversations
    real = store.memberships
    store.memberships = DiskFull(real)
    try:
        status, data = await api.post("/api/conversations/%s/read" % conv["id"], "st1", {"seq": 3})
        assert status == 503 and data["error"]["code"] == "unavailable"  # the disk is full indeed
        for _ in range(2):  # and again: nothing was written in between
            status, data = await api.get("/api/conversations", "st1")
            assert status == 200, data
            unread = {c["id"]: c["unread"] for c in data["data"]}
            assert unread == {conv["id"]: 6, quiet["id"]: 0}
            status, data = await api.get("/api/unread", "st1")
            assert status == 200 and data["data"]["total"] == 6, data
            status, data = await api.get("/api/conversations/" + conv["id"], "st1")
            assert status == 200 and data["data"]["unread"] == 6, data
    finally:
        store.memberships = real
    status, data = await api.get("/api/unread", "st1")  # space again: the count is written back
    assert status == 200 and data["data"]["total"] == 6
    stored = await store.membership(conv["id"], "st1")
    assert stored["unread"] == 6 and stored["unreadSeq"] == 8


@pytest.mark.gen_test(timeout=120)
async def test_a_token_the_directory_does_not_match_yet_still_reads_on_a_full_disk(api, runtime):
    conv = await api.conversation("st1", "direct", ["st2"])
    await api.send("st2", conv["id"], "hi")
    renamed = token("st1", name="Sam Renamed")  # a claim the directory does not hold: an upsert is due
    directory = runtime.store.directory
    real = directory.users
    directory.users = DiskFull(real)
    try:
        status, data = await api.get("/api/conversations", renamed)
        assert status == 200 and data["data"][0]["unread"] == 1, data
        status, data = await api.get("/api/me", renamed)
        assert status == 200 and data["data"]["name"] == "Sam Renamed", data
    finally:
        directory.users = real
    assert (await api.get("/api/me", renamed))[0] == 200  # space again: the directory catches up
    assert (await directory.get_user("st1"))["name"] == "Sam Renamed"
