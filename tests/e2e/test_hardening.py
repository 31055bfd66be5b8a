"""One user can never hurt another, and every request is bounded: end-to-end through real
HTTP and WebSocket clients, real nx-27017."""
from __future__ import annotations

import asyncio
from urllib.parse import quote

import jwt
import pytest
import tornado.httpclient
import tornado.websocket
import ujson

from tests.conftest import SECRET, Ws, token

pytestmark = pytest.mark.usefixtures("school")

MSGS = "/api/conversations/%s/messages"
LONE = "\ud800"


async def group(api, owner="st1", members=("st2", "t1")):
    return await api.conversation(owner, "group", list(members), title="G")


async def barrier(*clients):
    for c in clients:
        await c.ok("ping")


def raw_json(value) -> bytes:
    """JSON with lone surrogates written as the valid escapes a client would send."""
    return ujson.dumps(value, ensure_ascii=True).encode()


# ---------------------------------------------------------------------- lone surrogates
@pytest.mark.gen_test(timeout=60)
async def test_lone_surrogates_are_refused_everywhere_and_hurt_nobody_else(api, ws, base_url):
    conv = await group(api)
    other = await api.conversation("x1", "direct", ["x2"])  # another school keeps sending
    bodies = [
        ("POST", MSGS % conv["id"], {"text": "hi" + LONE}),
        ("POST", MSGS % conv["id"], {"text": "hi", "clientMsgId": LONE}),
        ("POST", MSGS % conv["id"], {"text": "hi", "attachments": [{"name": LONE, "url": "https://x.org/a",
                                                                   "size": 1, "mimeType": "text/plain"}]}),
        ("POST", MSGS % conv["id"], {"text": "hi", LONE: 1}),
        ("POST", "/api/conversations", {"type": "group", "participantIds": ["st2"], "title": "t" + LONE}),
        ("PATCH", "/api/conversations/" + conv["id"], {"title": LONE}),
        ("POST", "/api/conversations/%s/read" % conv["id"], {"seq": 1, "x": LONE}),
    ]
    for method, path, body in bodies:
        status, data = await api.call(method, path, "st1", raw=raw_json(body))
        assert status == 400 and data["error"]["code"] == "bad_request", (path, body, data)
        assert "cannot be stored" in data["error"]["message"]
        assert (await api.send("x1", other["id"], "still fine"))["text"] == "still fine"
    bad_claims = jwt.encode({"sub": "st1" + LONE, "role": "student", "school": "s1", "exp": 2 ** 40}, SECRET)
    status, data = await api.get("/api/me", bad_claims)
    assert status == 401 and "sub" in data["error"]["message"]
    c = await ws("st1")
    frames = [
        {"event": "message:send", "data": {"conversationId": conv["id"], "text": LONE}, "ref": "a"},
        {"event": "message:send", "data": {"conversationId": conv["id"], "text": "x", "clientMsgId": LONE},
         "ref": "b"},
        {"event": "message:react", "data": {"messageId": "0" * 24, "emoji": LONE}, "ref": "c"},
        {"event": "sync", "data": {"conversations": {LONE: 0}}, "ref": "d"},
        {"event": "auth:refresh", "data": {"token": LONE}, "ref": "e"},
        {"event": "typing:start", "data": {"conversationId": LONE}, "ref": "f"},
    ]
    for frame in frames:
        c.conn.write_message(ujson.dumps(frame, ensure_ascii=True))
        reply = await c.expect("reply", lambda f, r=frame["ref"]: f.get("ref") == r)
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request", (frame, reply)
    c.conn.write_message(ujson.dumps({"event": "ping", "data": {}, "ref": LONE}, ensure_ascii=True))
    error = await c.expect("error")  # a ref that cannot be echoed: an error frame without it
    assert error["error"]["code"] == "bad_request"
    assert (await c.ok("ping"))["serverTime"]  # the socket stays open
    _, page = await api.get(MSGS % conv["id"], "st1")
    assert page["data"] == []  # nothing was stored


# ---------------------------------------------------------------------- a token's school
@pytest.mark.gen_test(timeout=60)
async def test_a_token_of_another_school_sees_nothing_of_the_old_one(api, ws):
    # x2 is a student of s2 with history there; then the LMS issues a token for s1
    s2_conv = await api.conversation("x1", "direct", ["x2"])
    old = await api.send("x1", s2_conv["id"], "s2 secret")
    moved = token("x2", school="s1")
    x2_in_s2 = await ws("x2")  # a socket still on an s2 token: pushes for s2 reach it
    status, data = await api.get("/api/conversations", moved)
    assert status == 200 and data["data"] == []
    assert (await api.get("/api/conversations/" + s2_conv["id"], moved))[0] == 403
    assert (await api.get(MSGS % s2_conv["id"], moved))[0] == 403
    assert (await api.post(MSGS % s2_conv["id"], moved, {"text": "x"}))[0] == 403
    assert (await api.get("/api/messages/%s/receipts" % old["id"], moved))[0] == 403
    _, found = await api.get("/api/search?q=secret", moved)
    assert found["data"] == []
    _, unread = await api.get("/api/unread", moved)
    assert unread["data"] == {"total": 0, "mentionsTotal": 0, "conversations": []}
    c = await Ws.connect(api.base, "x2", tok=moved)
    try:
        synced = await c.ok("sync", {"conversations": {s2_conv["id"]: 0}, "changedSince": "2000-01-01T00:00:00Z"})
        assert synced["messages"] == [] and synced["changed"] == [] and synced["hasMore"] == {s2_conv["id"]: False}
        presence = await c.ok("presence:list", {})
        assert all(p["userId"] not in ("x1",) for p in presence)
        await api.send("x1", s2_conv["id"], "s2 again")
        await barrier(x2_in_s2, c)
        assert [f["data"]["text"] for f in x2_in_s2.of("message:new")] == ["s2 again"]
        assert c.of("message:new") == []  # the s1 token's socket gets no s2 push
    finally:
        await c.close()


# ---------------------------------------------------------------------- sync is bounded
@pytest.mark.settings(ws_max_pending_bytes=64 * 1024, sync_max_bytes=16 * 1024, sync_max_messages=150)
@pytest.mark.gen_test(timeout=120)
async def test_sync_replies_are_bounded_and_repeating_recovers_everything(api, ws, runtime):
    convs = [await api.conversation("st1", "group", ["st2"], title="g%d" % i) for i in range(5)]
    expected = {}
    for conv in convs:
        docs = [{"id": None, "senderId": "st2", "senderName": "Sue", "type": "text", "text": "x" * 300 + str(i),
                 "attachments": [], "replyTo": None, "clientMsgId": "%s-%d" % (conv["id"], i), "createdAt": 1,
                 "editedAt": None, "deletedAt": None} for i in range(60)]
        for d in docs:
            from chat.store import new_id
            d["id"] = new_id()
        await runtime.service.messages.import_history(conv["id"], docs)
        expected[conv["id"]] = list(range(1, 61))
    c = await ws("st1")
    seen = {conv["id"]: 0 for conv in convs}
    got = {cid: [] for cid in seen}
    replies = 0
    while True:
        reply = await c.ok("sync", {"conversations": seen, "limit": 500})
        replies += 1
        assert len(ujson.dumps(reply)) < 32 * 1024  # far under the slow-consumer limit
        for m in reply["messages"]:
            got[m["conversationId"]].append(m["seq"])
            seen[m["conversationId"]] = max(seen[m["conversationId"]], m["seq"])
        if not any(reply["hasMore"].values()):
            break
        assert reply["messages"], "a reply with hasMore must make progress"
    assert got == expected and replies > 5
    assert not c.closed.is_set()


# ---------------------------------------------------------------------- REST rate limits
@pytest.mark.settings(rate_messages=0.001, rate_messages_burst=3)
@pytest.mark.gen_test(timeout=60)
async def test_rest_sends_share_the_socket_send_bucket(api, ws):
    conv = await group(api)
    for i in range(2):
        await api.send("st1", conv["id"], "r%d" % i)
    c = await ws("st1")
    assert (await c.ok("message:send", {"conversationId": conv["id"], "text": "w"}))["seq"] == 3
    status, data = await api.post(MSGS % conv["id"], "st1", {"text": "over"})
    assert status == 429 and data["error"]["code"] == "rate_limited"
    reply = await c.request("message:send", {"conversationId": conv["id"], "text": "over"})
    assert reply["error"]["code"] == "rate_limited"
    await c.close()
    again = await ws("st1")  # reconnecting refills nothing
    assert (await again.request("message:send", {"conversationId": conv["id"], "text": "x"}))["ok"] is False
    assert (await api.send("st2", conv["id"], "others are not limited"))["seq"] == 4


@pytest.mark.gen_test(timeout=60)
async def test_rest_429_carries_retry_after(api, runtime):
    conv = await group(api)
    runtime.limiter._rates[__import__("chat.ratelimit").ratelimit.Limit.SEND] = (0.5, 1)
    await api.send("st1", conv["id"], "one")
    resp = await tornado.httpclient.AsyncHTTPClient().fetch(
        api.base + MSGS % conv["id"], method="POST", body=ujson.dumps({"text": "two"}), raise_error=False,
        headers={"Authorization": "Bearer " + token("st1")})
    assert resp.code == 429 and 1 <= int(resp.headers["Retry-After"]) <= 2


# ---------------------------------------------------------------------- search caps
@pytest.mark.settings(search_per_user=1, search_concurrency=2)
@pytest.mark.gen_test(timeout=60)
async def test_concurrent_searches_are_capped_per_user_and_in_total(api, runtime):
    conv = await group(api)
    await api.send("st1", conv["id"], "needle")
    real = runtime.store.messages.search_range
    release = asyncio.Event()
    started = []

    async def slow(*args):
        started.append(args)
        await release.wait()
        return await real(*args)
    runtime.store.messages.search_range = slow
    first = asyncio.ensure_future(api.get("/api/search?q=needle", "st1"))
    while len(started) < 1:
        await asyncio.sleep(0)
    status, data = await api.get("/api/search?q=needle", "st1")
    assert status == 429 and data["error"]["code"] == "rate_limited"  # one at a time per user
    second = asyncio.ensure_future(api.get("/api/search?q=needle", "st2"))
    while len(started) < 2:
        await asyncio.sleep(0)
    assert (await api.get("/api/search?q=needle", "t1"))[0] == 429  # two in total
    assert (await api.send("t1", conv["id"], "sends are not held up"))["seq"] == 2
    release.set()
    assert [m["text"] for m in (await first)[1]["data"]] == ["needle"]
    assert (await second)[0] == 200
    assert (await api.get("/api/search?q=needle", "st1"))[0] == 200  # free again


# ---------------------------------------------------------------------- sockets per user
@pytest.mark.settings(max_sockets_per_user=2)
@pytest.mark.gen_test(timeout=60)
async def test_sockets_per_user_are_capped(ws, base_url):
    a, b = await ws("st1"), await ws("st1")
    third = await Ws.connect(base_url, "st1", ready=False)
    error = await third.expect("error")
    assert error["error"]["code"] == "rate_limited"
    await asyncio.wait_for(third.closed.wait(), 10)
    assert third.close_code == 4029
    assert (await a.ok("ping")) and (await b.ok("ping"))
    other = await ws("st2")  # other users are not affected
    assert await other.ok("ping")


# ---------------------------------------------------------------------- reaction cap
@pytest.mark.gen_test(timeout=60)
async def test_the_reaction_cap_holds_under_concurrency(api, settings):
    conv = await group(api)
    msg = await api.send("st1", conv["id"], "react")
    path = "/api/messages/%s/reactions/" % msg["id"]
    emojis = [chr(0x1F600 + i) for i in range(40)]
    results = await asyncio.gather(*[api.put(path + quote(e), "st2") for e in emojis])
    assert sum(1 for status, _ in results if status == 200) == settings.max_reaction_emojis
    assert all(status in (200, 409) for status, _ in results)
    _, page = await api.get(MSGS % conv["id"], "st1")
    assert len(page["data"][0]["reactions"]) == settings.max_reaction_emojis


# ---------------------------------------------------------------------- moderation
@pytest.mark.gen_test(timeout=60)
async def test_a_school_admin_who_is_not_a_participant_moderates_class_conversations(api):
    klass = await api.conversation("t1", "class", classId="c1")
    rude = await api.send("st1", klass["id"], "rude")
    status, data = await api.delete("/api/messages/" + rude["id"], "a1")
    assert status == 200 and data["data"]["messageId"] == rude["id"]
    g = await group(api)
    mine = await api.send("st1", g["id"], "private group")
    assert (await api.delete("/api/messages/" + mine["id"], "a1"))[0] == 403  # not a class: not theirs
    assert (await api.get(MSGS % klass["id"], "a1"))[0] == 403  # moderating is not reading along
    other_school = await api.conversation("x1", "direct", ["x2"])
    theirs = await api.send("x1", other_school["id"], "hello")
    assert (await api.delete("/api/messages/" + theirs["id"], "a1"))[0] == 403


# ---------------------------------------------------------------------- unread recount cost
@pytest.mark.settings(unread_chunk=500, db_timeout_ms=15000)  # the bulk import below only: a slow machine
@pytest.mark.gen_test(timeout=300)
async def test_a_read_marker_costs_what_it_moved_not_the_conversation(api, runtime):
    from chat.store import new_id

    conv = await group(api)
    docs = [{"id": new_id(), "senderId": "st2", "senderName": "Sue", "type": "text", "text": "m%d" % i,
             "attachments": [], "replyTo": None, "clientMsgId": "bulk-%d" % i, "createdAt": 1, "editedAt": None,
             "deletedAt": None} for i in range(3000)]
    await runtime.service.messages.import_history(conv["id"], docs)
    _, listed = await api.get("/api/conversations", "st1")
    assert listed["data"][0]["unread"] == 3000  # counted once, in chunks
    real = runtime.store.messages.count_countable
    ranges = []

    async def spy(cid, user, after, upto):
        ranges.append(upto - after)
        return await real(cid, user, after, upto)
    runtime.store.messages.count_countable = spy
    for seq in (10, 20, 30, 2990):
        ranges.clear()
        status, data = await api.post("/api/conversations/%s/read" % conv["id"], "st1", {"seq": seq})
        assert status == 200 and data["data"]["unread"] == 3000 - seq
        assert sum(ranges) <= 2960 and max(ranges) <= 500  # only the seqs the marker moved over, in chunks
        if seq < 2990:
            assert sum(ranges) == 10


# ---------------------------------------------------------------------- load shedding
@pytest.mark.settings(max_opening_sockets=1, shed_retry_after=2)
@pytest.mark.gen_test(timeout=60)
async def test_handshakes_past_the_setup_limit_are_shed_with_retry_after(base_url, http_server, runtime):
    real = runtime.store.directory.upsert_user
    release = asyncio.Event()

    async def slow(*args):
        await release.wait()
        return await real(*args)
    runtime.store.directory.upsert_user = slow
    first = asyncio.ensure_future(Ws.connect(base_url, "st1"))  # its session set-up waits on storage
    while runtime.realtime.opening < 1:
        await asyncio.sleep(0)
    url = base_url.replace("http://", "ws://") + "/ws?token=" + token("st2")
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await tornado.websocket.websocket_connect(url)
    assert info.value.code == 503 and info.value.response.headers["Retry-After"] == "2"
    assert ujson.loads(info.value.response.body)["error"]["code"] == "unavailable"
    release.set()
    opened = await first
    assert (await opened.ok("ping"))["serverTime"]
    again = await Ws.connect(base_url, "st2")  # the client came back: set up normally
    assert (await again.ok("ping"))["serverTime"]
