"""Safeguarding §2-§3: reports and the moderation queue, end to end through the real server
(REST and sockets). Durations (mutes, the report bucket) run on the injected ManualClock."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

from chat.ops.roster import RosterError, import_roster, parse_roster
from chat.runtime import Runtime
from tests.conftest import BY_ID, Api, token

pytestmark = [pytest.mark.usefixtures("school"), pytest.mark.manual_clock]  # the server runs on the clock fixture

LONG = 100 * 3600  # tokens that outlive the clock's jumps



def tok(user: str, **kw: Any) -> str:
    return token(user, ttl=LONG, **kw)


async def make_safeguarding(runtime: Runtime, user_id: str = "t2") -> None:
    """The roster marks this user a member of the safeguarding team."""
    await import_roster(runtime.store, [dict(BY_ID[user_id], safeguarding=True)], [])


async def class_conversation(api: Api) -> Dict[str, Any]:
    """Maths 7A: t1 (teacher), st1 and st2."""
    return await api.conversation("t1", "class", classId="c1")


async def report(api: Api, user: str, message_id: str, reason: str = "bullying", **body: Any) -> Any:
    return await api.post("/api/messages/%s/report" % message_id, tok(user), dict(body, reason=reason))


async def case_detail(api: Api, case_id: str, user: str = "a1") -> Dict[str, Any]:
    status, body = await api.get("/api/moderation/cases/%s" % case_id, tok(user))
    assert status == 200, body
    return body["data"]


@pytest.mark.gen_test
async def test_report_a_message_opens_one_case_and_repeats_add_nothing(api, ws):
    conv = await class_conversation(api)
    msg = await api.send("st2", conv["id"], "you are useless")
    author = await ws("st2", tok=tok("st2"))
    status, body = await report(api, "st1", msg["id"], note="  she keeps saying this  ")
    assert status == 201, body
    case_id = body["data"]["caseId"]
    assert body["data"] == {"caseId": case_id, "status": "open"}
    status, again = await report(api, "st1", msg["id"], "harassment")  # the same reporter: nothing new
    assert (status, again["data"]) == (200, {"caseId": case_id, "status": "open"})
    status, other = await report(api, "t1", msg["id"], "harassment")  # another reporter joins the case
    assert (status, other["data"]["caseId"]) == (200, case_id)
    detail = await case_detail(api, case_id)
    assert detail["case"]["reportCount"] == 2 and detail["case"]["kind"] == "message"
    assert sorted(detail["case"]["reasons"]) == ["bullying", "harassment"]
    assert detail["case"]["subjectId"] == "st2" and detail["case"]["conversationId"] == conv["id"]
    assert [(r["reporterId"], r["reason"], r["note"]) for r in detail["reports"]] == [
        ("st1", "bullying", "she keeps saying this"), ("t1", "harassment", None)]
    await author.none("moderation:case")  # the reported user learns nothing
    for bad in ({"reason": "rude"}, {}, {"reason": "spam", "note": "x" * 1001}, {"reason": "spam", "note": 5}, []):
        status, body = await api.post("/api/messages/%s/report" % msg["id"], tok("st1"), bad)
        assert status == 400 and body["error"]["code"] == "bad_request", (bad, body)
    status, body = await report(api, "st2", msg["id"])
    assert status == 409  # one's own message


@pytest.mark.gen_test
async def test_concurrent_reports_of_one_message_join_one_case(api):
    conv = await api.conversation("t1", "group", ["st1", "st2", "st3", "t2"], title="Club")
    msg = await api.send("st2", conv["id"], "meet me after school, tell no one")
    reporters = ["st1", "st3", "t1", "t2"]
    answers = await asyncio.gather(*(report(api, r, msg["id"], "other") for r in reporters))
    assert sorted(s for s, _ in answers) == [200, 200, 200, 201], answers
    assert len({b["data"]["caseId"] for _, b in answers}) == 1
    detail = await case_detail(api, answers[0][1]["data"]["caseId"])
    assert detail["case"]["reportCount"] == 4
    assert sorted(r["reporterId"] for r in detail["reports"]) == sorted(reporters)
    status, page = await api.get("/api/moderation/cases", tok("a1"))
    assert status == 200 and len(page["data"]) == 1


@pytest.mark.gen_test
async def test_reporting_a_user_of_the_school(api):
    status, body = await api.post("/api/users/st3/report", tok("st1"), {"reason": "harassment", "note": "online"})
    assert status == 201, body
    case_id = body["data"]["caseId"]
    status, body = await api.post("/api/users/st3/report", tok("st2"), {"reason": "bullying"})
    assert (status, body["data"]["caseId"]) == (200, case_id)
    detail = await case_detail(api, case_id)
    assert detail["case"]["kind"] == "user" and detail["case"]["subjectId"] == "st3"
    assert detail["message"] is None and detail["context"] == []
    for user, target, code in (("st1", "x2", 404), ("x1", "st1", 404), ("st1", "nobody", 404), ("st1", "st1", 409)):
        status, body = await api.post("/api/users/%s/report" % target, tok(user), {"reason": "spam"})
        assert status == code, (user, target, body)


@pytest.mark.gen_test
async def test_only_who_can_see_a_message_reports_it(api):
    conv = await class_conversation(api)
    msg = await api.send("st2", conv["id"], "hello")
    status, body = await report(api, "st3", msg["id"])  # same school, not in the conversation
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await report(api, "x1", msg["id"])  # another school
    assert status == 404 and body["error"]["code"] == "not_found"
    for missing in ("0" * 24, "not-an-id"):
        status, _ = await report(api, "st1", missing)
        assert status == 404


@pytest.mark.gen_test
@pytest.mark.settings(rate_reports=0.01, rate_reports_burst=2)
async def test_reports_are_rate_limited_per_user_and_refused_ones_cost(api, clock):
    conv = await api.conversation("t1", "group", ["st1", "st2"], title="G")
    msgs = [await api.send("st2", conv["id"], "m%d" % i) for i in range(3)]
    status, _ = await api.post("/api/messages/%s/report" % msgs[0]["id"], tok("st1"), {"reason": "nope"})
    assert status == 400  # refused, and it still took a token
    status, _ = await report(api, "st1", msgs[0]["id"])
    assert status == 201
    status, body = await report(api, "st1", msgs[1]["id"])
    assert status == 429 and body["error"]["code"] == "rate_limited"
    status, _ = await report(api, "t1", msgs[1]["id"])  # another user's bucket
    assert status == 201
    clock.advance(100)  # one token back
    status, _ = await report(api, "st1", msgs[2]["id"])
    assert status == 201


@pytest.mark.gen_test
async def test_only_the_schools_moderators_see_cases(api, runtime):
    await make_safeguarding(runtime, "t2")
    conv = await class_conversation(api)
    msg = await api.send("st2", conv["id"], "hello")
    _, body = await report(api, "st1", msg["id"])
    case_id = body["data"]["caseId"]
    for user in ("a1", "t2"):  # the admin and the safeguarding lead
        status, page = await api.get("/api/moderation/cases", tok(user))
        assert status == 200 and [c["id"] for c in page["data"]] == [case_id], (user, page)
        assert (await case_detail(api, case_id, user))["case"]["id"] == case_id
    for user in ("t1", "st1", "st2"):
        for method, path, payload in (("GET", "/api/moderation/cases", None),
                                      ("GET", "/api/moderation/cases/%s" % case_id, None),
                                      ("PATCH", "/api/moderation/cases/%s" % case_id, {"status": "resolved"}),
                                      ("GET", "/api/moderation/summary", None)):
            status, body = await api.call(method, path, tok(user), payload)
            assert status == 403 and body["error"]["code"] == "forbidden", (user, path, body)
    other_admin = token("x1", ttl=LONG, role="admin")  # an admin of s2
    status, body = await api.get("/api/moderation/cases/%s" % case_id, other_admin)
    assert status == 404
    status, body = await api.patch("/api/moderation/cases/%s" % case_id, other_admin, {"status": "resolved"})
    assert status == 404
    status, page = await api.get("/api/moderation/cases", other_admin)
    assert status == 200 and page["data"] == []
    # a token naming another school than the roster's does not carry the safeguarding flag there
    status, _ = await api.get("/api/moderation/cases", token("t2", ttl=LONG, school="s2"))
    assert status == 403
    assert (await case_detail(api, case_id))["case"]["status"] == "open"


@pytest.mark.gen_test
async def test_case_detail_shows_context_with_edits_and_records_the_read(api, runtime):
    conv = await class_conversation(api)
    sent = [await api.send("st1" if i % 2 else "st2", conv["id"], "message %d" % i) for i in range(25)]
    target = sent[12]
    status, _ = await api.patch("/api/messages/%s" % target["id"], "st2", {"text": "something nicer"})
    assert status == 200
    _, body = await report(api, "st1", target["id"], "bullying")
    case_id = body["data"]["caseId"]
    detail = await case_detail(api, case_id)
    seqs = [m["seq"] for m in detail["context"]]
    assert seqs == list(range(target["seq"] - 10, target["seq"] + 11))
    assert detail["message"]["id"] == target["id"] and detail["message"]["text"] == "something nicer"
    assert [e["text"] for e in detail["message"]["edits"]] == ["message 12"]
    assert all(m["edits"] == [] for m in detail["context"] if m["id"] != target["id"])
    reads = await runtime.store.cases.reads_of(case_id)
    assert [(r["actorId"], r["caseId"]) for r in reads] == [("a1", case_id)] and reads[0]["at"] > 0
    await case_detail(api, case_id)
    assert len(await runtime.store.cases.reads_of(case_id)) == 2
    status, _ = await api.get("/api/moderation/cases/%s" % case_id, tok("t1"))
    assert status == 403 and len(await runtime.store.cases.reads_of(case_id)) == 2  # a refused read is no read


@pytest.mark.gen_test
async def test_remove_message_deletes_it_for_the_class(api, ws):
    conv = await class_conversation(api)
    msg = await api.send("st2", conv["id"], "nasty words")
    _, body = await report(api, "st1", msg["id"])
    case_id = body["data"]["caseId"]
    sockets = [await ws(u, tok=tok(u)) for u in ("st1", "st2", "t1")]
    status, body = await api.patch("/api/moderation/cases/%s" % case_id, tok("a1"),
                                   {"action": "remove_message", "status": "resolved", "note": "removed"})
    assert status == 200, body
    assert body["data"]["status"] == "resolved"
    for sock in sockets:
        pushed = await sock.expect("message:deleted")
        assert pushed["data"] == {"messageId": msg["id"], "conversationId": conv["id"], "seq": msg["seq"]}
    _, page = await api.get("/api/conversations/%s/messages" % conv["id"], "st1")
    assert [m["deleted"] for m in page["data"] if m["id"] == msg["id"]] == [True]
    detail = await case_detail(api, case_id)
    assert detail["message"]["deleted"] is True and detail["message"]["text"] == "nasty words"  # kept for moderators
    assert detail["message"]["deletedBy"] == "a1"
    [action] = detail["actions"]
    assert (action["actorId"], action["action"], action["status"], action["note"]) == (
        "a1", "remove_message", "resolved", "removed") and action["at"]


@pytest.mark.gen_test
async def test_mute_author_refuses_their_posts_in_that_conversation_until_it_ends(api, ws, runtime, clock):
    await make_safeguarding(runtime, "t2")
    conv = await class_conversation(api)
    other = await api.conversation("st2", "direct", ["st1"])
    msg = await api.send("st2", conv["id"], "spam spam spam")
    _, body = await report(api, "st1", msg["id"], "spam")
    case_id = body["data"]["caseId"]
    status, body = await api.patch("/api/moderation/cases/%s" % case_id, tok("t2"),
                                   {"action": "mute_author", "hours": 2, "status": "in_review"})
    assert status == 200 and body["data"]["status"] == "in_review", body
    author = await ws("st2", tok=tok("st2"))
    reply = await author.request("message:send", {"conversationId": conv["id"], "text": "more spam"})
    assert reply["ok"] is False and reply["error"]["code"] == "muted", reply
    reply = await author.request("message:edit", {"messageId": msg["id"], "text": "edited spam"})
    assert reply["error"]["code"] == "muted"
    status, body = await api.post("/api/conversations/%s/messages" % conv["id"], tok("st2"), {"text": "rest"})
    assert status == 403 and body["error"]["code"] == "muted"
    await author.ok("message:send", {"conversationId": other["id"], "text": "elsewhere is fine"})
    await api.send("st1", conv["id"], "others still post")
    clock.advance(2 * 3600 + 1)
    await author.ok("message:send", {"conversationId": conv["id"], "text": "after the mute"})
    [action] = (await case_detail(api, case_id))["actions"]
    assert (action["actorId"], action["action"], action["hours"]) == ("t2", "mute_author", 2)


@pytest.mark.gen_test
async def test_keep_escalate_and_actions_a_user_case_cannot_take(api):
    conv = await class_conversation(api)
    msg = await api.send("st2", conv["id"], "borderline")
    _, body = await report(api, "st1", msg["id"], "violence")
    case_id = body["data"]["caseId"]
    status, body = await api.patch("/api/moderation/cases/%s" % case_id, tok("a1"), {"action": "escalate"})
    assert status == 200 and body["data"]["escalatedAt"] is not None
    status, body = await api.patch("/api/moderation/cases/%s" % case_id, tok("a1"),
                                   {"action": "keep", "status": "resolved"})
    assert status == 200 and body["data"]["status"] == "resolved"
    _, page = await api.get("/api/conversations/%s/messages" % conv["id"], "st1")
    assert [m["deleted"] for m in page["data"] if m["id"] == msg["id"]] == [False]
    detail = await case_detail(api, case_id)
    assert [(a["actorId"], a["action"], a["status"]) for a in detail["actions"]] == [
        ("a1", "escalate", None), ("a1", "keep", "resolved")]
    _, body = await api.post("/api/users/st2/report", tok("st1"), {"reason": "bullying"})
    user_case = body["data"]["caseId"]
    for action in ("remove_message", "mute_author"):
        status, body = await api.patch("/api/moderation/cases/%s" % user_case, tok("a1"), {"action": action})
        assert status == 409, body
    for bad in ({}, {"status": "closed"}, {"action": "ban"}, {"action": "mute_author", "hours": 0},
                {"note": "x" * 1001}, {"status": None, "action": None, "note": None}):
        status, body = await api.patch("/api/moderation/cases/%s" % case_id, tok("a1"), bad)
        assert status == 400, (bad, body)
    for missing in ("0" * 24, "nope"):
        status, _ = await api.patch("/api/moderation/cases/%s" % missing, tok("a1"), {"status": "open"})
        assert status == 404
    # a new report reopens a resolved case
    _, body = await report(api, "t1", msg["id"], "violence")
    assert body["data"] == {"caseId": case_id, "status": "open"}


@pytest.mark.gen_test
async def test_moderators_online_get_moderation_case_pushes(api, ws, runtime):
    await make_safeguarding(runtime, "t2")
    conv = await class_conversation(api)
    msg = await api.send("st2", conv["id"], "hurtful")
    admin, lead = await ws("a1", tok=tok("a1")), await ws("t2", tok=tok("t2"))
    teacher, reporter, author = [await ws(u, tok=tok(u)) for u in ("t1", "st1", "st2")]
    _, body = await report(api, "st1", msg["id"], "bullying")
    case_id = body["data"]["caseId"]
    for sock in (admin, lead):
        pushed = await sock.expect("moderation:case")
        assert pushed["data"]["id"] == case_id and pushed["data"]["reportCount"] == 1
        assert pushed["data"]["status"] == "open" and pushed["data"]["messageId"] == msg["id"]
    await report(api, "t1", msg["id"], "harassment")
    for sock in (admin, lead):
        assert (await sock.expect("moderation:case"))["data"]["reportCount"] == 2
    await report(api, "t1", msg["id"], "harassment")  # a repeat: nothing new, nothing pushed
    await admin.none("moderation:case")
    await api.patch("/api/moderation/cases/%s" % case_id, tok("t2"), {"status": "in_review"})
    for sock in (admin, lead):
        assert (await sock.expect("moderation:case"))["data"]["status"] == "in_review"
    for sock in (teacher, reporter, author):
        await sock.none("moderation:case")
    other_school_admin = await ws("x1", tok=token("x1", ttl=LONG, role="admin"))
    await other_school_admin.none("moderation:case")


@pytest.mark.gen_test
async def test_a_case_about_a_moderator_is_for_the_other_moderators(api, ws, runtime):
    await make_safeguarding(runtime, "t2")
    admin, lead = await ws("a1", tok=tok("a1")), await ws("t2", tok=tok("t2"))
    status, body = await api.post("/api/users/a1/report", tok("st1"), {"reason": "harassment"})
    assert status == 201, body
    case_id = body["data"]["caseId"]
    assert (await lead.expect("moderation:case"))["data"]["id"] == case_id
    await admin.none("moderation:case")
    status, page = await api.get("/api/moderation/cases", tok("a1"))
    assert status == 200 and page["data"] == []
    for method, payload in (("GET", None), ("PATCH", {"status": "resolved"})):
        status, _ = await api.call(method, "/api/moderation/cases/%s" % case_id, tok("a1"), payload)
        assert status == 404
    _, summary = await api.get("/api/moderation/summary", tok("a1"))
    assert summary["data"]["total"] == 0
    assert (await case_detail(api, case_id, "t2"))["case"]["subjectId"] == "a1"


@pytest.mark.gen_test
async def test_summary_counts_by_status_and_reason(api):
    conv = await class_conversation(api)
    msgs = [await api.send("st2", conv["id"], "m%d" % i) for i in range(3)]
    ids = []
    for msg, reason in zip(msgs, ("bullying", "spam", "spam"), strict=True):
        _, body = await report(api, "st1", msg["id"], reason)
        ids.append(body["data"]["caseId"])
    await report(api, "t1", msgs[0]["id"], "self_harm")
    await api.post("/api/users/st3/report", tok("st1"), {"reason": "other"})
    await api.patch("/api/moderation/cases/%s" % ids[1], tok("a1"), {"status": "resolved", "action": "keep"})
    await api.patch("/api/moderation/cases/%s" % ids[2], tok("a1"), {"status": "in_review"})
    status, body = await api.get("/api/moderation/summary", tok("a1"))
    assert status == 200, body
    assert body["data"] == {
        "total": 4, "byStatus": {"open": 2, "in_review": 1, "resolved": 1},
        "byReason": {"bullying": 1, "harassment": 0, "self_harm": 1, "sexual_content": 0, "violence": 0,
                     "spam": 2, "other": 1, "filter": 0}}
    status, page = await api.get("/api/moderation/cases?status=open", tok("a1"))
    assert status == 200 and len(page["data"]) == 2


@pytest.mark.gen_test
@pytest.mark.settings(rate_reports_burst=30)
async def test_case_list_pages_newest_first(api):
    conv = await class_conversation(api)
    ids: List[str] = []
    for i in range(5):
        msg = await api.send("st2", conv["id"], "m%d" % i)
        _, body = await report(api, "st1", msg["id"])
        ids.append(body["data"]["caseId"])
    seen: List[str] = []
    cursor = ""
    while True:
        status, page = await api.get("/api/moderation/cases?limit=2&next=%s" % cursor, tok("a1"))
        assert status == 200, page
        seen += [c["id"] for c in page["data"]]
        if not page["hasMore"]:
            assert page["next"] is None
            break
        cursor = page["next"]
    assert seen == list(reversed(ids))
    for bad in ("?limit=0", "?limit=101", "?status=closed", "?next=xyz"):
        status, _ = await api.get("/api/moderation/cases" + bad, tok("a1"))
        assert status == 400, bad


def test_roster_safeguarding_flag_in_json_and_csv():
    users, _ = parse_roster('{"users": [{"id": "t9", "name": "T", "role": "teacher", "school": "s",'
                            ' "safeguarding": true}, {"id": "t8", "name": "U", "role": "teacher", "school": "s",'
                            ' "safeguarding": false}]}')
    assert [u.get("safeguarding", False) for u in users] == [True, False]
    users, _ = parse_roster("id,name,role,school,safeguarding\nt9,T,teacher,s,true\nt8,U,teacher,s,\n"
                            "t7,V,teacher,s,0\nt6,W,teacher,s,YES\n", "users.csv")
    assert [u.get("safeguarding", False) for u in users] == [True, False, False, True]
    for bad in ('{"users": [{"id": "u", "name": "U", "role": "teacher", "school": "s", "safeguarding": "maybe"}]}',
                '{"users": [{"id": "u", "name": "U", "role": "teacher", "school": "s", "safeguarding": 1}]}',
                "id,name,role,school,safeguarding\nt9,T,teacher,s,perhaps\n"):
        with pytest.raises(RosterError):
            parse_roster(bad)


@pytest.mark.gen_test
async def test_a_roster_import_makes_and_unmakes_moderators(api, runtime):
    status, _ = await api.get("/api/moderation/summary", tok("t1"))
    assert status == 403
    users, _ = parse_roster("id,name,role,school,safeguarding\nt1,Tom Teacher,teacher,s1,true\n", "users.csv")
    await import_roster(runtime.store, users, [])
    assert (await runtime.store.directory.get_user("t1"))["safeguarding"] == "s1"
    status, _ = await api.get("/api/moderation/summary", tok("t1"))
    assert status == 200
    users, _ = parse_roster('{"users": [{"id": "t1", "name": "Tom Teacher", "role": "teacher", "school": "s1"}]}')
    await import_roster(runtime.store, users, [])  # the flag left out: no longer a moderator
    status, _ = await api.get("/api/moderation/summary", tok("t1"))
    assert status == 403


@pytest.mark.gen_test
async def test_case_store_operations_give_exact_results(runtime):
    """Every operation of chat/store/case_repo.py (README storage rules: exact on both backends)."""
    cases = runtime.store.cases
    base = {"key": "message:m1", "kind": "message", "school": "s1", "status": "open", "reasons": ["spam"],
            "reportCount": 0, "subjectId": "st2", "createdAt": 1, "updatedAt": 1, "escalatedAt": None}
    first, created = await cases.open_case(base)
    again, created_again = await cases.open_case(dict(base, reasons=["other"]))
    assert (created, created_again, again["id"], again["reasons"]) == (True, False, first["id"], ["spam"])
    assert await cases.add_report({"caseId": first["id"], "reporterId": "st1", "createdAt": 2})
    assert not await cases.add_report({"caseId": first["id"], "reporterId": "st1", "createdAt": 3})
    assert [r["id"] for r in await cases.reports_of(first["id"])] == [first["id"] + ":st1"]
    after = await cases.update(first["id"], {"status": "in_review"}, inc={"reportCount": 1}, reason="bullying")
    assert (after["status"], after["reportCount"], sorted(after["reasons"])) == ("in_review", 1, ["bullying", "spam"])
    after = await cases.update(first["id"], {"updatedAt": 5}, reason="spam")  # $addToSet: no duplicate
    assert sorted(after["reasons"]) == ["bullying", "spam"]
    second, _ = await cases.open_case(dict(base, key="user:s1:st3", kind="user"))
    assert [c["id"] for c in await cases.page("s1", None, None, 10, "a1")] == [second["id"], first["id"]]
    assert [c["id"] for c in await cases.page("s1", None, second["id"], 10, "a1")] == [first["id"]]
    assert [c["id"] for c in await cases.page("s1", "in_review", None, 10, "a1")] == [first["id"]]
    assert [c["id"] for c in await cases.page("s1", None, None, 10, "st2")] == []  # both are about st2
    assert await cases.page("s2", None, None, 10, "a1") == []
    by_status, by_reason = await cases.counts("s1", ["open", "in_review", "resolved"], ["spam", "bullying", "other"],
                                              "a1")
    assert (by_status, by_reason) == ({"open": 1, "in_review": 1, "resolved": 0}, {"spam": 2, "bullying": 1, "other": 0})
    assert (await cases.counts("s1", ["open"], ["spam"], "st2")) == ({"open": 0}, {"spam": 0})
    assert await cases.get("0" * 24) is None and await cases.get("nope") is None
    mutes = runtime.store.blocks  # a moderator's mute is a conversation mute with the case as its reason
    await mutes.put_mute("c1", "st2", 100, "a1", 1, reason=first["id"])
    await mutes.put_mute("c1", "st2", 200, "a1", 2, reason=first["id"])  # one per conversation and user
    assert [(m["userId"], m["until"], m["reason"]) for m in await mutes.mutes_of("c1")] == [("st2", 200, first["id"])]
    assert (await mutes.mute_of("c1", "st2"))["by"] == "a1" and await mutes.mute_of("c2", "st2") is None
    assert await mutes.mutes_of("c2") == []
    await cases.add_action({"caseId": first["id"], "actorId": "a1", "action": "keep", "at": 3})
    await cases.record_read({"caseId": first["id"], "actorId": "a1", "school": "s1", "at": 4})
    assert [a["action"] for a in await cases.actions_of(first["id"])] == ["keep"]
    assert [r["actorId"] for r in await cases.reads_of(first["id"])] == ["a1"]
    assert await cases.edits_of([]) == [] and await cases.edits_of(["0" * 24]) == []
    assert await runtime.store.directory.moderator_ids("s1") == ["a1"]
    await make_safeguarding(runtime, "t2")
    assert await runtime.store.directory.moderator_ids("s1") == ["a1", "t2"]
    assert await runtime.store.directory.moderator_ids("s2") == []


@pytest.mark.gen_test
async def test_a_moderators_mute_is_a_conversation_mute(api, ws, runtime):
    """mute_author is stored with the conversation's mutes (by the moderator, the case as its
    reason), listed with them, and only staff lift it; a manager's mute lists beside it."""
    conv = await api.conversation("st1", "group", ["st2", "st3", "t1"], title="Club")  # st1 owns it
    msg = await api.send("st2", conv["id"], "go away")
    _, body = await report(api, "st3", msg["id"], "bullying")
    case_id = body["data"]["caseId"]
    status, _ = await api.patch("/api/moderation/cases/%s" % case_id, tok("a1"), {"action": "mute_author", "hours": 3})
    assert status == 200
    assert (await api.put("/api/conversations/%s/mutes/st3" % conv["id"], tok("st1"), {"minutes": 5}))[0] == 200
    status, body = await api.get("/api/conversations/%s/mutes" % conv["id"], tok("st1"))
    assert status == 200
    assert sorted((m["userId"], m["mutedBy"], m["reason"]) for m in body["data"]) == [
        ("st2", "a1", case_id), ("st3", "st1", None)]
    author = await ws("st2", tok=tok("st2"))
    reply = await author.request("message:send", {"conversationId": conv["id"], "text": "hi"})
    assert reply["error"]["code"] == "muted" and "moderator" in reply["error"]["message"]
    # the student owner can neither lift nor shorten the moderator's mute
    for method, payload in (("DELETE", None), ("PUT", {"minutes": 1})):
        status, body = await api.call(method, "/api/conversations/%s/mutes/st2" % conv["id"], tok("st1"), payload)
        assert (status, body["error"]["code"]) == (403, "policy_forbidden"), (method, body)
    assert (await author.request("message:send", {"conversationId": conv["id"], "text": "hi"}))["error"]["code"] == "muted"
    assert (await api.delete("/api/conversations/%s/mutes/st2" % conv["id"], tok("t1")))[0] == 403  # not a manager
    assert (await api.delete("/api/conversations/%s/mutes/st2" % conv["id"], tok("a1")))[0] == 200  # a moderator
    await author.ok("message:send", {"conversationId": conv["id"], "text": "sorry"})
    assert await runtime.store.db.io(lambda: runtime.store.db.blocking_handle()["moderation_mutes"].count_documents({})) == 0


@pytest.mark.gen_test
async def test_migration_moves_moderation_mutes_into_the_conversation_mutes(api, ws, runtime):
    from chat.ops.migrations import MIGRATIONS
    conv = await class_conversation(api)
    handle = runtime.store.db.blocking_handle()
    far = 10 ** 13

    def seed() -> None:
        handle["moderation_mutes"].insert_many([
            {"_id": conv["id"] + ":st2", "conversationId": conv["id"], "userId": "st2", "until": far, "by": "a1",
             "caseId": "c" * 24, "at": 5},
            {"_id": conv["id"] + ":st1", "conversationId": conv["id"], "userId": "st1", "until": 7, "by": "a1",
             "caseId": "d" * 24, "at": 5}])
        handle["mutes"].insert_one({"_id": conv["id"] + ":st1", "conversationId": conv["id"], "userId": "st1",
                                    "until": 9, "by": "t1", "createdAt": 6})  # ends later: kept
    await runtime.store.db.io(seed)
    for _ in range(2):  # a re-run moves nothing twice
        await runtime.store.db.io(MIGRATIONS[4], handle)
    mutes = {m["userId"]: m for m in await runtime.store.blocks.mutes_of(conv["id"])}
    assert (mutes["st2"]["until"], mutes["st2"]["by"], mutes["st2"]["reason"], mutes["st2"]["createdAt"]) == (
        far, "a1", "c" * 24, 5)
    assert (mutes["st1"]["until"], mutes["st1"]["by"]) == (9, "t1")
    assert await runtime.store.db.io(lambda: handle["moderation_mutes"].count_documents({})) == 0
    author = await ws("st2", tok=tok("st2"))
    reply = await author.request("message:send", {"conversationId": conv["id"], "text": "hi"})
    assert reply["error"]["code"] == "muted"
