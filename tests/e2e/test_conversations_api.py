"""End-to-end HTTP tests of the conversation half of the REST API (real server, real nx-27017)."""
from __future__ import annotations

import time

import jwt
import pytest

from tests.conftest import SECRET

pytestmark = pytest.mark.usefixtures("school")


@pytest.mark.gen_test
async def test_health_needs_no_auth_and_reports_storage(api):
    status, data = await api.get("/api/health")
    assert status == 200
    assert data["data"]["status"] == "ok" and data["data"]["storageUp"] is True
    assert "mongodb" in data["data"]["storage"] or "nx-27017" in data["data"]["storage"]


@pytest.mark.gen_test
async def test_bad_tokens_get_401(api):
    now = int(time.time())
    cases = {
        "missing": None,
        "malformed": "not-a-jwt",
        "expired": jwt.encode({"sub": "st1", "role": "student", "school": "s1", "exp": now - 120}, SECRET, "HS256"),
        "wrong signature": jwt.encode({"sub": "st1", "role": "student", "school": "s1", "exp": now + 60},
                                      "another-secret-another-secret-another", "HS256"),
        "unknown role": jwt.encode({"sub": "st1", "role": "janitor", "school": "s1", "exp": now + 60}, SECRET),
        "no exp": jwt.encode({"sub": "st1", "role": "student", "school": "s1"}, SECRET, "HS256"),
        "no school": jwt.encode({"sub": "st1", "role": "student", "exp": now + 60}, SECRET, "HS256"),
        "alg none": jwt.encode({"sub": "st1", "role": "student", "school": "s1", "exp": now + 60}, None, "none"),
    }
    for label, tok in cases.items():
        headers = {"Authorization": "Bearer " + tok} if tok else {}
        status, data = await api.get("/api/conversations", headers=headers)
        assert status == 401, label
        assert data["error"]["code"] == "unauthorized", label
    # within the 30 s leeway a just-expired token still works
    fresh = jwt.encode({"sub": "st1", "role": "student", "school": "s1", "exp": now - 5}, SECRET, "HS256")
    status, _ = await api.get("/api/conversations", headers={"Authorization": "Bearer " + fresh})
    assert status == 200


@pytest.mark.gen_test
async def test_claim_aliases_and_directory_upsert(api):
    tok = jwt.encode({"userId": "newbie", "schoolId": "s1", "role": "student", "name": "New Kid",
                      "exp": int(time.time()) + 60}, SECRET, "HS256")
    status, data = await api.get("/api/me", tok)
    assert status == 200 and data["data"] == {"id": "newbie", "name": "New Kid", "role": "student", "school": "s1"}
    # the token's user is now in the directory: others can start a conversation with it
    conv = await api.conversation("st1", "direct", ["newbie"])
    assert {p["userId"] for p in conv["participants"]} == {"st1", "newbie"}
    assert [p["name"] for p in conv["participants"] if p["userId"] == "newbie"] == ["New Kid"]


@pytest.mark.gen_test
async def test_direct_is_deduplicated_and_same_school_only(api):
    status, first = await api.post("/api/conversations", "st1", {"type": "direct", "participantIds": ["st2"]})
    assert status == 201
    status, again = await api.post("/api/conversations", "st2", {"type": "direct", "participantIds": ["st1"]})
    assert status == 200 and again["data"]["id"] == first["data"]["id"]
    # well formed but not allowed: other schools' and unknown users 403, not one other user 409
    for bad, expected in ((["x2"], 403), (["nobody"], 403), (["st1"], 409), (["st2", "st3"], 409), ([], 400)):
        status, data = await api.post("/api/conversations", "st1", {"type": "direct", "participantIds": bad})
        assert status == expected, bad
        assert data["error"]["code"] == {400: "bad_request", 403: "forbidden", 409: "conflict"}[expected]
    # the answer for another school's user is the same as for an unknown id
    _, a = await api.post("/api/conversations", "st1", {"type": "direct", "participantIds": ["x2"]})
    _, b = await api.post("/api/conversations", "st1", {"type": "direct", "participantIds": ["zzz"]})
    assert a["error"]["message"].replace("x2", "?") == b["error"]["message"].replace("zzz", "?")


@pytest.mark.gen_test
async def test_group_needs_title_and_creator_is_owner(api):
    status, data = await api.post("/api/conversations", "st1", {"type": "group", "participantIds": ["st2"]})
    assert status == 400
    conv = await api.conversation("st1", "group", ["st2", "st3"], title="Project")
    roles = {p["userId"]: p["role"] for p in conv["participants"]}
    assert roles == {"st1": "owner", "st2": "member", "st3": "member"}
    assert conv["title"] == "Project" and conv["unread"] == 0 and conv["lastMessage"] is None


@pytest.mark.gen_test
async def test_class_and_announcement_rules(api):
    # the class's teacher may create it; members are the class's teachers and students
    conv = await api.conversation("t1", "class", classId="c1")
    roles = {p["userId"]: p["role"] for p in conv["participants"]}
    assert roles == {"t1": "owner", "st1": "member", "st2": "member"}
    assert conv["title"] == "Maths 7A"
    # an admin of the school may too; teachers become admins of the conversation
    ann = await api.conversation("a1", "announcement", classId="c2", title="News")
    roles = {p["userId"]: p["role"] for p in ann["participants"]}
    assert roles == {"a1": "owner", "t2": "admin", "st3": "member"}
    # a student, a teacher of another class and another school's admin may not
    for user, class_id, expected in (("st1", "c1", 403), ("t2", "c1", 403), ("x1", "c1", 404), ("t1", "nope", 404)):
        status, _ = await api.post("/api/conversations", user, {"type": "class", "classId": class_id})
        assert status == expected, (user, class_id)
    status, _ = await api.post("/api/conversations", "t1", {"type": "announcement"})
    assert status == 400


@pytest.mark.gen_test
async def test_permission_matrix_for_reading_a_conversation(api):
    conv = await api.conversation("t1", "class", classId="c1")
    path = "/api/conversations/" + conv["id"]
    expected = {"t1": 200, "st1": 200, "st2": 200, "st3": 403, "t2": 403, "a1": 403, "x1": 403, "x2": 403}
    for user, code in expected.items():
        status, data = await api.get(path, user)
        assert status == code, user
        if code == 200:
            assert data["data"]["id"] == conv["id"]
        else:
            assert data["error"]["code"] == "forbidden"
    assert (await api.get("/api/conversations/" + "0" * 24, "t1"))[0] == 404
    assert (await api.get("/api/conversations/not-an-id", "t1"))[0] == 404
    assert (await api.get("/api/conversations/%00%ff", "t1"))[0] in (400, 404)  # undecodable path


@pytest.mark.gen_test
async def test_patch_title_and_personal_flags(api):
    conv = await api.conversation("st1", "group", ["st2"], title="Old")
    path = "/api/conversations/" + conv["id"]
    status, data = await api.patch(path, "st2", {"title": "Hijack"})
    assert status == 403
    status, data = await api.patch(path, "st1", {"title": "New"})
    assert status == 200 and data["data"]["title"] == "New"
    status, data = await api.patch(path, "st2", {"muted": True, "pinned": True})
    assert status == 200 and data["data"]["muted"] and data["data"]["pinned"] and not data["data"]["archived"]
    # flags are per caller
    _, mine = await api.get(path, "st1")
    assert not mine["data"]["muted"] and not mine["data"]["pinned"]
    status, data = await api.patch(path, "st2", {"muted": False})
    assert status == 200 and not data["data"]["muted"] and data["data"]["pinned"]
    for bad in ({"muted": "yes"}, {"title": 5}, {"title": "x" * 201}, {}, {"colour": "red"}, []):
        status, data = await api.patch(path, "st1", bad)
        assert status == 400, bad
    direct = await api.conversation("st1", "direct", ["st3"])
    status, _ = await api.patch("/api/conversations/" + direct["id"], "st1", {"title": "x"})
    assert status == 409


@pytest.mark.gen_test
async def test_list_order_filters_and_paging(api):
    g1 = await api.conversation("st1", "group", ["st2"], title="Alpha club")
    d1 = await api.conversation("st1", "direct", ["st3"])
    g2 = await api.conversation("st1", "group", ["t1"], title="Beta team")
    status, data = await api.get("/api/conversations", "st1")
    assert [c["id"] for c in data["data"]] == [g2["id"], d1["id"], g1["id"]]  # newest activity first
    await api.send("st2", g1["id"], "bump")  # activity moves it up
    _, data = await api.get("/api/conversations", "st1")
    assert [c["id"] for c in data["data"]][0] == g1["id"]
    assert data["data"][0]["unread"] == 1 and data["data"][0]["lastMessage"]["preview"] == "bump"
    await api.patch("/api/conversations/" + d1["id"], "st1", {"pinned": True})
    _, data = await api.get("/api/conversations", "st1")
    assert [c["id"] for c in data["data"]][0] == d1["id"]  # pinned first
    _, data = await api.get("/api/conversations?type=group", "st1")
    assert {c["id"] for c in data["data"]} == {g1["id"], g2["id"]}
    _, data = await api.get("/api/conversations?q=beta", "st1")
    assert [c["id"] for c in data["data"]] == [g2["id"]]
    _, data = await api.get("/api/conversations?q=stan", "st1")  # a participant's name
    assert [c["id"] for c in data["data"]] == [d1["id"]]
    await api.patch("/api/conversations/" + g2["id"], "st1", {"archived": True})
    _, data = await api.get("/api/conversations", "st1")
    assert g2["id"] not in {c["id"] for c in data["data"]}
    _, data = await api.get("/api/conversations?archived=true", "st1")
    assert [c["id"] for c in data["data"]] == [g2["id"]]
    _, page1 = await api.get("/api/conversations?limit=1", "st1")
    assert len(page1["data"]) == 1 and page1["hasMore"] is True and page1["next"] == 1
    _, page2 = await api.get("/api/conversations?limit=1&offset=1", "st1")
    assert page2["hasMore"] is False and page2["data"][0]["id"] != page1["data"][0]["id"]
    for bad in ("limit=0", "limit=101", "limit=x", "offset=-1", "type=chatroom", "archived=maybe"):
        status, _ = await api.get("/api/conversations?" + bad, "st1")
        assert status == 400, bad
    _, other = await api.get("/api/conversations", "x1")
    assert other["data"] == []


@pytest.mark.gen_test
async def test_participants_add_and_remove_rules(api):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    path = "/api/conversations/%s/participants" % conv["id"]
    assert (await api.post(path, "st2", {"userIds": ["st3"]}))[0] == 403  # a member may not add
    assert (await api.post(path, "st1", {"userIds": ["x2"]}))[0] == 403  # another school
    assert (await api.post(path, "st1", {"userIds": "st3"}))[0] == 400
    assert (await api.post(path, "st1", {"userIds": []}))[0] == 400
    status, data = await api.post(path, "st1", {"userIds": ["st3", "t1"]})
    assert status == 200 and {p["userId"] for p in data["data"]["participants"]} == {"st1", "st2", "st3", "t1"}
    assert (await api.get("/api/conversations/" + conv["id"], "st3"))[0] == 200
    # a member removes only itself
    assert (await api.delete(path + "/st3", "st2"))[0] == 403
    assert (await api.delete(path + "/st2", "st2"))[0] == 200
    assert (await api.get("/api/conversations/" + conv["id"], "st2"))[0] == 403
    # the owner removes anyone
    assert (await api.delete(path + "/t1", "st1"))[0] == 200
    assert (await api.delete(path + "/t1", "st1"))[0] == 404
    _, data = await api.get("/api/conversations/" + conv["id"], "st1")
    assert {p["userId"] for p in data["data"]["participants"]} == {"st1", "st3"}
    # system messages record what happened
    _, hist = await api.get("/api/conversations/%s/messages" % conv["id"], "st1")
    assert [m["type"] for m in hist["data"]] == ["system"] * 3
    assert [m["meta"]["action"] for m in hist["data"]] == ["added", "left", "removed"]
    direct = await api.conversation("st1", "direct", ["st2"])
    dpath = "/api/conversations/%s/participants" % direct["id"]
    assert (await api.post(dpath, "st1", {"userIds": ["st3"]}))[0] == 409
    assert (await api.delete(dpath + "/st2", "st1"))[0] == 409


@pytest.mark.gen_test
async def test_unread_endpoint(api):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    await api.send("st1", conv["id"], "one")
    await api.send("st1", conv["id"], "two")
    status, data = await api.get("/api/unread", "st2")
    assert status == 200
    assert data["data"]["total"] == 2
    assert data["data"]["conversations"] == [{"conversationId": conv["id"], "unread": 2, "mentions": 0, "lastReadSeq": 0,
                                              "muted": False}]
    _, mine = await api.get("/api/unread", "st1")
    assert mine["data"]["total"] == 0
    await api.patch("/api/conversations/" + conv["id"], "st2", {"muted": True})
    _, data = await api.get("/api/unread", "st2")
    assert data["data"]["total"] == 0 and data["data"]["conversations"][0]["unread"] == 2


@pytest.mark.gen_test
async def test_bad_input_is_400_or_413_never_500(api):
    cases = [
        (b"{not json", 400), (b"[1,2]", 400), (b'"text"', 400), (b'{"type": 5}', 400),
        (b'{"type": "chatroom"}', 400), (b'{"type": "group", "title": "' + b"x" * 201 + b'"}', 400),
        (b'{"type": "group", "title": "t", "participantIds": [1]}', 400),
        (b'{"type": "group", "title": "t", "participantIds": "st2"}', 400),
        (b'{"type": "class", "classId": ["c1"]}', 400),
        (b'\xff\xfe', 400),
    ]
    for raw, code in cases:
        status, data = await api.post("/api/conversations", "st1", raw=raw)
        assert status == code, raw
        assert data["error"]["code"] == "bad_request"
    many = ["u%d" % i for i in range(501)]
    status, _ = await api.post("/api/conversations", "st1", {"type": "group", "title": "t", "participantIds": many})
    assert status == 400
    status, data = await api.post("/api/conversations", "st1", raw=b'{"type":"group","title":"' + b"x" * 70000 + b'"}')
    assert status == 413 and data["error"]["code"] == "too_large"
    status, data = await api.call("PUT", "/api/conversations", "st1", {})
    assert status in (400, 405) and "error" in data
    assert (await api.get("/api/nothing-here", "st1"))[0] == 404
