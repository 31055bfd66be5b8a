"""Safeguarding changes across a two-node cluster, with every cache's TTL an hour: a block, a
mute, a word-list change or a policy change made through node A holds on node B at once,
because A announces it and B drops its copy (chat/domain/safety/changes.py). Without the
announcement B would keep its copy for the hour, so each check below would fail.

The barrier: B learns of the change from Redis, asynchronously to A's answer; each check is
retried after a ping round trip on a socket of B, a bounded number of times (the rounds used
are asserted small)."""
from __future__ import annotations

import os
from typing import Any, Awaitable, Callable

import pytest

from tests.conftest import Api, Ws
from tests.e2e.test_cluster import REDIS, Cluster, barrier, connect, run, subscribed
from tests.e2e.test_safeguarding_blocks import ws_send

pytestmark = pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")

HOUR = 3600
ROUNDS = 50


async def soon(check: Callable[[], Awaitable[bool]], sock: Ws, what: str) -> int:
    """Rounds of ping until ``check`` holds (at most ROUNDS): no sleeps, no clock."""
    for rounds in range(ROUNDS):
        if await check():
            return rounds
        await barrier(sock)
    raise AssertionError("%s did not hold on the other node within %d ping round trips" % (what, ROUNDS))


def test_changes_on_one_node_hold_on_the_other_at_once(tmp_path: Any) -> None:
    cluster = Cluster(str(tmp_path))
    try:
        a, b = cluster.start(2, block_cache_ttl=HOUR, policy_refresh=HOUR, filter_cache_seconds=HOUR)

        async def main() -> None:
            api_a, api_b = Api(a.url), Api(b.url)
            direct = await api_a.conversation("st1", "direct", ["st2"])
            klass = await api_a.conversation("t1", "class", classId="c1")
            blocked, student = await connect(b, "st2"), await connect(b, "st1")
            await subscribed(a)
            await subscribed(b)
            # node B reads (and caches for the hour) blocks, mutes, filters and the policy
            assert (await ws_send(blocked, direct["id"], "hi"))["ok"] is True
            assert (await ws_send(student, klass["id"], "hello there"))["ok"] is True
            status, _ = await api_b.post("/api/conversations", "st2", {"type": "direct", "participantIds": ["st1"]})
            assert status == 200
            status, _ = await api_b.post("/api/conversations", "st3", {"type": "direct", "participantIds": ["st1"]})
            assert status == 201
            used = []

            # a block
            assert (await api_a.put("/api/blocks/st2", "st1"))[0] == 200

            async def refused_start() -> bool:
                status, body = await api_b.post("/api/conversations", "st2",
                                                {"type": "direct", "participantIds": ["st1"]})
                return status == 403 and body["error"]["code"] == "policy_forbidden"
            used.append(await soon(refused_start, blocked, "the block"))
            assert (await ws_send(blocked, direct["id"], "hi?"))["error"]["code"] == "policy_forbidden"

            # a mute, and its end
            assert (await api_a.put("/api/conversations/%s/mutes/st1" % klass["id"], "t1", {"minutes": 5}))[0] == 200

            async def muted() -> bool:
                reply = await ws_send(student, klass["id"], "hi")
                return not reply["ok"] and reply["error"]["code"] == "muted"
            used.append(await soon(muted, student, "the mute"))
            assert (await api_a.delete("/api/conversations/%s/mutes/st1" % klass["id"], "t1"))[0] == 200

            async def free() -> bool:
                return bool((await ws_send(student, klass["id"], "free"))["ok"])
            used.append(await soon(free, student, "the unmute"))

            # a word list
            status, _ = await api_a.put("/api/schools/s1/filters", "a1", {"lists": [
                {"name": "Bullying", "action": "block", "terms": ["there"]}]})
            assert status == 200

            async def filtered() -> bool:
                reply = await ws_send(student, klass["id"], "hello there")
                return not reply["ok"] and reply["error"]["code"] == "content_blocked"
            used.append(await soon(filtered, student, "the word list"))

            # the school's policy
            assert (await api_a.put("/api/schools/s1/policy", "a1", {"studentDirect": "none"}))[0] == 200

            async def no_direct() -> bool:
                status, body = await api_b.post("/api/conversations", "st3",
                                                {"type": "direct", "participantIds": ["st1"]})
                return status == 403 and body["error"]["code"] == "policy_forbidden"
            used.append(await soon(no_direct, student, "the policy"))
            print("ping round trips before each change held on node B:", used)
        run(main())
    finally:
        cluster.stop()
