"""Scheduled messages (README "Scheduled messages"): POST .../messages with sendAt, the author's
GET /api/scheduled, PATCH and DELETE /api/scheduled/{id}; the send at its time through the
ordinary send path on the injected clock (quiet hours refusing it then, recorded for the author,
never retried); the author read from the directory at its time (role, school, name, erasure);
a send-rate token per send; refused ones in the pending cap; erasure deleting waiting ones and
keeping held ones unsent; exactly once across a restart (a server stopped before its claim, and one stopped
after its claim, with or without the message stored; a real server SIGKILLed between its send and
its record) and across two cluster nodes (real processes, real Redis, real nx-27017)."""
from __future__ import annotations

import datetime
import os
from typing import Any, Dict, List

import pymongo
import pytest

from chat.auth import Identity
from chat.clock import ManualClock
from chat.rules.validation import NewMessage
from chat.runtime import build_runtime
from tests.conftest import Api
from tests.e2e.test_cluster import REDIS, connect, eventually, run, subscribed


def in_process(test: Any) -> Any:
    """A test of the in-process server on the injected clock (the process and cluster tests at
    the end start their own servers)."""
    return pytest.mark.gen_test(pytest.mark.manual_clock(pytest.mark.usefixtures("school", "http_server")(test)))


MSGS = "/api/conversations/%s/messages"
SCHEDULED = "/api/scheduled"
# Monday 23 March 2026, 06:00 in London (GMT): before school (see test_oversight_quiet_hours.py)
MONDAY_EARLY = "2026-03-23T06:00:00Z"
LONDON = {"timeZone": "Europe/London",
          "quietHours": {"student": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "07:30", "to": "16:00"}]}}


def epoch(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso_ms(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        "%03dZ" % (ms % 1000)


@pytest.fixture
def clock() -> ManualClock:
    """The server's clock, on a Monday of March 2026 (in the past: the tests' real tokens stay valid)."""
    return ManualClock(epoch=epoch(MONDAY_EARLY))


def now_ms(clock: ManualClock) -> int:
    return int(clock.time() * 1000)


async def look(runtime: Any, clock: ManualClock, seconds: float) -> None:
    """Move the clock on by ``seconds`` (at least one interval) and wait for the look that fires."""
    sender = runtime.service.scheduled_sender
    sender.start()
    before = sender.looks
    clock.advance(seconds)
    await sender.settled()
    assert sender.looks == before + 1


async def schedule(api: Any, user: str, conversation_id: str, text: str, send_at: Any, **extra: Any) -> Dict[str, Any]:
    status, data = await api.post(MSGS % conversation_id, user, dict({"text": text, "sendAt": send_at}, **extra))
    assert status == 201, (status, data)
    return data["data"]


async def item(api: Any, user: str, scheduled_id: str) -> Dict[str, Any]:
    status, data = await api.get("%s/%s" % (SCHEDULED, scheduled_id), user)
    assert status == 200, data
    return data["data"]


async def history(api: Any, user: str, conversation_id: str) -> List[Dict[str, Any]]:
    status, data = await api.get(MSGS % conversation_id, user)
    assert status == 200, data
    return [m for m in data["data"] if m.get("type") != "system"]


# ------------------------------------------------------------------ REST
@in_process
async def test_the_author_lists_edits_and_cancels_and_no_one_else_sees_them(api, clock):
    conv = await api.conversation("st1", "group", ["st2", "t1"], title="Homework")
    at = now_ms(clock) + 3600_000
    first = await schedule(api, "st1", conv["id"], "  remember the quiz  ", iso_ms(at), mentions=["st2"])
    assert first["status"] == "scheduled" and first["text"] == "remember the quiz" and first["mentions"] == ["st2"]
    assert first["sendAt"] == iso_ms(at) and first["sendAtMs"] == at and first["messageId"] is None
    second = await schedule(api, "st1", conv["id"], "and bring a pen", at + 60_000)  # epoch ms too
    assert second["sendAtMs"] == at + 60_000
    offset = await schedule(api, "st1", conv["id"], "by offset", "2026-03-23T10:00:00+02:00")
    assert offset["sendAtMs"] == int(epoch("2026-03-23T08:00:00Z") * 1000)
    status, listed = await api.get(SCHEDULED, "st1")
    assert status == 200 and [d["id"] for d in listed["data"]] == [first["id"], second["id"], offset["id"]]
    # nobody else sees them, nor can touch them
    assert (await api.get(SCHEDULED, "st2"))[1]["data"] == []
    for method in ("get", "patch", "delete"):
        kwargs = {"body": {"text": "mine now"}} if method == "patch" else {}
        status, data = await getattr(api, method)("%s/%s" % (SCHEDULED, first["id"]), "st2", **kwargs)
        assert status == 404 and data["error"]["code"] == "not_found", (method, status)
    status, data = await api.patch("%s/%s" % (SCHEDULED, first["id"]), "st1",
                                   {"text": "remember the QUIZ", "sendAt": at + 120_000})
    assert status == 200 and data["data"]["text"] == "remember the QUIZ" and data["data"]["sendAtMs"] == at + 120_000
    status, data = await api.delete("%s/%s" % (SCHEDULED, second["id"]), "st1")
    assert status == 200 and data["data"] == {"id": second["id"], "status": "cancelled"}
    assert (await api.get("%s/%s" % (SCHEDULED, second["id"]), "st1"))[0] == 404
    listed = (await api.get(SCHEDULED, "st1"))[1]["data"]
    assert [d["id"] for d in listed] == [first["id"], offset["id"]]
    assert await history(api, "st2", conv["id"]) == []  # nothing is sent before its time


@in_process
async def test_bad_schedules_are_refused_and_store_nothing(api, clock):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    news = await api.conversation("t1", "announcement", classId="c1")
    now = now_ms(clock)
    for send_at in ("tomorrow", True, None, {"at": 1}, "2026-02-30T08:00:00Z", 1.5, "2026-03-23 08:00"):
        status, data = await api.post(MSGS % conv["id"], "st1", {"text": "x", "sendAt": send_at})
        assert status == 400 and data["error"]["code"] == "bad_request", (send_at, status, data)
    # well formed, but not a time it can be sent at (judged against the server's clock: 409)
    for send_at in (now - 1000, now, iso_ms(now - 60_000), now + 31 * 86400_000):
        status, data = await api.post(MSGS % conv["id"], "st1", {"text": "x", "sendAt": send_at})
        assert status == 409 and data["error"]["code"] == "conflict", (send_at, status, data)
    later = now + 3600_000
    bad = [({"text": "x", "sendAt": later, "attachments": [{"name": "a", "size": 1, "mimeType": "text/plain",
                                                              "url": "https://example.org/a"}]}, 400),
           ({"text": "x", "sendAt": later, "clientMsgId": "c1"}, 400),
           ({"text": "", "sendAt": later}, 400),
           ({"text": "x", "sendAt": later, "mentions": ["st3"]}, 409)]
    for body, expected in bad:
        status, data = await api.post(MSGS % conv["id"], "st1", body)
        assert status == expected, (body, status, data)
    assert (await api.post(MSGS % conv["id"], "st3", {"text": "x", "sendAt": later}))[0] == 403  # not a member
    assert (await api.post(MSGS % news["id"], "st1", {"text": "x", "sendAt": later}))[0] == 403  # read-only
    status, data = await api.patch("%s/%s" % (SCHEDULED, "0" * 24), "st1", {"text": "y"})
    assert status == 404
    waiting = await schedule(api, "st1", conv["id"], "waiting", later)
    for body in ({}, {"sendAt": None}, {"text": None}, {"text": " "}, {"sendAt": "soon"}, {"other": 1}):
        status, data = await api.patch("%s/%s" % (SCHEDULED, waiting["id"]), "st1", body)
        assert status == 400, (body, status, data)
    assert (await api.patch("%s/%s" % (SCHEDULED, waiting["id"]), "st1", {"sendAt": now - 1}))[0] == 409
    assert (await item(api, "st1", waiting["id"]))["sendAtMs"] == later  # unchanged
    assert (await api.delete("%s/%s" % (SCHEDULED, waiting["id"]), "st1"))[0] == 200
    assert (await api.get(SCHEDULED, "st1"))[1]["data"] == []


@in_process
@pytest.mark.settings(scheduled_max_pending=2)
async def test_a_user_has_at_most_the_settings_pending_messages(api, clock):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    later = now_ms(clock) + 3600_000
    one = await schedule(api, "st1", conv["id"], "one", later)
    await schedule(api, "st1", conv["id"], "two", later)
    status, data = await api.post(MSGS % conv["id"], "st1", {"text": "three", "sendAt": later})
    assert status == 409 and "at most 2" in data["error"]["message"]
    await schedule(api, "st2", conv["id"], "another user's own", later)  # per user
    assert (await api.delete("%s/%s" % (SCHEDULED, one["id"]), "st1"))[0] == 200
    await schedule(api, "st1", conv["id"], "three", later)


# ------------------------------------------------------------------ at its time
@in_process
async def test_it_is_sent_at_its_time_through_the_ordinary_path_once(api, ws, runtime, clock):
    conv = await api.conversation("st1", "group", ["st2", "t1"], title="Homework")
    due = await schedule(api, "st1", conv["id"], "good morning @st2", now_ms(clock) + 60_000, mentions=["st2"])
    other = await ws("st2")
    interval = runtime.settings.scheduled_interval
    await look(runtime, clock, 30)  # not yet
    assert (await item(api, "st1", due["id"]))["status"] == "scheduled"
    await other.none("message:new")
    await look(runtime, clock, 30 + interval)
    pushed = await other.expect("message:new")
    assert pushed["data"]["text"] == "good morning @st2" and pushed["data"]["senderId"] == "st1"
    assert pushed["data"]["clientMsgId"] == due["id"] and pushed["data"]["mentions"] == ["st2"]
    sent = await item(api, "st1", due["id"])
    assert sent["status"] == "sent" and sent["messageId"] == pushed["data"]["id"] and sent["attempts"] == 1
    assert sent["error"] is None and sent["sentAt"] is not None
    assert sent["text"] is None  # the text lives in the message alone now (its retention governs it)
    assert (await api.get(SCHEDULED, "st1"))[1]["data"] == []  # the list is what has not gone
    assert (await api.patch("%s/%s" % (SCHEDULED, due["id"]), "st1", {"text": "too late"}))[0] == 409
    assert (await api.delete("%s/%s" % (SCHEDULED, due["id"]), "st1"))[0] == 409
    await look(runtime, clock, interval)
    assert [m["text"] for m in await history(api, "st2", conv["id"])] == ["good morning @st2"]
    await other.none("message:new")
    # it counts as the ordinary unread message it is
    status, unread = await api.get("/api/unread", "st2")
    assert status == 200 and unread["data"]["total"] == 1, unread


@in_process
async def test_quiet_hours_at_its_time_are_recorded_for_the_author_and_not_retried(api, runtime, clock):
    conv = await api.conversation("st1", "group", ["st2", "t1"], title="Homework")
    status, data = await api.put("/api/schools/s1/policy", "a1", LONDON)
    assert status == 200, data
    # scheduled during quiet hours for a time still inside them, and for one after they end
    early = await schedule(api, "st1", conv["id"], "too early", "2026-03-23T06:30:00Z")
    later = await schedule(api, "st1", conv["id"], "good morning", "2026-03-23T08:00:00Z")
    await look(runtime, clock, 31 * 60)  # 06:31
    refused = await item(api, "st1", early["id"])
    assert refused["status"] == "failed" and refused["messageId"] is None
    assert refused["error"]["code"] == "quiet_hours" and refused["error"]["opensAt"] == "2026-03-23T07:30:00+00:00"
    assert refused["error"]["opensAtMs"] == int(epoch("2026-03-23T07:30:00Z") * 1000)
    listed = (await api.get(SCHEDULED, "st1"))[1]["data"]
    assert [(d["id"], d["status"]) for d in listed] == [(early["id"], "failed"), (later["id"], "scheduled")]
    await look(runtime, clock, 90 * 60)  # 08:01: chat is open
    assert (await item(api, "st1", later["id"]))["status"] == "sent"
    refused = await item(api, "st1", early["id"])
    assert refused["status"] == "failed" and refused["attempts"] == 1  # never retried
    assert [m["text"] for m in await history(api, "st2", conv["id"])] == ["good morning"]
    assert (await api.patch("%s/%s" % (SCHEDULED, early["id"]), "st1", {"text": "x"}))[0] == 409
    assert (await api.delete("%s/%s" % (SCHEDULED, early["id"]), "st1"))[0] == 200  # dismissed
    assert (await api.get(SCHEDULED, "st1"))[1]["data"] == []


# ------------------------------------------------------------------ exactly once across a restart
async def restarted(settings: Any, mongo_uri: str, clock: ManualClock) -> Any:
    """A second server on the same database (the first one stopped)."""
    second = build_runtime(settings, mongo_uri, clock=clock)
    await second.store.ensure_indexes()
    return second


async def stop(second: Any) -> None:
    await second.service.scheduled_sender.stop()
    await second.close()
    second.store.close()


@in_process
async def test_a_server_stopped_before_the_claim_sends_it_after_its_restart(api, runtime, clock, settings, mongo_uri):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    due = await schedule(api, "st1", conv["id"], "while you were out", now_ms(clock) + 60_000)
    await runtime.service.scheduled_sender.stop()  # the first server stops before the time
    second = await restarted(settings, mongo_uri, clock)
    try:
        await look(second, clock, 60 + settings.scheduled_interval)
        await look(second, clock, settings.scheduled_interval)
    finally:
        await stop(second)
    sent = await item(api, "st1", due["id"])
    assert sent["status"] == "sent" and sent["attempts"] == 1
    assert [(m["text"], m["clientMsgId"]) for m in await history(api, "st2", conv["id"])] == [
        ("while you were out", due["id"])]


@in_process
@pytest.mark.parametrize("stored", [False, True], ids=["claimed", "claimed-and-stored"])
async def test_a_server_stopped_after_its_claim_is_taken_over_and_the_message_is_stored_once(
        api, runtime, clock, settings, mongo_uri, stored):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    due = await schedule(api, "st1", conv["id"], "exactly once", now_ms(clock) + 60_000)
    clock.advance(61)
    first = runtime.service.scheduled_sender
    claimed = await runtime.store.scheduled.claim(due["id"], first.node_id, now_ms(clock), 0)
    assert claimed is not None and claimed["status"] == "sending"
    # another node cannot take it while the claim is fresh
    assert await runtime.store.scheduled.claim(due["id"], "other", now_ms(clock), now_ms(clock) - 60_000) is None
    if stored:  # the send was stored, then the server stopped before recording it
        ident = Identity("st1", "student", "s1", "Sam Student", 0)
        await runtime.service.messages.send(ident, conv["id"], NewMessage("exactly once", "text", [], due["id"],
                                                                          None, []))
    await first.stop()
    second = await restarted(settings, mongo_uri, clock)
    try:
        await look(second, clock, settings.scheduled_interval)  # the claim is still fresh: it waits
        assert (await item(api, "st1", due["id"]))["status"] == "sending"
        await look(second, clock, settings.scheduled_claim_seconds)  # stale now: taken over, sent again
        await look(second, clock, settings.scheduled_interval)
    finally:
        await stop(second)
    sent = await item(api, "st1", due["id"])
    assert sent["status"] == "sent" and sent["attempts"] == 2
    messages = await history(api, "st2", conv["id"])
    assert [(m["text"], m["clientMsgId"]) for m in messages] == [("exactly once", due["id"])]
    assert sent["messageId"] == messages[0]["id"]


# ------------------------------------------------------------------ two nodes
@pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")
def test_two_nodes_send_each_due_message_exactly_once(cluster):
    a, b = cluster.start(2, scheduled_interval=0.05)
    count = 12

    async def main() -> None:
        api_a, api_b = Api(a.url), Api(b.url)
        conv = await api_a.conversation("st1", "group", ["st2", "t1"], title="Cluster")
        reader = await connect(b, "st2")
        await subscribed(a)
        await subscribed(b)
        later = iso_ms(int((datetime.datetime.now(datetime.timezone.utc).timestamp() + 3600) * 1000))
        ids = []
        for k in range(count):
            data = await schedule(api_a if k % 2 else api_b, "st1", conv["id"], "m%d" % k, later)
            ids.append(data["id"])
        # all due at once: both nodes look every 50 ms and race for each
        client: Any = pymongo.MongoClient(cluster.mongo_uri)
        try:
            client[cluster.db_name]["scheduled_messages"].update_many({}, {"$set": {"sendAt": 0}})
        finally:
            client.close()

        async def all_sent() -> bool:
            items = [await item(api_b, "st1", i) for i in ids]
            return all(d["status"] == "sent" for d in items)
        await eventually(all_sent, 120, "every scheduled message sent")
        messages = await history(api_a, "st2", conv["id"])
        assert sorted(m["clientMsgId"] for m in messages) == sorted(ids)
        assert sorted(m["text"] for m in messages) == sorted("m%d" % k for k in range(count))
        for i in ids:
            assert (await item(api_a, "st1", i))["attempts"] == 1  # one claim each, no take-over
        got = [await reader.expect("message:new") for _ in range(count)]
        assert sorted(f["data"]["clientMsgId"] for f in got) == sorted(ids)
        await reader.none("message:new")
        await reader.close()
    run(main())


# ------------------------------------------------------------------ a real process killed after its claim
def test_a_server_killed_between_claim_and_record_is_restarted_and_the_message_stored_once(tmp_path):
    """A real server (SIGKILLed) on its embedded database: the first run never sends by itself
    (interval 0), holds the claim and has stored the message under the scheduled id, as a node
    dying between its send and its record would; the restarted server takes the stale claim over
    and the writer's idempotency answers with the stored message: one message, the item sent."""
    from bson import ObjectId

    from tests.e2e.test_process import ServerProc, http, wait_gone
    data_dir = str(tmp_path / "data")
    first = ServerProc(data_dir, "--demo", "--scheduled-interval", "0")
    first.wait_ready(120)
    try:
        def tok(user: str) -> str:
            return http("POST", first.url + "/api/demo/token", None, {"userId": user})[1]["data"]["token"]
        alice = tok("s-alice")
        status, conv = http("POST", first.url + "/api/conversations", alice,
                            {"type": "group", "participantIds": ["s-bob"], "title": "Killed"})
        assert status == 201, conv
        conv_id = conv["data"]["id"]
        later = int((datetime.datetime.now(datetime.timezone.utc).timestamp() + 3600) * 1000)
        status, data = http("POST", first.url + MSGS % conv_id, alice, {"text": "once", "sendAt": later})
        assert status == 201, data
        scheduled_id = data["data"]["id"]
        # the send was stored under the scheduled id (the clientMsgId a node sends it with) ...
        status, sent = http("POST", first.url + MSGS % conv_id, alice, {"text": "once", "clientMsgId": scheduled_id})
        assert status == 201, sent
        # ... by a node holding the claim, which dies before recording it
        client: Any = pymongo.MongoClient(first.state()["uri"])
        try:
            claimed = client["chat"]["scheduled_messages"].update_one(
                {"_id": ObjectId(scheduled_id), "status": "scheduled"},
                {"$set": {"status": "sending", "claimedBy": "the-killed-node", "sendAt": 0,
                          "claimedAt": int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)},
                 "$inc": {"attempts": 1}})
            assert claimed.modified_count == 1
        finally:
            client.close()
        child = first.child
        first.proc.kill()
        first.proc.wait(10)
        assert child is None or wait_gone(child)
    finally:
        first.stop()
    second = ServerProc(data_dir, "--demo", "--scheduled-interval", "0.05", "--scheduled-claim-seconds", "1",
                        port=first.port)
    second.wait_ready(120)
    try:
        alice = http("POST", second.url + "/api/demo/token", None, {"userId": "s-alice"})[1]["data"]["token"]
        bob = http("POST", second.url + "/api/demo/token", None, {"userId": "s-bob"})[1]["data"]["token"]

        async def taken_over() -> bool:
            return http("GET", second.url + "%s/%s" % (SCHEDULED, scheduled_id), alice)[1]["data"]["status"] == "sent"
        run(eventually(taken_over, 120, "the stale claim taken over"))
        item_ = http("GET", second.url + "%s/%s" % (SCHEDULED, scheduled_id), alice)[1]["data"]
        assert item_["attempts"] == 2 and item_["messageId"] == sent["data"]["id"]
        status, page = http("GET", second.url + MSGS % conv_id, bob)
        assert status == 200
        assert [(m["text"], m["clientMsgId"]) for m in page["data"] if m["type"] != "system"] == [("once", scheduled_id)]
    finally:
        second.stop()


# ------------------------------------------------------------------ the author at its time, erasure, rate and cap
async def stored(runtime: Any, scheduled_id: str) -> Any:
    return await runtime.store.scheduled.get(scheduled_id)


@in_process
async def test_erasure_removes_the_authors_scheduled_messages_and_keeps_held_ones_unsent(api, runtime, clock):
    conv = await api.conversation("t1", "group", ["st1", "st2"], title="G")
    kept = await api.conversation("t1", "group", ["st1", "st2"], title="Held")
    status, data = await api.put("/api/schools/s1/policy", "a1", LONDON)
    assert status == 200, data
    refused = await schedule(api, "st1", conv["id"], "too early words", "2026-03-23T06:30:00Z")
    await look(runtime, clock, 31 * 60)  # 06:31: refused by quiet hours, its text kept for its author
    assert (await stored(runtime, refused["id"]))["status"] == "failed"
    waiting = await schedule(api, "st1", conv["id"], "my secret words", "2026-03-23T08:00:00Z")
    held = await schedule(api, "st1", kept["id"], "held words", "2026-03-23T08:00:00Z")
    assert (await api.put("/api/holds/conversations/" + kept["id"], "a1", {"reason": "investigation"}))[0] == 200
    status, data = await api.post("/api/users/st1/erase", "a1")
    assert status == 200, data
    assert await stored(runtime, waiting["id"]) is None
    blanked = await stored(runtime, refused["id"])
    assert blanked["status"] == "failed" and blanked["text"] is None
    kept_doc = await stored(runtime, held["id"])
    assert kept_doc["status"] == "held" and kept_doc["text"] == "held words"  # the hold keeps it, hidden
    assert (await api.get("%s/%s" % (SCHEDULED, held["id"]), "st1"))[0] == 404
    await look(runtime, clock, 2 * 3600)  # 08:31: nothing of theirs goes out
    assert await history(api, "st2", conv["id"]) == [] and await history(api, "st2", kept["id"]) == []
    assert (await stored(runtime, held["id"]))["status"] == "held"
    # the hold released, erasing again removes it
    assert (await api.delete("/api/holds/conversations/" + kept["id"], "a1"))[0] == 200
    assert (await api.post("/api/users/st1/erase", "a1"))[0] == 200
    assert await stored(runtime, held["id"]) is None


@in_process
async def test_the_sender_refuses_an_erased_author_or_one_gone_from_the_school(api, runtime, clock):
    conv = await api.conversation("t1", "group", ["st1", "st2", "st3"], title="G")
    at = now_ms(clock) + 60_000
    erased = await schedule(api, "st1", conv["id"], "from an erased author", at)
    moved = await schedule(api, "st3", conv["id"], "from a moved author", at)
    # the directory says so at its time (not through the erasure, which removes it first)
    await runtime.store.personal.anonymise_user("st1", "Former user", now_ms(clock))
    await runtime.store.directory.upsert_user("st3", "Stan Student", "student", "s2", now_ms(clock))
    await look(runtime, clock, 60 + runtime.settings.scheduled_interval)
    one = await stored(runtime, erased["id"])
    assert one["status"] == "failed" and one["error"]["code"] == "sender_erased" and one["text"] is None
    two = await stored(runtime, moved["id"])
    assert two["status"] == "failed" and two["error"]["code"] == "sender_gone" and two["text"] == "from a moved author"
    assert await history(api, "st2", conv["id"]) == []


@in_process
async def test_the_authors_role_and_name_are_read_at_its_time(api, runtime, clock):
    conv = await api.conversation("t1", "group", ["st2"], title="G")
    status, data = await api.put("/api/schools/s1/policy", "a1", LONDON)
    assert status == 200, data
    early = await schedule(api, "t1", conv["id"], "early as a teacher", "2026-03-23T06:30:00Z")
    later = await schedule(api, "t1", conv["id"], "later as a student", "2026-03-23T08:00:00Z")
    roster = {"users": [{"id": "t1", "name": "Terry Now-Student", "role": "student", "school": "s1"}], "classes": []}
    status, body = await api.post("/api/roster/import", "a1", roster, headers={"Content-Type": "application/json"})
    assert status == 200, body
    await look(runtime, clock, 31 * 60)  # 06:31: quiet hours for students apply to them now
    refused = await stored(runtime, early["id"])
    assert refused["status"] == "failed" and refused["error"]["code"] == "quiet_hours"
    await look(runtime, clock, 90 * 60)  # 08:01
    assert (await stored(runtime, later["id"]))["status"] == "sent"
    msgs = await history(api, "st2", conv["id"])
    assert [(m["text"], m["senderName"]) for m in msgs] == [("later as a student", "Terry Now-Student")]


@in_process
@pytest.mark.settings(rate_messages=0.01, rate_messages_burst=3)
async def test_scheduled_sends_take_a_send_token_each_and_wait_for_the_next_look_without_one(api, runtime, clock):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    ident = Identity("st1", "student", "s1", "Sam Student", 0)
    at = now_ms(clock) + 60_000
    made = [await runtime.service.scheduled.schedule(ident, conv["id"], {"text": "n%d" % i, "sendAt": at})
            for i in range(5)]
    await look(runtime, clock, 60 + runtime.settings.scheduled_interval)
    assert len(await history(api, "st2", conv["id"])) == 3  # the burst
    left = [await stored(runtime, d["id"]) for d in made]
    waiting = [d for d in left if d["status"] == "scheduled"]
    assert len(waiting) == 2 and all(d["attempts"] == 0 and d["error"] is None for d in waiting)
    await look(runtime, clock, 100)  # one token more
    assert len(await history(api, "st2", conv["id"])) == 4
    await look(runtime, clock, 100)
    assert sorted(m["text"] for m in await history(api, "st2", conv["id"])) == ["n%d" % i for i in range(5)]


@in_process
@pytest.mark.settings(scheduled_max_pending=1)
async def test_refused_ones_count_toward_the_pending_cap_until_dismissed(api, runtime, clock):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    status, data = await api.put("/api/schools/s1/policy", "a1", LONDON)
    assert status == 200, data
    refused = await schedule(api, "st1", conv["id"], "too early", "2026-03-23T06:30:00Z")
    await look(runtime, clock, 31 * 60)
    assert (await item(api, "st1", refused["id"]))["status"] == "failed"
    status, data = await api.post(MSGS % conv["id"], "st1", {"text": "another", "sendAt": "2026-03-23T08:00:00Z"})
    assert status == 409 and "at most 1" in data["error"]["message"], data
    assert (await api.delete("%s/%s" % (SCHEDULED, refused["id"]), "st1"))[0] == 200
    await schedule(api, "st1", conv["id"], "another", "2026-03-23T08:00:00Z")
