"""Webhooks (README "Webhooks") against real local HTTP receivers that answer, fail, hang and
recover: signatures, the events and their privacy, retries into the dead letters and their
replay, a hanging webhook never delaying another, the outbox surviving a restart, and the
admin routes (real server, real nx-27017)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Iterator, List

import pytest

from chat.errors import Unavailable
from chat.rules.webhook_sign import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from chat.runtime import build_runtime
from tests.e2e.webhook_receiver import Receiver

FAST = dict(webhook_allow_private=True, webhook_backoff=0.05, webhook_backoff_max=0.2, webhook_max_attempts=3,
            webhook_poll_interval=0.2, webhook_timeout=30.0)
pytestmark = [pytest.mark.usefixtures("school", "dispatching"), pytest.mark.settings(**FAST)]


@pytest.fixture
def dispatching(io_loop: Any, runtime: Any) -> None:
    """The webhook workers run (the server starts them with the runtime)."""
    io_loop.run_sync(runtime.service.webhook_dispatcher.start)


@pytest.fixture
def receivers(io_loop: Any) -> Iterator[List[Receiver]]:
    made: List[Receiver] = []

    def make() -> Receiver:
        rx = Receiver()
        made.append(rx)
        return rx
    yield make  # type: ignore[misc]
    for rx in made:
        rx.stop()


async def hook(api: Any, rx: Receiver, events: List[str], **fields: Any) -> Dict[str, Any]:
    status, data = await api.post("/api/webhooks", "a1", dict({"url": rx.url, "events": events}, **fields))
    assert status == 201, data
    rx.secret = data["data"]["secret"]
    return data["data"]


async def dead(api: Any, hook_id: str) -> List[Dict[str, Any]]:
    status, data = await api.get("/api/webhooks/%s/dead-letters" % hook_id, "a1")
    assert status == 200, data
    return data["data"]


# ------------------------------------------------------------------ delivery and signature
@pytest.mark.gen_test(timeout=60)
async def test_message_created_is_signed_over_timestamp_and_body_and_carries_no_text(api, receivers):
    rx = receivers()
    created = await hook(api, rx, ["message.created"])
    assert created["secret"].startswith("whsec_") and created["includeText"] is False
    conv = await api.conversation("st1", "direct", ["st2"])
    sent = await api.send("st1", conv["id"], "my secret diary")
    await rx.until(lambda: len(rx.received) == 1, what="the delivery")
    got = rx.received[0]
    assert got.verified and got.event == "message.created"
    body = got.json
    assert body["event"] == "message.created" and body["school"] == "s1" and body["id"]
    data = body["data"]
    assert data["messageId"] == sent["id"] and data["conversationId"] == conv["id"] and data["seq"] == sent["seq"]
    assert data["senderId"] == "st1" and data["bot"] is False and data["conversationType"] == "direct"
    assert "text" not in data and b"secret diary" not in got.body  # a child's words stay here
    # the signature covers the timestamp: another timestamp, or another body, fails
    stamp = got.headers[TIMESTAMP_HEADER]
    assert not verify(rx.secret, str(int(stamp) + 1), got.body, got.headers[SIGNATURE_HEADER], float(stamp))
    assert not verify(rx.secret, stamp, got.body + b" ", got.headers[SIGNATURE_HEADER], float(stamp))
    assert not verify(rx.secret, stamp, got.body, got.headers[SIGNATURE_HEADER], float(stamp) + 3600)  # replayed late
    assert not verify("whsec_other", stamp, got.body, got.headers[SIGNATURE_HEADER], float(stamp))
    # the listing never shows the secret
    status, listing = await api.get("/api/webhooks", "a1")
    assert status == 200 and [h["id"] for h in listing["data"]] == [created["id"]]
    assert "secret" not in listing["data"][0]


@pytest.mark.gen_test(timeout=60)
@pytest.mark.settings(**dict(FAST, webhook_allow_text=True))
async def test_text_only_with_include_text_which_the_server_must_allow(api, receivers):
    with_text, without = receivers(), receivers()
    await hook(api, with_text, ["message.created", "conversation.created"], includeText=True)
    await hook(api, without, ["message.created", "conversation.created"])
    conv = await api.conversation("st1", "group", ["st2"], title="Band practice")
    await api.send("st1", conv["id"], "see you at four")
    for rx in (with_text, without):
        await rx.until(lambda rx=rx: len(rx.received) == 2, what="both events")
    assert with_text.events("message.created")[0].json["data"]["text"] == "see you at four"
    assert with_text.events("conversation.created")[0].json["data"]["title"] == "Band practice"
    assert "text" not in without.events("message.created")[0].json["data"]
    conv_data = without.events("conversation.created")[0].json["data"]
    assert "title" not in conv_data and conv_data["participantCount"] == 2 and conv_data["type"] == "group"
    # the same event has one id whichever webhook receives it
    assert with_text.events("message.created")[0].json["id"] == without.events("message.created")[0].json["id"]


@pytest.mark.gen_test(timeout=60)
async def test_include_text_is_refused_when_the_server_does_not_allow_it(api, receivers):
    rx = receivers()
    status, data = await api.post("/api/webhooks", "a1", {"url": rx.url, "events": ["message.created"],
                                                          "includeText": True})
    assert status == 403 and "webhook_allow_text" in data["error"]["message"]
    created = await hook(api, rx, ["message.created"])
    status, data = await api.patch("/api/webhooks/" + created["id"], "a1", {"includeText": True})
    assert status == 403


@pytest.mark.gen_test(timeout=60)
async def test_case_created_and_message_deleted(api, receivers):
    rx = receivers()
    await hook(api, rx, ["case.created", "message.deleted"])
    conv = await api.conversation("st1", "direct", ["st2"])
    sent = await api.send("st1", conv["id"], "mean words")
    status, _ = await api.post("/api/messages/%s/report" % sent["id"], "st2", {"reason": "bullying"})
    assert status == 201
    status, _ = await api.post("/api/messages/%s/report" % sent["id"], "st3", {"reason": "bullying"})
    assert status in (200, 403)  # st3 is no participant: refused; either way no second case
    await api.delete("/api/messages/" + sent["id"], "st1")
    await rx.until(lambda: len(rx.received) == 2, what="the case and the delete")
    case = rx.events("case.created")[0].json["data"]
    assert case["messageId"] == sent["id"] and case["reasons"] == ["bullying"] and case["kind"] == "message"
    assert rx.events("message.deleted")[0].json["data"]["messageId"] == sent["id"]
    assert all(d.verified for d in rx.received)


# ------------------------------------------------------------------ retries, dead letters, replay
@pytest.mark.gen_test(timeout=60)
async def test_failures_are_retried_then_dead_lettered_and_a_replay_delivers(api, receivers):
    rx = receivers()
    rx.mode = "fail"
    created = await hook(api, rx, ["message.created"])
    conv = await api.conversation("t1", "direct", ["t2"])
    sent = await api.send("t1", conv["id"], "hello")

    async def dead_now() -> List[Dict[str, Any]]:
        return await dead(api, created["id"])
    await rx.until(lambda: len(rx.attempts) >= 3, what="three attempts")
    letters: List[Dict[str, Any]] = []
    for _ in range(200):  # the third failure is recorded right after the answer
        letters = await dead_now()
        if letters:
            break
        await asyncio.sleep(0.05)
    assert len(letters) == 1 and len(rx.attempts) == 3  # max_attempts, then no more
    letter = letters[0]
    assert letter["attempts"] == 3 and letter["lastStatus"] == 500 and letter["event"] == "message.created"
    assert letter["payload"]["data"]["messageId"] == sent["id"]
    # every attempt carried the same delivery id, each its own signed timestamp
    assert len({d.delivery_id for d in rx.attempts}) == 1 and all(d.verified for d in rx.attempts)
    # the receiver recovers; the admin replays
    rx.mode = "ok"
    status, data = await api.post("/api/webhooks/%s/dead-letters/replay" % created["id"], "a1", {})
    assert status == 200 and data["data"]["replayed"] == 1
    await rx.until(lambda: len(rx.received) == 1, what="the replayed delivery")
    assert rx.received[0].json["data"]["messageId"] == sent["id"]
    assert await dead_now() == []
    status, audit = await api.get("/api/audit?action=webhook.replay", "a1")
    assert status == 200 and audit["data"][0]["detail"]["replayed"] == 1


@pytest.mark.gen_test(timeout=60)
async def test_a_hanging_webhook_does_not_delay_another_webhook(api, receivers):
    slow, fast = receivers(), receivers()
    slow.mode = "hang"
    await hook(api, slow, ["message.created"])
    await hook(api, fast, ["message.created"])
    conv = await api.conversation("t1", "direct", ["t2"])
    await api.send("t1", conv["id"], "one")
    await slow.until(lambda: slow.hanging == 1, what="the slow receiver holding the first delivery")
    await api.send("t1", conv["id"], "two")
    # while the slow one still holds its first delivery (it is never let go before this),
    # the other webhook gets both
    await fast.until(lambda: len(fast.received) == 2, what="the fast webhook's deliveries")
    assert slow.hanging == 1 and slow.received == []
    assert [d.json["data"]["seq"] for d in fast.received] == [1, 2]
    slow.mode = "ok"
    slow.release.set()
    await slow.until(lambda: len(slow.received) == 2, what="the slow webhook catching up")


@pytest.mark.gen_test(timeout=60)
@pytest.mark.settings(**dict(FAST, webhook_timeout=0.3, webhook_max_attempts=2))
async def test_a_hang_past_the_timeout_is_a_failed_attempt(api, receivers):
    rx = receivers()
    rx.mode = "hang"
    created = await hook(api, rx, ["message.created"])
    conv = await api.conversation("t1", "direct", ["t2"])
    await api.send("t1", conv["id"], "hi")
    await rx.until(lambda: len(rx.attempts) == 2, what="two attempts")
    for _ in range(200):
        letters = await dead(api, created["id"])
        if letters:
            break
        await asyncio.sleep(0.05)
    assert letters[0]["lastStatus"] is None and "timed out" in letters[0]["lastError"]


# ------------------------------------------------------------------ restart
@pytest.mark.gen_test(timeout=90)
async def test_events_queued_when_the_server_stops_go_out_after_it_starts(api, receivers, runtime, settings,
                                                                         mongo_uri):
    rx = receivers()
    rx.mode = "hang"
    await hook(api, rx, ["message.created"])
    conv = await api.conversation("t1", "direct", ["t2"])
    for text in ("one", "two", "three"):
        await api.send("t1", conv["id"], text)
    await rx.until(lambda: rx.hanging == 1, what="the first attempt")
    # the server stops (its attempt in flight is abandoned, its claims given back)
    await runtime.service.webhook_dispatcher.stop()
    rx.mode = "ok"
    rx.release.set()
    again = build_runtime(settings, mongo_uri)
    try:
        await again.service.webhook_dispatcher.start()
        await rx.until(lambda: {d.json["data"]["seq"] for d in rx.received} == {1, 2, 3},
                       what="the queued deliveries after the restart")
    finally:
        await again.service.webhook_dispatcher.stop()
        again.store.close()


# ------------------------------------------------------------------ admin routes
@pytest.mark.gen_test(timeout=60)
async def test_admin_routes_validate_authorize_and_audit(api, receivers):
    rx = receivers()
    # only the school's admins
    for user in ("t1", "st1"):
        status, _ = await api.post("/api/webhooks", user, {"url": rx.url, "events": ["message.created"]})
        assert status == 403
        assert (await api.get("/api/webhooks", user))[0] == 403
    # bad bodies
    for body in ({"url": rx.url}, {"events": ["message.created"]}, {"url": "ftp://x", "events": ["message.created"]},
                 {"url": rx.url, "events": ["nope"]}, {"url": rx.url, "events": []},
                 {"url": rx.url, "events": ["message.created"], "extra": 1}):
        assert (await api.post("/api/webhooks", "a1", body))[0] == 400, body
    created = await hook(api, rx, ["message.created"], description="LMS")
    hook_path = "/api/webhooks/" + created["id"]
    # another school's admin cannot see it
    from tests.conftest import token
    other = token("xa", role="admin", school="s2")
    assert (await api.get(hook_path, other))[0] == 404
    assert (await api.get("/api/webhooks", other))[1]["data"] == []
    # update, rotate, disable
    status, data = await api.patch(hook_path, "a1", {"events": ["case.created"], "rotateSecret": True})
    assert status == 200 and data["data"]["events"] == ["case.created"]
    assert data["data"]["secret"] != created["secret"]
    assert (await api.patch(hook_path, "a1", {}))[0] == 400
    status, data = await api.patch(hook_path, "a1", {"enabled": False})
    assert status == 200 and data["data"]["enabled"] is False
    status, data = await api.delete(hook_path, "a1")
    assert status == 200 and data["data"]["deleted"] is True
    assert (await api.get(hook_path, "a1"))[0] == 404
    status, audit = await api.get("/api/audit", "a1")
    actions = [e["action"] for e in audit["data"] if e["action"].startswith("webhook.")]
    assert actions == ["webhook.delete", "webhook.update", "webhook.update", "webhook.create"]
    assert all("secret" not in str(e["detail"]).lower() or "secretRotated" in e["detail"] for e in audit["data"])


@pytest.mark.gen_test(timeout=60)
@pytest.mark.settings(**dict(FAST, webhook_allow_private=False))
async def test_webhooks_may_not_point_at_this_machine_unless_allowed(api):
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://10.0.0.5/x", "http://169.254.169.254/x"):
        status, data = await api.post("/api/webhooks", "a1", {"url": url, "events": ["message.created"]})
        assert status == 403, (url, data)
    status, _ = await api.post("/api/webhooks", "a1", {"url": "https://lms.example.org/hook",
                                                       "events": ["message.created"]})
    assert status == 201


async def dead_until(api: Any, hook_id: str, count: int) -> List[Dict[str, Any]]:
    letters: List[Dict[str, Any]] = []
    for _ in range(600):  # a failure is recorded right after the answer (a poll with a generous deadline)
        letters = await dead(api, hook_id)
        if len(letters) >= count:
            break
        await asyncio.sleep(0.05)
    assert len(letters) == count, letters
    return letters


@pytest.mark.gen_test(timeout=90)
@pytest.mark.settings(**dict(FAST, webhook_allow_text=True))
async def test_text_is_added_at_each_attempt_never_kept_in_the_outbox(api, receivers, runtime):
    rx = receivers()
    rx.mode = "fail"
    created = await hook(api, rx, ["message.created"], includeText=True)
    conv = await api.conversation("st1", "direct", ["st2"])
    kept = await api.send("st1", conv["id"], "my secret diary")
    gone = await api.send("st1", conv["id"], "erase me")
    letters = await dead_until(api, created["id"], 2)
    # the attempts carried the text (allowed then); the outbox and the listing never hold it
    assert {d.json["data"].get("text") for d in rx.attempts} == {"my secret diary", "erase me"}
    stored = await runtime.service.webhook_dispatcher.store.dead_letters(created["id"], 10)
    assert len(stored) == 2 and not any("diary" in d["body"] or "erase me" in d["body"] for d in stored)
    assert all("text" not in letter["payload"]["data"] for letter in letters)
    letter_of = {letter["payload"]["data"]["messageId"]: letter["id"] for letter in letters}
    rx.mode = "ok"
    # a deleted message's replay carries no text
    status, _ = await api.delete("/api/messages/" + gone["id"], "st1")
    assert status == 200
    path = "/api/webhooks/%s/dead-letters/replay" % created["id"]
    status, data = await api.post(path, "a1", {"ids": [letter_of[gone["id"]]]})
    assert status == 200 and data["data"]["replayed"] == 1
    await rx.until(lambda: len(rx.received) == 1, what="the deleted message's replay")
    assert rx.received[0].json["data"]["messageId"] == gone["id"] and "text" not in rx.received[0].json["data"]
    assert b"erase me" not in rx.received[0].body
    # the school turns includeText off: the replay of a message queued with text allowed carries none
    status, _ = await api.patch("/api/webhooks/" + created["id"], "a1", {"includeText": False})
    assert status == 200
    status, data = await api.post(path, "a1", {"ids": [letter_of[kept["id"]]]})
    assert status == 200 and data["data"]["replayed"] == 1
    await rx.until(lambda: len(rx.received) == 2, what="the live message's replay")
    assert rx.received[1].json["data"]["messageId"] == kept["id"] and "text" not in rx.received[1].json["data"]
    assert b"diary" not in rx.received[1].body and rx.received[1].verified


@pytest.mark.gen_test(timeout=90)
@pytest.mark.settings(**dict(FAST, webhook_allow_private=False))
async def test_a_name_that_resolves_to_this_machine_is_refused_when_delivering(api, receivers, runtime):
    rx = receivers()
    status, data = await api.post("/api/webhooks", "a1", {"url": "https://lms.example.org/hook",
                                                          "events": ["message.created"]})
    assert status == 201
    hook_id = data["data"]["id"]
    # the name now resolves to this machine (DNS rebinding): `localhost` stands for a public-looking
    # name that resolves to 127.0.0.1, where a receiver listens
    dispatcher = runtime.service.webhook_dispatcher
    changed = await dispatcher.store.update_hook(hook_id, {"url": rx.url.replace("127.0.0.1", "localhost")})
    dispatcher.hook_changed(changed)
    conv = await api.conversation("t1", "direct", ["t2"])
    await api.send("t1", conv["id"], "hello")
    letters = await dead_until(api, hook_id, 1)
    assert "private network" in letters[0]["lastError"] and letters[0]["attempts"] == 3
    assert rx.attempts == []  # nothing reached it


@pytest.mark.gen_test(timeout=60)
async def test_a_webhook_is_not_stored_when_its_audit_entry_cannot_be_written(api, receivers, runtime, monkeypatch):
    rx = receivers()

    async def failing(*_args: Any, **_kwargs: Any) -> None:
        raise Unavailable()
    monkeypatch.setattr(runtime.service.core.audit, "record", failing)
    status, _ = await api.post("/api/webhooks", "a1", {"url": rx.url, "events": ["message.created"]})
    assert status == 503
    monkeypatch.undo()
    status, listing = await api.get("/api/webhooks", "a1")
    assert status == 200 and listing["data"] == []
