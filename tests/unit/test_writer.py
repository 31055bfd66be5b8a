"""The message writer's contract (chat/live/writer.py), against a fault-injecting message log.

Unit tier: no sockets, no database. The fake log behaves like the real one (ordered inserts,
unique (sender, clientMsgId) and (conversation, seq)) and fails where each test says.
"""
from __future__ import annotations

import asyncio
import types
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

import pytest

from chat.errors import BadRequest, Unavailable
from chat.events import NullEvents
from chat.live.convcache import ConversationCache
from chat.live.writer import MessageWriter
from chat.store import InsertOutcome, new_id


class FakeLog:
    """Messages in memory, with faults: ``refuse(doc) -> reason or None``, ``fail_after``
    (store that many documents of the next insert, then fail like a lost connection),
    ``read_fails`` (the read-back after a failure fails too) and ``gate`` (an insert waits
    for it)."""

    def __init__(self) -> None:
        self.docs: List[Dict[str, Any]] = []
        self.refuse: Callable[[Dict[str, Any]], Optional[str]] = lambda doc: None
        self.fail_after: Optional[int] = None
        self.read_fails = False
        self.gate: Optional[asyncio.Event] = None
        self.refusals: List[str] = []
        self.inserts = 0

    def _taken(self, doc: Dict[str, Any]) -> Optional[str]:
        for d in self.docs:
            if (d["senderId"], d["clientMsgId"]) == (doc["senderId"], doc["clientMsgId"]):
                return "duplicate_client"
            if (d["conversationId"], d["seq"]) == (doc["conversationId"], doc["seq"]):
                return "duplicate_seq"
        return None

    async def insert_batch(self, docs: Sequence[Dict[str, Any]]) -> InsertOutcome:
        self.inserts += 1
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        for i, doc in enumerate(docs):
            if self.fail_after is not None and i == self.fail_after:
                self.fail_after = None
                raise Unavailable()
            reason = self.refuse(doc) or self._taken(doc)
            if reason:
                self.refusals.append(reason)
                return InsertOutcome(i, i, reason)
            self.docs.append(dict(doc))
        return InsertOutcome(len(docs))

    async def stored_ids(self, message_ids: Sequence[str]) -> Set[str]:
        if self.read_fails:
            raise Unavailable()
        return {d["id"] for d in self.docs} & set(message_ids)

    async def find_by_client_id(self, sender_id: str, client_msg_id: str) -> Optional[Dict[str, Any]]:
        return next((dict(d) for d in self.docs if (d["senderId"], d["clientMsgId"]) == (sender_id, client_msg_id)),
                    None)

    def seqs(self, cid: str) -> List[int]:
        return sorted(d["seq"] for d in self.docs if d["conversationId"] == cid)


def fake_store(log: FakeLog, members: Dict[str, List[str]]) -> Any:
    """What the conversation cache reads: conversations, memberships and the newest message
    (so a reload recovers lastSeq from what the log really holds)."""
    async def get(cid: str) -> Optional[Dict[str, Any]]:
        if cid not in members:
            return None
        return {"id": cid, "type": "group", "school": "s1", "lastSeq": 0, "lastMessage": None, "lastActivityAt": 0}

    async def memberships_of(cids: Sequence[str]) -> List[Dict[str, Any]]:
        return [{"conversationId": c, "userId": u, "role": "member", "joinedAt": 0} for c in cids for u in members[c]]

    async def newest(cid: str) -> Optional[Dict[str, Any]]:
        mine = [d for d in log.docs if d["conversationId"] == cid]
        return dict(max(mine, key=lambda d: d["seq"])) if mine else None

    return types.SimpleNamespace(conversations=types.SimpleNamespace(get=get, memberships_of=memberships_of),
                                 messages=types.SimpleNamespace(newest=newest))


class Broadcasts(NullEvents):
    def __init__(self) -> None:
        self.new: List[Dict[str, Any]] = []

    def message_stored(self, message: Dict[str, Any], member_ids: Sequence[str]) -> None:
        self.new.append(message)


def setup(members: Optional[Dict[str, List[str]]] = None):
    log = FakeLog()
    cache = ConversationCache(fake_store(log, members or {"A": ["u1", "u2"], "B": ["u1", "u3"]}))
    events = Broadcasts()
    writer = MessageWriter(cache, log, events, on_stored=lambda: None)
    return log, cache, events, writer


def msg(cid: str, text: str, sender: str = "u1", client_id: Optional[str] = None) -> Dict[str, Any]:
    return {"id": new_id(), "conversationId": cid, "senderId": sender, "senderName": sender, "type": "text",
            "text": text, "attachments": [], "replyTo": None, "clientMsgId": client_id or new_id(),
            "createdAt": 1, "editedAt": None, "deletedAt": None}


async def send_all(writer: MessageWriter, docs: List[Dict[str, Any]], check: bool = True) -> List[Any]:
    """Submit all in one batch (queued before the writer runs) and collect outcomes."""
    tasks = [asyncio.ensure_future(writer.submit(d["conversationId"], d, check)) for d in docs]
    return await asyncio.gather(*tasks, return_exceptions=True)


def texts(events: Broadcasts) -> List[str]:
    return [m["text"] for m in events.new]


def test_a_refused_message_fails_alone_and_leaves_no_gap():
    async def scenario() -> None:
        log, _cache, events, writer = setup()
        log.refuse = lambda doc: "invalid" if doc["text"] == "bad" else None
        docs = [msg("A", "a1"), msg("B", "b1"), msg("A", "bad"), msg("A", "a2"), msg("B", "b2")]
        out = await send_all(writer, docs)
        assert isinstance(out[2], BadRequest)
        assert [(o[0]["text"], o[0]["seq"], o[1]) for i, o in enumerate(out) if i != 2] == [
            ("a1", 1, True), ("b1", 1, True), ("a2", 2, True), ("b2", 2, True)]
        assert log.seqs("A") == [1, 2] and log.seqs("B") == [1, 2]
        assert texts(events) == ["a1", "b1", "a2", "b2"]  # each stored message broadcast once, in order
        again = await send_all(writer, [msg("A", "a3")])
        assert again[0][0]["seq"] == 3  # the refused message's seq was never skipped
    asyncio.run(scenario())


def test_a_partial_insert_acknowledges_exactly_what_was_stored():
    async def scenario() -> None:
        log, _cache, events, writer = setup()
        log.fail_after = 2  # two stored, then the connection is lost
        docs = [msg("A", "a1", client_id="k1"), msg("A", "a2", client_id="k2"), msg("A", "a3", client_id="k3"),
                msg("B", "b1", client_id="k4")]
        out = await send_all(writer, docs)
        assert [o[0]["text"] for o in out[:2]] == ["a1", "a2"]
        assert all(isinstance(o, Unavailable) for o in out[2:])
        assert texts(events) == ["a1", "a2"]
        # the retries store nothing twice and continue the seqs from what is really stored
        retry = await send_all(writer, [msg("A", "a2", client_id="k2"), msg("A", "a3", client_id="k3"),
                                        msg("B", "b1", client_id="k4")])
        assert [(o[0]["text"], o[0]["seq"], o[1]) for o in retry] == [("a2", 2, False), ("a3", 3, True),
                                                                     ("b1", 1, True)]
        assert log.seqs("A") == [1, 2, 3] and log.seqs("B") == [1]
        assert texts(events) == ["a1", "a2", "a3", "b1"]
    asyncio.run(scenario())


def test_a_message_stored_but_never_broadcast_is_broadcast_on_its_retry_once():
    async def scenario() -> None:
        log, _cache, events, writer = setup()
        log.fail_after = 1
        log.read_fails = True  # the outage hides even what was stored
        out = await send_all(writer, [msg("A", "a1", client_id="k1"), msg("A", "a2", client_id="k2")])
        assert all(isinstance(o, Unavailable) for o in out)
        assert texts(events) == [] and log.seqs("A") == [1]  # stored, not broadcast, not acknowledged
        log.read_fails = False
        first = await send_all(writer, [msg("A", "a1", client_id="k1")])
        assert first[0][1] is False and first[0][0]["seq"] == 1 and first[0][0]["text"] == "a1"
        assert texts(events) == ["a1"]  # broadcast now, by the retry
        second = await send_all(writer, [msg("A", "a1", client_id="k1"), msg("A", "a2", client_id="k2")])
        assert (second[0][1], second[1][0]["seq"], second[1][1]) == (False, 2, True)
        assert texts(events) == ["a1", "a2"]  # and never again
    asyncio.run(scenario())


def test_a_retry_is_never_answered_with_a_refused_document():
    async def scenario() -> None:
        log, _cache, _events, writer = setup()
        log.refuse = lambda doc: "invalid" if doc["text"] == "bad" else None
        out = await send_all(writer, [msg("A", "bad", client_id="k1"), msg("A", "bad", client_id="k1")])
        assert all(isinstance(o, BadRequest) for o in out)  # the duplicate in the batch follows its first
        fixed = await send_all(writer, [msg("A", "good", client_id="k1")])
        assert fixed[0][1] is True and fixed[0][0]["text"] == "good" and fixed[0][0]["seq"] == 1
        retry = await send_all(writer, [msg("A", "ignored", client_id="k1")])
        assert retry[0][1] is False and retry[0][0]["text"] == "good"  # the stored one
    asyncio.run(scenario())


def test_a_state_reloaded_while_messages_are_in_flight_never_reuses_a_seq():
    async def scenario() -> None:
        log, cache, _events, writer = setup()
        await cache.get("A")
        log.gate = asyncio.Event()
        first = asyncio.ensure_future(writer.submit("A", msg("A", "a1"), True))
        while log.inserts == 0:  # the first batch is being written
            await asyncio.sleep(0)
        queued = asyncio.ensure_future(writer.submit("A", msg("A", "a2"), True))
        await asyncio.sleep(0)
        cache.invalidate("A")
        await cache.get("A")  # another request reloads it now: a1 is not stored yet
        cache._evict()
        log.gate.set()
        assert (await first)[0]["seq"] == 1 and (await queued)[0]["seq"] == 2
        assert log.seqs("A") == [1, 2] and log.refusals == []  # no seq was ever handed out twice
    asyncio.run(scenario())


def test_pinned_and_dirty_states_are_never_evicted():
    async def scenario() -> None:
        log, cache, _events, writer = setup({c: ["u1"] for c in "ABCDEFGHIJ"})
        cache.capacity = 3
        for c in "ABC":
            await cache.get(c)
        log.gate = asyncio.Event()
        sending = asyncio.ensure_future(writer.submit("A", msg("A", "a1"), True))
        while log.inserts == 0:
            await asyncio.sleep(0)
        for c in "DEFGHIJ":
            await cache.get(c)  # every load past capacity evicts idle states
            assert cache.peek("A") is not None
        log.gate.set()
        await sending
        assert cache.peek("A").dirty  # stored, not flushed: still the only copy of lastSeq
        for c in "BCDEFGHIJ":
            cache.invalidate(c)
            await cache.get(c)
        assert cache.peek("A") is not None
        cache.peek("A").dirty = False
        cache._evict()
        assert cache.peek("A") is None  # idle and clean: now it may go
    asyncio.run(scenario())


@pytest.mark.parametrize("fault", ["invalid", "duplicate_seq"])
def test_faults_never_leave_a_sender_waiting(fault):
    async def scenario() -> None:
        log, _cache, _events, writer = setup()
        log.refuse = lambda doc: fault if doc["text"] == "x" else None
        out = await send_all(writer, [msg("A", "x"), msg("A", "y")])
        assert all(o is not None for o in out)
        assert writer._queue == [] and not writer.busy
    asyncio.run(scenario())
