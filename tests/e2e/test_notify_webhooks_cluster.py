"""Webhooks across a two-node cluster (tests/e2e/test_cluster.py's processes: real nx-27017,
real Redis): events made on both nodes, while the receiver first fails and then recovers, are
each delivered exactly once (the outbox claim), and a stopped node's deliveries go out through
the other node."""
from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from typing import Any

import pymongo
import pytest

from tests.conftest import Api, token
from tests.e2e.test_cluster import REDIS, run
from tests.e2e.webhook_receiver import Receiver

pytestmark = pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")


def _config(tmp_path: Any) -> str:
    path = os.path.join(str(tmp_path), "hooks.toml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("webhook_allow_private = true\nwebhook_poll_interval = 0.2\nwebhook_backoff = 0.05\n"
                 "webhook_backoff_max = 0.3\nwebhook_max_attempts = 50\n")
    return path


def _outbox(cluster: Any) -> int:
    client: pymongo.MongoClient = pymongo.MongoClient(cluster.mongo_uri, serverSelectionTimeoutMS=5000)
    try:
        return client[cluster.db_name]["webhook_outbox"].count_documents({})
    finally:
        client.close()


async def known_on(api: Api, conversation_id: str, rx: Receiver) -> None:
    """A node learns of another node's new webhook within its poll interval: send probes
    through it until one reaches the receiver (as an attempt)."""
    for i in range(100):
        probe = await api.send("t1", conversation_id, "probe %d" % i)
        try:
            await rx.until(lambda probe=probe: any(d.json["data"]["messageId"] == probe["id"] for d in rx.attempts),
                           timeout=2, what="a probe")
            return
        except AssertionError:
            continue
    raise AssertionError("the node never delivered for the webhook")


def test_two_nodes_deliver_each_event_once_through_failures(cluster, tmp_path):
    a, b = cluster.start(2, config=_config(tmp_path))
    per_node = 10

    async def main() -> None:
        rx = Receiver()
        rx.mode = "fail"
        try:
            api_a, api_b = Api(a.url), Api(b.url)
            status, created = await api_a.post("/api/webhooks", token("a1"),
                                               {"url": rx.url, "events": ["message.created"]})
            assert status == 201, created
            rx.secret = created["data"]["secret"]
            conv = await api_a.conversation("t1", "direct", ["t2"])
            await known_on(api_b, conv["id"], rx)
            sends = [(api_a if i % 2 == 0 else api_b).send("t1", conv["id"], "m%d" % i) for i in range(2 * per_node)]
            sent = await asyncio.gather(*sends)
            await rx.until(lambda: len(rx.attempts) >= 3 * per_node, what="failing attempts from both nodes")
            rx.mode = "ok"
            ids = {m["id"] for m in sent}
            await rx.until(lambda: ids <= {d.json["data"]["messageId"] for d in rx.received}, timeout=60,
                           what="every message delivered")
            # drain: nothing left to deliver, then one more event through each node arrives
            for _ in range(600):
                if _outbox(cluster) == 0:
                    break
                await asyncio.sleep(0.05)
            assert _outbox(cluster) == 0
            last = [await api_a.send("t1", conv["id"], "last a"), await api_b.send("t1", conv["id"], "last b")]
            ids |= {m["id"] for m in last}
            await rx.until(lambda: ids <= {d.json["data"]["messageId"] for d in rx.received}, what="the last ones")
            counts = Counter(d.json["data"]["messageId"] for d in rx.received)
            assert set(counts.values()) == {1}, counts  # each event once, whichever node made it
            assert all(d.verified for d in rx.received)
        finally:
            rx.stop()
    run(main())


def test_a_stopped_nodes_deliveries_go_out_through_the_other(cluster, tmp_path):
    a, b = cluster.start(2, config=_config(tmp_path))

    async def main() -> None:
        rx = Receiver()
        rx.mode = "fail"
        try:
            api_a = Api(a.url)
            status, created = await api_a.post("/api/webhooks", token("a1"),
                                               {"url": rx.url, "events": ["message.created"]})
            assert status == 201
            rx.secret = created["data"]["secret"]
            conv = await api_a.conversation("t1", "direct", ["t2"])
            await known_on(Api(b.url), conv["id"], rx)
            rx.mode = "hang"
            sent = [await api_a.send("t1", conv["id"], "m%d" % i) for i in range(5)]
            await rx.until(lambda: rx.hanging >= 1, what="an attempt held by the receiver")
            a.proc.send_signal(signal.SIGTERM)  # a gives its claims back (b may be the one holding the attempt)
            assert a.proc.wait(30) == 0
            rx.mode = "ok"
            rx.release.set()
            ids = {m["id"] for m in sent}
            await rx.until(lambda: ids <= {d.json["data"]["messageId"] for d in rx.received}, timeout=60,
                           what="every message delivered by the node left")
        finally:
            rx.stop()
    run(main())
