"""Shared seqs (a cluster) stay 1, 2, 3... when a batch fails: its reserved seqs are given back
to the counter when nobody reserved after them, or else filled with tombstones.

Unit tier: two writers (two nodes) on one fault-injecting message log and one seq counter, as
in the database (``$inc``, and the compare-and-set give-back).
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Tuple

from chat.cluster.seqs import SeqReserver
from chat.errors import Unavailable
from chat.live.convcache import ConversationCache
from chat.live.writer import MessageWriter, is_tombstone
from tests.unit.test_writer import Broadcasts, FakeLog, fake_store, msg, send_all


class Counter:
    """The ``seq_counters`` of the database (one per conversation here, as the school's
    document keeps them: ``$inc``, ``$max`` and the compare-and-set give-back); ``down``
    fails every call."""

    def __init__(self) -> None:
        self.last: Dict[str, int] = {}
        self.down = False

    async def reserve(self, counts: Dict[str, Dict[str, int]]) -> Dict[str, int]:
        if self.down:
            raise Unavailable()
        firsts = {}
        for per_conv in counts.values():
            for cid, n in per_conv.items():
                self.last[cid] = self.last.get(cid, 0) + n
                firsts[cid] = self.last[cid] - n + 1
        return firsts

    async def raise_to(self, floors: Dict[str, Dict[str, int]]) -> None:
        if self.down:
            raise Unavailable()
        for per_conv in floors.values():
            for cid, seq in per_conv.items():
                self.last[cid] = max(self.last.get(cid, 0), seq)

    async def give_back(self, school: str, conversation_id: str, top: int, count: int) -> bool:
        if self.down:
            raise Unavailable()
        if self.last.get(conversation_id, 0) != top:
            return False
        self.last[conversation_id] = top - count
        return True


def cluster(nodes: int = 2) -> Tuple[FakeLog, Counter, List[MessageWriter]]:
    log, counter = FakeLog(), Counter()
    writers = []
    for _ in range(nodes):
        writer = MessageWriter(ConversationCache(fake_store(log, {"A": ["u1", "u2"]})), log, Broadcasts(),
                               on_stored=lambda: None)
        reserver = SeqReserver(counter)
        writer.use_shared_seqs(reserver.reserve, reserver.give_back)
        writers.append(writer)
    return log, counter, writers


def history(log: FakeLog) -> List[Tuple[int, Any]]:
    return sorted((d["seq"], "~" if is_tombstone(d) else d["text"]) for d in log.docs)


def test_a_failed_batch_gives_its_reserved_seqs_back():
    async def scenario() -> None:
        log, counter, (a, _b) = cluster()
        assert (await send_all(a, [msg("A", "one")]))[0][0]["seq"] == 1
        log.fail_after = 0  # the connection drops before anything is stored
        out = await send_all(a, [msg("A", "lost1"), msg("A", "lost2")])
        assert all(isinstance(o, Unavailable) for o in out)
        assert a.owed == 2 and counter.last["A"] == 3
        out = await send_all(a, [msg("A", "two")])
        assert out[0][0]["seq"] == 2  # not 4: nobody reserved after them, so they went back
        assert a.given_back == 2 and a.tombstones == 0 and a.owed == 0 and counter.last["A"] == 2
        assert history(log) == [(1, "one"), (2, "two")]
    asyncio.run(scenario())


def test_seqs_another_node_reserved_past_are_filled_with_tombstones():
    async def scenario() -> None:
        log, counter, (a, b) = cluster()
        await send_all(a, [msg("A", "one")])
        log.fail_after = 0
        assert isinstance((await send_all(a, [msg("A", "lost")]))[0], Unavailable)  # seq 2, reserved by a
        assert (await send_all(b, [msg("A", "three", sender="u2")]))[0][0]["seq"] == 3
        await send_all(a, [msg("A", "four")])  # a settles first: 2 cannot go back, b reserved after it
        assert a.tombstones == 1 and a.given_back == 0 and a.owed == 0
        assert history(log) == [(1, "one"), (2, "~"), (3, "three"), (4, "four")]
        assert not any(m.get("meta") for m in a.events.new)  # a tombstone is never pushed
    asyncio.run(scenario())


def test_an_unknown_outcome_is_read_back_before_its_seq_is_given_back():
    async def scenario() -> None:
        log, counter, (a, _b) = cluster()
        log.fail_after = 1  # stored, then the connection drops
        log.read_fails = True  # and the read-back fails: unknown
        kept = msg("A", "kept", client_id="k1")
        assert isinstance((await send_all(a, [kept, msg("A", "lost")]))[0], Unavailable)
        assert a.owed == 2
        log.read_fails = False
        out = await send_all(a, [msg("A", "next")])
        assert out[0][0]["seq"] == 2  # 1 was stored (read back): kept; 2 went back
        assert a.given_back == 1 and a.tombstones == 0
        retry = await send_all(a, [dict(msg("A", "kept", client_id="k1"))])
        assert retry[0][0]["seq"] == 1 and retry[0][1] is False  # answered with the stored one
        assert history(log) == [(1, "kept"), (2, "next")]
    asyncio.run(scenario())


def test_owed_seqs_wait_while_storage_is_away():
    async def scenario() -> None:
        log, counter, (a, _b) = cluster()
        await send_all(a, [msg("A", "one")])
        log.fail_after = 0
        await send_all(a, [msg("A", "lost")])
        counter.down = True  # the give-back and the next reservation fail: still owed
        assert isinstance((await send_all(a, [msg("A", "also lost")]))[0], Unavailable)
        assert a.owed == 1
        counter.down = False
        assert (await send_all(a, [msg("A", "two")]))[0][0]["seq"] == 2
        assert history(log) == [(1, "one"), (2, "two")] and a.owed == 0
    asyncio.run(scenario())


def test_a_tombstone_loses_to_a_message_stored_meanwhile():
    async def scenario() -> None:
        log, counter, (a, b) = cluster()
        await send_all(a, [msg("A", "one")])
        log.fail_after = 1
        log.read_fails = True
        await send_all(a, [msg("A", "stored"), msg("A", "lost")])  # seqs 2 (stored) and 3, unknown
        await send_all(b, [msg("A", "four", sender="u2")])
        log.read_fails = False
        await send_all(a, [msg("A", "five")])
        assert a.tombstones == 1  # only seq 3: 2 was stored
        assert history(log) == [(1, "one"), (2, "stored"), (3, "~"), (4, "four"), (5, "five")]
    asyncio.run(scenario())


def test_the_ordering_buffer_reports_seqs_the_database_does_not_have():
    from tests.unit.test_cluster_ordering import Harness, env

    async def main() -> None:
        h = Harness(stored=[3])  # 2 and 4 were handed out and never stored (a node died)
        reported: List[Tuple[str, List[int]]] = []
        h.buffer.on_missing = lambda cid, seqs: reported.append((cid, seqs))
        h.buffer.offer(env(1))
        h.buffer.offer(env(5))
        await h.timeout()
        assert h.out == [1, 3, 5]  # delivered in order, the missing ones skipped
        assert reported == [("c1", [2, 4])]  # for the node to fill with tombstones
    asyncio.run(main())
