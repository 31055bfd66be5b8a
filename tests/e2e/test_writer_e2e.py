"""The writer's guarantees end to end: real sockets, real nx-27017, with storage faults
injected at the repository (the real database underneath does the storing)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

from chat.errors import Unavailable

pytestmark = pytest.mark.usefixtures("school")


async def group(api):
    return await api.conversation("st1", "group", ["st2", "t1"], title="G")


def gate_first_insert(runtime, fault, gated=True):
    """Hold the next insert (one message, the gate) until ``release`` is set, so that the
    sends made meanwhile form the next batch, whose insert runs ``fault(real, docs)``
    (without ``gated``, the next insert runs the fault at once)."""
    real = runtime.store.messages.insert_batch
    state: Dict[str, Any] = {"release": asyncio.Event(), "waiting": asyncio.Event(), "calls": 0}
    faulty = 2 if gated else 1

    async def insert(docs):
        state["calls"] += 1
        if state["calls"] == 1 and gated:
            state["waiting"].set()
            await state["release"].wait()
        if state["calls"] == faulty:
            return await fault(real, docs)
        return await real(docs)
    runtime.store.messages.insert_batch = insert
    return state


async def barrier(*clients):
    """Every push decided before now has reached these sockets: the server answers a socket's
    frames in order, after what it pushed to it."""
    for c in clients:
        await c.ok("ping")


async def queued(runtime, n):
    """Wait until ``n`` sends are queued behind the writer's current batch (an awaited
    condition: frames of one socket are handled in order, so a ping cannot overtake them)."""
    writer = runtime.service.core.writer
    while len(writer._queue) < n:
        await asyncio.sleep(0)


def new_texts(client) -> List[str]:
    return [f["data"]["text"] for f in client.of("message:new")]


@pytest.mark.gen_test(timeout=60)
async def test_a_message_the_database_refuses_fails_only_itself(api, ws, runtime):
    conv = await group(api)
    st1, st2, t1 = await ws("st1"), await ws("st2"), await ws("t1")
    other_tab = await ws("st1")

    async def poison(real, docs):
        # the database cannot store a lone surrogate: the real repository refuses it
        return await real([dict(d, text="\ud800") if d["text"] == "poison" else d for d in docs])
    state = gate_first_insert(runtime, poison)
    first = asyncio.ensure_future(other_tab.request("message:send", {"conversationId": conv["id"], "text": "opening"}))
    await state["waiting"].wait()  # the first batch is in the writer; the next three queue together
    sends = [asyncio.ensure_future(c.request("message:send", {"conversationId": conv["id"], "text": text}))
             for c, text in ((st1, "one"), (st2, "poison"), (t1, "two"))]
    await queued(runtime, 3)
    state["release"].set()
    replies = [await first] + [await s for s in sends]
    assert [r["ok"] for r in replies] == [True, True, False, True]
    assert replies[2]["error"]["code"] == "bad_request"
    assert [r["data"]["seq"] for r in replies if r["ok"]] == [1, 2, 3]  # no gap where the refused one was
    await barrier(st1, st2, t1)
    for c in (st1, st2, t1):
        assert new_texts(c) == ["opening", "one", "two"]  # each once, in seq order
    status, page = await api.get("/api/conversations/%s/messages" % conv["id"], "st1")
    assert [m["text"] for m in page["data"]] == ["opening", "one", "two"]


@pytest.mark.gen_test(timeout=60)
async def test_after_a_partial_insert_exactly_the_stored_messages_are_acknowledged(api, ws, runtime):
    conv = await group(api)
    st1, st2 = await ws("st1"), await ws("st2")

    async def lose_connection(real, docs):
        await real(docs[:1])  # one reaches the database, then the connection drops
        raise Unavailable()
    state = gate_first_insert(runtime, lose_connection)
    first = asyncio.ensure_future(st2.request("message:send", {"conversationId": conv["id"], "text": "gate"}))
    await state["waiting"].wait()
    sends = []
    for i in range(4):  # REST requests run concurrently: all four queue behind the gate, in order
        sends.append(asyncio.ensure_future(api.post("/api/conversations/%s/messages" % conv["id"], "st1",
                                                    {"text": "m%d" % i, "clientMsgId": "k%d" % i})))
        await queued(runtime, i + 1)
    state["release"].set()
    gate = await first
    replies = [await s for s in sends]
    # the gate message and m0 were stored: acknowledged; the rest were not: unavailable
    assert gate["ok"] and gate["data"]["seq"] == 1
    assert [status for status, _ in replies] == [201, 503, 503, 503]
    assert {body["error"]["code"] for _, body in replies[1:]} == {"unavailable"}
    await barrier(st1, st2)
    assert new_texts(st2) == ["gate", "m0"]
    # the client retries everything with the same clientMsgIds: nothing is stored twice
    retries = [await st1.request("message:send", {"conversationId": conv["id"], "text": "m%d" % i,
                                                  "clientMsgId": "k%d" % i}) for i in range(4)]
    assert [r["data"]["seq"] for r in retries] == [2, 3, 4, 5]
    await barrier(st1, st2)
    assert new_texts(st2) == ["gate", "m0", "m1", "m2", "m3"]
    status, page = await api.get("/api/conversations/%s/messages" % conv["id"], "st1")
    assert [(m["seq"], m["text"]) for m in page["data"]] == [(1, "gate"), (2, "m0"), (3, "m1"), (4, "m2"), (5, "m3")]


@pytest.mark.gen_test(timeout=60)
async def test_a_message_stored_during_an_outage_is_broadcast_by_its_retry(api, ws, runtime):
    conv = await group(api)
    st1, st2 = await ws("st1"), await ws("st2")
    real_read = runtime.store.messages.stored_ids
    outage = {"on": True}

    async def stored_ids(ids):
        if outage["on"]:
            raise Unavailable()
        return await real_read(ids)
    runtime.store.messages.stored_ids = stored_ids

    async def store_then_fail(real, docs):
        await real(docs)
        raise Unavailable()
    gate_first_insert(runtime, store_then_fail, gated=False)
    reply = await st1.request("message:send", {"conversationId": conv["id"], "text": "hello", "clientMsgId": "h1"})
    assert reply["ok"] is False and reply["error"]["code"] == "unavailable"
    await barrier(st1, st2)
    assert new_texts(st2) == []  # not acknowledged, not broadcast (yet)
    outage["on"] = False
    status, again = await api.post("/api/conversations/%s/messages" % conv["id"], "st1",
                                   {"text": "hello", "clientMsgId": "h1"})
    assert status == 200 and again["data"]["seq"] == 1  # found stored: answered, not stored twice
    await barrier(st1, st2)
    assert new_texts(st2) == ["hello"]
    status, _ = await api.post("/api/conversations/%s/messages" % conv["id"], "st1",
                               {"text": "hello", "clientMsgId": "h1"})
    await barrier(st1, st2)
    assert status == 200 and new_texts(st2) == ["hello"]  # broadcast once, never again


def test_messages_are_written_with_a_journaled_majority_write_concern(runtime):
    concern = runtime.store.messages.messages.write_concern.document
    assert concern == {"w": "majority", "j": True}
