"""Safeguarding: blocks, conversation mutes and slow mode (README "Blocks, mutes and slow
mode"), end to end through REST and sockets. Durations run on an injected ManualClock: no test
here waits for wall time."""
from __future__ import annotations

from typing import Any, Dict, Tuple

import pytest

from chat.domain.safety.blockbook import BlockBook

pytestmark = [pytest.mark.usefixtures("school"), pytest.mark.manual_clock]  # the server runs on the clock fixture



def code(result: Tuple[int, Dict[str, Any]]) -> Tuple[int, str]:
    status, body = result
    return status, (body.get("error") or {}).get("code", "")


async def send_code(api: Any, user: str, conversation_id: str, text: str, **fields: Any) -> Tuple[int, str]:
    body = dict({"text": text}, **fields)
    return code(await api.post("/api/conversations/%s/messages" % conversation_id, user, body))


async def ws_send(client: Any, conversation_id: str, text: str, **fields: Any) -> Dict[str, Any]:
    return await client.request("message:send", dict({"conversationId": conversation_id, "text": text}, **fields))


# ---------------------------------------------------------------------- blocks
@pytest.mark.gen_test
async def test_block_unblock_and_list(api):
    status, body = await api.put("/api/blocks/st2", "st1")
    assert status == 200 and body["data"]["userId"] == "st2" and body["data"]["name"] == "Sue Student"
    assert body["data"]["role"] == "student" and body["data"]["createdAt"].endswith("Z")
    again = await api.put("/api/blocks/st2", "st1")  # idempotent
    assert again[0] == 200 and again[1]["data"]["createdAt"] == body["data"]["createdAt"]
    assert (await api.put("/api/blocks/st3", "st1"))[0] == 200
    status, listed = await api.get("/api/blocks", "st1")
    assert status == 200 and sorted(b["userId"] for b in listed["data"]) == ["st2", "st3"]
    assert listed["hasMore"] is False
    assert (await api.get("/api/blocks", "st2"))[1]["data"] == []  # the blocked user's own list
    status, body = await api.delete("/api/blocks/st2", "st1")
    assert status == 200 and body["data"] == {"userId": "st2"}
    assert (await api.delete("/api/blocks/st2", "st1"))[0] == 200  # idempotent
    assert [b["userId"] for b in (await api.get("/api/blocks", "st1"))[1]["data"]] == ["st3"]


@pytest.mark.gen_test
async def test_block_refusals(api):
    assert code(await api.put("/api/blocks/st1", "st1")) == (409, "conflict")  # what it names, not malformed
    assert code(await api.put("/api/blocks/x1", "st1")) == (404, "not_found")  # another school
    assert code(await api.put("/api/blocks/nobody", "st1")) == (404, "not_found")
    assert code(await api.delete("/api/blocks/x2", "st1")) == (404, "not_found")
    status, body = await api.put("/api/blocks/t1", "st1")  # a school rule: students cannot block staff
    assert (status, body["error"]["code"]) == (403, "policy_forbidden")
    assert "students cannot block" in body["error"]["message"]
    assert code(await api.put("/api/blocks/a1", "st2")) == (403, "policy_forbidden")
    assert (await api.get("/api/blocks", "st1"))[1]["data"] == []
    assert (await api.put("/api/blocks/st1", "t1"))[0] == 200  # staff may block a student
    assert (await api.put("/api/blocks/t2", "t1"))[0] == 200
    assert code(await api.put("/api/blocks/st1", "x1")) == (404, "not_found")


@pytest.mark.gen_test
async def test_a_block_refuses_direct_conversations_both_ways(api):
    assert (await api.put("/api/blocks/st2", "st1"))[0] == 200
    for me, other in (("st1", "st2"), ("st2", "st1")):
        status, body = await api.post("/api/conversations", me, {"type": "direct", "participantIds": [other]})
        assert (status, body["error"]["code"]) == (403, "policy_forbidden"), (me, body)
    assert (await api.get("/api/conversations", "st1"))[1]["data"] == []
    # a group with both is not a direct conversation
    await api.conversation("st1", "group", ["st2"], title="G")
    await api.delete("/api/blocks/st2", "st1")
    conv = await api.conversation("st2", "direct", ["st1"])
    assert conv["type"] == "direct"


@pytest.mark.gen_test
async def test_an_existing_direct_conversation_is_read_only_for_the_blocked_user(api, ws):
    conv = await api.conversation("st1", "direct", ["st2"])
    earlier = await api.send("st2", conv["id"], "hello")
    blocker, blocked = await ws("st1"), await ws("st2")
    assert (await api.put("/api/blocks/st2", "st1"))[0] == 200
    reply = await ws_send(blocked, conv["id"], "are you there?")
    assert reply["ok"] is False and reply["error"]["code"] == "policy_forbidden"
    assert await send_code(api, "st2", conv["id"], "hello?") == (403, "policy_forbidden")
    edit = await blocked.request("message:edit", {"messageId": earlier["id"], "text": "changed"})
    assert edit["error"]["code"] == "policy_forbidden"
    assert code(await api.patch("/api/messages/%s" % earlier["id"], "st2", {"text": "x"})) == (403, "policy_forbidden")
    # the blocker may still write
    sent = await blocker.ok("message:send", {"conversationId": conv["id"], "text": "please stop"})
    assert sent["senderId"] == "st1"
    await api.send("st1", conv["id"], "bye")
    await blocked.expect("message:new", lambda f: f["data"]["id"] == sent["id"])
    page = (await api.get("/api/conversations/%s/messages" % conv["id"], "st1"))[1]["data"]
    assert [m["text"] for m in page] == ["hello", "please stop", "bye"]
    await api.delete("/api/blocks/st2", "st1")
    assert (await blocked.ok("message:send", {"conversationId": conv["id"], "text": "sorry"}))["senderId"] == "st2"


@pytest.mark.gen_test
async def test_the_blocked_users_mentions_of_the_blocker_notify_nothing(api, ws):
    conv = await api.conversation("t1", "group", ["st1", "st2", "st3"], title="Project")
    assert (await api.put("/api/blocks/st2", "st1"))[0] == 200
    rest = await api.send("st2", conv["id"], "@Sam @Stan look", mentions=["st1", "st3"])
    assert rest["mentions"] == ["st3"]
    sender = await ws("st2")
    sock = await sender.ok("message:send", {"conversationId": conv["id"], "text": "@Sam", "mentions": ["st1"]})
    assert sock["mentions"] == []
    unread = {c["conversationId"]: c for c in (await api.get("/api/unread", "st1"))[1]["data"]["conversations"]}
    assert unread[conv["id"]]["unread"] == 2 and unread[conv["id"]]["mentions"] == 0  # delivered, not a mention
    unread = {c["conversationId"]: c for c in (await api.get("/api/unread", "st3"))[1]["data"]["conversations"]}
    assert unread[conv["id"]]["mentions"] == 1
    # others' mentions of the blocker are untouched
    assert (await api.send("st3", conv["id"], "@Sam", mentions=["st1"]))["mentions"] == ["st1"]
    # and the blocker's of the blocked user too
    assert (await api.send("st1", conv["id"], "@Sue", mentions=["st2"]))["mentions"] == ["st2"]


# ---------------------------------------------------------------------- mutes
@pytest.mark.gen_test
async def test_a_mute_answers_muted_until_it_ends(api, ws, clock):
    conv = await api.conversation("t1", "class", classId="c1")
    student = await ws("st1")
    status, body = await api.put("/api/conversations/%s/mutes/st1" % conv["id"], "t1", {"minutes": 10})
    assert status == 200, body
    mute = body["data"]
    assert mute["userId"] == "st1" and mute["mutedBy"] == "t1" and mute["until"].endswith("Z")
    reply = await ws_send(student, conv["id"], "hi")
    assert reply["ok"] is False and reply["error"]["code"] == "muted"
    assert mute["until"] in reply["error"]["message"]
    status, body = await api.post("/api/conversations/%s/messages" % conv["id"], "st1", {"text": "hi"})
    assert (status, body["error"]["code"]) == (403, "muted")
    assert (await ws_send(await ws("st2"), conv["id"], "others still talk"))["ok"] is True
    listed = (await api.get("/api/conversations/%s/mutes" % conv["id"], "t1"))[1]["data"]
    assert [m["userId"] for m in listed] == ["st1"] and listed[0]["until"] == mute["until"]
    clock.advance(10 * 60 - 1)
    assert (await ws_send(student, conv["id"], "now?"))["error"]["code"] == "muted"
    clock.advance(2)  # past the end
    assert (await ws_send(student, conv["id"], "back"))["ok"] is True
    assert await send_code(api, "st1", conv["id"], "back again") == (201, "")
    assert (await api.get("/api/conversations/%s/mutes" % conv["id"], "t1"))[1]["data"] == []


@pytest.mark.gen_test
async def test_unmute_lifts_it_and_a_new_mute_replaces_the_old(api, ws):
    conv = await api.conversation("t1", "class", classId="c1")
    student = await ws("st1")
    mine = await api.send("st1", conv["id"], "before")
    await api.put("/api/conversations/%s/mutes/st1" % conv["id"], "t1", {"minutes": 60})
    edit = await student.request("message:edit", {"messageId": mine["id"], "text": "edited while muted"})
    assert edit["error"]["code"] == "muted"
    second = (await api.put("/api/conversations/%s/mutes/st1" % conv["id"], "a1", {"minutes": 1}))[1]["data"]
    listed = (await api.get("/api/conversations/%s/mutes" % conv["id"], "t1"))[1]["data"]
    assert [m["until"] for m in listed] == [second["until"]] and listed[0]["mutedBy"] == "a1"
    status, body = await api.delete("/api/conversations/%s/mutes/st1" % conv["id"], "t1")
    assert status == 200 and body["data"] == {"conversationId": conv["id"], "userId": "st1"}
    assert (await api.delete("/api/conversations/%s/mutes/st1" % conv["id"], "t1"))[0] == 200
    assert (await ws_send(student, conv["id"], "free"))["ok"] is True


@pytest.mark.gen_test
async def test_only_managers_and_staff_in_class_conversations_may_mute(api):
    klass = await api.conversation("t1", "class", classId="c1")
    path = "/api/conversations/%s/mutes/%s"
    assert code(await api.put(path % (klass["id"], "st1"), "st2", {"minutes": 5})) == (403, "forbidden")
    assert code(await api.get("/api/conversations/%s/mutes" % klass["id"], "st2")) == (403, "forbidden")
    assert code(await api.delete(path % (klass["id"], "st1"), "st2")) == (403, "forbidden")
    # any teacher of the school moderates a class conversation (policy.moderates), participant or not
    assert (await api.put(path % (klass["id"], "st1"), "t2", {"minutes": 5}))[0] == 200
    assert code(await api.put(path % (klass["id"], "st1"), "x1", {"minutes": 5})) == (403, "forbidden")
    assert code(await api.put(path % (klass["id"], "t1"), "t1", {"minutes": 5})) == (409, "conflict")
    assert code(await api.put(path % (klass["id"], "st3"), "t1", {"minutes": 5})) == (404, "not_found")
    for bad in ({"minutes": 0}, {"minutes": 10081}, {}, {"minutes": "5"}, {"minutes": 5, "why": "x"}):
        assert code(await api.put(path % (klass["id"], "st1"), "t1", bad)) == (400, "bad_request"), bad
    assert code(await api.put(path % ("0" * 24, "st1"), "t1", {"minutes": 5})) == (404, "not_found")
    # a group: its owner (a student here) manages it, but never mutes staff
    group = await api.conversation("st1", "group", ["st2", "t1"], title="G")
    assert (await api.put(path % (group["id"], "st2"), "st1", {"minutes": 5}))[0] == 200
    status, body = await api.put(path % (group["id"], "t1"), "st1", {"minutes": 5})
    assert (status, body["error"]["code"]) == (403, "policy_forbidden")
    assert code(await api.put(path % (group["id"], "st1"), "st2", {"minutes": 5})) == (403, "forbidden")
    assert code(await api.put(path % (group["id"], "st1"), "t1", {"minutes": 5})) == (403, "forbidden")
    assert code(await api.put(path % (group["id"], "st1"), "t2", {"minutes": 5})) == (403, "forbidden")
    assert await send_code(api, "st2", group["id"], "hi") == (403, "muted")
    assert await send_code(api, "t1", group["id"], "hi") == (201, "")


# ---------------------------------------------------------------------- slow mode
@pytest.mark.gen_test
async def test_slow_mode_one_message_per_interval_staff_exempt(api, ws, clock):
    conv = await api.conversation("t1", "class", classId="c1")
    other_student = await ws("st2")
    assert conv["slowModeSeconds"] == 0
    assert code(await api.patch("/api/conversations/%s" % conv["id"], "st1",
                                {"slowModeSeconds": 30})) == (403, "forbidden")
    assert code(await api.patch("/api/conversations/%s" % conv["id"], "t1",
                                {"slowModeSeconds": 3601})) == (400, "bad_request")
    status, body = await api.patch("/api/conversations/%s" % conv["id"], "t1", {"slowModeSeconds": 30})
    assert status == 200 and body["data"]["slowModeSeconds"] == 30
    changed = await other_student.expect("conversation:updated")
    assert changed["data"]["slowModeSeconds"] == 30
    assert (await api.get("/api/conversations/%s" % conv["id"], "st1"))[1]["data"]["slowModeSeconds"] == 30
    student = await ws("st1")
    assert (await ws_send(student, conv["id"], "one"))["ok"] is True
    reply = await ws_send(student, conv["id"], "two")
    assert reply["error"]["code"] == "muted" and "30 seconds" in reply["error"]["message"]
    status, body = await api.post("/api/conversations/%s/messages" % conv["id"], "st1", {"text": "two"})
    assert (status, body["error"]["code"]) == (403, "muted")
    assert (await ws_send(other_student, conv["id"], "mine"))["ok"] is True  # per member
    for text in ("staff", "are", "exempt"):
        assert await send_code(api, "t1", conv["id"], text) == (201, "")
    clock.advance(20)
    assert "10 seconds" in (await ws_send(student, conv["id"], "soon"))["error"]["message"]
    clock.advance(10)
    assert (await ws_send(student, conv["id"], "two"))["ok"] is True
    assert (await ws_send(student, conv["id"], "three"))["error"]["code"] == "muted"
    await api.patch("/api/conversations/%s" % conv["id"], "t1", {"slowModeSeconds": 0})
    assert (await ws_send(student, conv["id"], "three"))["ok"] is True


@pytest.mark.gen_test
async def test_slow_mode_is_not_for_direct_conversations(api):
    conv = await api.conversation("st1", "direct", ["st2"])
    assert code(await api.patch("/api/conversations/%s" % conv["id"], "st1",
                                {"slowModeSeconds": 10})) == (409, "conflict")



@pytest.mark.gen_test
async def test_the_block_cache_reads_through_and_expires_after_its_ttl(runtime, clock):
    """In a cluster another node's change reaches this one's cache within ``block_cache_ttl``
    (the two-node test runs it with 0); here the default-like TTL on the manual clock."""
    book = BlockBook(runtime.store, clock, ttl=5)
    assert (await book.of_user("st1")).made == frozenset()
    assert await book.mutes("c") == {}
    await runtime.store.blocks.put_block("s1", "st1", "st2", 1)  # as another node would
    await runtime.store.blocks.put_mute("c", "st3", 10 ** 13, "t1", 1)
    clock.advance(4.9)
    assert (await book.of_user("st1")).made == frozenset() and await book.mutes("c") == {}  # still trusted
    clock.advance(0.1)
    assert (await book.of_user("st1")).made == {"st2"} and (await book.of_user("st2")).against == {"st1"}
    assert await book.mutes("c") == {"st3": (10 ** 13, None)}
    await runtime.store.blocks.delete_block("st1", "st2")
    book.blocks_changed("st1", "st2")  # this node's own change: seen at once
    assert (await book.of_user("st1")).made == frozenset()
