"""@mentions (validated, counted per member, through mute) and the history page around a seq
(search results jump there): end to end over REST and sockets."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("school")

MSGS = "/api/conversations/%s/messages"


@pytest.mark.gen_test(timeout=60)
async def test_mentions_are_validated_counted_and_reach_muted_conversations(api, ws):
    conv = await api.conversation("st1", "group", ["st2", "t1"], title="G")
    status, data = await api.post(MSGS % conv["id"], "st1", {"text": "hi @X", "mentions": ["x1"]})
    assert status == 409 and "participants" in data["error"]["message"]  # another school's user
    status, data = await api.post(MSGS % conv["id"], "st1", {"text": "hi", "mentions": ["st3"]})
    assert status == 409  # same school, not a participant
    assert (await api.post(MSGS % conv["id"], "st1", {"text": "x", "mentions": "st2"}))[0] == 400
    first = await api.send("st1", conv["id"], "@Sue look", mentions=["st2", "st1"])
    assert first["mentions"] == ["st2"]  # mentioning oneself means nothing
    b = await ws("st2")
    second = await b.ok("message:send", {"conversationId": conv["id"], "text": "@Sam ok", "mentions": ["st1"]})
    assert second["mentions"] == ["st1"]
    await api.send("t1", conv["id"], "@Sue and @Sam", mentions=["st2", "st1"])
    await api.send("t1", conv["id"], "no mention")
    _, view = await api.get("/api/conversations/" + conv["id"], "st2")
    assert (view["data"]["unread"], view["data"]["mentions"]) == (3, 2)
    _, listed = await api.get("/api/conversations", "st1")
    assert (listed["data"][0]["unread"], listed["data"][0]["mentions"]) == (3, 2)
    # muted: left out of the unread total, never out of the mentions
    await api.patch("/api/conversations/" + conv["id"], "st2", {"muted": True})
    _, unread = await api.get("/api/unread", "st2")
    assert unread["data"]["total"] == 0 and unread["data"]["mentionsTotal"] == 2
    assert unread["data"]["conversations"][0]["mentions"] == 2
    # reading past a mention, and deleting one, take it off
    status, marked = await api.post("/api/conversations/%s/read" % conv["id"], "st2", {"seq": 1})
    assert (marked["data"]["unread"], marked["data"]["mentions"]) == (2, 1)
    update = await b.expect("unread:update")
    assert update["data"]["mentions"] == 1
    third = await api.get(MSGS % conv["id"], "st2")
    mention_msg = [m for m in third[1]["data"] if m["text"] == "@Sue and @Sam"][0]
    assert mention_msg["mentions"] == ["st2", "st1"]
    assert (await api.delete("/api/messages/" + mention_msg["id"], "st2"))[0] == 403  # a plain member
    assert (await api.delete("/api/messages/" + mention_msg["id"], "st1"))[0] == 200  # the owner
    _, view = await api.get("/api/conversations/" + conv["id"], "st2")
    assert (view["data"]["unread"], view["data"]["mentions"]) == (1, 0)
    _, hist = await api.get(MSGS % conv["id"], "st1")
    assert [m for m in hist["data"] if m["id"] == mention_msg["id"]][0]["mentions"] == []  # deleted: no content


@pytest.mark.gen_test(timeout=60)
async def test_the_page_around_a_seq(api):
    conv = await api.conversation("st1", "group", ["st2"], title="Long")
    for i in range(1, 31):
        await api.send("st1" if i % 2 else "st2", conv["id"], "m%d" % i)

    async def around(seq, limit=10):
        status, data = await api.get(MSGS % conv["id"] + "?around=%d&limit=%d" % (seq, limit), "st2")
        assert status == 200, data
        return [m["seq"] for m in data["data"]], data["hasMore"], data["next"], data["hasNewer"]

    assert await around(15) == (list(range(10, 20)), True, 10, True)
    assert await around(2) == (list(range(1, 11)), False, None, True)
    assert await around(29) == (list(range(24, 31)), True, 24, False)
    assert await around(30, 1) == ([30], True, 30, False)
    status, older = await api.get(MSGS % conv["id"] + "?before=10&limit=5", "st2")
    assert [m["seq"] for m in older["data"]] == [5, 6, 7, 8, 9]  # the cursor continues into older pages
    assert (await api.get(MSGS % conv["id"] + "?around=5&before=3", "st2"))[0] == 400
    assert (await api.get(MSGS % conv["id"] + "?around=0", "st2"))[0] == 400
    assert (await api.get(MSGS % conv["id"] + "?around=5", "st3"))[0] == 403


@pytest.mark.gen_test
async def test_a_cursor_field_sent_as_an_object_is_malformed(api):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    for query in ("around%5Bx%5D=1", "before%5B%5D=2", "after%5Ba%5D%5B0%5D=3&limit=5"):
        status, data = await api.get(MSGS % conv["id"] + "?" + query, "st1")
        assert (status, data["error"]["code"]) == (400, "bad_request"), query
