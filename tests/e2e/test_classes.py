"""One class conversation (and one announcement conversation) per class, found again when asked
for; "My classes" from the roster; the migration that gives existing ones their key."""
from __future__ import annotations

from typing import Any

import pymongo
import pytest

from chat.ops.migrations import migrate
from chat.ops.roster import import_roster

pytestmark = pytest.mark.usefixtures("school")


@pytest.mark.gen_test
async def test_asking_again_for_a_class_conversation_opens_the_existing_one(api: Any) -> None:
    status, first = await api.post("/api/conversations", "t1", {"type": "class", "classId": "c1"})
    assert status == 201
    cid = first["data"]["id"]
    await api.send("t1", cid, "homework is on page 12")
    status, again = await api.post("/api/conversations", "t1", {"type": "class", "classId": "c1"})
    assert status == 200 and again["data"]["id"] == cid
    # an admin asking for it joins it (as one of its admins) instead of making an empty copy
    status, admin = await api.post("/api/conversations", "a1", {"type": "class", "classId": "c1"})
    assert status == 200 and admin["data"]["id"] == cid
    roles = {p["userId"]: p["role"] for p in admin["data"]["participants"]}
    assert roles == {"t1": "owner", "a1": "admin", "st1": "member", "st2": "member"}
    status, page = await api.get("/api/conversations/%s/messages" % cid, "a1")
    assert status == 200 and [m["text"] for m in page["data"] if m.get("type") != "system"] == [
        "homework is on page 12"]
    # the announcement conversation is another one, also kept single
    status, ann = await api.post("/api/conversations", "t1", {"type": "announcement", "classId": "c1"})
    assert status == 201 and ann["data"]["id"] != cid
    status, ann2 = await api.post("/api/conversations", "a1", {"type": "announcement", "classId": "c1"})
    assert status == 200 and ann2["data"]["id"] == ann["data"]["id"]
    # a second one only when asked for explicitly
    status, extra = await api.post("/api/conversations", "t1", {"type": "class", "classId": "c1", "separate": True,
                                                                "title": "Maths 7A revision"})
    assert status == 201 and extra["data"]["id"] not in (cid, ann["data"]["id"])
    status, again = await api.post("/api/conversations", "t1", {"type": "class", "classId": "c1"})
    assert status == 200 and again["data"]["id"] == cid
    # still only the class's staff may ask
    for user, expected in (("st1", 403), ("t2", 403), ("x1", 404)):
        status, _ = await api.post("/api/conversations", user, {"type": "class", "classId": "c1"})
        assert status == expected, user


@pytest.mark.gen_test
async def test_a_class_conversation_takes_only_users_of_the_class_school(api: Any, runtime: Any) -> None:
    # a class stored with another school's users and an unknown id among its members (the command
    # line imports any school's roster): its conversation takes only the school's own users
    await import_roster(runtime.store, [], [{"id": "c8", "school": "s1", "name": "Mixed", "teacherIds": ["t1", "x1"],
                                             "studentIds": ["st1", "x2", "ghost"]}])
    for kind in ("class", "announcement"):
        status, conv = await api.post("/api/conversations", "t1", {"type": kind, "classId": "c8"})
        assert status == 201, conv
        roles = {p["userId"]: p["role"] for p in conv["data"]["participants"]}
        assert roles == {"t1": "owner", "st1": "member"}, roles
        stored = await runtime.store.conversations.memberships_of([conv["data"]["id"]])
        assert {m["userId"] for m in stored} == {"t1", "st1"}, stored
    status, _ = await api.post("/api/conversations", "x1", {"type": "class", "classId": "c8"})
    assert status == 404


@pytest.mark.gen_test
async def test_separate_is_refused_outside_class_conversations(api: Any) -> None:
    status, data = await api.post("/api/conversations", "t1", {"type": "group", "title": "g", "separate": True,
                                                               "participantIds": ["t2"]})
    assert status == 400 and "separate" in data["error"]["message"]
    status, _ = await api.post("/api/conversations", "t1", {"type": "class", "classId": "c1", "separate": "yes"})
    assert status == 400


@pytest.mark.gen_test
async def test_my_classes_lists_the_roster_classes_with_their_conversations(api: Any) -> None:
    status, data = await api.get("/api/classes/mine", "t1")
    assert status == 200
    assert [(c["id"], c["role"], c["mayOpen"], c["conversations"]) for c in data["data"]["classes"]] == [
        ("c1", "teacher", True, [])]
    conv = await api.conversation("t1", "class", classId="c1")
    ann = await api.conversation("t1", "announcement", classId="c1", title="Maths news")
    status, data = await api.get("/api/classes/mine", "st1")
    (klass,) = data["data"]["classes"]
    assert (klass["id"], klass["name"], klass["role"], klass["mayOpen"], klass["studentCount"]) == (
        "c1", "Maths 7A", "student", False, 2)
    assert klass["conversations"] == sorted([
        {"id": conv["id"], "type": "class", "title": "Maths 7A"},
        {"id": ann["id"], "type": "announcement", "title": "Maths news"}], key=lambda c: (c["type"], c["id"]))
    # a student of another class sees only that one, and none of c1's conversations
    status, data = await api.get("/api/classes/mine", "st3")
    assert [(c["id"], c["conversations"]) for c in data["data"]["classes"]] == [("c2", [])]
    # an admin sees every class of its school (by name), and opens any of them
    status, data = await api.get("/api/classes/mine", "a1")
    assert [(c["id"], c["role"], c["mayOpen"]) for c in data["data"]["classes"]] == [
        ("c2", "admin", True), ("c1", "admin", True)]
    # another school's users see their own classes only
    status, data = await api.get("/api/classes/mine", "x1")
    assert [c["id"] for c in data["data"]["classes"]] == ["cx"]
    status, _ = await api.get("/api/classes/mine")
    assert status == 401


@pytest.mark.gen_test
async def test_the_migration_gives_the_oldest_existing_class_conversation_the_class_key(
        api: Any, runtime: Any, mongo_uri: str, settings: Any) -> None:
    # two class conversations of c1 made before the key existed (asking twice made two)
    db = pymongo.MongoClient(mongo_uri)[settings.db_name]
    first = await api.conversation("t1", "class", classId="c1")
    second = await api.conversation("t1", "class", classId="c1", separate=True)
    db["conversations"].update_one({"key": "class:s1:class:c1"}, {"$set": {"key": "conv:" + first["id"]}})
    db["meta"].update_one({"_id": "schema"}, {"$set": {"version": 2}}, upsert=True)
    migrate(db)
    assert db["conversations"].find_one({"key": "class:s1:class:c1"})["title"] == first["title"]
    migrate(db)  # safe to re-run
    assert db["conversations"].count_documents({"key": "class:s1:class:c1"}) == 1
    runtime.service.conversation_changed_elsewhere(first["id"])
    status, again = await api.post("/api/conversations", "t1", {"type": "class", "classId": "c1"})
    assert status == 200 and again["data"]["id"] == first["id"] != second["id"]
