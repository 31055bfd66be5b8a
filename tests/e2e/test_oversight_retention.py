"""Retention and legal holds (README "Retention and legal holds"): the school's retention
(GET/PUT /api/schools/{id}/retention), the sweep on the injected ManualClock (tombstones,
contiguous history and sync, attachments' bytes, bounded batches, a cursor that survives a
restart, one node at a time), legal holds (/api/holds) on users and conversations, own
deletes under a hold, the evidence of moderation cases, and the metrics (real server, real
nx-27017)."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest
from bson import ObjectId

from chat.domain.oversight.retention_sweep import RetentionSweeper
from chat.runtime import build_runtime
from tests.conftest import token
from tests.e2e.uploads_helpers import png, upload

pytestmark = [pytest.mark.usefixtures("school", "http_server"), pytest.mark.manual_clock]

RETENTION = "/api/schools/s1/retention"
MSGS = "/api/conversations/%s/messages"
DAY = 86400.0
REASON = {"reason": "investigation 2026-14 (police request)"}
DEFAULT = {"messages": {"retentionDays": 0, "byType": {"direct": None, "group": None, "class": None,
                                                        "announcement": None}},
           "uploads": {"retentionDays": 365}, "caseRetentionDays": 90}


async def sweep(runtime: Any, clock: Any, days: float = 0.0) -> None:
    """Move the clock on by ``days`` and one sweep interval; wait for that sweep."""
    sweeper = runtime.service.retention_sweeper
    sweeper.start()
    before = sweeper.passes
    clock.advance(days * DAY + runtime.settings.retention_sweep_interval)
    await sweeper.settled()
    assert sweeper.passes == before + 1


async def retain(api: Any, body: Dict[str, Any]) -> Dict[str, Any]:
    status, data = await api.put(RETENTION, "a1", body)
    assert status == 200, data
    return data["data"]["retention"]


async def history(api: Any, conv_id: str, user: str = "st2") -> List[Dict[str, Any]]:
    status, data = await api.get(MSGS % conv_id, user)
    assert status == 200
    return data["data"]


async def stored(runtime: Any, message_id: str) -> Dict[str, Any]:
    return await runtime.store.messages.get(message_id)


def make_recent(runtime: Any, clock: Any, message_id: str, days_ahead: float) -> None:
    """Date a message ``days_ahead`` days after the clock's now (sent "later")."""
    when = int((clock.time() + days_ahead * DAY) * 1000)
    runtime.store.messages.messages.update_one({"_id": ObjectId(message_id)}, {"$set": {"createdAt": when}})


async def group(api: Any) -> Dict[str, Any]:
    return await api.conversation("st1", "group", ["st2", "st3"], title="Project")


# ------------------------------------------------------------------ the settings
@pytest.mark.gen_test
async def test_admins_read_and_change_the_retention_others_get_403_another_school_404(api, runtime):
    status, data = await api.get(RETENTION, "a1")
    assert status == 200 and data["data"] == {"schoolId": "s1", "retention": DEFAULT}
    for user in ("st1", "t1"):
        assert (await api.get(RETENTION, user))[0] == 403
        assert (await api.put(RETENTION, user, {"caseRetentionDays": 1}))[0] == 403
    other_admin = token("y9", role="admin", school="s2", name="Yan Admin")
    assert (await api.get(RETENTION, other_admin))[0] == 404
    assert (await api.put(RETENTION, other_admin, {"caseRetentionDays": 1}))[0] == 404
    assert (await api.get("/api/schools/s2/retention", "a1"))[0] == 404
    got = await retain(api, {"messages": {"retentionDays": 30, "byType": {"direct": 7}}})
    assert got == dict(DEFAULT, messages={"retentionDays": 30, "byType": dict(DEFAULT["messages"]["byType"],
                                                                               direct=7)})
    got = await retain(api, {"messages": {"byType": {"direct": None}}, "uploads": {"retentionDays": 30},
                             "caseRetentionDays": 10})
    assert got["messages"]["byType"]["direct"] is None and got["uploads"] == {"retentionDays": 30}
    assert (await api.get(RETENTION, "a1"))[1]["data"]["retention"] == got
    last = await runtime.store.audit.last("s1")
    assert last["action"] == "retention.change" and last["actor"] == "a1"
    assert last["detail"]["before"]["caseRetentionDays"] == 90 and last["detail"]["after"]["caseRetentionDays"] == 10


@pytest.mark.gen_test
@pytest.mark.parametrize("body", [
    {}, [], 5, {"messages": 3}, {"messages": {"retentionDays": -1}}, {"messages": {"retentionDays": 36501}},
    {"messages": {"retentionDays": "30"}}, {"messages": {"retentionDays": True}}, {"messages": {"retentionDays": None}},
    {"messages": {"byType": {"chat": 3}}}, {"messages": {"byType": {"direct": 1.5}}}, {"messages": {"other": 1}},
    {"uploads": {"retentionDays": 0}}, {"uploads": {}, "colour": "red"}, {"caseRetentionDays": None},
    {"caseRetentionDays": 5, "messages": {"retentionDays": 1, "byType": []}}])
async def test_bad_retention_bodies_are_400_and_change_nothing(api, body):
    status, data = await api.put(RETENTION, "a1", body)
    assert status == 400 and data["error"]["code"] == "bad_request", (body, data)
    assert (await api.get(RETENTION, "a1"))[1]["data"]["retention"] == DEFAULT


@pytest.mark.gen_test
@pytest.mark.settings(retention_message_days=400, retention_case_days=3, upload_retention_days=100.0)
async def test_the_defaults_come_from_settings(api):
    got = (await api.get(RETENTION, "a1"))[1]["data"]["retention"]
    assert got["messages"]["retentionDays"] == 400 and got["caseRetentionDays"] == 3
    assert got["uploads"] == {"retentionDays": 100}


# ------------------------------------------------------------------ the sweep
@pytest.mark.gen_test
async def test_messages_past_retention_become_tombstones_and_history_and_sync_stay_contiguous(
        api, runtime, clock, ws):
    conv = await group(api)
    old = [await api.send("st1", conv["id"], "old %d" % k) for k in range(3)]
    await api.put("/api/messages/%s/reactions/%s" % (old[0]["id"], "\U0001F44D"), "st2")
    await api.patch("/api/messages/" + old[1]["id"], "st1", {"text": "old 1 edited"})
    recent = await api.send("st2", conv["id"], "recent")
    make_recent(runtime, clock, recent["id"], 2.0)
    await sweep(runtime, clock)  # no retention yet: nothing happens
    assert [m["text"] for m in await history(api, conv["id"])] == ["old 0", "old 1 edited", "old 2", "recent"]
    await retain(api, {"messages": {"retentionDays": 1}})
    await sweep(runtime, clock, days=1.5)
    page = await history(api, conv["id"])
    assert [m["seq"] for m in page] == [1, 2, 3, 4]
    for m in page[:3]:
        assert m["deleted"] is True and m["text"] is None and m["reason"] == "retention" and m["deletedAt"]
        assert m["reactions"] == {} and m["attachments"] == []
    assert page[3]["text"] == "recent" and page[3]["deleted"] is False and "reason" not in page[3]
    for m in old:
        doc = await stored(runtime, m["id"])
        assert doc["text"] is None and doc["reactionKeys"] == [] and doc["deletedReason"] == "retention"
    assert runtime.store.messages.edits.count_documents({"conversationId": conv["id"]}) == 0
    assert runtime.store.messages.reactions.count_documents({"conversationId": conv["id"]}) == 0
    assert await runtime.store.messages.search_range(conv["id"], 0, 10, "old", 10) == []
    sock = await ws("st3")
    reply = await sock.ok("sync", {"conversations": {conv["id"]: 0}})
    assert [(m["seq"], m["deleted"], m.get("reason")) for m in reply["messages"]] == [
        (1, True, "retention"), (2, True, "retention"), (3, True, "retention"), (4, False, None)]
    _, view = await api.get("/api/conversations/" + conv["id"], "st3")
    assert view["data"]["lastMessage"]["preview"] == "recent"


@pytest.mark.gen_test
async def test_retention_by_conversation_type_and_the_preview_of_a_purged_last_message(api, runtime, clock):
    conv = await group(api)
    klass = await api.conversation("t1", "class", classId="c1")
    await api.send("st1", conv["id"], "group text")
    await api.send("t1", klass["id"], "class text")
    await retain(api, {"messages": {"retentionDays": 0, "byType": {"group": 1}}})
    await sweep(runtime, clock, days=2)
    assert (await history(api, conv["id"]))[0]["text"] is None
    assert (await history(api, klass["id"]))[0]["text"] == "class text"  # class: kept forever
    _, view = await api.get("/api/conversations/" + conv["id"], "st2")
    assert view["data"]["lastMessage"]["preview"] is None and view["data"]["lastMessage"]["deleted"] is True


@pytest.mark.gen_test
async def test_attachment_bytes_are_gone_after_retention(api, runtime, clock):
    conv = await group(api)
    status, up = await upload(api, "st1", png(), "pic.png", "image/png")
    assert status == 201, up
    status, sent = await api.post(MSGS % conv["id"], "st1", {"type": "image", "text": "look",
                                                             "attachments": [{"uploadId": up["data"]["id"]}]})
    assert status == 201, sent
    meta = await runtime.uploads.repo.get(up["data"]["id"])
    assert await runtime.uploads.storage.local_path(meta["sha256"]) is not None
    await retain(api, {"messages": {"retentionDays": 1}})
    await sweep(runtime, clock, days=2)
    assert await runtime.uploads.repo.get(up["data"]["id"]) is None
    assert await runtime.uploads.storage.local_path(meta["sha256"]) is None
    assert (await stored(runtime, sent["data"]["id"]))["attachments"] == []


# ------------------------------------------------------------------ legal holds
@pytest.mark.gen_test
async def test_hold_routes_are_for_the_schools_admins_and_audited(api, runtime):
    conv = await group(api)
    for user in ("st1", "t1"):
        assert (await api.get("/api/holds", user))[0] == 403
        assert (await api.put("/api/holds/users/st2", user, REASON))[0] == 403
        assert (await api.delete("/api/holds/users/st2", user))[0] == 403
    assert (await api.put("/api/holds/users/x2", "a1", REASON))[0] == 404  # another school's user
    assert (await api.put("/api/holds/users/nobody", "a1", REASON))[0] == 404
    other_admin = token("y9", role="admin", school="s2", name="Yan Admin")
    assert (await api.put("/api/holds/conversations/" + conv["id"], other_admin, REASON))[0] == 404
    for bad in ({}, {"reason": ""}, {"reason": "   "}, {"reason": 5}, {"reason": "x" * 501},
                {"reason": "ok", "until": 1}, []):
        status, data = await api.put("/api/holds/users/st2", "a1", bad)
        assert status == 400, (bad, data)
    status, data = await api.put("/api/holds/users/st2", "a1", REASON)
    assert status == 200 and data["data"]["kind"] == "user" and data["data"]["targetId"] == "st2"
    assert data["data"]["reason"] == REASON["reason"] and data["data"]["setBy"] == "a1"
    status, data = await api.put("/api/holds/conversations/" + conv["id"], "a1", REASON)
    assert status == 200 and data["data"]["kind"] == "conversation"
    status, data = await api.get("/api/holds", "a1")
    assert [(h["kind"], h["targetId"]) for h in data["data"]] == [("user", "st2"), ("conversation", conv["id"])]
    assert (await api.get("/api/holds", other_admin))[1]["data"] == []
    assert await runtime.service.core.holds.covers("s1", user_id="st2")
    assert await runtime.service.core.holds.covers("s1", conversation_id=conv["id"])
    assert not await runtime.service.core.holds.covers("s2", user_id="st2")
    status, data = await api.delete("/api/holds/users/st2", "a1")
    assert status == 200 and data["data"] == {"kind": "user", "targetId": "st2", "released": True}
    assert (await api.delete("/api/holds/users/st2", "a1"))[1]["data"]["released"] is False  # idempotent
    assert not await runtime.service.core.holds.covers("s1", user_id="st2")
    actions = [e["action"] for e in runtime.store.audit.entries.find({"school": "s1"}).sort("seq", 1)
               if e["action"] != "roster.import"]
    assert actions == ["hold.set", "hold.set", "hold.release"]


@pytest.mark.gen_test
async def test_a_held_user_and_a_held_conversation_keep_their_messages_until_released(api, runtime, clock):
    conv, other = await group(api), await api.conversation("st2", "direct", ["st3"])
    by_st1 = await api.send("st1", conv["id"], "st1 writes")
    by_st2 = await api.send("st2", conv["id"], "st2 writes")
    in_other = await api.send("st2", other["id"], "direct text")
    await retain(api, {"messages": {"retentionDays": 1}})
    assert (await api.put("/api/holds/users/st1", "a1", REASON))[0] == 200
    assert (await api.put("/api/holds/conversations/" + other["id"], "a1", REASON))[0] == 200
    await sweep(runtime, clock, days=2)
    assert (await stored(runtime, by_st1["id"]))["text"] == "st1 writes"
    assert (await stored(runtime, in_other["id"]))["text"] == "direct text"
    assert (await stored(runtime, by_st2["id"]))["text"] is None  # not held
    assert "chat_retention_kept_total{by=\"hold\"} 2.0" in runtime.metrics.render().decode()
    await sweep(runtime, clock)
    assert (await stored(runtime, by_st1["id"]))["text"] == "st1 writes"  # still held, sweep after sweep
    await api.delete("/api/holds/users/st1", "a1")
    await sweep(runtime, clock)
    assert (await stored(runtime, by_st1["id"]))["text"] is None
    assert (await stored(runtime, in_other["id"]))["text"] == "direct text"
    await api.delete("/api/holds/conversations/" + other["id"], "a1")
    await sweep(runtime, clock)
    doc = await stored(runtime, in_other["id"])
    assert doc["text"] is None and doc["deletedReason"] == "retention"
    assert await runtime.store.retention.pending_count("s1") == 0


@pytest.mark.gen_test
async def test_an_own_delete_under_a_hold_hides_the_message_but_keeps_it_until_released(api, runtime, clock):
    conv = await group(api)
    free = await api.send("st2", conv["id"], "mine to delete")
    held = await api.send("st1", conv["id"], "evidence")
    assert (await api.put("/api/holds/users/st1", "a1", REASON))[0] == 200
    assert (await api.delete("/api/messages/" + free["id"], "st2"))[0] == 200
    assert (await api.delete("/api/messages/" + held["id"], "st1"))[0] == 200
    for m in await history(api, conv["id"], "st3"):
        assert m["deleted"] is True and m["text"] is None and m["reason"] == "deleted"
    doc = await stored(runtime, held["id"])
    assert doc["text"] == "evidence" and doc["heldAt"] is not None
    await sweep(runtime, clock)  # no retention set: own deletes are purged by the next sweep anyway
    assert (await stored(runtime, free["id"]))["text"] is None
    assert (await stored(runtime, held["id"]))["text"] == "evidence"
    await api.delete("/api/holds/users/st1", "a1")
    await sweep(runtime, clock)
    doc = await stored(runtime, held["id"])
    assert doc["text"] is None and doc["deletedReason"] == "deleted" and doc["purgedAt"] is not None
    assert [m["reason"] for m in await history(api, conv["id"], "st3")] == ["deleted", "deleted"]


@pytest.mark.gen_test
async def test_the_evidence_of_an_open_case_is_kept_until_resolved_plus_case_retention(api, runtime, clock):
    conv = await group(api)
    reported = await api.send("st1", conv["id"], "you are stupid")
    other = await api.send("st1", conv["id"], "hello")
    status, case = await api.post("/api/messages/%s/report" % reported["id"], "st2", {"reason": "bullying"})
    assert status in (200, 201), case
    await retain(api, {"messages": {"retentionDays": 1}, "caseRetentionDays": 5})
    await sweep(runtime, clock, days=2)
    assert (await stored(runtime, reported["id"]))["text"] == "you are stupid"
    assert (await stored(runtime, other["id"]))["text"] is None
    assert "chat_retention_kept_total{by=\"case\"} 1.0" in runtime.metrics.render().decode()
    # resolved now (the case's time is the wall clock's, about the clock's start)
    status, _ = await api.patch("/api/moderation/cases/" + case["data"]["caseId"], "a1", {"status": "resolved"})
    assert status == 200
    await sweep(runtime, clock)  # resolved two days ago (on the clock): five days of evidence left
    assert (await stored(runtime, reported["id"]))["text"] == "you are stupid"
    await sweep(runtime, clock, days=4)
    assert (await stored(runtime, reported["id"]))["text"] is None


# ------------------------------------------------------------------ bounded, resumable, one node
@pytest.mark.gen_test
@pytest.mark.settings(retention_batch=3, retention_tick_batches=4)
async def test_batches_are_bounded_and_a_restarted_server_resumes_from_the_cursor(api, runtime, clock, settings,
                                                                                   mongo_uri):
    conv = await group(api)
    sent = [await api.send("st1", conv["id"], "m%d" % k) for k in range(20)]
    await retain(api, {"messages": {"retentionDays": 1}})
    repo = runtime.store.retention
    calls: List[Any] = []
    page, purge = repo.page, repo.purge

    async def spy_page(conversation_id: str, after_seq: int, limit: int) -> Any:
        calls.append(("page", after_seq, limit))
        return await page(conversation_id, after_seq, limit)

    async def spy_purge(messages: Any, reason: str, now: int) -> Any:
        calls.append(("purge", len(messages)))
        return await purge(messages, reason, now)
    repo.page, repo.purge = spy_page, spy_purge
    await sweep(runtime, clock, days=2)
    pages = [c for c in calls if c[0] == "page"]
    assert pages and all(c[2] == 3 for c in pages)
    assert all(c[1] <= 3 for c in calls if c[0] == "purge")
    # four batches per sweep: half for pending deletions (none), one for the school's conversations,
    # the rest for messages
    purged = sum(c[1] for c in calls if c[0] == "purge")
    assert 0 < purged < 20
    mark = await repo.mark(conv["id"])
    assert mark == purged
    texts = [(await stored(runtime, m["id"]))["text"] for m in sent]
    assert texts[:purged] == [None] * purged and all(t is not None for t in texts[purged:])
    await runtime.service.retention_sweeper.stop()
    # a second server on the same database (the first stopped) resumes at the mark
    second = build_runtime(settings, mongo_uri, clock=clock)
    try:
        spied: List[int] = []
        page2 = second.store.retention.page

        async def spy2(conversation_id: str, after_seq: int, limit: int) -> Any:
            spied.append(after_seq)
            return await page2(conversation_id, after_seq, limit)
        second.store.retention.page = spy2  # type: ignore[method-assign]
        while await second.store.retention.mark(conv["id"]) < 20:
            assert await second.service.retention_sweeper.run_once()
        assert spied[0] == mark
        assert [(await stored(runtime, m["id"]))["text"] for m in sent] == [None] * 20
    finally:
        await second.service.retention_sweeper.stop()
        second.store.close()


@pytest.mark.gen_test
async def test_two_nodes_sweep_one_at_a_time(api, runtime, clock, settings, mongo_uri):
    await retain(api, {"messages": {"retentionDays": 1}})
    second = build_runtime(settings, mongo_uri, clock=clock)
    try:
        one, two = runtime.service.retention_sweeper, second.service.retention_sweeper
        assert isinstance(two, RetentionSweeper) and one.node_id != two.node_id
        assert await one.run_once() is True
        assert await two.run_once() is False  # the lease is the first node's
        assert await one.run_once() is True  # and it renews it
        clock.advance(3 * settings.retention_sweep_interval + 1)  # the first node went silent: the lease expires
        assert await two.run_once() is True
        assert await one.run_once() is False
        await two.stop()  # a stopping node gives the lease up
        assert await one.run_once() is True
    finally:
        await second.service.retention_sweeper.stop()
        second.store.close()


@pytest.mark.gen_test
async def test_metrics_count_what_sweeps_deleted(api, runtime, clock):
    conv = await group(api)
    await api.send("st1", conv["id"], "a secret text")
    await retain(api, {"messages": {"retentionDays": 1}})
    await sweep(runtime, clock, days=2)
    text = runtime.metrics.render().decode()
    assert "chat_retention_sweeps_total 1.0" in text
    assert 'chat_retention_deleted_total{kind="message"} 1.0' in text
    assert 'chat_retention_deleted_total{kind="file"} 0.0' in text
    assert "secret" not in text
    entries = list(runtime.store.audit.entries.find({"school": "s1", "action": "retention.sweep"}))
    assert [e["detail"] for e in entries] == [{"messages": 1}]
