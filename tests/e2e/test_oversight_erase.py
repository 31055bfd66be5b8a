"""Erasure of one person's data (README "Export and erasure"): ``POST /api/users/{id}/erase``
turns the user's messages into tombstones (history, sync and search of the other members show
nothing of them, seqs stay contiguous), deletes their uploads, names them "Former user", keeps
what a legal hold covers, records ``user.erase`` once (idempotent), admins of the user's school
only; their reactions to others' messages go (but in a held conversation); and across a two-node cluster the new name is what the other node shows (real server,
real nx-27017, real Redis)."""
from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Dict, List

import pytest
import tornado.httpclient
from bson import ObjectId

from chat.ops.roster import import_roster
from tests.conftest import Api, token
from tests.e2e.test_cluster import REDIS, run
from tests.e2e.uploads_helpers import PDF, upload

MSGS = "/api/conversations/%s/messages"
LONG = 100 * 3600
REASON = {"reason": "investigation 2026-14 (police request)"}
THUMBS = "%F0%9F%91%8D"


def tok(user: str, **kw: Any) -> str:
    return token(user, ttl=LONG, **kw)


async def history(api: Any, conv_id: str, user: str = "st2") -> List[Dict[str, Any]]:
    status, data = await api.get(MSGS % conv_id, tok(user))
    assert status == 200, data
    return data["data"]


async def erase(api: Any, user_id: str = "st1") -> Dict[str, Any]:
    status, data = await api.post("/api/users/%s/erase" % user_id, tok("a1"))
    assert status == 200, data
    return data["data"]


async def fetch_upload(api: Any, upload_id: str, user: str = "a1") -> int:
    resp = await tornado.httpclient.AsyncHTTPClient().fetch(
        api.base + "/api/uploads/" + upload_id, headers={"Authorization": "Bearer " + tok(user)}, raise_error=False)
    return resp.code


async def erase_entries(api: Any) -> List[Dict[str, Any]]:
    status, data = await api.get("/api/audit?action=user.erase", tok("a1"))
    assert status == 200
    return data["data"]


@pytest.mark.gen_test
@pytest.mark.usefixtures("school", "http_server")
async def test_erasure_leaves_tombstones_for_everyone_and_names_the_user_former_user(api, runtime, ws):
    conv = await api.conversation("st1", "group", ["st2", "st3"], title="Project")
    _, pdf = await upload(api, "st1", PDF, "plan.pdf", "application/pdf")
    _, loose = await upload(api, "st1", PDF + b"%loose", "notes.pdf", "application/pdf")  # never attached
    status, with_file = await api.post(MSGS % conv["id"], tok("st1"), {
        "type": "file", "text": "secret plan attached", "attachments": [{"uploadId": pdf["data"]["id"]}]})
    assert status == 201
    edited = await api.send("st1", conv["id"], "my secret draft")
    await api.patch("/api/messages/%s" % edited["id"], tok("st1"), {"text": "my secret words"})
    await api.put("/api/messages/%s/reactions/%s" % (edited["id"], THUMBS), tok("st2"))
    kept = await api.send("st2", conv["id"], "st2 keeps talking")
    sock = await ws("st3")
    _, view = await api.get("/api/conversations/" + conv["id"], tok("st3"))
    assert view["data"]["unread"] == 3  # counted now: the erasure must take st1's two off
    before = len(await erase_entries(api))
    done = await erase(api)
    assert done["userId"] == "st1" and done["name"] == "Former user" and done["already"] is False
    assert done["messages"] == 2 and done["messagesKept"] == 0 and done["files"] == 2
    # every member's socket is told, with the reason
    for msg in (with_file["data"], edited):
        got = await sock.expect("message:deleted", lambda f, m=msg: f["data"]["messageId"] == m["id"])
        assert got["data"]["reason"] == "erased"
    page = await history(api, conv["id"])
    assert [m["seq"] for m in page] == [1, 2, 3]
    for m in page[:2]:
        assert (m["deleted"], m["text"], m["reason"], m["senderId"], m["senderName"]) == (
            True, None, "erased", "st1", "Former user")
        assert m["attachments"] == [] and m["reactions"] == {}
    assert page[2]["text"] == "st2 keeps talking" and page[2]["id"] == kept["id"]
    reply = await sock.ok("sync", {"conversations": {conv["id"]: 0}})
    assert [(m["seq"], m["deleted"], m.get("reason"), m["text"]) for m in reply["messages"]] == [
        (1, True, "erased", None), (2, True, "erased", None), (3, False, None, "st2 keeps talking")]
    for q in ("secret", "plan", "words"):
        status, found = await api.get("/api/search?q=" + q, tok("st2"))
        assert status == 200 and found["data"] == [], q
    # stored: no text, no edits, no reactions, no files
    for msg in (with_file["data"], edited):
        doc = await runtime.store.messages.get(msg["id"])
        assert doc["text"] is None and doc["deletedReason"] == "erased" and doc["senderName"] == "Former user"
    assert runtime.store.messages.edits.count_documents({"messageId": edited["id"]}) == 0
    assert runtime.store.messages.reactions.count_documents({"messageId": edited["id"]}) == 0
    for up in (pdf, loose):
        assert await runtime.uploads.repo.get(up["data"]["id"]) is None
        assert await fetch_upload(api, up["data"]["id"]) == 404
    assert await runtime.uploads.storage.local_path(pdf["data"]["sha256"]) is None
    # the directory says "Former user" everywhere
    status, users = await api.get("/api/users?q=st1", tok("st2"))
    assert status == 200 and [(u["id"], u["name"]) for u in users["data"]] == [("st1", "Former user")]
    _, view = await api.get("/api/conversations/" + conv["id"], tok("st3"))
    assert view["data"]["unread"] == 1
    names = {p["userId"]: p["name"] for p in view["data"]["participants"]}
    assert names["st1"] == "Former user" and names["st2"] == "Sue Student"
    # one audit entry, no text in it; a second erasure does nothing more and records nothing
    entries = await erase_entries(api)
    assert len(entries) == before + 1
    assert (entries[0]["actor"], entries[0]["target"]) == ("a1", {"userId": "st1"})
    assert "secret" not in str(entries[0])
    again = await erase(api)
    assert again["already"] is True and again["messages"] == 0 and again["files"] == 0
    assert again["erasedAt"] == done["erasedAt"]
    assert len(await erase_entries(api)) == before + 1


@pytest.mark.gen_test
@pytest.mark.usefixtures("school", "http_server")
async def test_the_users_reactions_to_others_messages_go_but_in_a_held_conversation(api, runtime, ws):
    free = await api.conversation("st2", "group", ["st1", "st3"], title="Free")
    held = await api.conversation("st2", "group", ["st1", "st3"], title="Held")
    theirs = await api.send("st2", free["id"], "a message of st2")
    kept = await api.send("st2", held["id"], "st2 in the held one")
    for msg in (theirs, kept):
        for user in ("st1", "st3"):
            assert (await api.put("/api/messages/%s/reactions/%s" % (msg["id"], THUMBS), tok(user)))[0] in (200, 201)
    assert (await api.put("/api/messages/%s/reactions/%s" % (theirs["id"], "%F0%9F%98%80"), tok("st1")))[0] in (
        200, 201)
    assert (await api.put("/api/holds/conversations/" + held["id"], tok("a1"), REASON))[0] == 200
    status, _ = await api.post("/api/messages/%s/report" % theirs["id"], tok("st1"), {"reason": "bullying"})
    assert status in (200, 201)
    sock = await ws("st3")
    done = await erase(api)
    assert done["reactions"] == 2 and done["reactionsKept"] == 1, done
    # the members' clients are told, as when st1 removes them
    got = await sock.expect("message:updated", lambda f: f["data"]["id"] == theirs["id"]
                            and f["data"]["reactions"] == {"\U0001F44D": ["st3"]})
    assert got["data"]["text"] == "a message of st2"
    reactions = runtime.store.messages.reactions
    assert reactions.count_documents({"userId": "st1", "messageId": theirs["id"]}) == 0
    assert reactions.count_documents({"userId": "st1", "messageId": kept["id"]}) == 1  # the hold keeps it
    assert reactions.count_documents({"userId": "st3"}) == 2
    doc = runtime.store.messages.messages.find_one({"_id": ObjectId(theirs["id"])})
    assert not [k for k in doc.get("reactionKeys") or [] if k.endswith("|st1")], doc["reactionKeys"]
    page = await history(api, free["id"], "st3")
    assert [m["reactions"] for m in page] == [{"\U0001F44D": ["st3"]}]
    # what stays: the report st1 made and the audit log (safeguarding records)
    assert runtime.store.personal.reports.count_documents({"reporterId": "st1"}) == 1
    again = await erase(api)
    assert again["reactions"] == 0 and again["reactionsKept"] == 1


@pytest.mark.gen_test
@pytest.mark.usefixtures("school", "http_server")
@pytest.mark.manual_clock
async def test_what_a_hold_covers_is_kept_hidden_and_removed_after_the_release(api, runtime, clock):
    held_conv = await api.conversation("st1", "group", ["st2"], title="Held")
    free_conv = await api.conversation("st1", "direct", ["st3"])
    _, pdf = await upload(api, "st1", PDF, "evidence.pdf", "application/pdf")
    status, held_msg = await api.post(MSGS % held_conv["id"], tok("st1"), {
        "type": "file", "text": "held words", "attachments": [{"uploadId": pdf["data"]["id"]}]})
    assert status == 201
    free_msg = await api.send("st1", free_conv["id"], "free words")
    assert (await api.put("/api/holds/conversations/" + held_conv["id"], tok("a1"), REASON))[0] == 200
    done = await erase(api)
    assert (done["messages"], done["messagesKept"], done["files"], done["filesKept"]) == (1, 1, 0, 1)
    # hidden from the members (shown erased) but kept for the hold, with its file
    page = await history(api, held_conv["id"])
    assert (page[0]["deleted"], page[0]["text"], page[0]["reason"]) == (True, None, "erased")
    doc = await runtime.store.messages.get(held_msg["data"]["id"])
    assert doc["text"] == "held words" and doc["heldAt"] is not None and doc.get("purgedAt") is None
    assert await runtime.uploads.repo.get(pdf["data"]["id"]) is not None
    assert (await runtime.store.messages.get(free_msg["id"]))["text"] is None
    status, found = await api.get("/api/search?q=held", tok("st2"))
    assert status == 200 and found["data"] == []
    # released: the next retention sweep removes what the hold kept
    assert (await api.delete("/api/holds/conversations/" + held_conv["id"], tok("a1")))[0] == 200
    sweeper = runtime.service.retention_sweeper
    sweeper.start()
    clock.advance(runtime.settings.retention_sweep_interval)
    await sweeper.settled()
    doc = await runtime.store.messages.get(held_msg["data"]["id"])
    assert doc["text"] is None and doc["purgedAt"] is not None and doc["deletedReason"] == "erased"
    assert await runtime.uploads.repo.get(pdf["data"]["id"]) is None


@pytest.mark.gen_test
@pytest.mark.usefixtures("school", "http_server")
async def test_a_user_hold_keeps_every_message_and_upload(api, runtime):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    _, loose = await upload(api, "st1", PDF, "kept.pdf", "application/pdf")
    msg = await api.send("st1", conv["id"], "kept words")
    assert (await api.put("/api/holds/users/st1", tok("a1"), REASON))[0] == 200
    done = await erase(api)
    assert (done["messages"], done["messagesKept"], done["files"], done["filesKept"]) == (0, 1, 0, 1)
    assert (await runtime.store.messages.get(msg["id"]))["text"] == "kept words"
    assert (await history(api, conv["id"]))[0]["text"] is None
    _, view = await api.get("/api/conversations/" + conv["id"], tok("st2"))
    last = view["data"]["lastMessage"]  # the hidden message was the last one: no preview of it
    assert (last["preview"], last["senderName"], last["deleted"]) == (None, "Former user", True)
    assert await runtime.uploads.repo.get(loose["data"]["id"]) is not None
    entries = await erase_entries(api)
    assert entries[0]["detail"] == {"held": 1}


@pytest.mark.gen_test
@pytest.mark.usefixtures("school", "http_server")
async def test_a_token_does_not_bring_the_name_back_a_roster_import_does(api, runtime):
    conv = await api.conversation("st1", "direct", ["st2"])
    await erase(api)
    named = tok("st1", name="Sam Student")  # the LMS still signs tokens with the old name
    status, me = await api.get("/api/me", named)
    assert status == 200 and me["data"]["name"] == "Former user"
    sent = await api.send(named, conv["id"], "I am back")
    assert sent["senderName"] == "Former user"
    user = await runtime.store.directory.get_user("st1")
    assert user["name"] == "Former user" and user["erasedAt"] is not None
    # re-rostered: the roster names the user again
    await import_roster(runtime.store, [{"id": "st1", "name": "Sam Again", "role": "student", "school": "s1"}], [])
    user = await runtime.store.directory.get_user("st1")
    assert user["name"] == "Sam Again" and user["erasedAt"] is None
    status, users = await api.get("/api/users?q=st1", tok("st2"))
    assert [(u["id"], u["name"]) for u in users["data"]] == [("st1", "Sam Again")]


@pytest.mark.gen_test
@pytest.mark.usefixtures("school", "http_server")
async def test_only_admins_of_the_users_school_erase(api, runtime):
    msg = await api.send("st2", (await api.conversation("st2", "direct", ["st3"]))["id"], "still here")
    for user in ("st1", "t1"):
        assert (await api.post("/api/users/st2/erase", tok(user)))[0] == 403
    assert (await api.post("/api/users/x2/erase", tok("a1")))[0] == 404  # another school's user
    assert (await api.post("/api/users/nobody/erase", tok("a1")))[0] == 404
    other_admin = token("y9", role="admin", school="s2", name="Yan Admin", ttl=LONG)
    assert (await api.post("/api/users/st2/erase", other_admin))[0] == 404
    assert (await runtime.store.messages.get(msg["id"]))["text"] == "still here"
    assert (await runtime.store.directory.get_user("st2"))["name"] == "Sue Student"
    assert runtime.store.messages.messages.count_documents({"_id": ObjectId(msg["id"]), "purgedAt": 1}) == 0


@pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")
def test_an_erasure_on_one_node_renames_the_user_on_the_other(cluster):
    a, b = cluster.start(2)

    async def main() -> None:
        api_a, api_b = Api(a.url), Api(b.url)
        conv = await api_b.conversation("st1", "group", ["st2"], title="Friends")
        named = tok("st1", name="Sam Student")
        before = await api_b.send(named, conv["id"], "before the erasure")  # node B knows st1 by name
        assert before["senderName"] == "Sam Student"
        status, data = await api_a.post("/api/users/st1/erase", tok("a1"))
        assert status == 200, data

        async def name_on_b() -> str:
            status, me = await api_b.get("/api/me", named)
            assert status == 200
            return me["data"]["name"]
        deadline = time.monotonic() + 20  # polled: the change reaches B through Redis
        while await name_on_b() != "Former user":
            assert time.monotonic() < deadline, "node B still shows the old name"
            await asyncio.sleep(0.05)
        # node B kept the conversation's last message in memory: no longer the erased text or name
        _, view = await api_b.get("/api/conversations/" + conv["id"], tok("st2"))
        last = view["data"]["lastMessage"]
        assert (last["preview"], last["senderName"], last["deleted"]) == (None, "Former user", True)
        after = await api_b.send(named, conv["id"], "after the erasure")
        assert after["senderName"] == "Former user"
        status, page = await api_b.get(MSGS % conv["id"], tok("st2"))
        assert status == 200
        assert [(m["text"], m["senderName"], m["deleted"]) for m in page["data"]] == [
            (None, "Former user", True), ("after the erasure", "Former user", False)]
        _, view = await api_b.get("/api/conversations/" + conv["id"], tok("st2"))
        assert {p["userId"]: p["name"] for p in view["data"]["participants"]}["st1"] == "Former user"
    run(main())


@pytest.mark.gen_test
@pytest.mark.usefixtures("school", "http_server")
async def test_forwarded_copies_of_the_users_messages_go_too_but_a_held_one_is_kept_hidden(api, runtime, ws):
    source = await api.conversation("st2", "group", ["st1", "t1"], title="Source")
    free = await api.conversation("st2", "group", ["t2"], title="Free target")
    held = await api.conversation("st2", "group", ["st3"], title="Held target")
    original = await api.send("st1", source["id"], "st1 private words")
    copies = {}
    for conv in (free, held):
        status, data = await api.post("/api/messages/%s/forward" % original["id"], tok("st2"), {"conversationId": conv["id"]})
        assert status == 201, data
        copies[conv["id"]] = data["data"]
    assert copies[free["id"]]["forwarded"]["authorId"] == "st1"
    assert (await api.put("/api/holds/conversations/" + held["id"], tok("a1"), REASON))[0] == 200
    sock = await ws("t2")
    done = await erase(api)
    assert (done["messages"], done["messagesKept"]) == (2, 1), done
    # the free copy: a tombstone, its members told, nothing of st1 in history, search or the preview
    await sock.expect("message:deleted", lambda f: f["data"]["messageId"] == copies[free["id"]]["id"]
                      and f["data"]["reason"] == "erased")
    page = await history(api, free["id"], "t2")
    assert [(m["deleted"], m["text"], m.get("forwarded")) for m in page] == [(True, None, None)]
    doc = await runtime.store.messages.get(copies[free["id"]]["id"])
    assert doc["text"] is None and doc["purgedAt"] is not None and doc["forwarded"]["authorName"] == "Former user"
    status, found = await api.get("/api/search?q=private", tok("t2"))
    assert status == 200 and found["data"] == []
    _, view = await api.get("/api/conversations/" + free["id"], tok("t2"))
    assert view["data"]["lastMessage"]["preview"] is None
    # the held copy: hidden from its members, its content kept for the hold, the author renamed
    page = await history(api, held["id"], "st3")
    assert [(m["deleted"], m["text"], m["reason"]) for m in page] == [(True, None, "erased")]
    doc = await runtime.store.messages.get(copies[held["id"]]["id"])
    assert doc["text"] == "st1 private words" and doc["heldAt"] is not None and doc.get("purgedAt") is None
    assert doc["forwarded"]["authorName"] == "Former user"
    again = await erase(api)
    assert (again["messages"], again["messagesKept"]) == (0, 1), again
