"""Bot (service) accounts (README "Bots"): created by a school's admin with scopes, the token
shown once and revocable, posting over REST as staff through the ordinary send path (filters,
quiet hours and the send rate apply), marked as a bot in the message over REST and the socket,
and refused everywhere else (real server, real sockets, real nx-27017)."""
from __future__ import annotations

import datetime
from typing import Any, Dict, Tuple

import pytest
import tornado.httpclient
import tornado.websocket

from chat.errors import Unavailable
from tests.e2e.webhook_receiver import Receiver

pytestmark = [pytest.mark.usefixtures("school")]


async def make_bot(api: Any, scopes: Dict[str, Any], name: str = "LMS announcements") -> Dict[str, Any]:
    status, data = await api.post("/api/bots", "a1", {"name": name, "scopes": scopes})
    assert status == 201, data
    return data["data"]


async def as_bot(api: Any, bot_token: str, method: str, path: str, body: Any = None) -> Tuple[int, Dict[str, Any]]:
    return await api.call(method, path, None, body, headers={"Authorization": "Bearer " + bot_token})


async def bot_send(api: Any, bot_token: str, conversation_id: str, text: str, **fields: Any
                   ) -> Tuple[int, Dict[str, Any]]:
    return await as_bot(api, bot_token, "POST", "/api/conversations/%s/messages" % conversation_id,
                        dict({"text": text}, **fields))


@pytest.mark.gen_test(timeout=60)
async def test_a_bot_posts_an_announcement_marked_as_a_bot_over_rest_and_the_socket(api, ws):
    announce = await api.conversation("t1", "announcement", [], classId="c1")
    student = await ws("st1")
    bot = await make_bot(api, {"classes": ["c1"]})
    assert bot["token"].startswith("chatbot_") and bot["scopes"] == {"conversations": [], "classes": ["c1"]}
    status, sent = await bot_send(api, bot["token"], announce["id"], "Parents' evening is on Thursday")
    assert status == 201, sent
    message = sent["data"]
    assert message["bot"] is True and message["senderId"] == bot["userId"] and message["senderName"] == bot["name"]
    pushed = await student.expect("message:new", lambda f: f["data"]["id"] == message["id"])
    assert pushed["data"]["bot"] is True
    status, history = await api.get("/api/conversations/%s/messages" % announce["id"], "st1")
    assert [m.get("bot") for m in history["data"] if m["type"] != "system"] == [True]
    # a person's message carries no bot mark
    person = await api.send("t1", announce["id"], "see you there")
    assert "bot" not in person
    # an idempotent retry by clientMsgId, as for anyone
    status, again = await bot_send(api, bot["token"], announce["id"], "x", clientMsgId="lms-1")
    status2, again2 = await bot_send(api, bot["token"], announce["id"], "x", clientMsgId="lms-1")
    assert (status, status2) == (201, 200) and again["data"]["id"] == again2["data"]["id"]
    # the students count it as unread
    status, unread = await api.get("/api/unread", "st2")
    assert status == 200 and unread["data"]["total"] >= 2


@pytest.mark.gen_test(timeout=60)
async def test_the_token_is_shown_once_and_a_revoked_token_is_401(api):
    conv = await api.conversation("t1", "group", ["t2"], title="Staff room")
    bot = await make_bot(api, {"conversations": [conv["id"]]})
    status, listing = await api.get("/api/bots", "a1")
    assert status == 200 and [b["id"] for b in listing["data"]] == [bot["id"]]
    assert "token" not in listing["data"][0] and "tokenHash" not in listing["data"][0]
    assert (await bot_send(api, bot["token"], conv["id"], "hello staff"))[0] == 201
    status, revoked = await api.delete("/api/bots/" + bot["id"], "a1")
    assert status == 200 and revoked["data"]["revoked"] is True
    status, data = await bot_send(api, bot["token"], conv["id"], "still here?")
    assert status == 401 and data["error"]["code"] == "unauthorized"
    assert (await bot_send(api, "chatbot_made-up", conv["id"], "hi"))[0] == 401
    # revoking again is a no-op; the audit log has both actions
    assert (await api.delete("/api/bots/" + bot["id"], "a1"))[0] == 200
    status, audit = await api.get("/api/audit", "a1")
    actions = [e["action"] for e in audit["data"] if e["action"].startswith("bot.")]
    assert actions == ["bot.revoke", "bot.create"]
    assert all("token" not in str(e["detail"]) for e in audit["data"])


@pytest.mark.gen_test(timeout=60)
async def test_scopes_403_outside_and_a_bot_reads_nothing(api, base_url):
    mine = await api.conversation("t1", "class", [], classId="c1")
    other_class = await api.conversation("t2", "class", [], classId="c2")
    direct = await api.conversation("st1", "direct", ["st2"])
    bot = await make_bot(api, {"conversations": [mine["id"]]})
    assert (await bot_send(api, bot["token"], mine["id"], "homework is on page 4"))[0] == 201
    for conv in (other_class, direct):
        status, data = await bot_send(api, bot["token"], conv["id"], "hi")
        assert status == 403 and data["error"]["code"] == "forbidden"
    # reading: history, the conversation, the list, search, /api/me: all 403
    for path in ("/api/conversations/%s/messages" % mine["id"], "/api/conversations/" + mine["id"],
                 "/api/conversations", "/api/search?q=homework", "/api/me", "/api/unread", "/api/bots"):
        status, data = await as_bot(api, bot["token"], "GET", path)
        assert status == 403, (path, data)
    # nor may it create a bot, or edit and delete
    assert (await as_bot(api, bot["token"], "POST", "/api/bots", {"name": "b2", "scopes": {"classes": ["c1"]}}))[0] == 403
    # no socket for a bot
    try:
        await tornado.websocket.websocket_connect(base_url.replace("http://", "ws://") + "/ws?token=" + bot["token"])
        raise AssertionError("a bot opened a socket")
    except tornado.httpclient.HTTPClientError as exc:
        assert exc.code == 401


@pytest.mark.gen_test(timeout=60)
async def test_admin_routes_authorize_and_validate(api):
    conv = await api.conversation("t1", "class", [], classId="c1")
    for user in ("t1", "st1"):
        assert (await api.post("/api/bots", user, {"name": "b", "scopes": {"classes": ["c1"]}}))[0] == 403
        assert (await api.get("/api/bots", user))[0] == 403
    for body in ({"name": "b"}, {"name": "", "scopes": {"classes": ["c1"]}}, {"name": "b", "scopes": {}},
                 {"name": "b", "scopes": {"classes": "c1"}}, {"name": "b", "scopes": {"rooms": ["c1"]}}):
        assert (await api.post("/api/bots", "a1", body))[0] == 400, body
    # another school's class or conversation, or an unknown one
    for scopes in ({"classes": ["cx"]}, {"classes": ["nope"]}, {"conversations": ["0" * 24]}):
        assert (await api.post("/api/bots", "a1", {"name": "b", "scopes": scopes}))[0] == 403, scopes
    # a direct conversation of the school (two students' own) is no bot's scope
    direct = await api.conversation("st1", "direct", ["st2"])
    status, data = await api.post("/api/bots", "a1", {"name": "b", "scopes": {"conversations": [direct["id"]]}})
    assert status == 403 and "direct" in data["error"]["message"], data
    bot = await make_bot(api, {"conversations": [conv["id"]]})
    from tests.conftest import token
    other_admin = token("xa", role="admin", school="s2")
    assert (await api.delete("/api/bots/" + bot["id"], other_admin))[0] == 404
    assert (await api.get("/api/bots", other_admin))[1]["data"] == []


# ------------------------------------------------------------------ the ordinary send path's rules
@pytest.mark.gen_test(timeout=60)
async def test_word_filters_apply_to_a_bot(api):
    conv = await api.conversation("t1", "class", [], classId="c1")
    status, _ = await api.put("/api/schools/s1/filters", "a1",
                              {"lists": [{"name": "Banned", "action": "block", "terms": ["forbiddenword"]}]})
    assert status == 200
    bot = await make_bot(api, {"classes": ["c1"]})
    status, data = await bot_send(api, bot["token"], conv["id"], "this has a forbiddenword in it")
    assert status == 422 and data["error"]["code"] == "content_blocked"
    status, history = await api.get("/api/conversations/%s/messages" % conv["id"], "t1")
    assert [m for m in history["data"] if m.get("bot")] == []


def _closed_window_now() -> Dict[str, Any]:
    """Teachers' quiet hours that are closed now: one window two to three hours from now (UTC,
    the test school's zone), every day."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now + datetime.timedelta(hours=2), now + datetime.timedelta(hours=3)
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    return {"teacher": [{"days": days, "from": start.strftime("%H:%M"), "to": end.strftime("%H:%M")}]}


@pytest.mark.gen_test(timeout=60)
async def test_teachers_quiet_hours_apply_to_a_bot(api):
    conv = await api.conversation("a1", "announcement", [], classId="c1")
    bot = await make_bot(api, {"classes": ["c1"]})
    status, data = await api.put("/api/schools/s1/policy", "a1", {"quietHours": _closed_window_now()})
    assert status == 200, data
    status, data = await bot_send(api, bot["token"], conv["id"], "late announcement")
    assert status == 403 and data["error"]["code"] == "quiet_hours" and data["error"]["opensAt"]
    assert (await api.send("a1", conv["id"], "admins are never restricted"))["seq"] >= 1
    status, _ = await api.put("/api/schools/s1/policy", "a1", {"quietHours": {}})
    assert (await bot_send(api, bot["token"], conv["id"], "now it goes"))[0] == 201


@pytest.mark.gen_test(timeout=60)
@pytest.mark.settings(rate_messages=0.001, rate_messages_burst=3)
async def test_the_send_rate_applies_to_a_bot(api):
    conv = await api.conversation("t1", "class", [], classId="c1")
    bot = await make_bot(api, {"classes": ["c1"]})
    codes = [(await bot_send(api, bot["token"], conv["id"], "n%d" % i))[0] for i in range(4)]
    assert codes == [201, 201, 201, 429]


@pytest.mark.gen_test(timeout=60)
@pytest.mark.settings(webhook_allow_private=True, webhook_poll_interval=0.2)
async def test_a_bot_message_reaches_webhooks_marked_as_a_bot(api, io_loop, runtime):
    await runtime.service.webhook_dispatcher.start()
    rx = Receiver()
    try:
        status, created = await api.post("/api/webhooks", "a1", {"url": rx.url, "events": ["message.created"]})
        assert status == 201
        rx.secret = created["data"]["secret"]
        conv = await api.conversation("t1", "announcement", [], classId="c1")
        bot = await make_bot(api, {"classes": ["c1"]})
        assert (await bot_send(api, bot["token"], conv["id"], "trip tomorrow"))[0] == 201
        await rx.until(lambda: len(rx.received) == 1, what="the delivery")
        data = rx.received[0].json["data"]
        assert rx.received[0].verified and data["bot"] is True and data["senderId"] == bot["userId"]
        assert data["conversationType"] == "announcement"
    finally:
        rx.stop()


@pytest.mark.gen_test(timeout=60)
async def test_a_bot_is_not_stored_when_its_audit_entry_cannot_be_written(api, runtime, monkeypatch):
    async def failing(*_args: Any, **_kwargs: Any) -> None:
        raise Unavailable()
    monkeypatch.setattr(runtime.service.core.audit, "record", failing)
    status, _ = await api.post("/api/bots", "a1", {"name": "LMS", "scopes": {"classes": ["c1"]}})
    assert status == 503
    monkeypatch.undo()
    status, listing = await api.get("/api/bots", "a1")
    assert status == 200 and listing["data"] == []
