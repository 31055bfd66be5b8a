"""Seqs stay 1, 2, 3... when storage fails: a batch answered ``unavailable`` gives its seqs back.

Real sockets and nx-27017; the faults are injected at the repository (deterministic: an insert
is held on an event while the write-behind of ``lastSeq`` runs, then fails), and one test kills
the real database child of a server process during sends.
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

from chat.errors import Unavailable

pytestmark = pytest.mark.usefixtures("school")


async def group(api: Any) -> Dict[str, Any]:
    return await api.conversation("st1", "group", ["st2", "t1"], title="G")


def fail_next_insert(runtime: Any, store_first: bool = False) -> Dict[str, Any]:
    """The next insert waits for ``release``, then fails like a lost connection (after storing
    its documents when ``store_first``); later inserts are real."""
    real = runtime.store.messages.insert_batch
    state: Dict[str, Any] = {"release": asyncio.Event(), "waiting": asyncio.Event(), "calls": 0}

    async def insert(docs: Any) -> Any:
        state["calls"] += 1
        if state["calls"] > 1:
            return await real(docs)
        state["waiting"].set()
        await state["release"].wait()
        if store_first:
            await real(docs)
        raise Unavailable()
    runtime.store.messages.insert_batch = insert
    return state


def failing_read_back(runtime: Any) -> Dict[str, bool]:
    """The read-back after a failed insert fails too while ``on``: what was stored is unknown."""
    real = runtime.store.messages.stored_ids
    outage = {"on": True}

    async def stored_ids(ids: Any) -> Any:
        if outage["on"]:
            raise Unavailable()
        return await real(ids)
    runtime.store.messages.stored_ids = stored_ids
    return outage


async def failed_send_while_flushing(runtime: Any, client: Any, conv: Dict[str, Any], text: str,
                                     state: Dict[str, Any]) -> Dict[str, Any]:
    """A send whose insert is in flight while the conversation state is written behind (as the
    flusher does every second under load), then fails."""
    pending = asyncio.ensure_future(client.request("message:send", {"conversationId": conv["id"], "text": text,
                                                                    "clientMsgId": "c-" + text}))
    await state["waiting"].wait()
    await runtime.service.core.flusher.flush()
    state["release"].set()
    return await pending


async def seqs_of(api: Any, conv: Dict[str, Any]) -> List[Any]:
    status, page = await api.get("/api/conversations/%s/messages?limit=100" % conv["id"], "st1")
    assert status == 200
    return [(m["seq"], m["text"]) for m in page["data"]]


async def barrier(*clients: Any) -> None:
    for c in clients:
        await c.ok("ping")


@pytest.mark.gen_test(timeout=60)
async def test_a_failed_send_gives_its_seq_back(api, ws, runtime):
    conv = await group(api)
    st1, st2 = await ws("st1"), await ws("st2")
    assert (await st1.request("message:send", {"conversationId": conv["id"], "text": "one"}))["data"]["seq"] == 1
    state = fail_next_insert(runtime)
    reply = await failed_send_while_flushing(runtime, st1, conv, "lost", state)
    assert reply["ok"] is False and reply["error"]["code"] == "unavailable"
    two = await st2.request("message:send", {"conversationId": conv["id"], "text": "two"})
    assert two["data"]["seq"] == 2  # not 3: the failed send's seq was given back
    assert await seqs_of(api, conv) == [(1, "one"), (2, "two")]
    # the stored lastSeq agrees: a reload (as after a restart) hands out 3 next
    await runtime.service.core.flusher.flush()
    runtime.service.core.cache.invalidate(conv["id"])
    three = await st1.request("message:send", {"conversationId": conv["id"], "text": "three"})
    assert three["data"]["seq"] == 3
    await barrier(st1, st2)
    assert [f["data"]["seq"] for f in st2.of("message:new")] == [1, 2, 3]
    status, listing = await api.get("/api/conversations/%s" % conv["id"], "st2")
    assert status == 200 and listing["data"]["lastSeq"] == 3


@pytest.mark.gen_test(timeout=60)
async def test_an_unknown_outcome_gives_its_seq_back_unless_it_persisted(api, ws, runtime):
    conv = await group(api)
    st1, st2 = await ws("st1"), await ws("st2")
    await api.send("st1", conv["id"], "one")
    outage = failing_read_back(runtime)
    state = fail_next_insert(runtime)
    reply = await failed_send_while_flushing(runtime, st1, conv, "lost", state)
    assert reply["error"]["code"] == "unavailable"
    outage["on"] = False
    assert (await api.send("st2", conv["id"], "two"))["seq"] == 2
    # the retry of the lost one is stored now, next in line
    retry = await st1.request("message:send", {"conversationId": conv["id"], "text": "lost", "clientMsgId": "c-lost"})
    assert retry["data"]["seq"] == 3
    assert await seqs_of(api, conv) == [(1, "one"), (2, "two"), (3, "lost")]
    # and one that did persist (its sender was told unavailable) keeps its seq, once
    other = await api.conversation("st1", "group", ["st2"], title="H")
    await api.send("st1", other["id"], "one")
    outage = failing_read_back(runtime)
    state = fail_next_insert(runtime, store_first=True)
    reply = await failed_send_while_flushing(runtime, st1, other, "kept", state)
    assert reply["error"]["code"] == "unavailable"
    outage["on"] = False
    assert (await api.send("st2", other["id"], "two"))["seq"] == 3  # 2 is taken: it was stored
    retry = await st1.request("message:send", {"conversationId": other["id"], "text": "kept", "clientMsgId": "c-kept"})
    assert retry["ok"] and retry["data"]["seq"] == 2  # answered with the stored one, not stored twice
    assert await seqs_of(api, other) == [(1, "one"), (2, "kept"), (3, "two")]
    await barrier(st1, st2)
    assert [f["data"]["seq"] for f in st2.of("message:new") if f["data"]["conversationId"] == other["id"]] == [1, 3, 2]


def test_killing_the_database_child_during_sends_leaves_no_gap(tmp_path):
    """Two senders keep sending while the embedded database child is SIGKILLed three times;
    each kill fails some sends (``unavailable``), whose senders retry them afterwards. History
    then holds every message once, at seqs 1..N with no gap."""
    import json
    import os
    import signal
    import threading

    from tests.e2e.test_process import ServerProc, http, wait_gone

    server = ServerProc(str(tmp_path / "data"))
    try:
        server.wait_ready()
        roster = tmp_path / "roster.json"
        roster.write_text(json.dumps({"users": [{"id": u, "name": u, "role": "teacher", "school": "s1"}
                                                for u in ("u1", "u2")]}))
        assert server.cli("import-roster", str(roster)).returncode == 0
        toks = {u: server.cli("token", "--user", u, "--role", "teacher", "--school", "s1").stdout.strip()
                for u in ("u1", "u2")}
        status, conv = http("POST", server.url + "/api/conversations", toks["u1"],
                            {"type": "group", "title": "G", "participantIds": ["u2"]})
        assert status == 201, conv
        url = server.url + "/api/conversations/%s/messages" % conv["data"]["id"]
        done = threading.Condition()
        outcome: Dict[str, int] = {}  # clientMsgId -> status of its last attempt
        stop = threading.Event()

        def send(user: str, key: str) -> int:
            try:
                return http("POST", url, toks[user], {"text": key, "clientMsgId": key})[0]
            except OSError:
                return 0

        def sender(user: str) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                key = "%s-%d" % (user, i)
                code = send(user, key)
                with done:
                    outcome[key] = code
                    done.notify_all()

        def successes() -> int:
            return sum(1 for c in outcome.values() if c == 201)

        def wait_for(n: int) -> None:
            with done:
                assert done.wait_for(lambda: successes() >= n, timeout=60), outcome

        threads = [threading.Thread(target=sender, args=(u,)) for u in toks]
        for t in threads:
            t.start()
        try:
            for _ in range(3):
                wait_for(successes() + 40)  # storage is up and sends flow: kill it mid-stream
                child = server.state()["pid"]
                os.kill(child, signal.SIGKILL)
                assert wait_gone(child)
            wait_for(successes() + 40)  # restarted, and sends succeed again
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        failed = [key for key, code in outcome.items() if code != 201]
        assert failed, "no send met the outage"  # the kills did fail some sends
        for key in failed:  # the clients retry what failed, with the same clientMsgId
            assert send(key.split("-")[0], key) in (200, 201)
        seqs: List[int] = []
        texts: List[str] = []
        after = 0
        while True:
            status, page = http("GET", url + "?after=%d&limit=100" % after, toks["u1"])
            assert status == 200
            seqs += [m["seq"] for m in page["data"]]
            texts += [m["text"] for m in page["data"]]
            if not page.get("hasMore"):
                break
            after = seqs[-1]
        assert seqs == list(range(1, len(seqs) + 1))  # 1, 2, 3... no gap, no seq twice
        assert sorted(texts) == sorted(outcome)  # every message once: nothing lost, nothing twice
    finally:
        server.stop()


@pytest.mark.gen_test(timeout=60)
async def test_a_tombstone_holds_its_seq_in_history_and_sync_and_is_never_unread(api, ws, runtime):
    from chat.live.writer import tombstone
    from chat.timeutil import now_ms

    conv = await group(api)
    await api.send("st1", conv["id"], "one")
    stone = tombstone(conv["id"], 2, now_ms())
    assert (await runtime.store.messages.insert_batch([stone])).stored == 1
    again = await runtime.store.messages.insert_batch([tombstone(conv["id"], 2, now_ms())])
    assert again.stored == 0 and again.refused == 0  # one per seq, whoever writes it
    runtime.service.core.cache.invalidate(conv["id"])
    await api.send("st1", conv["id"], "three")
    page = await seqs_of(api, conv)
    assert page == [(1, "one"), (2, None), (3, "three")]
    st2 = await ws("st2")
    synced = await st2.request("sync", {"conversations": {conv["id"]: 0}, "limit": 50})
    shown = [(m["seq"], m["type"], m["deleted"], m.get("meta")) for m in synced["data"]["messages"]]
    assert shown[1] == (2, "system", True, {"event": "gap"})
    status, listing = await api.get("/api/conversations/%s" % conv["id"], "st2")
    assert listing["data"]["unread"] == 2  # "one" and "three": a tombstone is never unread
