"""Safeguarding §2-§3 across a two-node cluster: a report made through one node reaches the
moderators' sockets on the other, and a moderator's removal through that one deletes the message
for the participants on the first (tests/test_cluster.py's processes: real nx-27017, real Redis)."""
from __future__ import annotations

import os

import pytest

from tests.conftest import Api
from tests.e2e.test_cluster import REDIS, connect, run, subscribed

pytestmark = pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")


def test_reports_and_moderation_across_nodes(cluster):
    a, b = cluster.start(2)

    async def main() -> None:
        admin = await connect(b, "a1")
        author, reporter = await connect(a, "st2"), await connect(a, "st1")
        await subscribed(a)
        await subscribed(b)
        api_a, api_b = Api(a.url), Api(b.url)
        conv = await api_a.conversation("t1", "class", classId="c1")
        msg = await api_a.send("st2", conv["id"], "not nice")
        status, body = await api_a.post("/api/messages/%s/report" % msg["id"], "st1", {"reason": "bullying"})
        assert status == 201, body
        case_id = body["data"]["caseId"]
        pushed = await admin.expect("moderation:case", lambda f: f["data"]["id"] == case_id)
        assert pushed["data"]["reportCount"] == 1
        status, body = await api_b.patch("/api/moderation/cases/%s" % case_id, "a1",
                                         {"action": "remove_message", "status": "resolved"})
        assert status == 200, body
        for sock in (author, reporter):
            await sock.expect("message:deleted", lambda f: f["data"]["messageId"] == msg["id"])
        await author.none("moderation:case")
    run(main())
