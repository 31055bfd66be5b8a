"""Cross-node delivery costs: a writer batch reserves its seqs with one storage command per
school; a loop turn's pushes are routed by one Redis script call (real redis-server)."""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from typing import Any, Dict, List, Tuple

import pytest

from chat.cluster.broker import _ROUTE as ROUTE
from chat.cluster.envelope import bundle, unbundle
from chat.cluster.link import RedisLink
from chat.cluster.seqs import SeqReserver
from chat.ops.embedded import free_port


class Counters:
    """The ``seq_counters`` documents; ``commands`` records each storage command's school and
    conversations."""

    def __init__(self, start: Dict[str, int]) -> None:
        self.last = dict(start)
        self.commands: List[Tuple[str, str, List[str]]] = []

    async def reserve(self, counts: Dict[str, Dict[str, int]]) -> Dict[str, int]:
        firsts = {}
        for school, per_conv in counts.items():
            self.commands.append(("inc", school, sorted(per_conv)))
            for cid, n in per_conv.items():
                self.last[cid] = self.last.get(cid, 0) + n
                firsts[cid] = self.last[cid] - n + 1
        return firsts

    async def raise_to(self, floors: Dict[str, Dict[str, int]]) -> None:
        for school, per_conv in floors.items():
            self.commands.append(("max", school, sorted(per_conv)))
            for cid, seq in per_conv.items():
                self.last[cid] = max(self.last.get(cid, 0), seq)

    async def give_back(self, school: str, conversation_id: str, top: int, count: int) -> bool:
        return False


def test_a_batch_reserves_each_schools_conversations_in_one_command_and_raises_a_lagging_counter():
    async def main() -> None:
        counters = Counters({"a": 0, "b": 3, "c": 7, "d": 0})  # b's counter lags: seq 9 is stored
        reserver = SeqReserver(counters)
        schools = {"a": "s1", "b": "s1", "c": "s1", "d": "s2"}
        firsts = await reserver.reserve({"a": 2, "b": 1, "c": 3, "d": 1}, {"a": 0, "b": 9, "c": 7, "d": 0}, schools)
        assert firsts == {"a": 1, "b": 10, "c": 8, "d": 1}
        # first use: the counters of conversations with stored messages raised to them, one command;
        # then one command per school for the whole batch
        assert counters.commands == [("max", "s1", ["b", "c"]), ("inc", "s1", ["a", "b", "c"]), ("inc", "s2", ["d"])]
        assert counters.last == {"a": 2, "b": 10, "c": 10, "d": 1}
        assert reserver.reservations == 3
        # the next batch continues where these ended, nothing handed out twice, nothing raised again
        assert await reserver.reserve({"b": 2, "c": 1}, {"b": 10, "c": 10}, schools) == {"b": 11, "c": 11}
        assert counters.commands[3:] == [("inc", "s1", ["b", "c"])]
    asyncio.run(main())


REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")
def test_a_turns_pushes_travel_in_one_script_call_each_once_per_node_in_order(tmp_path: Any) -> None:
    port = free_port()
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        asyncio.run(_route_scenario("redis://127.0.0.1:%d/0" % port))
    finally:
        proc.terminate()
        proc.wait(10)


async def _route_scenario(url: str) -> None:
    prefix = "chat:t:"
    got: List[Tuple[str, bytes]] = []
    arrived = asyncio.Event()
    want = 5

    def on_message(channel: str, payload: bytes) -> None:
        got.append((channel, payload))
        if len(got) == want:
            arrived.set()

    link = RedisLink(url, on_message, lambda: None, always=[prefix + "n:B", prefix + "n:C", prefix + "all"])
    link.start()
    try:
        for _ in range(200):  # redis-server is starting: the link retries until it answers
            if await link.wait_up(0.1):
                break
        assert link.up
        for channel in (prefix + "n:B", prefix + "n:C", prefix + "all"):
            await link.confirmed(channel)
        assert link.client is not None
        await link.client.hset(prefix + "online:u1", mapping={"A": 1, "B": 1})
        await link.client.hset(prefix + "online:u2", mapping={"B": 1, "C": 2})
        await link.client.hset(prefix + "online:u3", mapping={"A": 1})
        keys = {u: prefix + "online:" + u for u in ("u1", "u2", "u3")}
        link.route(ROUTE, ["A", prefix], [keys["u1"], keys["u2"]], "one")
        link.route(ROUTE, ["A", prefix], [keys["u3"]], "only A")   # nobody else holds u3
        link.publish([prefix + "all"], "between")
        link.route(ROUTE, ["A", prefix], [keys["u2"], keys["u1"]], "two")
        assert len(link._queue) == 3  # the first two routes share one script call
        await asyncio.wait_for(arrived.wait(), 30)
        assert [(c[len(prefix):], p) for c, p in got] == [
            ("n:B", b"one"), ("n:C", b"one"), ("all", b"between"), ("n:B", b"two"), ("n:C", b"two")]
        assert link.published == 4 and link.dropped == 0
        # several pushes of one call for one node: one Redis message, a bundle of them in order
        got.clear()
        arrived.clear()
        want = 2  # one message for B (a bundle of three), one for C
        link.route(ROUTE, ["A", prefix], [keys["u1"]], "three")           # B
        link.route(ROUTE, ["A", prefix], [keys["u2"]], '{"x": "4:\n*"}')  # B and C, bytes that look like framing
        link.route(ROUTE, ["A", prefix], [keys["u3"], keys["u1"]], "five")  # B
        assert len(link._queue) == 1
        await asyncio.wait_for(arrived.wait(), 30)
        assert len(got) == want
        by_channel = {c[len(prefix):]: p for c, p in got}
        assert by_channel["n:B"] == bundle([b"three", b'{"x": "4:\n*"}', b"five"])
        assert unbundle(by_channel["n:B"]) == [b"three", b'{"x": "4:\n*"}', b"five"]
        assert by_channel["n:C"] == b'{"x": "4:\n*"}'  # one payload for a node travels as it is
        assert unbundle(by_channel["n:C"]) == [b'{"x": "4:\n*"}']
    finally:
        await link.close()


def test_an_import_in_a_cluster_moves_the_stored_last_seq_so_every_indexer_sees_it(tmp_path: Any, settings: Any,
                                                                                   mongo_uri: str) -> None:
    from chat.auth import mint_token
    from chat.ops.roster import import_roster
    from chat.rules.validation import NewConversation
    from chat.runtime import build_runtime
    from chat.store import new_id
    from chat.timeutil import now_ms

    port = free_port()
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def main() -> None:
        rt = build_runtime(settings.replace(redis_url="redis://127.0.0.1:%d/0" % port), mongo_uri)
        try:
            await rt.store.ensure_indexes()
            await rt.broker.start()
            await import_roster(rt.store, [{"id": u, "name": u, "role": "student", "school": "s"} for u in ("a", "b")],
                                [])
            ident = rt.verifier.verify(mint_token(rt.settings, "a", "student", "s"))
            conv, _ = await rt.service.conversations.create(ident, NewConversation("group", ["b"], "Imported", None))
            docs = [{"id": new_id(), "senderId": "a", "senderName": "a", "type": "text", "text": "imported homework %d" % i,
                     "attachments": [], "replyTo": None, "clientMsgId": "imp-%d" % i, "createdAt": now_ms(),
                     "editedAt": None, "deletedAt": None} for i in range(5)]
            assert rt.service.core.writer._reserve is not None  # the cluster's counter, not lastSeq's $inc
            first = await rt.service.messages.import_history(conv["id"], docs)
            assert first == 1
            stored = await rt.store.conversations.get(conv["id"])
            assert stored is not None and stored["lastSeq"] == 5
            assert await rt.service.search_indexer.run_once() == 5  # the walk goes by the stored lastSeq
        finally:
            await rt.close()
            await rt.store.drop_database()
            rt.store.close()
    try:
        asyncio.run(main())
    finally:
        proc.terminate()
        proc.wait(10)
