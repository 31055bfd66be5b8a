"""Safeguarding across a cluster: blocks, mutes and slow mode made through one node hold on
another (README "Blocks, mutes and slow mode"). Slow: two server processes, a database process
and a Redis."""
from __future__ import annotations

import os

import pytest

from tests.conftest import Api
from tests.e2e.test_cluster import REDIS, Cluster, connect, run, subscribed
from tests.e2e.test_safeguarding_blocks import ws_send

pytestmark = pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")

def test_blocks_mutes_and_slow_mode_made_on_one_node_hold_on_the_other(tmp_path):
    """With ``block_cache_ttl`` 0 a node re-reads blocks and mutes on every use, so what node A
    stores holds on node B at once (with the default a node sees it within the TTL)."""
    cluster = Cluster(str(tmp_path))
    try:
        a, b = cluster.start(2, block_cache_ttl=0)

        async def main() -> None:
            api_a, api_b = Api(a.url), Api(b.url)
            direct = await api_a.conversation("st1", "direct", ["st2"])
            klass = await api_a.conversation("t1", "class", classId="c1")
            blocked, student = await connect(b, "st2"), await connect(b, "st1")
            await subscribed(b)
            # node B uses (and caches) both conversations and the users' blocks before the changes
            assert (await ws_send(blocked, direct["id"], "hi"))["ok"] is True
            assert (await ws_send(student, klass["id"], "hi"))["ok"] is True
            assert (await api_a.put("/api/blocks/st2", "st1"))[0] == 200
            assert (await ws_send(blocked, direct["id"], "hi?"))["error"]["code"] == "policy_forbidden"
            status, body = await api_b.post("/api/conversations", "st2", {"type": "direct", "participantIds": ["st1"]})
            assert (status, body["error"]["code"]) == (403, "policy_forbidden")
            assert (await api_a.put("/api/conversations/%s/mutes/st1" % klass["id"], "t1", {"minutes": 5}))[0] == 200
            assert (await ws_send(student, klass["id"], "hi"))["error"]["code"] == "muted"
            assert (await api_a.delete("/api/conversations/%s/mutes/st1" % klass["id"], "t1"))[0] == 200
            assert (await ws_send(student, klass["id"], "free"))["ok"] is True
            assert (await api_a.patch("/api/conversations/%s" % klass["id"], "t1", {"slowModeSeconds": 3600}))[0] == 200
            await student.expect("conversation:updated", lambda f: f["data"]["slowModeSeconds"] == 3600)
            assert (await ws_send(student, klass["id"], "one"))["ok"] is True
            assert (await ws_send(student, klass["id"], "two"))["error"]["code"] == "muted"
        run(main())
    finally:
        cluster.stop()
