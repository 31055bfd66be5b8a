"""The school policy (README "School policy"): GET/PUT /api/schools/{id}/policy, its
enforcement on REST and socket paths, the read-only state of conversations a tightened policy
governs, and the ``school:policy`` push (real server, real nx-27017)."""
from __future__ import annotations

import os
from typing import Any, Dict

import pytest

from chat.ops.config_file import validate
from chat.settings import Settings
from tests.conftest import Api, token
from tests.e2e.test_cluster import REDIS, connect, run, subscribed

pytestmark = pytest.mark.usefixtures("school")

POLICY = "/api/schools/s1/policy"
OPEN = {"open": True, "opensAt": None, "opensAtMs": None, "closesAt": None, "closesAtMs": None, "holiday": None}
DEFAULT = {"studentDirect": "any", "studentGroups": "allowed", "studentsMayMessageAdmins": True,
           "reviewNotice": True}
DEFAULT.update({"timeZone": "UTC", "quietHours": {}, "holidays": []})  # oversight: quiet hours


async def put(api: Any, body: Dict[str, Any], user: str = "a1") -> Dict[str, Any]:
    status, data = await api.put(POLICY, user, body)
    assert status == 200, (status, data)
    return data["data"]["policy"]


async def start(api: Any, user: str, kind: str, others: Any, **fields: Any) -> Any:
    body = dict({"type": kind, "participantIds": list(others)}, **fields)
    return await api.post("/api/conversations", user, body)


def refused(result: Any) -> bool:
    status, data = result
    return status == 403 and data["error"]["code"] == "policy_forbidden" and data["error"]["message"]


# ------------------------------------------------------------------ the document
@pytest.mark.gen_test
async def test_any_member_reads_the_policy_with_its_defaults_and_another_school_gets_404(api):
    for user in ("st1", "t1", "a1"):
        status, data = await api.get(POLICY, user)
        assert status == 200 and data["data"] == {"schoolId": "s1", "policy": DEFAULT, "sending": OPEN}
    for user in ("x1", "x2"):
        status, data = await api.get(POLICY, user)
        assert status == 404 and data["error"]["code"] == "not_found"
    status, _ = await api.get("/api/schools/s2/policy", "st1")
    assert status == 404


@pytest.mark.gen_test
@pytest.mark.settings(policy_student_direct="staff_only", policy_students_may_message_admins=False)
async def test_the_defaults_come_from_settings(api):
    status, data = await api.get(POLICY, "st1")
    assert data["data"]["policy"] == dict(DEFAULT, studentDirect="staff_only", studentsMayMessageAdmins=False)
    assert refused(await start(api, "st1", "direct", ["st2"]))


@pytest.mark.gen_test
async def test_only_the_schools_admins_change_it_and_another_schools_admin_gets_404(api, runtime):
    for user in ("st1", "t1"):
        status, data = await api.put(POLICY, user, {"studentDirect": "none"})
        assert status == 403 and data["error"]["code"] == "forbidden"
    other_admin = token("y9", role="admin", school="s2", name="Yan Admin")
    status, data = await api.put(POLICY, other_admin, {"studentDirect": "none"})
    assert status == 404 and data["error"]["code"] == "not_found"
    assert (await api.get(POLICY, "st1"))[1]["data"]["policy"] == DEFAULT  # nothing changed
    assert await put(api, {"studentDirect": "none"}) == dict(DEFAULT, studentDirect="none")
    assert (await api.get(POLICY, "t1"))[1]["data"]["policy"]["studentDirect"] == "none"
    changes = await runtime.store.policies.changes_of("s1")
    assert [(c["actorId"], c["previous"]["studentDirect"], c["policy"]["studentDirect"]) for c in changes] == [
        ("a1", "any", "none")]
    assert isinstance(changes[0]["at"], int)


@pytest.mark.gen_test
@pytest.mark.parametrize("body", [
    {}, [], "none", {"studentDirect": "nobody"}, {"studentGroups": "sometimes"},
    {"studentsMayMessageAdmins": "no"}, {"studentsMayMessageAdmins": 0}, {"colour": "red"},
    {"studentDirect": "none", "extra": 1}, {"studentDirect": None},
])
async def test_a_bad_body_is_400_and_changes_nothing(api, runtime, body):
    status, data = await api.put(POLICY, "a1", body)
    assert status == 400 and data["error"]["code"] == "bad_request", body
    assert (await api.get(POLICY, "a1"))[1]["data"]["policy"] == DEFAULT
    assert await runtime.store.policies.changes_of("s1") == []


@pytest.mark.gen_test
async def test_a_change_is_pushed_to_the_schools_sockets_only(api, ws):
    student, teacher, other = await ws("st1"), await ws("t1"), await ws("x1")
    await put(api, {"studentGroups": "supervised"})
    want = {"schoolId": "s1", "policy": dict(DEFAULT, studentGroups="supervised")}
    for sock in (student, teacher):
        assert (await sock.expect("school:policy"))["data"] == want
    await other.none("school:policy")


# ------------------------------------------------------------------ studentDirect
@pytest.mark.gen_test
async def test_student_direct_each_value(api):
    # st1 and st2 share c1 (teacher t1); st3 is in c2 (teacher t2)
    expected = {
        "any": {"st2": True, "st3": True, "t2": True, "a1": True},
        "classmates": {"st2": True, "st3": False, "t2": True, "a1": True},
        "staff_only": {"st2": False, "st3": False, "t2": True, "a1": True},
        "none": {"st2": False, "st3": False, "t2": False, "a1": False},
    }
    for value, allowed in expected.items():
        await put(api, {"studentDirect": value})
        for other, ok in allowed.items():
            result = await start(api, "st1", "direct", [other])
            assert (result[0] in (200, 201)) == ok and (ok or refused(result)), (value, other, result)
        # staff may always message anyone of the school
        for staff in ("t1", "a1"):
            assert (await start(api, staff, "direct", ["st3"]))[0] in (200, 201), (value, staff)


@pytest.mark.gen_test
async def test_students_may_not_message_admins(api, ws):
    await put(api, {"studentsMayMessageAdmins": False})
    assert refused(await start(api, "st1", "direct", ["a1"]))
    assert (await start(api, "st1", "direct", ["t1"]))[0] == 201
    assert refused(await start(api, "st1", "group", ["st2", "a1"], title="G"))
    group = await api.conversation("st1", "group", ["st2"], title="G")
    assert refused(await api.post("/api/conversations/%s/participants" % group["id"], "st1", {"userIds": ["a1"]}))
    assert (await api.post("/api/conversations/%s/participants" % group["id"], "st1", {"userIds": ["t1"]}))[0] == 200
    assert (await start(api, "a1", "direct", ["st1"]))[0] == 201  # an admin may start one
    await put(api, {"studentsMayMessageAdmins": True})
    assert (await start(api, "st2", "direct", ["a1"]))[0] == 201


# ------------------------------------------------------------------ studentGroups
@pytest.mark.gen_test
async def test_staff_only_groups(api):
    await put(api, {"studentGroups": "staff_only"})
    assert refused(await start(api, "st1", "group", ["st2", "t1"], title="G"))
    assert (await start(api, "t1", "group", ["st1", "st2"], title="G"))[0] == 201


@pytest.mark.gen_test
async def test_supervised_groups_keep_a_member_of_staff(api):
    loose = await api.conversation("st1", "group", ["st2", "t1"], title="Loose")
    await put(api, {"studentGroups": "allowed", "studentDirect": "none"})  # allowed: no staff needed
    assert (await api.delete("/api/conversations/%s/participants/t1" % loose["id"], "t1"))[0] == 200
    await api.send("st1", loose["id"], "still fine")
    await put(api, {"studentGroups": "supervised"})
    assert refused(await start(api, "st1", "group", ["st2"], title="G"))
    group = await api.conversation("st1", "group", ["st2", "t1"], title="G")
    gid = group["id"]
    assert refused(await api.delete("/api/conversations/%s/participants/t1" % gid, "t1"))  # leave
    assert refused(await api.delete("/api/conversations/%s/participants/t1" % gid, "st1"))  # owner removes
    await api.post("/api/conversations/%s/participants" % gid, "st1", {"userIds": ["t2"]})
    assert (await api.delete("/api/conversations/%s/participants/t1" % gid, "t1"))[0] == 200  # t2 stays
    assert refused(await api.delete("/api/conversations/%s/participants/t2" % gid, "t2"))
    assert (await api.delete("/api/conversations/%s/participants/st2" % gid, "st2"))[0] == 200  # students leave
    # a staff-only group may lose its staff
    staff = await api.conversation("t1", "group", ["t2"], title="Staff")
    assert (await api.delete("/api/conversations/%s/participants/t2" % staff["id"], "t2"))[0] == 200


# ------------------------------------------------------------------ tightening and loosening
def policy_texts(page: Any) -> Any:
    return [m["text"] for m in page["data"] if m["type"] == "system" and "policy" in m["text"]]


@pytest.mark.gen_test
async def test_tightening_makes_conversations_read_only_for_students_and_loosening_restores_them(api, ws):
    pair = await api.conversation("st1", "direct", ["st2"])          # students, classmates
    far = await api.conversation("st1", "direct", ["st3"])           # students, not classmates
    teacher = await api.conversation("t1", "direct", ["st1"])        # a teacher started it
    group = await api.conversation("st1", "group", ["st2"], title="Just us")
    sock = await ws("st1")
    await put(api, {"studentDirect": "classmates", "studentGroups": "supervised"})
    await sock.expect("school:policy")
    # the affected conversations say why, the others say nothing
    for conv in (far, group):
        status, page = await api.get("/api/conversations/%s/messages" % conv["id"], "st1")
        assert len(policy_texts(page)) == 1 and "can no longer post" in policy_texts(page)[0]
    for conv in (pair, teacher):
        assert policy_texts((await api.get("/api/conversations/%s/messages" % conv["id"], "st1"))[1]) == []
    # REST: refused for the students, history still readable, nothing deleted
    for user in ("st1", "st3"):
        result = await api.post("/api/conversations/%s/messages" % far["id"], user, {"text": "hi"})
        assert refused(result), result
    assert refused(await api.post("/api/conversations/%s/messages" % group["id"], "st2", {"text": "hi"}))
    await api.send("st1", pair["id"], "classmates may")
    await api.send("st1", teacher["id"], "a teacher's conversation is fine")
    # socket: message:send refused with policy_forbidden
    reply = await sock.request("message:send", {"conversationId": far["id"], "text": "hi", "clientMsgId": "w1"})
    assert reply["ok"] is False and reply["error"]["code"] == "policy_forbidden", reply
    reply = await sock.request("message:send", {"conversationId": group["id"], "text": "hi", "clientMsgId": "w2"})
    assert reply["ok"] is False and reply["error"]["code"] == "policy_forbidden", reply
    # a member of staff added to the group makes it supervised again
    await api.post("/api/conversations/%s/participants" % group["id"], "st1", {"userIds": ["t1"]})
    await api.send("st2", group["id"], "supervised now")
    # loosening restores the rest, and says so
    await put(api, {"studentDirect": "any", "studentGroups": "allowed"})
    status, page = await api.get("/api/conversations/%s/messages" % far["id"], "st1")
    assert "again" in policy_texts(page)[-1]
    await sock.ok("message:send", {"conversationId": far["id"], "text": "hi again", "clientMsgId": "w3"})
    await api.send("st3", far["id"], "hello")


@pytest.mark.gen_test
async def test_edits_in_a_read_only_conversation_are_refused_for_students(api, ws):
    conv = await api.conversation("st1", "direct", ["st2"])
    msg = await api.send("st1", conv["id"], "before")
    await put(api, {"studentDirect": "staff_only"})
    assert refused(await api.patch("/api/messages/%s" % msg["id"], "st1", {"text": "after"}))
    sock = await ws("st1")
    reply = await sock.request("message:edit", {"messageId": msg["id"], "text": "after"})
    assert reply["ok"] is False and reply["error"]["code"] == "policy_forbidden", reply


@pytest.mark.gen_test
async def test_the_admin_rule_makes_a_students_direct_conversation_with_an_admin_read_only(api):
    conv = await api.conversation("st1", "direct", ["a1"])
    mine = await api.conversation("a1", "direct", ["st2"])
    await put(api, {"studentsMayMessageAdmins": False})
    assert refused(await api.post("/api/conversations/%s/messages" % conv["id"], "st1", {"text": "hi"}))
    await api.send("a1", conv["id"], "the admin may still write")
    await api.send("st2", mine["id"], "an admin started this one")


def test_the_default_policy_settings_take_only_their_words(tmp_path):
    base = Settings(data_dir=str(tmp_path), event_loop="asyncio")
    assert validate(base) == []
    problems = validate(base.replace(policy_student_direct="nobody", policy_student_groups="sometimes"))
    assert "policy_student_direct must be any, classmates, staff_only or none, not 'nobody'" in problems
    assert "policy_student_groups must be allowed, supervised or staff_only, not 'sometimes'" in problems



@pytest.mark.gen_test
async def test_the_policy_store_operations_answer_exactly(api, runtime):
    store = runtime.store.policies
    assert await store.get("s9") is None
    fields = {"studentDirect": "none", "studentGroups": "supervised", "studentsMayMessageAdmins": 0}
    previous = {"studentDirect": "any", "studentGroups": "allowed", "studentsMayMessageAdmins": 1}
    change_id = await store.put("s9", fields, previous, "a1", 1234)
    pending = dict(pendingId=change_id, pendingPrevious=previous, pendingActor="a1", pendingAt=1234)
    assert await store.get("s9") == dict(fields, id="s9", updatedAt=1234, updatedBy="a1", **pending)
    assert [d["id"] for d in await store.pending()] == ["s9"]
    await store.settle("s9", "0" * 24)  # another change's id: still pending
    assert [d["id"] for d in await store.pending()] == ["s9"]
    await store.settle("s9", change_id)
    assert await store.pending() == []
    assert await store.get("s9") == dict(fields, id="s9", updatedAt=1234, updatedBy="a1", pendingId=None,
                                         pendingPrevious=None, pendingActor=None, pendingAt=0)
    assert await store.get("s2") is None
    [change] = await store.changes_of("s9")
    assert change["id"] == change_id
    assert {k: v for k, v in change.items() if k != "id"} == {
        "school": "s9", "actorId": "a1", "at": 1234, "previous": previous, "policy": fields}
    assert await store.changes_of("s2") == []
    assert await store.school_roles("s2") == {"x1": "teacher", "x2": "student"}
    direct = await api.conversation("t1", "direct", ["st1"])
    group = await api.conversation("st1", "group", ["st2"], title="G")
    await api.conversation("t1", "class", classId="c1")
    await api.conversation("x1", "direct", ["x2"])
    found = sorted(await store.school_conversations("s1"), key=lambda d: d["type"])
    assert [(d["id"], d["type"], d["createdBy"], sorted(d["memberIds"])) for d in found] == [
        (direct["id"], "direct", "t1", ["st1", "t1"]), (group["id"], "group", "st1", ["st1", "st2"])]

# ------------------------------------------------------------------ a cluster
@pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")
def test_a_change_on_one_node_is_pushed_and_enforced_on_the_other(cluster):  # noqa: F811
    # policy_refresh far below any request's time: node b reads the policy for each decision, so
    # the test waits on answers, never on the refresh interval
    a, b = cluster.start(2, policy_refresh=0.001)

    async def main() -> None:
        api_a, api_b = Api(a.url), Api(b.url)
        conv = await api_b.conversation("st1", "direct", ["st3"])
        await api_b.send("st1", conv["id"], "before")
        sock = await connect(b, "st1")
        await subscribed(b)
        await subscribed(a)
        status, data = await api_a.put(POLICY, "a1", {"studentDirect": "classmates"})
        assert status == 200, data
        pushed = await sock.expect("school:policy")
        assert pushed["data"]["policy"]["studentDirect"] == "classmates"
        note = await sock.expect("message:new", lambda f: f["data"]["type"] == "system")
        assert "can no longer post" in note["data"]["text"]
        reply = await sock.request("message:send", {"conversationId": conv["id"], "text": "hi", "clientMsgId": "c1"})
        assert reply["ok"] is False and reply["error"]["code"] == "policy_forbidden", reply
        assert refused(await api_b.post("/api/conversations", "st1", {"type": "direct", "participantIds": ["st3"]}))
        await api_a.put(POLICY, "a1", {"studentDirect": "any"})
        await sock.ok("message:send", {"conversationId": conv["id"], "text": "again", "clientMsgId": "c2"})
        await sock.close()
    run(main())


# ------------------------------------------------------------------ a change a crash interrupted
@pytest.mark.gen_test
async def test_a_change_interrupted_before_its_system_messages_is_completed_once(api, runtime):
    """A crash between storing a change and telling its conversations leaves the change pending
    (stored straight through the repository here, as the crashed process had); start-up's
    resume_pending or the school's next PUT posts the system messages, each once however often
    it is completed."""
    far = await api.conversation("st1", "direct", ["st3"])  # students, not classmates
    group = await api.conversation("st1", "group", ["st2"], title="Just us")
    policies = runtime.store.policies
    before = {"studentDirect": "any", "studentGroups": "allowed", "studentsMayMessageAdmins": 1}
    change_id = await policies.put("s1", dict(before, studentDirect="staff_only"), before, "a1", 1)
    assert [d["id"] for d in await policies.pending()] == ["s1"]

    async def notes(conv: Any) -> Any:
        return policy_texts((await api.get("/api/conversations/%s/messages" % conv["id"], "st1"))[1])
    assert await notes(far) == []
    service = runtime.service.school_policy
    assert await service.resume_pending() == 1  # as at start-up
    assert len(await notes(far)) == 1 and "can no longer post" in (await notes(far))[0]
    assert await notes(group) == []  # groups are not governed by studentDirect
    assert await policies.pending() == []
    assert refused(await api.post("/api/conversations/%s/messages" % far["id"], "st1", {"text": "hi"}))
    # a crash after the messages and before settling: completing it again posts nothing twice
    await runtime.store.db.io(lambda: runtime.store.db.blocking_handle()["school_policies"].update_one(
        {"_id": "s1"}, {"$set": {"pendingId": change_id, "pendingPrevious": before, "pendingActor": "a1",
                                 "pendingAt": 1}}))
    assert await service.resume_pending() == 1
    assert len(await notes(far)) == 1
    # the next PUT completes a pending one first, then tells its own
    stored = dict(before, studentDirect="staff_only")
    await policies.put("s1", dict(stored, studentGroups="supervised"), stored, "a1", 2)
    await put(api, {"studentGroups": "staff_only"})
    group_notes = await notes(group)
    assert len(group_notes) == 1 and "can no longer post" in group_notes[0], group_notes
    assert await policies.pending() == []
    status, data = await api.get(POLICY, "st1")
    assert data["data"]["policy"] == dict(DEFAULT, studentDirect="staff_only", studentGroups="staff_only")
