"""Oversight §1 across a two-node cluster: a grant opened through one node lets its holder
read through the other (grants are stored, never only in one process's memory), and a node
that refused the read a moment before the grant does not keep refusing it (real processes,
real nx-27017, real Redis: tests/e2e/test_cluster.py's harness)."""
from __future__ import annotations

import os

import pytest

from tests.conftest import Api
from tests.e2e.test_cluster import REDIS, run

pytestmark = pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")

MSGS = "/api/conversations/%s/messages"


def test_a_grant_opened_on_one_node_reads_on_the_other(cluster):
    a, b = cluster.start(2)

    async def main() -> None:
        api_a, api_b = Api(a.url), Api(b.url)
        conv = await api_a.conversation("st1", "group", ["st2"], title="Friends")
        msg = await api_a.send("st2", conv["id"], "homework help please")
        assert (await api_b.get(MSGS % conv["id"], "a1"))[0] == 403  # B looked before the grant
        assert (await api_b.get("/api/messages/%s/receipts" % msg["id"], "a1"))[0] == 403
        status, body = await api_a.post("/api/oversight/grants", "a1",
                                        {"conversationId": conv["id"], "reason": "A parent raised a concern"})
        assert status == 201, body
        status, history = await api_b.get(MSGS % conv["id"], "a1")
        assert status == 200 and [m["text"] for m in history["data"]] == ["homework help please"]
        status, found = await api_b.get("/api/search?q=homework&conversationId=" + conv["id"], "a1")
        assert status == 200 and [m["id"] for m in found["data"]] == [msg["id"]]
        assert (await api_b.get("/api/messages/%s/receipts" % msg["id"], "a1"))[0] == 200
        status, listed = await api_b.get("/api/oversight/grants", "a1")
        assert status == 200 and [g["id"] for g in listed["data"]] == [body["data"]["id"]]
        assert (await api_b.post(MSGS % conv["id"], "a1", {"text": "hi"}))[0] == 403  # still never writes
    run(main())
