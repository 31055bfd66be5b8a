"""End-to-end HTTP tests of the message half of the REST API (real server, real nx-27017)."""
from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.usefixtures("school")

MSGS = "/api/conversations/%s/messages"


async def group(api, owner="st1", members=("st2", "st3"), title="G"):
    return await api.conversation(owner, "group", list(members), title=title)


@pytest.mark.gen_test
async def test_send_stores_numbers_and_updates_the_conversation(api):
    conv = await group(api)
    status, data = await api.post(MSGS % conv["id"], "st1", {"text": "  hello  ", "clientMsgId": "m-1"})
    assert status == 201
    msg = data["data"]
    assert (msg["seq"], msg["text"], msg["senderId"], msg["senderName"], msg["type"]) == (1, "hello", "st1",
                                                                                          "Sam Student", "text")
    assert msg["deleted"] is False and msg["editedAt"] is None and msg["reactions"] == {} and msg["replyTo"] is None
    assert msg["createdAt"].endswith("Z") and len(msg["id"]) == 24 and msg["clientMsgId"] == "m-1"
    second = await api.send("st2", conv["id"], "hi back", replyTo=msg["id"])
    assert second["seq"] == 2 and second["replyTo"] == msg["id"]
    _, view = await api.get("/api/conversations/" + conv["id"], "st3")
    assert view["data"]["lastSeq"] == 2 and view["data"]["unread"] == 2
    assert view["data"]["lastMessage"]["preview"] == "hi back" and view["data"]["lastMessage"]["seq"] == 2
    _, view = await api.get("/api/conversations/" + conv["id"], "st1")
    assert view["data"]["unread"] == 1  # own messages never count


@pytest.mark.gen_test
async def test_client_msg_id_makes_a_send_idempotent(api):
    conv = await group(api)
    status, first = await api.post(MSGS % conv["id"], "st1", {"text": "once", "clientMsgId": "abc"})
    assert status == 201
    status, again = await api.post(MSGS % conv["id"], "st1", {"text": "once", "clientMsgId": "abc"})
    assert status == 200 and again["data"] == first["data"]
    # concurrent retries of one id store exactly one message
    results = await asyncio.gather(*[api.post(MSGS % conv["id"], "st1", {"text": "x", "clientMsgId": "burst"})
                                     for _ in range(8)])
    assert sorted(s for s, _ in results) == [200] * 7 + [201]
    assert len({d["data"]["id"] for _, d in results}) == 1
    # the same id from another sender is a different message
    status, other = await api.post(MSGS % conv["id"], "st2", {"text": "once", "clientMsgId": "abc"})
    assert status == 201 and other["data"]["id"] != first["data"]["id"]
    _, hist = await api.get(MSGS % conv["id"], "st1")
    assert [m["seq"] for m in hist["data"]] == [1, 2, 3]
    _, view = await api.get("/api/conversations/" + conv["id"], "st3")
    assert view["data"]["unread"] == 3


@pytest.mark.gen_test
async def test_send_validation_and_permissions(api):
    conv = await group(api)
    other = await group(api, "st3", ["st2"], "Other")
    foreign = await api.send("st3", other["id"], "elsewhere")
    att = {"name": "a.pdf", "size": 100, "mimeType": "application/pdf", "url": "https://files.example/a.pdf"}
    status, data = await api.post(MSGS % conv["id"], "st1", {"type": "file", "attachments": [att]})
    assert status == 201 and data["data"]["attachments"] == [att] and data["data"]["text"] == ""
    bad = [{}, {"text": ""}, {"text": "   "}, {"text": "x" * 4001}, {"text": 12}, {"text": "x", "type": "system"},
           {"text": "x", "type": "video"}, {"attachments": [att] * 11}, {"attachments": [dict(att, url="ftp://x")]},
           {"text": "x", "clientMsgId": "c" * 65}, {"text": ["x"]}]
    for body in bad:
        status, data = await api.post(MSGS % conv["id"], "st1", body)
        assert status == 400 and data["error"]["code"] == "bad_request", body
    # well formed, but not a message of this conversation: 409
    for body in ({"text": "x", "replyTo": foreign["id"]}, {"text": "x", "replyTo": "0" * 24},
                 {"text": "x", "replyTo": "zzz"}):
        status, data = await api.post(MSGS % conv["id"], "st1", body)
        assert status == 409 and data["error"]["code"] == "conflict", body
    assert (await api.post(MSGS % conv["id"], "st1", {"text": "x" * 4000}))[0] == 201
    assert (await api.post(MSGS % conv["id"], "t1", {"text": "intruder"}))[0] == 403
    assert (await api.post(MSGS % conv["id"], "x2", {"text": "other school"}))[0] == 403
    assert (await api.post(MSGS % ("0" * 24), "st1", {"text": "x"}))[0] == 404
    assert (await api.post(MSGS % "nonsense", "st1", {"text": "x"}))[0] == 404
    assert (await api.post(MSGS % conv["id"], "st1", raw=b"{oops"))[0] == 400
    _, hist = await api.get(MSGS % conv["id"], "st1")
    assert len(hist["data"]) == 2  # nothing from the rejected sends was stored


@pytest.mark.gen_test
async def test_announcements_are_read_only_for_members(api):
    ann = await api.conversation("t1", "announcement", classId="c1", title="News")
    assert (await api.post(MSGS % ann["id"], "t1", {"text": "Exam on Friday"}))[0] == 201
    status, data = await api.post(MSGS % ann["id"], "st1", {"text": "can I?"})
    assert status == 403 and data["error"]["code"] == "forbidden"
    _, hist = await api.get(MSGS % ann["id"], "st1")
    assert [m["text"] for m in hist["data"]] == ["Exam on Friday"]


@pytest.mark.gen_test
async def test_history_pages_with_cursors(api):
    conv = await group(api)
    for i in range(1, 131):
        await api.send("st1" if i % 2 else "st2", conv["id"], "m%d" % i)
    status, page = await api.get(MSGS % conv["id"], "st3")
    assert status == 200 and [m["seq"] for m in page["data"]] == list(range(81, 131))  # default 50, newest
    assert page["hasMore"] is True and page["next"] == 81
    _, older = await api.get(MSGS % conv["id"] + "?before=81&limit=100", "st3")
    assert [m["seq"] for m in older["data"]] == list(range(1, 81)) and older["hasMore"] is False
    assert older["next"] is None
    _, fwd = await api.get(MSGS % conv["id"] + "?after=0&limit=60", "st3")
    assert [m["seq"] for m in fwd["data"]] == list(range(1, 61)) and fwd["hasMore"] is True and fwd["next"] == 60
    _, fwd2 = await api.get(MSGS % conv["id"] + "?after=60&limit=100", "st3")
    assert [m["seq"] for m in fwd2["data"]] == list(range(61, 131)) and fwd2["hasMore"] is False
    _, between = await api.get(MSGS % conv["id"] + "?after=10&before=14", "st3")
    assert [m["seq"] for m in between["data"]] == [11, 12, 13]
    for bad in ("limit=0", "limit=101", "before=x", "after=-1", "limit=1.5"):
        status, data = await api.get(MSGS % conv["id"] + "?" + bad, "st3")
        assert status == 400, bad
    assert (await api.get(MSGS % conv["id"], "t1"))[0] == 403


@pytest.mark.gen_test
async def test_edit_rules_and_audit(api, runtime):
    conv = await group(api)
    msg = await api.send("st1", conv["id"], "typo")
    path = "/api/messages/" + msg["id"]
    assert (await api.patch(path, "st2", {"text": "not mine"}))[0] == 403
    assert (await api.patch(path, "t1", {"text": "outsider"}))[0] == 403
    for bad in ({}, {"text": ""}, {"text": "x" * 4001}, {"text": 1}):
        assert (await api.patch(path, "st1", bad))[0] == 400, bad
    status, data = await api.patch(path, "st1", {"text": "fixed"})
    assert status == 200 and data["data"]["text"] == "fixed" and data["data"]["editedAt"] is not None
    assert data["data"]["seq"] == msg["seq"]
    _, hist = await api.get(MSGS % conv["id"], "st2")
    assert hist["data"][0]["text"] == "fixed"
    audit = await runtime.store.db.io(lambda: list(runtime.store.messages.edits.find({"messageId": msg["id"]})))
    assert [a["text"] for a in audit] == ["typo"]
    await api.delete(path, "st1")
    status, data = await api.patch(path, "st1", {"text": "after delete"})
    assert status == 409 and data["error"]["code"] == "conflict"
    assert (await api.patch("/api/messages/nope", "st1", {"text": "x"}))[0] == 404
    assert (await api.patch("/api/messages/" + "0" * 24, "st1", {"text": "x"}))[0] == 404


@pytest.mark.gen_test
async def test_delete_permission_matrix_and_placeholders(api, runtime):
    g = await group(api, "st1", ["st2", "t1"])
    by_st2 = await api.send("st2", g["id"], "secret")
    assert (await api.delete("/api/messages/" + by_st2["id"], "t1"))[0] == 403  # teacher, but a plain member
    assert (await api.delete("/api/messages/" + by_st2["id"], "st3"))[0] == 403  # not a participant
    status, data = await api.delete("/api/messages/" + by_st2["id"], "st1")  # the group's owner
    assert status == 200 and data["data"] == {"messageId": by_st2["id"], "conversationId": g["id"], "seq": 1}
    own = await api.send("st2", g["id"], "mine")
    assert (await api.delete("/api/messages/" + own["id"], "st2"))[0] == 200  # the sender
    assert (await api.delete("/api/messages/" + own["id"], "st2"))[0] == 200  # idempotent
    klass = await api.conversation("t1", "class", classId="c1")
    await api.post("/api/conversations/%s/participants" % klass["id"], "t1", {"userIds": ["a1"]})
    rude = await api.send("st1", klass["id"], "rude")
    rude2 = await api.send("st1", klass["id"], "rude again")
    assert (await api.delete("/api/messages/" + rude["id"], "st2"))[0] == 403
    assert (await api.delete("/api/messages/" + rude["id"], "a1"))[0] == 200  # a school admin
    assert (await api.delete("/api/messages/" + rude2["id"], "t1"))[0] == 200  # the class's teacher
    _, hist = await api.get(MSGS % g["id"], "st1")
    placeholder = hist["data"][0]
    assert placeholder["deleted"] is True and placeholder["text"] is None and placeholder["attachments"] == []
    assert placeholder["seq"] == 1
    stored = await runtime.store.messages.get(by_st2["id"])
    assert stored["text"] == "secret" and stored["deletedBy"] == "st1"  # kept for audit
    status, found = await api.get("/api/search?q=secret", "st1")
    assert found["data"] == []
    _, view = await api.get("/api/conversations/" + g["id"], "t1")
    assert view["data"]["unread"] == 0  # deleted messages leave the unread count


@pytest.mark.gen_test
async def test_reactions(api, settings):
    conv = await group(api)
    msg = await api.send("st1", conv["id"], "react to me")
    path = "/api/messages/%s/reactions/" % msg["id"]
    thumbs = "%F0%9F%91%8D"
    status, data = await api.put(path + thumbs, "st2")
    assert status == 200 and data["data"] == {"\U0001F44D": ["st2"]}
    status, data = await api.put(path + thumbs, "st2")  # idempotent
    assert data["data"] == {"\U0001F44D": ["st2"]}
    _, data = await api.put(path + thumbs, "st3")
    assert data["data"] == {"\U0001F44D": ["st2", "st3"]}
    _, hist = await api.get(MSGS % conv["id"], "st1")
    assert hist["data"][0]["reactions"] == {"\U0001F44D": ["st2", "st3"]}
    status, data = await api.delete(path + thumbs, "st2")
    assert status == 200 and data["data"] == {"\U0001F44D": ["st3"]}
    for bad in ("a", "ab", "%F0%9F%91%8D%F0%9F%91%8D", "%3Cb%3E"):
        status, data = await api.put(path + bad, "st2")
        assert status == 400, bad
    assert (await api.put(path + thumbs, "t1"))[0] == 403
    assert (await api.put("/api/messages/%s/reactions/%s" % ("0" * 24, thumbs), "st2"))[0] == 404
    emojis = [chr(0x1F600 + i) for i in range(settings.max_reaction_emojis - 1)]
    for e in emojis:
        assert (await api.put(path + quote(e), "st1"))[0] == 200
    status, data = await api.put(path + quote("\U0001F680"), "st1")
    assert status == 409 and "at most 20" in data["error"]["message"]
    assert (await api.put(path + thumbs, "st1"))[0] == 200  # an existing emoji is still fine


@pytest.mark.gen_test
async def test_read_and_delivered_markers_and_receipts(api):
    conv = await group(api)
    msgs = [await api.send("st1", conv["id"], "m%d" % i) for i in range(1, 6)]
    read = "/api/conversations/%s/read" % conv["id"]
    status, data = await api.post(read, "st2", {"seq": 3})
    assert status == 200 and data["data"]["unread"] == 2 and data["data"]["lastReadSeq"] == 3
    status, data = await api.post(read, "st2", {"seq": 1})  # never backwards
    assert data["data"]["lastReadSeq"] == 3 and data["data"]["unread"] == 2
    status, data = await api.post(read, "st2", {"seq": 999})  # never past lastSeq
    assert data["data"]["lastReadSeq"] == 5 and data["data"]["unread"] == 0
    for bad in ({}, {"seq": "3"}, {"seq": -1}, {"seq": True}, []):
        assert (await api.post(read, "st2", bad))[0] == 400, bad
    assert (await api.post(read, "t1", {"seq": 1}))[0] == 403
    status, data = await api.post("/api/conversations/%s/delivered" % conv["id"], "st3", {"seq": 4})
    assert status == 200 and data["data"]["lastDeliveredSeq"] == 4
    status, data = await api.get("/api/messages/%s/receipts" % msgs[3]["id"], "st1")
    assert status == 200
    rows = {r["userId"]: r for r in data["data"]["receipts"]}
    assert set(rows) == {"st2", "st3"}  # every participant but the sender
    assert rows["st2"]["status"] == "read" and rows["st2"]["delivered"] and rows["st2"]["readAt"].endswith("Z")
    assert rows["st3"]["status"] == "delivered" and not rows["st3"]["read"] and rows["st3"]["readAt"] is None
    _, data = await api.get("/api/messages/%s/receipts" % msgs[4]["id"], "st1")
    rows = {r["userId"]: r for r in data["data"]["receipts"]}
    assert rows["st3"]["status"] == "sent" and rows["st3"]["deliveredAt"] is None
    assert (await api.get("/api/messages/%s/receipts" % msgs[0]["id"], "t1"))[0] == 403
    assert (await api.delete("/api/messages/%s" % msgs[4]["id"], "st1"))[0] == 200
    status, data = await api.get("/api/messages/%s/receipts" % msgs[4]["id"], "st1")
    assert status == 404 and data["error"]["code"] == "not_found"  # a deleted message has no receipts


@pytest.mark.gen_test
async def test_search_scoped_escaped_newest_first(api):
    mine = await group(api)
    theirs = await group(api, "t1", ["t2"], "Staff")
    await api.send("st1", mine["id"], "Homework (chapter 3) due")
    await api.send("st2", mine["id"], "which HOMEWORK?")
    await api.send("t1", theirs["id"], "homework marking")
    status, data = await api.get("/api/search?q=homework", "st1")
    assert status == 200 and [m["text"] for m in data["data"]] == ["which HOMEWORK?", "Homework (chapter 3) due"]
    _, data = await api.get("/api/search?q=(chapter", "st1")
    assert [m["text"] for m in data["data"]] == ["Homework (chapter 3) due"]
    _, data = await api.get("/api/search?q=.*", "st1")
    assert data["data"] == []
    _, data = await api.get("/api/search?q=homework&conversationId=" + mine["id"] + "&limit=1", "st2")
    assert [m["text"] for m in data["data"]] == ["which HOMEWORK?"]
    assert (await api.get("/api/search?q=homework&conversationId=" + theirs["id"], "st1"))[0] == 403
    for bad in ("q=", "q=h", "q=ab&limit=0", "q=ab&limit=500", "q=" + "x" * 201):
        assert (await api.get("/api/search?" + bad, "st1"))[0] == 400, bad
    _, data = await api.get("/api/search?q=homework", "x1")
    assert data["data"] == []


@pytest.mark.settings(rate_messages_burst=1000)  # a burst on purpose: past the default send bucket
@pytest.mark.gen_test(timeout=120)
async def test_unread_exact_under_concurrent_senders(api):
    conv = await api.conversation("t1", "group", ["st1", "st2", "st3"], title="Busy")
    sends = [api.post(MSGS % conv["id"], sender, {"text": "%s-%d" % (sender, i)})
             for i in range(100) for sender in ("st1", "st2", "st3")]
    results = await asyncio.gather(*sends)
    assert all(status == 201 for status, _ in results)
    _, unread = await api.get("/api/unread", "t1")
    assert unread["data"]["total"] == 300
    _, listed = await api.get("/api/conversations", "t1")
    assert listed["data"][0]["unread"] == 300 and listed["data"][0]["lastSeq"] == 300
    status, data = await api.post("/api/conversations/%s/read" % conv["id"], "t1", {"seq": 300})
    assert data["data"]["unread"] == 0
    _, unread = await api.get("/api/unread", "t1")
    assert unread["data"]["total"] == 0
    _, unread = await api.get("/api/unread", "st1")
    assert unread["data"]["total"] == 200  # the others' 200


@pytest.mark.gen_test(timeout=120)
async def test_seq_is_contiguous_under_concurrent_sends(api):
    conv = await api.conversation("t1", "group", ["st1", "st2", "st3"], title="Race")
    senders = ("t1", "st1", "st2", "st3")
    results = await asyncio.gather(*[api.post(MSGS % conv["id"], senders[i % 4], {"text": "n%d" % i})
                                     for i in range(200)])
    seqs = sorted(d["data"]["seq"] for _, d in results)
    assert seqs == list(range(1, 201))
    pages = []
    after = 0
    while True:
        _, page = await api.get(MSGS % conv["id"] + "?after=%d&limit=100" % after, "st1")
        pages.extend(m["seq"] for m in page["data"])
        if not page["hasMore"]:
            break
        after = page["next"]
    assert pages == list(range(1, 201))
