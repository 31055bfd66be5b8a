"""Quiet hours on a two-node cluster (real processes, real Redis): a change stored through one
node is enforced by the other on sends and typing, and lifting it opens chat there again.

The nodes run on the real clock, so the closed time is a holiday around today (in every time
zone): whatever the hour, students are refused; see test_oversight_quiet_hours.py for the hours
themselves on the injected clock."""
from __future__ import annotations

import datetime
import os

import pytest

from tests.conftest import Api
from tests.e2e.test_cluster import REDIS, barrier, connect, run, subscribed

POLICY = "/api/schools/s1/policy"
ALWAYS = {"student": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "00:00", "to": "24:00"}]}


@pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")
def test_a_change_on_one_node_is_enforced_on_the_other(cluster):  # noqa: F811
    # policy_refresh far below any request's time: node b reads the policy for each decision
    a, b = cluster.start(2, policy_refresh=0.001)
    today = datetime.datetime.now(datetime.timezone.utc).date()
    holiday = {"from": (today - datetime.timedelta(days=2)).isoformat(),
               "to": (today + datetime.timedelta(days=2)).isoformat(), "name": "Inset days"}
    reopens = (today + datetime.timedelta(days=3)).isoformat() + "T00:00:00"  # local, before the offset

    async def main() -> None:
        api_a, api_b = Api(a.url), Api(b.url)
        conv = await api_b.conversation("st1", "group", ["st2", "t1"], title="Cluster")
        await api_b.send("st1", conv["id"], "before")
        student, other = await connect(b, "st1"), await connect(a, "st2")
        teacher = await connect(b, "t1")
        await subscribed(a)
        await subscribed(b)
        status, data = await api_a.put(POLICY, "a1", {"timeZone": "America/New_York", "quietHours": ALWAYS,
                                                      "holidays": [holiday]})
        assert status == 200, data
        assert (await student.expect("school:policy"))["data"]["policy"]["holidays"] == [holiday]
        reply = await student.request("message:send", {"conversationId": conv["id"], "text": "hi", "clientMsgId": "q1"})
        assert reply["ok"] is False and reply["error"]["code"] == "quiet_hours", reply
        # New York is on summer or winter time: either way 00:00 local three days from today (UTC)
        assert reply["error"]["opensAt"][:19] == reopens and "Inset days" in reply["error"]["message"]
        status, data = await api_b.post("/api/conversations/%s/messages" % conv["id"], "st1", {"text": "rest"})
        assert status == 403 and data["error"]["code"] == "quiet_hours"
        await student.ok("typing:start", {"conversationId": conv["id"]})  # dropped on node b
        await teacher.ok("typing:start", {"conversationId": conv["id"]})  # staff: heard on node a
        assert (await other.expect("typing:start"))["data"]["userId"] == "t1"
        await barrier(other)
        assert [f for f in other.of("typing:start") if f["data"]["userId"] == "st1"] == []
        status, data = await api_a.put(POLICY, "a1", {"holidays": []})
        assert status == 200, data
        await student.ok("message:send", {"conversationId": conv["id"], "text": "open again", "clientMsgId": "q2"})
        new = await other.expect("message:new", lambda f: f["data"]["text"] == "open again")
        assert new["data"]["senderId"] == "st1"
        for sock in (student, other, teacher):
            await sock.close()
    run(main())
