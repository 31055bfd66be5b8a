"""Forwarding (README "Forwarding"): POST /api/messages/{id}/forward and the message:forward
socket event: the structured attribution, attachments carried by reference and readable by the
target's members (no copy of the bytes), the target's policy and filters (the ordinary send
path), a source the caller cannot read, deleted and retention-removed originals, and an
announcement's author kept (real server, real nx-27017)."""
from __future__ import annotations

from typing import Any, Dict

import pytest

from tests.e2e.test_uploads import fetch, service
from tests.e2e.uploads_helpers import PDF, upload

pytestmark = pytest.mark.usefixtures("school", "http_server")

MSGS = "/api/conversations/%s/messages"
FWD = "/api/messages/%s/forward"


async def forward(api: Any, user: str, message_id: str, conversation_id: str, **extra: Any) -> Any:
    return await api.post(FWD % message_id, user, dict({"conversationId": conversation_id}, **extra))


def refused(result: Any, status: int, code: str) -> bool:
    return result[0] == status and result[1].get("error", {}).get("code") == code


async def texts(api: Any, user: str, conversation_id: str) -> Any:
    status, data = await api.get(MSGS % conversation_id, user)
    assert status == 200, data
    return [m["text"] for m in data["data"] if m.get("type") != "system"]


@pytest.mark.gen_test
async def test_a_forward_carries_its_attribution_to_the_target_and_a_retry_stores_nothing(api, ws):
    klass = await api.conversation("t1", "class", classId="c1")  # Maths 7A: t1, st1, st2
    original = await api.send("t1", klass["id"], "Test on Friday: chapters 3 and 4")
    project = await api.conversation("st1", "group", ["st2", "st3"], title="Project")
    other = await ws("st3")
    status, data = await forward(api, "st1", original["id"], project["id"], clientMsgId="fw-1")
    assert status == 201, data
    sent = data["data"]
    assert sent["conversationId"] == project["id"] and sent["senderId"] == "st1"
    assert sent["text"] == "Test on Friday: chapters 3 and 4" and sent["replyTo"] is None
    assert sent["forwarded"] == {
        "conversationId": klass["id"], "conversationTitle": klass["title"], "conversationType": "class",
        "authorId": "t1", "authorName": "Tom Teacher", "at": original["createdAt"], "messageId": original["id"]}
    pushed = await other.expect("message:new", lambda f: f["data"]["id"] == sent["id"])
    assert pushed["data"]["forwarded"] == sent["forwarded"]
    # a retry is the same message, stored and pushed once
    status, again = await forward(api, "st1", original["id"], project["id"], clientMsgId="fw-1")
    assert status == 200 and again["data"]["id"] == sent["id"]
    await other.none("message:new", lambda f: f["data"]["id"] != sent["id"])
    assert await texts(api, "st3", project["id"]) == ["Test on Friday: chapters 3 and 4"]
    # a forward of the forward keeps the first attribution; over the socket too
    me = await ws("st1")
    direct = await api.conversation("st1", "direct", ["st2"])
    reply = await me.ok("message:forward", {"messageId": sent["id"], "conversationId": direct["id"]})
    assert reply["forwarded"] == sent["forwarded"] and reply["conversationId"] == direct["id"]
    # the source conversation has no forward in it and its message is unchanged
    assert await texts(api, "st2", klass["id"]) == ["Test on Friday: chapters 3 and 4"]


@pytest.mark.gen_test
async def test_a_forwarded_attachment_is_read_by_the_targets_members_without_a_copy(api, base_url, app, runtime):
    source = await api.conversation("st1", "group", ["st2"], title="Art")
    _, up = await upload(api, "st1", PDF, "poster.pdf", "application/pdf")
    upload_id = up["data"]["id"]
    original = await api.send("st1", source["id"], "our poster", type="file", attachments=[{"uploadId": upload_id}])
    target = await api.conversation("st2", "group", ["st3", "t2"], title="Club")
    url = original["attachments"][0]["url"]
    assert (await fetch(base_url, url, "st3")).code == 404  # not yet: st3 is not in Art
    status, data = await forward(api, "st2", original["id"], target["id"])
    assert status == 201, data
    sent = data["data"]
    assert sent["attachments"] == original["attachments"] and sent["type"] == "file"
    for member in ("st3", "t2", "st2", "st1"):
        resp = await fetch(base_url, url, member)
        assert resp.code == 200 and resp.body == PDF, member
    status, links = await api.post("/api/uploads/links", "st3", {"ids": [upload_id]})
    assert status == 200 and (await fetch(base_url, links["data"][upload_id]["url"])).body == PDF
    for outsider in ("t1", "x1"):
        assert (await fetch(base_url, url, outsider)).code == 404, outsider
    # by reference: one upload record, the original's, still claimed by the original message
    uploads = runtime.store.db.collection("uploads")
    assert uploads.count_documents({"ownerId": "st1"}) == 1 and uploads.count_documents({"ownerId": "st2"}) == 0
    meta = await service(app).repo.get(upload_id)
    assert meta["conversationId"] == source["id"] and meta["deletedAt"] is None
    # deleting the forward closes the file to the target only; the original keeps it
    assert (await api.delete("/api/messages/" + sent["id"], "st2"))[0] == 200
    assert (await fetch(base_url, url, "st3")).code == 404
    assert (await fetch(base_url, url, "st2")).code == 200
    assert (await service(app).repo.get(upload_id))["deletedAt"] is None
    # deleting the original withdraws the file from every forward (a removed image goes everywhere)
    status, data = await forward(api, "st2", original["id"], target["id"])
    assert status == 201 and (await fetch(base_url, url, "st3")).code == 200
    assert (await api.delete("/api/messages/" + original["id"], "st1"))[0] == 200
    assert (await fetch(base_url, url, "st3")).code == 404


@pytest.mark.gen_test
async def test_the_targets_policy_and_filters_apply_and_the_source_must_be_readable(api):
    klass = await api.conversation("t1", "class", classId="c1")
    news = await api.conversation("t1", "announcement", classId="c1")
    original = await api.send("t1", klass["id"], "you are a loser if you skip homework")
    # a student may not post in an announcement: nor forward into one
    result = await forward(api, "st1", original["id"], news["id"])
    assert refused(result, 403, "forbidden") and "read-only" in result[1]["error"]["message"]
    # a blocked sender may not post to its blocker: nor forward to it
    direct = await api.conversation("st1", "direct", ["st2"])
    assert (await api.put("/api/blocks/st1", "st2"))[0] == 200
    assert refused(await forward(api, "st1", original["id"], direct["id"]), 403, "policy_forbidden")
    # a conversation the forwarder is not in
    art = await api.conversation("t2", "class", classId="c2")
    assert refused(await forward(api, "st1", original["id"], art["id"]), 403, "forbidden")
    # a message the forwarder cannot read
    assert refused(await forward(api, "st3", original["id"], art["id"]), 403, "forbidden")
    assert (await forward(api, "st1", "0" * 24, klass["id"]))[0] == 404
    # the school's word filter applies to the forwarded text as to a typed one
    status, data = await api.put("/api/schools/s1/filters", "a1", {"lists": [
        {"name": "Bullying", "action": "block", "terms": ["loser"]}]})
    assert status == 200, data
    group = await api.conversation("st1", "group", ["st2"], title="Friends")
    result = await forward(api, "st1", original["id"], group["id"])
    assert refused(result, 422, "content_blocked") and "Bullying" in result[1]["error"]["message"]
    assert await texts(api, "st2", group["id"]) == []
    status, data = await forward(api, "st1", original["id"], "nope")
    assert status in (403, 404)
    assert refused(await api.post(FWD % original["id"], "st1", {}), 400, "bad_request")


@pytest.mark.gen_test
async def test_a_deleted_or_retention_removed_original_is_refused_with_410(api, runtime, clock):
    group = await api.conversation("st1", "group", ["st2"], title="G")
    target = await api.conversation("st2", "group", ["st3"], title="H")
    gone = await api.send("st1", group["id"], "oops")
    assert (await api.delete("/api/messages/" + gone["id"], "st1"))[0] == 200
    result = await forward(api, "st2", gone["id"], target["id"])
    assert refused(result, 410, "message_gone") and "deleted" in result[1]["error"]["message"]
    old = await api.send("st1", group["id"], "from last year")
    doc = await runtime.store.messages.get(old["id"])
    assert await runtime.store.retention.purge([doc], "retention", int(clock.time() * 1000)) == [old["id"]]
    result = await forward(api, "st2", old["id"], target["id"])
    assert refused(result, 410, "message_gone") and "retention" in result[1]["error"]["message"]
    assert await texts(api, "st3", target["id"]) == []


@pytest.mark.gen_test
async def test_forwarding_out_of_an_announcement_keeps_its_author(api, ws):
    news = await api.conversation("t1", "announcement", classId="c1")
    original = await api.send("t1", news["id"], "No school on Monday")
    group = await api.conversation("st1", "group", ["st2"], title="Us")
    friend = await ws("st2")
    sent: Dict[str, Any] = (await forward(api, "st1", original["id"], group["id"]))[1]["data"]
    assert sent["senderId"] == "st1"
    assert sent["forwarded"]["authorId"] == "t1" and sent["forwarded"]["authorName"] == "Tom Teacher"
    assert sent["forwarded"]["conversationType"] == "announcement"
    pushed = await friend.expect("message:new", lambda f: f["data"]["id"] == sent["id"])
    assert pushed["data"]["forwarded"]["authorId"] == "t1"


@pytest.mark.gen_test
async def test_a_refused_forward_of_a_file_leaves_no_row_and_a_row_counts_only_in_its_school(api, runtime):
    from chat.auth import Identity
    source = await api.conversation("st1", "group", ["st2"], title="Art")
    _, up = await upload(api, "st1", PDF, "poster.pdf", "application/pdf")
    upload_id = up["data"]["id"]
    original = await api.send("st1", source["id"], "our poster", type="file", attachments=[{"uploadId": upload_id}])
    rows = runtime.store.db.collection("forwarded_uploads")
    # a conversation the forwarder is not in; one whose member blocked the forwarder; a filtered text
    art = await api.conversation("t2", "class", classId="c2")
    assert refused(await forward(api, "st2", original["id"], art["id"]), 403, "forbidden")
    direct = await api.conversation("st2", "direct", ["st3"])
    assert (await api.put("/api/blocks/st2", "st3"))[0] == 200
    assert refused(await forward(api, "st2", original["id"], direct["id"]), 403, "policy_forbidden")
    assert rows.count_documents({"uploadId": upload_id}) == 0
    # a sent forward writes its row
    target = await api.conversation("st2", "group", ["t1"], title="Club")
    status, data = await forward(api, "st2", original["id"], target["id"], clientMsgId="f-1")
    assert status == 201, data
    assert rows.count_documents({"uploadId": upload_id, "conversationId": target["id"]}) == 1
    # the row lets in the target's members of this school only (the same user id in another school: no)
    meta = await runtime.uploads.repo.get(upload_id)
    carries = runtime.service.forwarding.carries
    assert await carries(meta, Identity("t1", "teacher", "s1", "", 0))
    assert not await carries(meta, Identity("t1", "teacher", "s2", "", 0))
