"""Oversight §1: audited oversight access, end to end through the real server (REST, sockets,
uploads). A school admin or safeguarding lead opens a conversation of its school read-only by
stating a reason; grants expire on the injected ManualClock."""
from __future__ import annotations

from typing import Any, Dict, List, Optional
from urllib.parse import quote

import pytest
import tornado.httpclient

from chat.ops.roster import import_roster
from chat.runtime import Runtime
from tests.conftest import BY_ID, Api, token
from tests.e2e.uploads_helpers import PDF, upload

pytestmark = [pytest.mark.usefixtures("school"), pytest.mark.manual_clock]

LONG = 100 * 3600  # tokens that outlive the clock's jumps
GRANTS = "/api/oversight/grants"
MSGS = "/api/conversations/%s/messages"
REASON = "Concern raised by a parent about this group"
NOTICE = "This school may review conversations."


def tok(user: str) -> str:
    return token(user, ttl=LONG)


async def grant(api: Api, user: str, conversation_id: str, reason: str = REASON) -> Any:
    return await api.post(GRANTS, tok(user), {"conversationId": conversation_id, "reason": reason})


async def make_safeguarding(runtime: Runtime, user_id: str = "t2") -> None:
    """The roster marks this user a member of the safeguarding team."""
    await import_roster(runtime.store, [dict(BY_ID[user_id], safeguarding=True)], [])


async def audit(runtime: Runtime, actor: Optional[str] = None) -> List[Dict[str, Any]]:
    """The school's audit entries as stored, oldest first."""
    repo = runtime.store.audit
    query: Dict[str, Any] = {"school": "s1"}
    if actor is not None:
        query["actor"] = actor
    entries = await runtime.store.db.io(lambda: list(repo.entries.find(query).sort("seq", 1)))
    return [e for e in entries if e["action"] != "roster.import"]  # the test school's own import


async def fetch(base_url: str, path: str, user: Optional[str] = None) -> Any:
    headers = {"Authorization": "Bearer " + tok(user)} if user else {}
    return await tornado.httpclient.AsyncHTTPClient().fetch(base_url + path, headers=headers, raise_error=False,
                                                            request_timeout=60)


async def reads(api: Api, user: str, conv_id: str, msg_id: str) -> Dict[str, int]:
    """The status of every read path of the conversation for ``user``."""
    out = {}
    out["view"] = (await api.get("/api/conversations/" + conv_id, tok(user)))[0]
    out["history"] = (await api.get(MSGS % conv_id, tok(user)))[0]
    out["around"] = (await api.get(MSGS % conv_id + "?around=1&limit=2", tok(user)))[0]
    out["after"] = (await api.get(MSGS % conv_id + "?after=0&limit=1", tok(user)))[0]
    out["search"] = (await api.get("/api/search?q=homework&conversationId=" + conv_id, tok(user)))[0]
    out["receipts"] = (await api.get("/api/messages/%s/receipts" % msg_id, tok(user)))[0]
    return out


async def writes(api: Api, user: str, conv_id: str, msg_id: str) -> Dict[str, int]:
    """The status of every write path of the conversation for ``user``."""
    t = tok(user)
    return {
        "send": (await api.post(MSGS % conv_id, t, {"text": "hello"}))[0],
        "edit": (await api.patch("/api/messages/" + msg_id, t, {"text": "changed"}))[0],
        "delete": (await api.delete("/api/messages/" + msg_id, t))[0],
        "react": (await api.put("/api/messages/%s/reactions/%s" % (msg_id, quote("\U0001F44D")), t))[0],
        "read": (await api.post("/api/conversations/%s/read" % conv_id, t, {"seq": 1}))[0],
        "delivered": (await api.post("/api/conversations/%s/delivered" % conv_id, t, {"seq": 1}))[0],
        "rename": (await api.patch("/api/conversations/" + conv_id, t, {"title": "Mine now"}))[0],
        "mute": (await api.patch("/api/conversations/" + conv_id, t, {"muted": True}))[0],
        "add": (await api.post("/api/conversations/%s/participants" % conv_id, t, {"userIds": ["st3"]}))[0],
        "remove": (await api.delete("/api/conversations/%s/participants/st2" % conv_id, t))[0],
    }


async def group(api: Api) -> Dict[str, Any]:
    """A students' group (no staff in it): st1 owns it, st2 is a member."""
    conv = await api.conversation("st1", "group", ["st2"], title="Friends")
    return conv


@pytest.mark.gen_test
async def test_an_admin_reads_a_conversation_only_under_a_grant_and_never_writes(api, ws, runtime):
    conv = await group(api)
    first = await api.send("st1", conv["id"], "did you do the homework")
    await api.send("st2", conv["id"], "homework is done")
    blocked = {k: 403 for k in ("view", "history", "around", "after", "search", "receipts")}
    assert await reads(api, "a1", conv["id"], first["id"]) == blocked  # as today: not a participant
    members = [await ws(u, tok=tok(u)) for u in ("st1", "st2")]

    status, body = await grant(api, "a1", conv["id"], "  " + REASON + "  ")
    assert status == 201, body
    g = body["data"]
    assert set(g) == {"id", "conversationId", "userId", "reason", "createdAt", "expiresAt"}
    assert (g["conversationId"], g["userId"], g["reason"]) == (conv["id"], "a1", REASON)
    status, listed = await api.get(GRANTS, tok("a1"))
    assert status == 200 and listed["data"] == [g] and listed["hasMore"] is False

    assert await reads(api, "a1", conv["id"], first["id"]) == {k: 200 for k in blocked}
    _, history = await api.get(MSGS % conv["id"], tok("a1"))
    assert [m["text"] for m in history["data"]] == ["did you do the homework", "homework is done"]
    _, page = await api.get(MSGS % conv["id"] + "?after=0&limit=1", tok("a1"))
    assert [m["seq"] for m in page["data"]] == [1] and page["hasMore"] is True and page["next"] == 1
    _, around = await api.get(MSGS % conv["id"] + "?around=2&limit=10", tok("a1"))
    assert [m["seq"] for m in around["data"]] == [1, 2]
    _, found = await api.get("/api/search?q=homework&conversationId=" + conv["id"], tok("a1"))
    assert [m["seq"] for m in found["data"]] == [2, 1]
    _, everywhere = await api.get("/api/search?q=homework", tok("a1"))
    assert everywhere["data"] == []  # search without the conversation: the admin's own conversations only
    _, receipts = await api.get("/api/messages/%s/receipts" % first["id"], tok("a1"))
    assert [r["userId"] for r in receipts["data"]["receipts"]] == ["st2"]
    _, view = await api.get("/api/conversations/" + conv["id"], tok("a1"))
    assert view["data"]["id"] == conv["id"] and view["data"]["role"] is None
    assert sorted(p["userId"] for p in view["data"]["participants"]) == ["st1", "st2"]
    _, mine = await api.get("/api/conversations", tok("a1"))
    assert conv["id"] not in [c["id"] for c in mine["data"]]  # it does not become one of the admin's

    assert await writes(api, "a1", conv["id"], first["id"]) == {
        k: 403 for k in ("send", "edit", "delete", "react", "read", "delivered", "rename", "mute", "add", "remove")}
    _, after = await api.get(MSGS % conv["id"], tok("st1"))
    assert [m["text"] for m in after["data"]] == [m["text"] for m in history["data"]]  # nothing changed
    assert after["data"][0]["reactions"] == {}
    for sock in members:  # the participants are not told: no system message, no push
        for event in ("message:new", "conversation:changed", "conversation:joined", "marker:moved"):
            await sock.none(event)
    # a grant gives no socket subscription: the holder's socket gets nothing of the conversation
    holder = await ws("a1", tok=tok("a1"))
    await api.send("st2", conv["id"], "a new one")  # published before the answer
    await members[0].expect("message:new", lambda f: f["data"]["text"] == "a new one")
    for event in ("message:new", "conversation:joined", "conversation:changed"):
        await holder.none(event)


@pytest.mark.gen_test
async def test_reads_under_a_grant_are_audited_and_participants_reads_are_not(api, runtime):
    conv = await group(api)
    msg = await api.send("st1", conv["id"], "homework tonight")
    await reads(api, "st1", conv["id"], msg["id"])  # a participant's reads: nothing recorded
    await reads(api, "a1", conv["id"], msg["id"])  # refused reads: nothing recorded either
    assert await audit(runtime) == []
    _, body = await grant(api, "a1", conv["id"])
    grant_id = body["data"]["id"]
    [opened] = await audit(runtime)
    assert (opened["actor"], opened["action"], opened["school"]) == ("a1", "oversight.grant", "s1")
    assert opened["target"] == {"conversationId": conv["id"]}
    assert opened["detail"]["reason"] == REASON and opened["detail"]["grantId"] == grant_id
    await reads(api, "a1", conv["id"], msg["id"])
    entries = (await audit(runtime))[1:]
    assert [e["detail"]["what"] for e in entries] == ["view", "history", "history", "history", "search", "receipts"]
    for e in entries:
        assert (e["actor"], e["action"], e["target"]) == ("a1", "oversight.read", {"conversationId": conv["id"]})
        assert e["detail"] == dict(e["detail"], reason=REASON, grantId=grant_id)
        assert "homework" not in str(e)  # never a child's message text
    await writes(api, "a1", conv["id"], msg["id"])  # refused writes record nothing
    await reads(api, "st2", conv["id"], msg["id"])
    assert len(await audit(runtime)) == 7


@pytest.mark.gen_test
async def test_the_reason_and_the_body_are_checked(api):
    conv = await group(api)
    for bad in ({"conversationId": conv["id"], "reason": "too short"},
                {"conversationId": conv["id"], "reason": "   short    "},
                {"conversationId": conv["id"], "reason": "x" * 501},
                {"conversationId": conv["id"], "reason": 12345678901},
                {"conversationId": conv["id"]}, {"reason": REASON}, {"conversationId": "", "reason": REASON},
                {"conversationId": ["x"], "reason": REASON}, [], "text"):
        status, body = await api.post(GRANTS, tok("a1"), bad)
        assert status == 400 and body["error"]["code"] == "bad_request", (bad, body)
    status, _ = await grant(api, "a1", conv["id"], "x" * 500)
    assert status == 201
    _, listed = await api.get(GRANTS, tok("a1"))
    assert len(listed["data"]) == 1  # the refused ones opened nothing


@pytest.mark.gen_test
async def test_only_the_schools_admins_and_safeguarding_leads_open_grants(api, runtime):
    conv = await group(api)
    msg = await api.send("st1", conv["id"], "homework")
    for user in ("st3", "t1", "t2", "st1"):
        status, body = await grant(api, user, conv["id"])
        assert status == 403 and body["error"]["code"] == "forbidden", (user, body)
        assert (await api.get(GRANTS, tok(user)))[0] == 403
    assert (await reads(api, "t2", conv["id"], msg["id"]))["history"] == 403
    await make_safeguarding(runtime, "t2")
    status, body = await grant(api, "t2", conv["id"])
    assert status == 201 and body["data"]["userId"] == "t2"
    assert set((await reads(api, "t2", conv["id"], msg["id"])).values()) == {200}
    assert (await reads(api, "a1", conv["id"], msg["id"]))["history"] == 403  # a grant is its holder's only
    assert (await api.post(MSGS % conv["id"], tok("t2"), {"text": "hi"}))[0] == 403


@pytest.mark.gen_test
async def test_another_schools_conversations_stay_unreachable(api):
    other = await api.conversation("x1", "class", classId="cx")
    msg = await api.send("x1", other["id"], "homework for school two")
    for conversation_id in (other["id"], "0" * 24, "not-an-id"):
        status, body = await grant(api, "a1", conversation_id)
        assert status == 404 and body["error"]["code"] == "not_found", (conversation_id, body)
    assert (await api.get(MSGS % other["id"], tok("a1")))[0] == 403  # as today
    assert (await api.get(GRANTS, tok("a1")))[1]["data"] == []
    # an admin of s1 by token claims only: a grant of s1 never opens s2's conversation
    assert (await api.get("/api/messages/%s/receipts" % msg["id"], tok("a1")))[0] == 403


@pytest.mark.gen_test
async def test_a_grant_expires_on_the_clock(api, clock):
    conv = await group(api)
    msg = await api.send("st1", conv["id"], "homework")
    _, body = await grant(api, "a1", conv["id"])
    g = body["data"]
    from chat.timeutil import parse_iso
    assert parse_iso(g["expiresAt"]) - parse_iso(g["createdAt"]) == 60 * 60 * 1000
    clock.advance(59 * 60)
    assert set((await reads(api, "a1", conv["id"], msg["id"])).values()) == {200}
    clock.advance(61)
    assert set((await reads(api, "a1", conv["id"], msg["id"])).values()) == {403}
    assert (await api.get(GRANTS, tok("a1")))[1]["data"] == []
    status, _ = await grant(api, "a1", conv["id"])  # a new reason, a new grant
    assert status == 201
    assert (await api.get(MSGS % conv["id"], tok("a1")))[0] == 200


@pytest.mark.gen_test
@pytest.mark.settings(oversight_minutes=5)
async def test_the_grant_lasts_oversight_minutes(api, clock):
    conv = await group(api)
    _, body = await grant(api, "a1", conv["id"])
    assert body["data"]["expiresAt"] > body["data"]["createdAt"]
    clock.advance(4 * 60)
    assert (await api.get(MSGS % conv["id"], tok("a1")))[0] == 200
    clock.advance(61)
    assert (await api.get(MSGS % conv["id"], tok("a1")))[0] == 403


@pytest.mark.gen_test
async def test_attachments_of_the_conversation_open_under_a_grant(api, runtime, base_url, clock):
    await make_safeguarding(runtime, "t2")
    conv = await group(api)
    other = await api.conversation("st1", "group", ["st3"], title="Other")
    _, up = await upload(api, tok("st1"), PDF, "essay.pdf", "application/pdf")
    msg = await api.send("st1", conv["id"], "my essay", attachments=[{"uploadId": up["data"]["id"]}])
    url = msg["attachments"][0]["url"]
    _, up2 = await upload(api, tok("st1"), PDF + b"2", "other.pdf", "application/pdf")
    msg2 = await api.send("st1", other["id"], "another", attachments=[{"uploadId": up2["data"]["id"]}])
    assert (await fetch(base_url, url, "t2")).code == 404  # not a participant, no grant
    await grant(api, "t2", conv["id"])
    resp = await fetch(base_url, url, "t2")
    assert resp.code == 200 and resp.body == PDF
    assert (await fetch(base_url, msg2["attachments"][0]["url"], "t2")).code == 404  # another conversation
    status, links = await api.post("/api/uploads/links", tok("t2"), {"ids": [up["data"]["id"], up2["data"]["id"]]})
    assert status == 200 and list(links["data"]) == [up["data"]["id"]]
    assert (await fetch(base_url, links["data"][up["data"]["id"]]["url"])).body == PDF
    whats = [e["detail"]["what"] for e in await audit(runtime, "t2") if e["action"] == "oversight.read"]
    assert whats.count("attachment") >= 2
    clock.advance(61 * 60)
    assert (await fetch(base_url, url, "t2")).code == 404  # expired


@pytest.mark.gen_test
async def test_a_school_admins_look_at_a_file_of_a_conversation_it_is_not_in_is_recorded(api, runtime, base_url):
    conv = await group(api)
    _, up = await upload(api, tok("st1"), PDF, "essay.pdf", "application/pdf")
    msg = await api.send("st1", conv["id"], "my essay", attachments=[{"uploadId": up["data"]["id"]}])
    resp = await fetch(base_url, msg["attachments"][0]["url"], "a1")  # admins open every file of the school
    assert resp.code == 200 and resp.body == PDF
    (entry,) = [e for e in await audit(runtime, "a1") if e["action"] == "oversight.read"]
    assert entry["target"] == {"conversationId": conv["id"]}
    assert entry["detail"]["what"] == "attachment" and entry["detail"]["grantId"] is None
    assert entry["detail"]["uploadId"] == up["data"]["id"] and "my essay" not in str(entry)
    # the uploader's own look, and an admin's look at a file of its own conversation, are not
    assert (await fetch(base_url, msg["attachments"][0]["url"], "st1")).code == 200
    mine = await api.conversation("a1", "group", ["st1"], title="Office")
    _, up2 = await upload(api, tok("st1"), PDF + b"2", "form.pdf", "application/pdf")
    msg2 = await api.send("st1", mine["id"], "form", attachments=[{"uploadId": up2["data"]["id"]}])
    assert (await fetch(base_url, msg2["attachments"][0]["url"], "a1")).code == 200
    assert len([e for e in await audit(runtime) if e["action"] == "oversight.read"]) == 1


@pytest.mark.gen_test
async def test_every_conversation_view_carries_the_review_notice_unless_the_policy_turns_it_off(api, ws):
    conv = await group(api)
    _, policy = await api.get("/api/schools/s1/policy", tok("st1"))
    assert policy["data"]["policy"]["reviewNotice"] is True  # on by default
    _, view = await api.get("/api/conversations/" + conv["id"], tok("st1"))
    assert view["data"]["reviewNotice"] == NOTICE
    _, listed = await api.get("/api/conversations", tok("st2"))
    assert [c["reviewNotice"] for c in listed["data"]] == [NOTICE]
    status, body = await api.post("/api/conversations", tok("st1"), {"type": "direct", "participantIds": ["st3"]})
    assert status == 201 and body["data"]["reviewNotice"] == NOTICE
    status, body = await api.put("/api/schools/s1/policy", tok("a1"), {"reviewNotice": False})
    assert status == 200 and body["data"]["policy"]["reviewNotice"] is False
    _, view = await api.get("/api/conversations/" + conv["id"], tok("st1"))
    assert view["data"]["reviewNotice"] is None
    _, listed = await api.get("/api/conversations", tok("st2"))
    assert [c["reviewNotice"] for c in listed["data"]] == [None]
    status, body = await api.put("/api/schools/s1/policy", tok("a1"), {"reviewNotice": "no"})
    assert status == 400
    await api.put("/api/schools/s1/policy", tok("a1"), {"reviewNotice": True})
    assert (await api.get("/api/conversations/" + conv["id"], tok("st1")))[1]["data"]["reviewNotice"] == NOTICE
