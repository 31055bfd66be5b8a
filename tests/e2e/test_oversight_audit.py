"""Oversight §2: the audit log end to end. Staff actions through the real server produce
entries; ``GET /api/audit`` filters, pages and refuses; ``python server.py audit verify`` (a real
process against the test database) catches an entry edited or deleted through pymongo; two
stores appending at once keep one linear chain; the CSV and JSON Lines exports."""
from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional, Tuple

import pymongo
import pytest

from chat.domain.oversight.audit import AuditAction, AuditLog
from chat.domain.oversight.audit_chain import GENESIS, entry_hash
from chat.errors import Unavailable
from chat.ops.roster import import_roster
from chat.runtime import Runtime
from chat.store import Store
from chat.timeutil import iso
from tests.conftest import Api, token

pytestmark = [pytest.mark.usefixtures("school"), pytest.mark.manual_clock]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LONG = 100 * 3600  # tokens that outlive the clock's jumps


def tok(user: str, **kw: Any) -> str:
    return token(user, ttl=LONG, **kw)


def cli(settings: Any, mongo_uri: str, *args: str) -> subprocess.CompletedProcess:
    """``python server.py audit ARGS`` against the test's database (a real process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_") and k != "MONGODB_URI"}
    return subprocess.run([sys.executable, os.path.join(ROOT, "server.py"), "audit", *args,
                           "--mongodb-uri", mongo_uri, "--db-name", settings.db_name],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def collection(settings: Any, mongo_uri: str) -> Tuple[pymongo.MongoClient, Any]:
    client: pymongo.MongoClient = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=5000)
    return client, client[settings.db_name]["audit_log"]


async def entries(api: Api, user: str = "a1", query: str = "") -> List[Dict[str, Any]]:
    status, body = await api.get("/api/audit" + query, user if "." in user else tok(user))
    assert status == 200, body
    return body["data"]


async def without_roster(api: Api, query: str = "") -> List[Dict[str, Any]]:
    """The entries after the fixture's roster import (the school's first entry)."""
    return [e for e in await entries(api, query=query) if e["action"] != AuditAction.ROSTER_IMPORT.value]


@pytest.mark.gen_test
async def test_deleting_someone_elses_message_is_recorded_before_it_happens(api):
    conv = await api.conversation("t1", "class", classId="c1")
    theirs = await api.send("st1", conv["id"], "a message of st1")
    mine = await api.send("st2", conv["id"], "st2 deletes this herself")
    assert (await api.delete("/api/messages/%s" % mine["id"], tok("st2")))[0] == 200
    assert await without_roster(api) == []  # one's own delete is not a staff action
    assert (await api.delete("/api/messages/%s" % theirs["id"], tok("t1")))[0] == 200
    assert (await api.delete("/api/messages/%s" % theirs["id"], tok("t1")))[0] == 200  # again: nothing to record
    [entry] = await without_roster(api)
    assert entry["action"] == "message.delete" and entry["actor"] == "t1" and entry["school"] == "s1"
    assert entry["target"] == {"messageId": theirs["id"], "conversationId": conv["id"]}
    assert entry["detail"] == {"seq": theirs["seq"], "authorId": "st1", "role": "teacher",
                               "conversationType": "class"}
    assert "a message of st1" not in json.dumps(entry)  # never the text
    # a school admin moderating a class conversation it is not in
    other = await api.send("st2", conv["id"], "another")
    assert (await api.delete("/api/messages/%s" % other["id"], tok("a1")))[0] == 200
    newest = (await without_roster(api))[0]
    assert (newest["actor"], newest["target"]["messageId"]) == ("a1", other["id"])


@pytest.mark.gen_test
async def test_an_action_that_cannot_be_recorded_does_not_happen(api, runtime):
    conv = await api.conversation("t1", "class", classId="c1")
    msg = await api.send("st1", conv["id"], "kept")
    real = runtime.store.audit.append

    async def down(doc: Dict[str, Any]) -> bool:
        raise Unavailable()
    runtime.store.audit.append = down  # type: ignore[method-assign]
    try:
        status, body = await api.delete("/api/messages/%s" % msg["id"], tok("t1"))
        assert status == 503 and body["error"]["code"] == "unavailable", body
        group = await api.conversation("t1", "group", ["st1"], title="Team")
        status, _ = await api.post("/api/conversations/%s/participants" % group["id"], tok("t1"), {"userIds": ["st2"]})
        assert status == 503
    finally:
        runtime.store.audit.append = real  # type: ignore[method-assign]
    status, page = await api.get("/api/conversations/%s/messages" % conv["id"], tok("st1"))
    assert [m["deleted"] for m in page["data"] if m["id"] == msg["id"]] == [False]
    _, view = await api.get("/api/conversations/%s" % group["id"], tok("t1"))
    assert "st2" not in [p["userId"] for p in view["data"]["participants"]]
    assert await without_roster(api) == []
    # storage back: the same delete is recorded and done
    assert (await api.delete("/api/messages/%s" % msg["id"], tok("t1")))[0] == 200
    assert [e["action"] for e in await without_roster(api)] == ["message.delete"]


@pytest.mark.gen_test
async def test_participant_changes_by_staff_are_recorded(api):
    group = await api.conversation("t1", "group", ["st1"], title="Project")
    path = "/api/conversations/%s/participants" % group["id"]
    assert (await api.post(path, tok("t1"), {"userIds": ["st2", "st1"]}))[0] == 200
    assert (await api.delete(path + "/st2", tok("t1")))[0] == 200
    assert (await api.delete(path + "/st1", tok("st1")))[0] == 200  # leaving: not recorded
    removed, added = await without_roster(api)
    assert (added["action"], added["actor"], added["target"], added["detail"]["userIds"]) == (
        "participant.add", "t1", {"conversationId": group["id"]}, ["st2"])  # st1 was in already
    assert (removed["action"], removed["target"]) == ("participant.remove",
                                                      {"conversationId": group["id"], "userId": "st2"})
    # a student's own group: not a staff action
    theirs = await api.conversation("st1", "group", ["st2"], title="Ours")
    assert (await api.post("/api/conversations/%s/participants" % theirs["id"], tok("st1"),
                           {"userIds": ["st3"]}))[0] == 200
    assert len(await without_roster(api)) == 2


@pytest.mark.gen_test
async def test_roster_imports_are_recorded_per_school(api, runtime):
    first = await entries(api)
    assert [(e["seq"], e["action"], e["actor"], e["prev"]) for e in first] == [(1, "roster.import", "roster", GENESIS)]
    assert first[0]["detail"] == {"users": 6, "safeguarding": 0, "classes": 2}
    await import_roster(runtime.store, [{"id": "t9", "name": "New Teacher", "role": "teacher", "school": "s1",
                                         "safeguarding": True}], [], actor="ops")
    newest = (await entries(api))[0]
    assert (newest["seq"], newest["actor"], newest["detail"]) == (2, "ops", {"users": 1, "safeguarding": 1,
                                                                              "classes": 0})
    assert newest["prev"] == first[0]["hash"]
    other = await entries(api, tok("x9", role="admin", school="s2", name="Other Admin"))
    assert [(e["school"], e["detail"]["users"]) for e in other] == [("s2", 2)]


@pytest.mark.gen_test
async def test_the_api_is_for_the_schools_admins_and_their_school_only(api):
    group = await api.conversation("t1", "group", ["st1"], title="Project")
    await api.post("/api/conversations/%s/participants" % group["id"], tok("t1"), {"userIds": ["st2"]})
    for user in ("t1", "st1"):
        status, body = await api.get("/api/audit", tok(user))
        assert status == 403 and body["error"]["code"] == "forbidden", (user, body)
    other_admin = tok("x9", role="admin", school="s2", name="Other Admin")
    assert {e["school"] for e in await entries(api, other_admin)} == {"s2"}
    assert {e["school"] for e in await entries(api)} == {"s1"}
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        status, body = await api.call(method, "/api/audit", tok("a1"), {} if method != "DELETE" else None)
        assert status == 405, (method, body)
    for query in ("?limit=0", "?limit=101", "?action=nope", "?since=yesterday", "?next=0", "?next=x",
                  "?until=2026-02-30T00:00:00Z"):
        status, body = await api.get("/api/audit" + query, tok("a1"))
        assert status == 400 and body["error"]["code"] == "bad_request", (query, body)
    status, _ = await api.get("/api/audit")
    assert status == 401


@pytest.mark.gen_test
async def test_filters_and_paging_newest_first(api, clock):
    conv = await api.conversation("t1", "class", classId="c1")
    t0 = clock.time()
    ids = []
    for i in range(7):
        msg = await api.send("st1", conv["id"], "m%d" % i)
        deleter = "t1" if i % 2 == 0 else "a1"
        assert (await api.delete("/api/messages/%s" % msg["id"], tok(deleter)))[0] == 200
        ids.append(msg["id"])
        clock.advance(3600)
    everything = await without_roster(api)
    assert [e["target"]["messageId"] for e in everything] == ids[::-1]
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(seqs, reverse=True)
    by_t1 = await entries(api, query="?actor=t1")
    assert [e["target"]["messageId"] for e in by_t1] == [ids[6], ids[4], ids[2], ids[0]]
    assert [e["actor"] for e in await entries(api, query="?action=roster.import")] == ["roster"]
    assert await entries(api, query="?action=participant.add") == []

    def at(hours: float) -> str:
        return iso(int((t0 + hours * 3600) * 1000)) or ""
    window = await entries(api, query="?since=%s&until=%s" % (at(1.5), at(4.5)))
    assert [e["target"]["messageId"] for e in window] == [ids[4], ids[3], ids[2]]
    # pages of 3, following next while hasMore: every entry once, newest first
    seen: List[int] = []
    cursor: Optional[int] = None
    while True:
        query = "?limit=3" + ("&next=%d" % cursor if cursor else "")
        status, body = await api.get("/api/audit" + query, tok("a1"))
        assert status == 200 and len(body["data"]) <= 3
        seen += [e["seq"] for e in body["data"]]
        if not body["hasMore"]:
            assert body["next"] is None
            break
        cursor = body["next"]
    assert seen == list(range(8, 0, -1))
    # a filtered page follows next too
    status, body = await api.get("/api/audit?actor=a1&limit=2", tok("a1"))
    assert [e["target"]["messageId"] for e in body["data"]] == [ids[5], ids[3]] and body["hasMore"]
    status, body = await api.get("/api/audit?actor=a1&limit=2&next=%d" % body["next"], tok("a1"))
    assert [e["target"]["messageId"] for e in body["data"]] == [ids[1]]


async def some_entries(api: Api, n: int) -> None:
    conv = await api.conversation("t1", "class", classId="c1")
    for i in range(n):
        msg = await api.send("st1", conv["id"], "m%d" % i)
        assert (await api.delete("/api/messages/%s" % msg["id"], tok("t1")))[0] == 200


@pytest.mark.gen_test(timeout=300)
async def test_verify_catches_an_edited_entry(api, settings, mongo_uri):
    await some_entries(api, 4)  # s1: the roster import and 4 deletes; s2: its import
    ok = cli(settings, mongo_uri, "verify")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().splitlines()[-1] == "ok 6 entries"
    assert "s1: 5 entries, head seq 5" in ok.stdout
    assert cli(settings, mongo_uri, "verify", "--school", "s2").stdout.strip().splitlines()[-1] == "ok 1 entries"
    client, coll = collection(settings, mongo_uri)
    try:
        victim = coll.find_one({"school": "s1", "seq": 3})
        coll.update_one({"_id": victim["_id"]}, {"$set": {"actor": "someone-else"}})
        bad = cli(settings, mongo_uri, "verify")
        assert bad.returncode == 1, bad.stdout
        assert "s1: entry seq 3 (id %s): edited" % victim["_id"] in bad.stderr, bad.stderr
        assert not [line for line in bad.stdout.splitlines() if line.startswith("ok")]
        # s2 is still fine on its own
        assert cli(settings, mongo_uri, "verify", "--school", "s2").returncode == 0
        # the edit with its hash recomputed: the next entry's link shows it
        doc = coll.find_one({"_id": victim["_id"]})
        coll.update_one({"_id": victim["_id"]}, {"$set": {"hash": entry_hash(doc)}})
        again = cli(settings, mongo_uri, "verify", "--school", "s1")
        assert again.returncode == 1 and "s1: entry seq 4" in again.stderr, again.stderr
    finally:
        client.close()


@pytest.mark.gen_test(timeout=300)
async def test_verify_catches_a_deleted_entry_and_a_reordered_one(api, settings, mongo_uri):
    await some_entries(api, 4)
    client, coll = collection(settings, mongo_uri)
    try:
        third = coll.find_one({"school": "s1", "seq": 3})
        coll.delete_one({"_id": third["_id"]})
        deleted = cli(settings, mongo_uri, "verify")
        assert deleted.returncode == 1, deleted.stdout
        fourth = coll.find_one({"school": "s1", "seq": 4})
        assert "s1: entry seq 4 (id %s): deleted: seq 3 missing" % fourth["_id"] in deleted.stderr, deleted.stderr
        coll.insert_one(third)  # put back as it was: intact again
        assert cli(settings, mongo_uri, "verify").returncode == 0
        # swapped positions (seq and chainKey exchanged)
        second = coll.find_one({"school": "s1", "seq": 2})
        coll.update_one({"_id": second["_id"]}, {"$set": {"seq": -1, "chainKey": "swap"}})
        coll.update_one({"_id": third["_id"]}, {"$set": {"seq": 2, "chainKey": second["chainKey"]}})
        coll.update_one({"_id": second["_id"]}, {"$set": {"seq": 3, "chainKey": third["chainKey"]}})
        swapped = cli(settings, mongo_uri, "verify")
        assert swapped.returncode == 1, swapped.stdout
        assert "s1: entry seq 2 (id %s): reordered" % third["_id"] in swapped.stderr, swapped.stderr
    finally:
        client.close()


@pytest.mark.gen_test(timeout=300)
async def test_two_stores_appending_at_once_keep_one_linear_chain(runtime, settings, mongo_uri):
    # two clients of the same database, as two nodes of a cluster are, each with its own log and lock
    other = Store(mongo_uri, settings.db_name, 4, 5000)
    try:
        logs = [AuditLog(runtime.store.audit), AuditLog(other.audit)]
        first = [await runtime.store.audit.last("s1")]

        async def burst(log: AuditLog, name: str) -> None:
            await asyncio.gather(*(log.record(name, AuditAction.POLICY_CHANGE, "s1", {"n": i}, {"i": i})
                                   for i in range(25)))
        await asyncio.gather(burst(logs[0], "node-a"), burst(logs[1], "node-b"))
        # the cached heads are stale for one of them now: both still append after the true head
        await logs[0].record("node-a", AuditAction.POLICY_CHANGE, "s1", {"n": "last-a"})
        await logs[1].record("node-b", AuditAction.POLICY_CHANGE, "s1", {"n": "last-b"})
    finally:
        other.close()
    stored = list(pymongo.MongoClient(mongo_uri)[settings.db_name]["audit_log"].find({"school": "s1"}).sort("seq", 1))
    start = int(first[0]["seq"]) if first[0] else 0
    assert [d["seq"] for d in stored] == list(range(1, start + 53))
    prev = GENESIS
    for doc in stored:
        assert doc["prev"] == prev and entry_hash(doc) == doc["hash"], doc["seq"]
        prev = doc["hash"]
    assert sum(d["actor"] == "node-a" for d in stored) == 26 and sum(d["actor"] == "node-b" for d in stored) == 26
    ok = cli(settings, mongo_uri, "verify", "--school", "s1")
    assert ok.returncode == 0 and ok.stdout.strip().endswith("ok %d entries" % (start + 52)), ok.stderr


@pytest.mark.gen_test(timeout=300)
async def test_exports_as_csv_and_json_lines(api, runtime, settings, mongo_uri, tmp_path):
    await some_entries(api, 3)
    await runtime.service.core.audit.record("a1", AuditAction.POLICY_CHANGE, "s1", {"school": "s1"},
                                            {"before": {"studentDirect": "any", "ok": True}, "note": "=cmd()"})
    jsonl = tmp_path / "s1.jsonl"
    result = cli(settings, mongo_uri, "export", "--school", "s1", "--format", "jsonl", "--output", str(jsonl))
    assert result.returncode == 0, result.stderr
    assert "wrote 5 entries of s1" in result.stderr and not (tmp_path / "s1.jsonl.part").exists()
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5] and {r["school"] for r in rows} == {"s1"}
    assert set(rows[0]) == {"seq", "school", "at", "actor", "action", "target", "detail", "prev", "hash"}
    assert rows[4]["detail"] == {"before": {"studentDirect": "any", "ok": 1}, "note": "=cmd()"}
    api_page = await entries(api)
    assert [(r["seq"], r["hash"]) for r in rows] == [(e["seq"], e["hash"]) for e in reversed(api_page)]
    # the export verifies on its own, and a changed line is caught
    assert cli(settings, mongo_uri, "verify", "--file", str(jsonl)).stdout.strip().endswith("ok 5 entries")
    rows[1]["actor"] = "nobody"
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    bad = cli(settings, mongo_uri, "verify", "--file", str(tampered))
    assert bad.returncode == 1 and "s1: entry seq 2" in bad.stderr and "edited" in bad.stderr
    # CSV on standard output: one row per entry, JSON cells, no cell a spreadsheet would run
    result = cli(settings, mongo_uri, "export", "--school", "s1", "--format", "csv")
    assert result.returncode == 0, result.stderr
    table = list(csv.reader(io.StringIO(result.stdout)))
    assert table[0] == ["seq", "at", "actor", "action", "school", "target", "detail", "prev", "hash"]
    assert [row[0] for row in table[1:]] == ["1", "2", "3", "4", "5"]
    assert table[2][3] == "message.delete" and json.loads(table[2][5])["messageId"]
    assert table[1][1] == api_page[-1]["at"] and table[5][8] == rows[4]["hash"]
    assert json.loads(table[5][6])["note"] == "=cmd()"  # inside JSON: the cell starts with {
    # another school's export holds only its entries; an unknown school none
    s2 = cli(settings, mongo_uri, "export", "--school", "s2", "--format", "csv")
    assert [row[4] for row in list(csv.reader(io.StringIO(s2.stdout)))[1:]] == ["s2"]
    none = cli(settings, mongo_uri, "export", "--school", "nowhere", "--format", "jsonl")
    assert none.returncode == 0 and none.stdout == ""
    assert cli(settings, mongo_uri, "export", "--school", "s1", "--format", "xml").returncode == 2


@pytest.mark.gen_test
async def test_concurrent_records_in_one_process_stay_linear(runtime: Runtime):
    log = runtime.service.core.audit
    await asyncio.gather(*(log.record("a1", AuditAction.FILTER_CHANGE, "s9", {"i": i}) for i in range(30)))
    docs = [d async for d in _all(runtime, "s9")]
    assert [d["seq"] for d in docs] == list(range(1, 31))
    assert [d["prev"] for d in docs] == [GENESIS] + [d["hash"] for d in docs[:-1]]


async def _all(runtime: Runtime, school: str) -> Any:
    page = await runtime.store.audit.newest(school, 1, 10 ** 12, {}, 100)
    for doc in reversed(page):
        yield doc
