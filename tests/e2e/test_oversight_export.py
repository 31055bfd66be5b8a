"""Export of one person's data (README "Export and erasure"): ``POST /api/exports`` makes a
job, the zip holds exactly the user's profile, conversations, messages with their edits,
reactions, receipts, reports, scheduled messages and uploaded files' bytes; the signed download link expires and
refuses tampering; admins of the user's school only; ``server.py export-user`` writes the
same archive (real server, real nx-27017, the injected ManualClock for the link's expiry)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from typing import Any, Dict, Tuple
from urllib.parse import parse_qs, urlencode

import pytest
import tornado.httpclient

from tests.conftest import token
from tests.e2e.uploads_helpers import PDF, png, upload

pytestmark = [pytest.mark.usefixtures("school", "http_server"), pytest.mark.manual_clock]

MSGS = "/api/conversations/%s/messages"
LONG = 100 * 3600
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tok(user: str, **kw: Any) -> str:
    return token(user, ttl=LONG, **kw)


async def fetch(base_url: str, path: str) -> Tuple[int, bytes]:
    resp = await tornado.httpclient.AsyncHTTPClient().fetch(base_url + path, raise_error=False)
    return resp.code, resp.body or b""


async def done_export(api: Any, runtime: Any, user_id: str = "st1") -> Dict[str, Any]:
    status, data = await api.post("/api/exports", tok("a1"), {"userId": user_id})
    assert status == 202, data
    assert data["data"]["status"] in ("queued", "running", "done") and data["data"]["userId"] == user_id
    await runtime.service.exports.settled()
    status, data = await api.get("/api/exports/%s" % data["data"]["id"], tok("a1"))
    assert status == 200 and data["data"]["status"] == "done", data
    return data["data"]


async def make_data(api: Any, runtime: Any) -> Dict[str, Any]:
    """st1 writes, edits, reacts, reads, reports, uploads and schedules; st2 and st3 write too."""
    conv = await api.conversation("st1", "group", ["st2", "st3"], title="Project")
    _, pdf = await upload(api, "st1", PDF, "plan.pdf", "application/pdf")
    _, pic = await upload(api, "st1", png(), "photo.png", "image/png")
    status, sent = await api.post(MSGS % conv["id"], tok("st1"), {
        "type": "file", "text": "see the plan", "attachments": [{"uploadId": pdf["data"]["id"]}]})
    assert status == 201, sent
    first = await api.send("st1", conv["id"], "first draft")
    for text in ("second draft", "final text"):
        status, _ = await api.patch("/api/messages/%s" % first["id"], tok("st1"), {"text": text})
        assert status == 200
    other = await api.send("st2", conv["id"], "st2 says hello")
    await api.send("st3", conv["id"], "st3 is here")
    assert (await api.put("/api/messages/%s/reactions/%s" % (other["id"], "%F0%9F%91%8D"), tok("st1")))[0] in (200, 201)
    assert (await api.put("/api/messages/%s/reactions/%s" % (first["id"], "%F0%9F%91%8D"), tok("st2")))[0] in (200, 201)
    assert (await api.post("/api/conversations/%s/read" % conv["id"], tok("st1"), {"seq": 3}))[0] == 200
    status, rep = await api.post("/api/messages/%s/report" % other["id"], tok("st1"),
                                 {"reason": "bullying", "note": "not nice"})
    assert status in (200, 201), rep
    _, pic_bytes = await fetch_upload(api, pic["data"]["id"])
    send_at = int(runtime.clock.time() * 1000) + 86400_000
    status, later = await api.post(MSGS % conv["id"], tok("st1"), {"text": "see you tomorrow", "sendAt": send_at})
    assert status == 201, later
    assert (await api.post(MSGS % conv["id"], tok("st2"), {"text": "not st1's", "sendAt": send_at}))[0] == 201
    return {"conv": conv, "pdf": pdf["data"], "pic": pic["data"], "pic_bytes": pic_bytes, "file_msg": sent["data"],
            "first": first, "other": other, "scheduled": later["data"]}


async def fetch_upload(api: Any, upload_id: str) -> Tuple[int, bytes]:
    resp = await tornado.httpclient.AsyncHTTPClient().fetch(
        api.base + "/api/uploads/" + upload_id, headers={"Authorization": "Bearer " + tok("st1")}, raise_error=False)
    return resp.code, resp.body


def read_zip(body: bytes) -> Tuple[Dict[str, Any], Dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        names = zf.namelist()
        data = json.loads(zf.read("data.json"))
        files = {n: zf.read(n) for n in names if n != "data.json"}
    return data, files


def check_contents(data: Dict[str, Any], files: Dict[str, bytes], made: Dict[str, Any]) -> None:
    conv_id = made["conv"]["id"]
    assert data["format"] == "school-chat export 1"
    assert {k: data["user"][k] for k in ("id", "name", "role", "school")} == {
        "id": "st1", "name": "Sam Student", "role": "student", "school": "s1"}
    assert [(c["id"], c["type"], c["title"], c["role"]) for c in data["conversations"]] == [
        (conv_id, "group", "Project", "owner")]
    msgs = sorted(data["messages"], key=lambda m: m["seq"])
    assert [(m["seq"], m["text"], m["conversationId"]) for m in msgs] == [
        (1, "see the plan", conv_id), (2, "final text", conv_id)]  # only st1's, none of st2's or st3's
    assert msgs[0]["attachments"] == [{"id": made["pdf"]["id"], "name": "plan.pdf"}] and msgs[0]["edits"] == []
    assert [e["text"] for e in msgs[1]["edits"]] == ["first draft", "second draft"]
    assert msgs[1]["editedAt"] is not None
    assert [(r["messageId"], r["emoji"]) for r in data["reactions"]] == [(made["other"]["id"], "\U0001F44D")]
    assert [(r["conversationId"], r["lastReadSeq"]) for r in data["receipts"]] == [(conv_id, 3)]
    assert [(r["kind"], r["messageId"], r["reason"], r["note"]) for r in data["reports"]] == [
        ("message", made["other"]["id"], "bullying", "not nice")]
    listed = {f["id"]: f for f in data["files"]}
    assert set(listed) == {made["pdf"]["id"], made["pic"]["id"]}
    assert files == {listed[made["pdf"]["id"]]["path"]: PDF, listed[made["pic"]["id"]]["path"]: made["pic_bytes"]}
    assert listed[made["pdf"]["id"]]["path"] == "files/%s/plan.pdf" % made["pdf"]["id"]
    assert data["scheduled"] == [{"id": made["scheduled"]["id"], "conversationId": conv_id, "text": "see you tomorrow",
                                  "sendAt": made["scheduled"]["sendAt"], "status": "scheduled", "messageId": None,
                                  "sentAt": None, "createdAt": data["scheduled"][0]["createdAt"]}]
    assert data["scheduled"][0]["createdAt"] is not None


async def audit_actions(api: Any) -> list:
    status, data = await api.get("/api/audit?limit=100", tok("a1"))
    assert status == 200
    return [(e["action"], e["actor"], e["target"]) for e in data["data"]]


@pytest.mark.gen_test
async def test_the_zip_holds_exactly_the_users_data_and_the_download_is_audited(api, runtime, base_url):
    made = await make_data(api, runtime)
    job = await done_export(api, runtime)
    assert job["progress"]["messages"] == 2 and job["progress"]["files"] == 2 and job["size"] > 0
    assert job["downloadUrl"].startswith("/api/exports/%s/download?" % job["id"])
    status, listed = await api.get("/api/exports", tok("a1"))
    assert status == 200 and [j["id"] for j in listed["data"]] == [job["id"]]
    assert listed["data"][0]["status"] == "done"
    status, body = await fetch(base_url, job["downloadUrl"])
    assert status == 200, body[:200]
    data, files = read_zip(body)
    check_contents(data, files, made)
    actions = await audit_actions(api)
    assert ("export.create", "a1", {"userId": "st1"}) in actions
    assert ("export.download", "a1", {"userId": "st1", "exportId": job["id"]}) in actions
    # nothing of the message texts in the audit log
    assert "final text" not in json.dumps(actions)


@pytest.mark.gen_test
async def test_the_signed_link_expires_and_refuses_tampering_with_403(api, runtime, base_url, clock):
    await api.send("st1", (await api.conversation("st1", "direct", ["st2"]))["id"], "hello")
    job = await done_export(api, runtime)
    url = job["downloadUrl"]
    path, query = url.split("?", 1)
    args = {k: v[0] for k, v in parse_qs(query).items()}
    assert set(args) == {"u", "r", "s", "e", "sig"}
    tampered = [dict(args, sig="0" * 64), dict(args, u="t1"), dict(args, e=str(int(args["e"]) + 3600)),
                dict(args, s="s2"), {k: v for k, v in args.items() if k != "sig"}]
    for bad in tampered:
        assert (await fetch(base_url, path + "?" + urlencode(bad)))[0] == 403, bad
    assert (await fetch(base_url, "/api/exports/%s/download?%s" % ("0" * 24, query)))[0] == 404  # no such export
    other = await api.post("/api/exports", tok("a1"), {"userId": "st2"})
    await runtime.service.exports.settled()
    # a link of one export does not open another
    assert (await fetch(base_url, "/api/exports/%s/download?%s" % (other[1]["data"]["id"], query)))[0] == 403
    assert (await fetch(base_url, url))[0] == 200
    clock.advance(runtime.settings.export_link_ttl + 1)
    assert (await fetch(base_url, url))[0] == 403  # expired
    status, fresh = await api.get("/api/exports/%s" % job["id"], tok("a1"))
    assert status == 200 and fresh["data"]["downloadUrl"] != url
    assert (await fetch(base_url, fresh["data"]["downloadUrl"]))[0] == 200


@pytest.mark.gen_test
async def test_only_admins_of_the_users_school_export(api, runtime, base_url):
    for user in ("st1", "t1"):
        assert (await api.post("/api/exports", tok(user), {"userId": "st2"}))[0] == 403
        assert (await api.get("/api/exports", tok(user)))[0] == 403
    assert (await api.post("/api/exports", tok("a1"), {"userId": "x2"}))[0] == 404  # another school's user
    assert (await api.post("/api/exports", tok("a1"), {"userId": "nobody"}))[0] == 404
    for bad in ({}, {"userId": 3}, {"userId": "st1", "more": 1}, []):
        assert (await api.post("/api/exports", tok("a1"), bad))[0] == 400, bad
    job = await done_export(api, runtime, "st2")
    other_admin = token("y9", role="admin", school="s2", name="Yan Admin", ttl=LONG)
    assert (await api.get("/api/exports/%s" % job["id"], other_admin))[0] == 404
    status, listed = await api.get("/api/exports", other_admin)
    assert status == 200 and listed["data"] == []
    assert (await api.get("/api/exports/%s" % job["id"], tok("t1")))[0] == 403
    assert (await api.get("/api/exports/%s" % ("0" * 24), tok("a1")))[0] == 404
    # a link signed for an admin who since lost the role (the roster says teacher now) stops working
    from chat.ops.roster import import_roster
    await import_roster(runtime.store, [{"id": "a1", "name": "Ada Admin", "role": "teacher", "school": "s1"}], [])
    assert (await fetch(base_url, job["downloadUrl"]))[0] == 403


@pytest.mark.gen_test
async def test_the_export_user_command_writes_the_same_archive(api, runtime, tmp_path):
    made = await make_data(api, runtime)
    out = str(tmp_path / "st1.zip")
    settings = runtime.settings
    cmd = [sys.executable, os.path.join(ROOT, "server.py"), "export-user", "--school", "s1", "--user", "st1",
           "--output", out, "--mongodb-uri", runtime.store.uri, "--db-name", settings.db_name,
           "--data-dir", settings.data_dir]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote %s: 2 messages, 2 files" % out)
    with open(out, "rb") as fh:
        data, files = read_zip(fh.read())
    check_contents(data, files, made)
    assert not os.path.exists(out + ".part")
    assert ("export.create", "cli", {"userId": "st1"}) in await audit_actions(api)
    wrong = subprocess.run(cmd[:4] + ["s2"] + cmd[5:], capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 1 and "no user st1 in school s2" in wrong.stderr


async def job_of(api: Any, job_id: str) -> Dict[str, Any]:
    status, data = await api.get("/api/exports/%s" % job_id, tok("a1"))
    assert status == 200, data
    return data["data"]


@pytest.mark.gen_test(timeout=120)
@pytest.mark.settings(export_max_running=1, export_batch=1, export_page_pause_ms=600_000)
async def test_one_unfinished_export_per_user_and_at_most_max_running_at_once(api, runtime, clock):
    from tests.e2e.test_cluster import eventually
    conv = await api.conversation("st1", "direct", ["st2"])
    for n in range(2):
        await api.send("st1", conv["id"], "from st1 %d" % n)
        await api.send("st2", conv["id"], "from st2 %d" % n)
    status, first = await api.post("/api/exports", tok("a1"), {"userId": "st1"})
    assert status == 202, first
    a = first["data"]["id"]

    async def progressed() -> bool:
        job = await job_of(api, a)
        return job["status"] == "running" and job["progress"]["messages"] >= 1
    await eventually(progressed, 60, "the first page")  # paused after it, on the injected clock
    creates = [e for e in await audit_actions(api) if e[0] == "export.create"]
    # asked again while it runs: the same job, nothing new started or recorded
    status, again = await api.post("/api/exports", tok("a1"), {"userId": "st1"})
    assert status == 202 and again["data"]["id"] == a and again["data"]["status"] == "running", again
    assert [e for e in await audit_actions(api) if e[0] == "export.create"] == creates
    # another user's export is a new job, but waits queued: the one slot is taken
    status, other = await api.post("/api/exports", tok("a1"), {"userId": "st2"})
    assert status == 202 and other["data"]["id"] != a, other
    b = other["data"]["id"]
    for _ in range(3):  # round trips: its task has had every chance to start
        assert (await job_of(api, b))["status"] == "queued"
    stored = await runtime.store.personal.get_job(b)
    assert stored["startedAt"] is None and stored["progress"]["messages"] == 0

    async def both_done() -> bool:
        clock.advance(600)  # the next page of whichever is running
        return [(await job_of(api, j))["status"] for j in (a, b)] == ["done", "done"]
    await eventually(both_done, 60, "both exports")
    started = [(await runtime.store.personal.get_job(j))["startedAt"] for j in (a, b)]
    assert started[1] >= (await runtime.store.personal.get_job(a))["finishedAt"] > started[0]
    # a finished export does not hold the next one back
    status, fresh = await api.post("/api/exports", tok("a1"), {"userId": "st1"})
    assert status == 202 and fresh["data"]["id"] not in (a, b), fresh

    async def fresh_done() -> bool:
        clock.advance(600)
        return (await job_of(api, fresh["data"]["id"]))["status"] == "done"
    await eventually(fresh_done, 60, "the new export")


@pytest.mark.gen_test
async def test_a_link_whose_signer_is_not_in_the_directory_is_refused(api, runtime, base_url):
    job = await done_export(api, runtime, "st2")
    assert (await fetch(base_url, job["downloadUrl"]))[0] == 200
    runtime.store.personal.users.delete_one({"_id": "a1"})  # the signer's directory entry is gone
    assert await runtime.store.directory.get_user("a1") is None
    assert (await fetch(base_url, job["downloadUrl"]))[0] == 403
