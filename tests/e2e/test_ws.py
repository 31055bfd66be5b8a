"""End-to-end WebSocket tests: real sockets on an ephemeral port, real nx-27017."""
from __future__ import annotations

import asyncio
import time

import jwt
import pytest
import tornado.httpclient
import tornado.websocket
import ujson

from tests.conftest import SECRET, Ws, token

pytestmark = pytest.mark.usefixtures("school")


async def refused(base_url, path, **kw):
    url = base_url.replace("http://", "ws://") + path
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await tornado.websocket.websocket_connect(url, **kw)
    return info.value.code


@pytest.mark.gen_test
async def test_handshake_auth_before_upgrade(base_url, http_server, runtime):
    assert await refused(base_url, "/ws") == 401
    assert await refused(base_url, "/ws?token=garbage") == 401
    assert await refused(base_url, "/ws?token=" + token("st1", ttl=-100)) == 401
    janitor = jwt.encode({"sub": "st1", "role": "janitor", "school": "s1", "exp": time.time() + 60}, SECRET, "HS256")
    assert await refused(base_url, "/ws?token=" + janitor) == 401
    assert runtime.manager.stats() == {"connections": 0, "users": 0}
    req = tornado.httpclient.HTTPRequest(base_url.replace("http://", "ws://") + "/ws",
                                         headers={"Authorization": "Bearer " + token("st1")})
    conn = await tornado.websocket.websocket_connect(req)
    ready = ujson.loads(await conn.read_message())
    assert ready["event"] == "session:ready"
    assert ready["data"]["user"] == {"id": "st1", "name": "Sam Student", "role": "student", "school": "s1"}
    assert ready["data"]["sessionId"] and ready["data"]["serverTime"].endswith("Z")
    assert "heartbeatSeconds" in ready["data"]
    conn.close()


@pytest.mark.gen_test
async def test_the_token_never_reaches_the_access_log(base_url, http_server, caplog):
    tok = token("st1")
    with caplog.at_level("INFO", logger="tornado.access"):
        c = await Ws.connect(base_url, "st1", tok=tok)
        assert (await c.ok("ping"))["serverTime"]
        await c.close()
        await refused(base_url, "/ws?token=" + tok[:-3] + "abc")
    lines = [r.getMessage() for r in caplog.records if r.name == "tornado.access"]
    assert any("/ws" in line for line in lines)
    assert not any(tok[:40] in line or "token=" in line for line in lines), lines


@pytest.mark.gen_test
async def test_origin_is_checked(base_url, http_server):
    url = base_url.replace("http://", "ws://") + "/ws?token=" + token("st1")
    req = tornado.httpclient.HTTPRequest(url, headers={"Origin": "http://evil.example"})
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await tornado.websocket.websocket_connect(req)
    assert info.value.code == 403
    host = base_url.split("://", 1)[1]
    conn = await tornado.websocket.websocket_connect(tornado.httpclient.HTTPRequest(url, headers={
        "Origin": "http://" + host}))
    assert ujson.loads(await conn.read_message())["event"] == "session:ready"
    conn.close()


@pytest.mark.gen_test
@pytest.mark.settings(allowed_origins=["https://lms.example"])
async def test_configured_origin_is_allowed(base_url, http_server):
    url = base_url.replace("http://", "ws://") + "/ws?token=" + token("st1")
    conn = await tornado.websocket.websocket_connect(tornado.httpclient.HTTPRequest(url, headers={
        "Origin": "https://lms.example"}))
    assert ujson.loads(await conn.read_message())["event"] == "session:ready"
    conn.close()


@pytest.mark.gen_test
@pytest.mark.settings(ws_max_frame_bytes=2000, ws_max_message_size=8000)
async def test_bad_frames_get_errors_and_the_socket_stays_open(ws, runtime):
    c = await ws("st1")
    c.send("", raw="{not json")
    err = await c.expect("error")
    assert err["error"]["code"] == "bad_request"
    c.send("", raw="[1, 2]")
    assert (await c.expect("error"))["error"]["code"] == "bad_request"
    cases = [
        ({"event": "nope", "ref": "a"}, "bad_request"),
        ({"event": 5, "ref": "b"}, "bad_request"),
        ({"event": "message:send", "data": [], "ref": "c"}, "bad_request"),
        ({"event": "message:send", "data": {"conversationId": 5, "text": "x"}, "ref": "d"}, "bad_request"),
        ({"event": "message:send", "data": {"conversationId": "0" * 24, "text": "x"}, "ref": "e"}, "not_found"),
        ({"event": "message:read", "data": {"conversationId": "x", "seq": "1"}, "ref": "f"}, "bad_request"),
        ({"event": "message:react", "data": {"messageId": "x", "emoji": "abc"}, "ref": "g"}, "bad_request"),
        ({"event": "sync", "data": {"conversations": {"x": -1}}, "ref": "h"}, "bad_request"),
        ({"event": "sync", "data": {"changedSince": "yesterday"}, "ref": "i"}, "bad_request"),
        ({"event": "typing:start", "data": {"conversationId": "0" * 24}, "ref": "j"}, "not_found"),
        ({"event": "message:send", "data": {"conversationId": "x", "text": "y" * 2500}, "ref": "k"}, "too_large"),
    ]
    for frame, code in cases:
        c.send("", raw=ujson.dumps(frame))
        reply = await c.expect("reply", lambda f, r=frame["ref"]: f["ref"] == r)
        assert reply["ok"] is False and reply["error"]["code"] == code, frame
    c.send("", raw=ujson.dumps({"event": "ping", "ref": 7}))  # a ref of the wrong type: no reply, an error
    assert (await c.expect("error"))["error"]["code"] == "bad_request"
    c.conn.write_message(b"\x00\x01", binary=True)
    assert (await c.expect("error"))["error"]["code"] == "bad_request"
    assert (await c.ok("ping"))["serverTime"]  # still open
    await c.expect("pong")
    assert len(c.of("reply")) == len(cases) + 1
    c.send("", raw="x" * 9000)  # over the hard limit: closed
    await asyncio.wait_for(c.closed.wait(), 30)
    assert c.close_code == 1009


@pytest.mark.gen_test
async def test_send_reaches_every_device_of_every_participant(ws, api):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    phone, web = await ws("st1"), await ws("st1")
    other = await ws("st2")
    outsider = await ws("st3")
    msg = await phone.ok("message:send", {"conversationId": conv["id"], "text": "hello", "clientMsgId": "p1"})
    assert msg["seq"] == 1 and msg["text"] == "hello" and msg["clientMsgId"] == "p1"
    for client in (phone, web, other):
        pushed = await client.expect("message:new")
        assert pushed["data"] == msg
    await outsider.none("message:new")  # the push was written before the sender's reply
    # a send over REST is pushed the same way
    rest = await api.send("st2", conv["id"], "from curl")
    for client in (phone, web, other):
        assert (await client.expect("message:new", lambda f: f["data"]["seq"] == 2))["data"] == rest
    # idempotent retry over the socket: same message, no second push
    again = await web.ok("message:send", {"conversationId": conv["id"], "text": "hello", "clientMsgId": "p1"})
    assert again == msg
    await other.none("message:new", lambda f: f["data"]["seq"] == 3)
    reply = await outsider.request("message:send", {"conversationId": conv["id"], "text": "x"})
    assert reply["ok"] is False and reply["error"]["code"] == "forbidden"


@pytest.mark.gen_test
async def test_edit_delete_react_markers_and_unread_over_sockets(ws, api):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    a, b1, b2 = await ws("st1"), await ws("st2"), await ws("st2")
    m1 = await a.ok("message:send", {"conversationId": conv["id"], "text": "one"})
    m2 = await a.ok("message:send", {"conversationId": conv["id"], "text": "two"})
    edited = await a.ok("message:edit", {"messageId": m1["id"], "text": "ONE"})
    assert edited["text"] == "ONE" and edited["editedAt"]
    for c in (a, b1, b2):
        assert (await c.expect("message:updated"))["data"]["text"] == "ONE"
    reactions = await b1.ok("message:react", {"messageId": m1["id"], "emoji": "\U0001F44D", "on": True})
    assert reactions == {"\U0001F44D": ["st2"]}
    upd = await a.expect("message:updated", lambda f: f["data"]["reactions"])
    assert upd["data"]["reactions"] == {"\U0001F44D": ["st2"]}
    # delivered -> message:status to the participants; read on one device clears the badge on the other
    assert await b1.ok("message:delivered", {"conversationId": conv["id"], "seq": 2}) == {}
    status = await a.expect("message:status", lambda f: f["data"]["status"] == "delivered")
    assert status["data"]["userId"] == "st2" and status["data"]["seq"] == 2 and status["data"]["at"]
    read = await b1.ok("message:read", {"conversationId": conv["id"], "seq": 1})
    assert read["unread"] == 1 and read["conversationId"] == conv["id"]
    for c in (b1, b2):
        upd = await c.expect("unread:update")
        assert upd["data"] == {"conversationId": conv["id"], "unread": 1, "mentions": 0, "lastReadSeq": 1}
    await a.expect("message:status", lambda f: f["data"]["status"] == "read")
    await a.none("unread:update")
    deleted = await a.ok("message:delete", {"messageId": m2["id"]})
    assert deleted == {"messageId": m2["id"], "conversationId": conv["id"]}
    for c in (a, b1, b2):
        d = await c.expect("message:deleted")
        assert d["data"] == {"messageId": m2["id"], "conversationId": conv["id"], "seq": 2}
    upd = await b2.expect("unread:update", lambda f: f["data"]["unread"] == 0)
    assert upd["data"]["lastReadSeq"] == 1
    reply = await b1.request("message:edit", {"messageId": m1["id"], "text": "mine now"})
    assert reply["ok"] is False and reply["error"]["code"] == "forbidden"


@pytest.mark.gen_test(timeout=120)
@pytest.mark.settings(rate_messages=1000, rate_messages_burst=1000, rate_frames_burst=1000)
async def test_ordering_under_concurrent_senders(ws, api):
    senders = ["st1", "st2", "st3", "t1"]
    conv = await api.conversation("t1", "group", ["st1", "st2", "st3", "t2", "a1"], title="Flood")
    receivers = [await ws("t2"), await ws("a1"), await ws("st1")]
    sockets = [await ws(u) for u in senders]
    for s in sockets:  # every sender pipelines 100 sends at once
        for i in range(100):
            s.send("message:send", {"conversationId": conv["id"], "text": "%s %d" % (s.user, i)}, "s%d" % i)
    for s in sockets:
        await s.expect("reply", lambda f: f["ref"] == "s99", timeout=60)
        assert all(f["ok"] for f in s.of("reply"))
    for r in receivers:
        await r.expect("message:new", lambda f: f["data"]["seq"] == 400, timeout=60)
        seqs = [f["data"]["seq"] for f in r.of("message:new")]
        assert seqs == list(range(1, 401)), r.user


@pytest.mark.gen_test(timeout=60)
async def test_presence_visibility_matrix(ws, api, runtime):
    # who sees st1 (student of c1 with st2, taught by t1)?
    expected = {"st2": True, "t1": True, "a1": True, "t2": False, "st3": False, "x1": False, "x2": False}
    watchers = {u: await ws(u) for u in expected}
    phone = await ws("st1")
    # user:online is published as session:ready is written, so it is out by now
    for user, sees in expected.items():
        if sees:
            online = await watchers[user].expect("user:online", lambda f: f["data"]["userId"] == "st1")
            assert online["data"] == {"userId": "st1", "name": "Sam Student", "role": "student"}
        else:
            await watchers[user].none("user:online", lambda f: f["data"]["userId"] == "st1")
    for user, sees in expected.items():
        listed = {u["userId"] for u in await watchers[user].ok("presence:list")}
        assert ("st1" in listed) == sees, user
        status, data = await api.get("/api/presence", user)
        assert ("st1" in {u["userId"] for u in data["data"]}) == sees, user
    seen_by_st1 = {u["userId"] for u in await phone.ok("presence:list")}
    assert seen_by_st1 == {"st2", "t1", "a1"}
    assert {u["userId"] for u in await watchers["t1"].ok("presence:list")} == {"st1", "st2", "t2", "a1"}
    assert {u["userId"] for u in await watchers["t2"].ok("presence:list")} == {"t1", "st3", "a1"}
    assert {u["userId"] for u in await watchers["a1"].ok("presence:list")} == {"st1", "st2", "st3", "t1", "t2"}
    assert {u["userId"] for u in await watchers["x1"].ok("presence:list")} == {"x2"}
    assert [u["userId"] for u in await watchers["t1"].ok("presence:list", {"role": "student"})] == ["st1", "st2"]
    assert {u["userId"] for u in await watchers["a1"].ok("presence:list", {"classId": "c2"})} == {"t2", "st3"}
    _, data = await api.get("/api/presence?classId=c1&role=teacher", "a1")
    assert [u["userId"] for u in data["data"]] == ["t1"]
    # a shared group conversation makes otherwise unrelated users see each other
    await api.conversation("st3", "group", ["st1"], title="Club")
    await watchers["st3"].none("user:online")
    assert "st1" in {u["userId"] for u in await watchers["st3"].ok("presence:list")}
    # phone + web never flap
    web = await ws("st1")
    await watchers["st2"].none("user:online", lambda f: f["data"]["userId"] == "st1")
    assert len([f for f in watchers["st2"].of("user:online") if f["data"]["userId"] == "st1"]) == 1
    await phone.close()
    await watchers["st2"].none("user:offline")
    await web.close()
    off = await watchers["st2"].expect("user:offline", lambda f: f["data"]["userId"] == "st1")
    assert off["data"]["lastSeen"].endswith("Z") and off["data"]["role"] == "student"
    off3 = await watchers["st3"].expect("user:offline", lambda f: f["data"]["userId"] == "st1")
    assert off3["data"]["userId"] == "st1"  # st3 learned of st1 through the shared conversation
    await watchers["t2"].none("user:offline", lambda f: f["data"]["userId"] == "st1")
    await watchers["x1"].none("user:offline")
    await runtime.presence.flush()  # written behind, many users at once
    user = await runtime.store.directory.get_user("st1")
    assert user["lastSeenAt"] > 0
    assert "st1" not in runtime.manager.by_user and "st1" not in runtime.manager.online.by_class.get("c1", set())


@pytest.mark.gen_test(timeout=60)
async def test_lossless_resync_after_reconnect(ws, api, base_url):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    other = await api.conversation("st1", "direct", ["st3"])
    reader = await ws("st2")
    first = await api.send("st1", conv["id"], "before")
    await reader.expect("message:new")
    mark = time.time()
    await reader.close()
    sent = [await api.send("st1", conv["id"], "missed %d" % i) for i in range(50)]
    await api.send("st1", other["id"], "not yours")
    for m in (sent[3], sent[10]):
        await api.patch("/api/messages/" + m["id"], "st1", {"text": m["text"] + " (edited)"})
    reader = await ws("st2")
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(mark)) + ".000Z"
    result = await reader.ok("sync", {"conversations": {conv["id"]: first["seq"], other["id"]: 0},
                                      "changedSince": since, "limit": 100})
    assert [m["seq"] for m in result["messages"]] == list(range(2, 52))
    assert [m["id"] for m in result["messages"]] == [m["id"] for m in sent]
    assert {m["id"] for m in result["changed"]} == {sent[3]["id"], sent[10]["id"]}
    assert all(m["text"].endswith("(edited)") for m in result["changed"])
    assert result["hasMore"] == {conv["id"]: False, other["id"]: False}  # other: not a participant, nothing
    capped = await reader.ok("sync", {"conversations": {conv["id"]: 1}, "limit": 20})
    assert [m["seq"] for m in capped["messages"]] == list(range(2, 22)) and capped["hasMore"][conv["id"]] is True
    assert capped["changed"] == []


@pytest.mark.gen_test(timeout=60)
@pytest.mark.settings(ws_max_pending_bytes=262144, max_text=60000, ws_max_frame_bytes=70000,
                      rate_messages=1000, rate_messages_burst=1000, rate_frames_burst=1000)
async def test_slow_consumer_is_closed(ws, api, base_url, runtime):
    import socket
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    host, port = base_url.split("://")[1].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(("GET /ws?token=%s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                  % (token("st2"), host, port)).encode())
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    got = b""
    while b"session:ready" not in got:  # the session is registered before session:ready is written
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 4096), 30)
        assert chunk, got
        got += chunk
    assert "st2" in runtime.manager.by_user
    # from here on it never reads
    sender = await ws("st1")
    big = "x" * 59000

    def st2_left(f):
        return f["data"]["userId"] == "st2"
    for _ in range(400):  # up to 24 MB for a client that reads nothing
        if any(st2_left(f) for f in sender.of("user:offline")):
            break
        await sender.ok("message:send", {"conversationId": conv["id"], "text": big})
    await sender.expect("user:offline", st2_left)  # st1 shares a class with st2
    assert "st2" not in runtime.manager.by_user, "the slow consumer was not closed"
    assert runtime.manager.stats()["connections"] == 1
    assert (await sender.ok("ping"))["serverTime"]  # everyone else is fine
    try:  # what the kernel had taken is delivered, then the server's end is closed
        while await asyncio.wait_for(loop.sock_recv(sock, 65536), 30):
            pass
    except ConnectionResetError:
        pass
    sock.close()
