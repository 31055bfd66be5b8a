"""Bots across a two-node cluster (tests/e2e/test_cluster.py's processes: real nx-27017, real
Redis): a bot created through one node posts through the other, its message reaches a student's
socket on the first marked as a bot, and a revoke through one node is 401 on the other at once."""
from __future__ import annotations

import os

import pytest

from tests.conftest import Api, Ws, token
from tests.e2e.test_cluster import REDIS, run

pytestmark = pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")


def test_a_bot_made_on_one_node_posts_on_the_other_and_its_revoke_holds_everywhere(cluster):
    a, b = cluster.start(2)

    async def main() -> None:
        api_a, api_b = Api(a.url), Api(b.url)
        announce = await api_a.conversation("t1", "announcement", [], classId="c1")
        status, created = await api_a.post("/api/bots", token("a1"), {"name": "LMS", "scopes": {"classes": ["c1"]}})
        assert status == 201, created
        bot = {"Authorization": "Bearer " + created["data"]["token"]}
        student = await Ws.connect(a.url, "st1")
        try:
            path = "/api/conversations/%s/messages" % announce["id"]
            status, sent = await api_b.call("POST", path, None, {"text": "Sports day moved"}, headers=bot)
            assert status == 201 and sent["data"]["bot"] is True, sent
            pushed = await student.expect("message:new", lambda f: f["data"]["id"] == sent["data"]["id"])
            assert pushed["data"]["bot"] is True and pushed["data"]["senderName"] == "LMS"
            status, _ = await api_a.delete("/api/bots/" + created["data"]["id"], token("a1"))
            assert status == 200
            status, data = await api_b.call("POST", path, None, {"text": "after the revoke"}, headers=bot)
            assert status == 401, data
        finally:
            await student.close()
    run(main())
