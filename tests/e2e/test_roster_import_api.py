"""``POST /api/roster/import`` end to end (README "Roster format"): a school's admin imports its
roster over HTTP, JSON or CSV, with a dry run first; the answer is the preview of what changes;
the import is the command's (users and classes stored, audited as ``roster.import`` by the
admin); anyone else, another school's entries or ids, and malformed files are refused with
nothing written."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest

from chat.domain.oversight.audit import AuditAction
from tests.conftest import Api, token

pytestmark = pytest.mark.usefixtures("school", "http_server")

ROUTE = "/api/roster/import"
CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}


async def roster_entries(api: Api) -> List[Dict[str, Any]]:
    status, body = await api.get("/api/audit?action=%s" % AuditAction.ROSTER_IMPORT.value, token("a1"))
    assert status == 200, body
    return body["data"]


async def directory(api: Api, q: str) -> List[Dict[str, Any]]:
    status, body = await api.get("/api/users?q=%s" % q, "a1")
    assert status == 200, body
    return body["data"]


@pytest.mark.gen_test(timeout=120)
async def test_a_dry_run_previews_and_writes_nothing_then_the_import_applies_it(api: Api, runtime: Any) -> None:
    roster = {"users": [
        {"id": "st1", "name": "Samuel Student", "role": "student", "school": "s1"},   # renamed
        {"id": "st2", "name": "Sue Student", "role": "student", "school": "s1", "safeguarding": True},
        {"id": "st3", "name": "Stan Student", "role": "student", "school": "s1"},     # unchanged
        {"id": "new1", "name": "Nina New", "role": "student", "school": "s1"}],
        "classes": [
            {"id": "c1", "school": "s1", "name": "Maths 7A", "teacherIds": ["t1"], "studentIds": ["st1", "new1"]},
            {"id": "c9", "school": "s1", "name": "Drama 8C", "teacherIds": ["t2"], "studentIds": ["st3", "ghost"]}]}
    before = len(await roster_entries(api))
    status, body = await api.post(ROUTE + "?dryRun=true", "a1", roster, headers=JSON)
    assert status == 200, body
    preview = body["data"]
    assert preview["dryRun"] is True and preview["imported"] is None and preview["school"] == "s1"
    users = preview["users"]
    assert (users["total"], users["added"], users["changed"], users["unchanged"]) == (4, 1, 2, 1)
    assert [u["id"] for u in users["addedUsers"]] == ["new1"]
    changed = {u["id"]: u["changes"] for u in users["changedUsers"]}
    assert changed == {"st1": {"name": ["Sam Student", "Samuel Student"]}, "st2": {"safeguarding": [False, True]}}
    classes = preview["classes"]
    assert (classes["added"], classes["changed"], classes["unchanged"], classes["membersRemoved"]) == (1, 1, 0, 1)
    assert classes["addedClasses"] == [{"id": "c9", "name": "Drama 8C", "teachers": 1, "students": 2}]
    assert classes["changedClasses"][0]["changes"] == {"studentsAdded": ["new1"], "studentsRemoved": ["st2"]}
    assert preview["unknownMembers"] == ["ghost"]
    # nothing was written and nothing audited
    assert await directory(api, "Nina") == []
    assert (await runtime.store.directory.get_class("c1"))["studentIds"] == ["st1", "st2"]
    assert len(await roster_entries(api)) == before

    status, body = await api.post(ROUTE, "a1", roster, headers=JSON)
    assert status == 200, body
    assert body["data"]["dryRun"] is False
    assert body["data"]["imported"] == {"users": 4, "newUsers": 1, "classes": 2, "newClasses": 1}
    assert [u["id"] for u in await directory(api, "Nina")] == ["new1"]
    assert (await runtime.store.directory.get_user("st1"))["name"] == "Samuel Student"
    assert (await runtime.store.directory.get_class("c1"))["studentIds"] == ["new1", "st1"]
    assert await runtime.store.directory.get_class("c9") is not None
    entries = await roster_entries(api)
    assert len(entries) == before + 1
    assert entries[0]["actor"] == "a1" and entries[0]["detail"] == {"users": 4, "safeguarding": 1, "classes": 2}
    # the same file again changes nothing
    status, body = await api.post(ROUTE + "?dryRun=true", "a1", roster, headers=JSON)
    assert status == 200, body
    assert (body["data"]["users"]["unchanged"], body["data"]["classes"]["unchanged"]) == (4, 2)


@pytest.mark.gen_test(timeout=120)
async def test_csv_files_of_users_and_of_classes(api: Api, runtime: Any) -> None:
    users = "id,name,role,school,safeguarding\ncsv1,Carla Csv,teacher,s1,yes\ncsv2,Cole Csv,student,s1,\n"
    status, body = await api.post(ROUTE + "?dryRun=true", "a1", raw=users.encode(), headers=CSV)
    assert status == 200, body
    assert body["data"]["users"]["added"] == 2
    assert body["data"]["users"]["addedUsers"][0] == {"id": "csv1", "name": "Carla Csv", "role": "teacher",
                                                     "safeguarding": True}
    status, body = await api.post(ROUTE, "a1", raw=("\ufeff" + users).encode(), headers=CSV)  # a BOM is fine
    assert status == 200, body
    assert body["data"]["imported"]["newUsers"] == 2
    classes = "id,school,name,teacherIds,studentIds\nc2,s1,Art 7B,t2;csv1,st3;csv2\n"
    status, body = await api.post(ROUTE, "a1", raw=classes.encode(), headers=CSV)
    assert status == 200, body
    assert body["data"]["classes"]["changedClasses"][0]["changes"] == {
        "teachersAdded": ["csv1"], "studentsAdded": ["csv2"]}
    assert (await runtime.store.directory.get_class("c2"))["teacherIds"] == ["csv1", "t2"]


@pytest.mark.gen_test(timeout=120)
async def test_only_admins_only_their_school_and_malformed_files_refused(api: Api, runtime: Any) -> None:
    good = {"users": [{"id": "n2", "name": "N Two", "role": "student", "school": "s1"}]}
    for user in ("t1", "st1"):
        status, body = await api.post(ROUTE, user, good, headers=JSON)
        assert (status, body["error"]["code"]) == (403, "forbidden"), (user, body)
    status, _ = await api.post(ROUTE, None, good, headers=JSON)
    assert status == 401
    # another school's admin, and entries of another school or ids that are another school's
    status, body = await api.post(ROUTE, token("xa", role="admin", school="s2"), good, headers=JSON)
    assert status == 403, body
    for roster in ({"users": [{"id": "n3", "name": "N", "role": "student", "school": "s2"}]},
                   {"classes": [{"id": "c3", "school": "s2", "name": "X", "teacherIds": [], "studentIds": []}]},
                   {"users": [{"id": "x1", "name": "Xena moved", "role": "teacher", "school": "s1"}]},
                   {"classes": [{"id": "cx", "school": "s1", "name": "Taken", "teacherIds": [], "studentIds": []}]}):
        status, body = await api.post(ROUTE, "a1", roster, headers=JSON)
        assert (status, body["error"]["code"]) == (403, "forbidden"), (roster, body)
    # a class member id that is another school's user: refused too, naming it, nothing written
    before = len(await roster_entries(api))
    for klass in ({"id": "c1", "school": "s1", "name": "Maths 7A", "teacherIds": ["t1"], "studentIds": ["st1", "x2"]},
                  {"id": "c7", "school": "s1", "name": "New", "teacherIds": ["x1"], "studentIds": ["st1"]}):
        for query in ("?dryRun=true", ""):
            status, body = await api.post(ROUTE + query, "a1", {"users": good["users"], "classes": [klass]},
                                          headers=JSON)
            assert (status, body["error"]["code"]) == (403, "forbidden"), (klass, body)
            assert "another school" in body["error"]["message"], body
    assert (await runtime.store.directory.get_class("c1"))["studentIds"] == ["st1", "st2"]
    assert await runtime.store.directory.get_class("c7") is None
    assert await runtime.store.directory.get_user("n2") is None
    assert len(await roster_entries(api)) == before
    for raw, headers in ((b'{"users": [{"id": "n4", "role": "pupil", "name": "N", "school": "s1"}]}', JSON),
                         (b'{"users": {"id": "n4"}}', JSON), (b"not json", JSON), (b"[1]", JSON),
                         (b"a,b\n1,2\n", CSV), (b"id,name,role,school\nn5,,student,s1\n", CSV),
                         (b"id,name,role,school\nn5,N,,s1\n", CSV), (b"\xff\xfe", CSV), (b"{}", CSV),
                         (b'{"users": [{"id": "\\ud800", "name": "N", "role": "student", "school": "s1"}]}', JSON)):
        status, body = await api.post(ROUTE, "a1", raw=raw, headers=headers)
        assert (status, body["error"]["code"]) == (400, "bad_request"), (raw, body)
    status, body = await api.post(ROUTE + "?dryRun=maybe", "a1", good, headers=JSON)
    assert status == 400, body
    # bounded like every body
    big = {"users": [{"id": "b%05d" % i, "name": "Bulk %d" % i, "role": "student", "school": "s1"}
                     for i in range(2000)]}
    status, body = await api.post(ROUTE, "a1", big, headers=JSON)
    assert (status, body["error"]["code"]) == (413, "too_large"), body
    # none of it wrote anything
    for user_id in ("n2", "n3", "n4", "n5", "b00000"):
        assert await runtime.store.directory.get_user(user_id) is None
    assert (await runtime.store.directory.get_user("x1"))["school"] == "s2"
    assert (await runtime.store.directory.get_class("cx"))["school"] == "s2"
