"""Word filters on a two-node cluster: a change stored through one node is applied by the other
(``filter_cache_seconds=0``: every check reads the school's version number; with the default a
node applies it within that many seconds, see tests/test_safeguarding_filters.py)."""
from __future__ import annotations

from typing import Any

from tests.conftest import Api, Ws
from tests.e2e.test_cluster import connect, run, subscribed

PATH = "/api/schools/s1/filters"


async def ws_ok(sock: Ws, conversation_id: str, text: str) -> Any:
    return await sock.ok("message:send", {"conversationId": conversation_id, "text": text})


def test_a_change_on_one_node_is_applied_by_the_other(cluster: Any) -> None:  # noqa: F811
    a, b = cluster.start(2, filter_cache_seconds=0)

    async def main() -> None:
        api_a, api_b = Api(a.url), Api(b.url)
        conv = await api_a.conversation("t1", "class", classId="c1")
        await api_b.send("st1", conv["id"], "hello there")  # node b compiles the (empty) filter
        status, _ = await api_a.put(PATH, "a1", {"lists": [{"name": "Bullying", "action": "block",
                                                            "terms": ["there"]}]})
        assert status == 200
        status, data = await api_b.post("/api/conversations/%s/messages" % conv["id"], "st1", {"text": "hello there"})
        assert status == 422 and data["error"]["message"].endswith("(list: Bullying)")
        sock = await Ws.connect(b.url, "st2")
        reply = await sock.request("message:send", {"conversationId": conv["id"], "text": "over t.h.e.r.e"})
        assert reply["ok"] is False and reply["error"]["code"] == "content_blocked"
        # a flag on node B opens a case that a moderator on node A sees, live and listed
        admin = await connect(a, "a1")
        await subscribed(a)
        status, _ = await api_b.put(PATH, "a1", {"lists": [{"name": "Worry", "action": "flag", "terms": ["sad"]}]})
        assert status == 200
        flagged = await ws_ok(sock, conv["id"], "feeling s a d")
        pushed = await admin.expect("moderation:case", lambda f: f["data"]["messageId"] == flagged["id"])
        assert (pushed["data"]["reasons"], pushed["data"]["lists"]) == (["filter"], ["Worry"])
        status, page = await api_a.get("/api/moderation/cases", "a1")
        assert status == 200 and [c["id"] for c in page["data"]] == [pushed["data"]["id"]]
        status, _ = await api_b.put(PATH, "a1", {"lists": []})
        assert status == 200
        await api_a.send("st1", conv["id"], "hello there")  # node a sees b's change
        await sock.close()
        await admin.close()
    run(main())
