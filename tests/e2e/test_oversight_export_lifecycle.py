"""The life of an export archive (README "Export and erasure"): a finished archive is deleted
after ``CHAT_EXPORT_KEEP_HOURS`` (the job stays listed ``expired``, its link answers 410
``export_expired``) and a ``.zip.part`` a crash left is removed; a job whose process was
SIGKILLed mid-export is ``failed`` when the server starts again, its partial file gone; a job of
a node gone silent is failed after ``CHAT_EXPORT_STALE_SECONDS``; in a cluster the archive is in
the shared database (``gridfs``) and downloads through another node (real server processes,
real nx-27017, real Redis; the injected ManualClock in-process)."""
from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Any, Dict, Tuple

import pytest
import tornado.httpclient
from bson import ObjectId

from chat.domain.oversight.export_sweep import STALE, STOPPED
from chat.uploads.storage import fan_out
from tests.conftest import CLASSES, SECRET, USERS, Api, token
from tests.e2e.test_cluster import eventually, run, until
from tests.e2e.test_process import ServerProc

LONG = 100 * 3600
HOUR = 3600.0


def tok(user: str) -> str:
    return token(user, ttl=LONG)


async def fetch(url: str) -> Tuple[int, bytes]:
    resp = await tornado.httpclient.AsyncHTTPClient().fetch(url, raise_error=False, request_timeout=120)
    return resp.code, resp.body or b""


async def job_of(api: Any, job_id: str) -> Dict[str, Any]:
    status, data = await api.get("/api/exports/%s" % job_id, tok("a1"))
    assert status == 200, data
    return data["data"]


async def sweep(runtime: Any, clock: Any, seconds: float) -> None:
    """Move the clock on by ``seconds`` and one sweep interval; wait for that one pass."""
    sweeper = runtime.service.exports.sweeper
    before = sweeper.passes
    clock.advance(seconds + runtime.settings.export_sweep_interval)
    await sweeper.settled()
    assert sweeper.passes == before + 1


@pytest.mark.gen_test
@pytest.mark.manual_clock
@pytest.mark.usefixtures("school", "http_server")
@pytest.mark.settings(export_keep_hours=2, export_link_ttl=7 * 86400)
async def test_a_finished_archive_is_deleted_after_the_keep_window_and_its_link_answers_410(
        api, runtime, clock, base_url):
    await api.send("st1", (await api.conversation("st1", "direct", ["st2"]))["id"], "hello")
    await runtime.service.exports.start(alone=True)
    status, made = await api.post("/api/exports", tok("a1"), {"userId": "st1"})
    assert status == 202, made
    await runtime.service.exports.settled()
    job = await job_of(api, made["data"]["id"])
    assert job["status"] == "done", job
    stored = runtime.store.personal.exports.find_one({"_id": ObjectId(job["id"])})
    blob = fan_out(runtime.uploads.storage.serve_root, stored["sha256"])
    assert os.path.isfile(blob)  # kept through the upload storage, not in the exports dir
    exports_dir = os.path.join(runtime.settings.data_dir, "exports")
    assert os.listdir(exports_dir) == []
    stray = os.path.join(exports_dir, "%s.zip.part" % ObjectId())  # what a crash leaves
    with open(stray, "wb") as fh:
        fh.write(b"PK partial")

    await sweep(runtime, clock, 1 * HOUR)  # inside the window: the archive stays, the stray goes
    assert not os.path.exists(stray)
    assert (await job_of(api, job["id"]))["status"] == "done"
    code, body = await fetch(base_url + job["downloadUrl"])
    assert code == 200 and zipfile.ZipFile(io.BytesIO(body)).namelist()[0] == "data.json"

    await sweep(runtime, clock, 1 * HOUR)  # past it: gone
    assert not os.path.exists(blob)
    after = await job_of(api, job["id"])
    assert after["status"] == "expired" and after["downloadUrl"] is None
    status, listed = await api.get("/api/exports", tok("a1"))
    assert status == 200 and [(j["id"], j["status"]) for j in listed["data"]] == [(job["id"], "expired")]
    code, body = await fetch(base_url + job["downloadUrl"])  # a link still validly signed
    assert code == 410 and json.loads(body)["error"]["code"] == "export_expired", body


@pytest.mark.gen_test(timeout=120)
@pytest.mark.manual_clock
@pytest.mark.usefixtures("school", "http_server")
@pytest.mark.settings(export_stale_seconds=60, export_batch=1, export_page_pause_ms=600_000)
async def test_a_job_of_a_node_gone_silent_is_failed_after_the_stale_time_not_one_written_here(api, runtime, clock):
    now = int(clock.time() * 1000)
    repo = runtime.store.personal

    async def job(status: str) -> str:
        made = await repo.insert_job({"school": "s1", "userId": "st2", "requestedBy": "a1", "status": status,
                                      "progress": {"messages": 3, "files": 0, "bytes": 10}, "node": "gone",
                                      "createdAt": now, "heartbeatAt": now - 60_000})
        return made["id"]
    silent, queued = await job("running"), await job("queued")
    conv = await api.conversation("st1", "direct", ["st2"])
    for n in range(2):
        await api.send("st1", conv["id"], "message %d" % n)
    status, made = await api.post("/api/exports", tok("a1"), {"userId": "st1"})  # paused after its first page
    assert status == 202
    live = made["data"]["id"]
    await eventually(lambda: _progressed(api, live), 60, "the first page")
    await runtime.service.exports.start(alone=False)  # a cluster node: another node may be writing
    assert [(await job_of(api, j))["status"] for j in (silent, queued, live)] == ["running", "queued", "running"]
    await sweep(runtime, clock, 1)  # every heartbeat is older than 60 s now, but this node's own is renewed
    for j in (silent, queued):
        failed = await job_of(api, j)
        assert failed["status"] == "failed" and failed["error"] == STALE, failed
    assert (await job_of(api, live))["status"] == "running"
    stored = repo.exports.find_one({"_id": ObjectId(live)})
    assert stored["heartbeatAt"] == int(clock.time() * 1000)


def _roster(tmp_path: Any) -> str:
    path = str(tmp_path / "roster.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"users": USERS, "classes": CLASSES}, fh)
    return path


def test_an_export_killed_mid_way_is_failed_at_restart_and_leaves_no_file(tmp_path):
    data_dir = str(tmp_path / "data")
    paused = ServerProc(data_dir, "--jwt-secret", SECRET, "--export-batch", "1", "--export-page-pause-ms", "600000")
    server = paused
    try:
        paused.wait_ready()
        assert paused.cli("import-roster", _roster(tmp_path)).returncode == 0

        async def start_export() -> str:
            api = Api(paused.url)
            conv = await api.conversation("st1", "group", ["st2"], title="Kill")
            for n in range(3):
                await api.send("st1", conv["id"], "message %d" % n)
            status, made = await api.post("/api/exports", tok("a1"), {"userId": "st1"})
            assert status == 202, made
            job_id = made["data"]["id"]
            # the first page is written, then the writer waits ten minutes before the next
            await eventually(lambda: _progressed(api, job_id), 60, "the export's first page")
            return job_id
        job_id = run(start_export())
        part = os.path.join(data_dir, "exports", job_id + ".zip.part")
        assert os.path.isfile(part)
        paused.proc.kill()  # SIGKILL: no shutdown marks the job
        paused.proc.wait(10)
        server = ServerProc(data_dir, "--jwt-secret", SECRET)
        server.wait_ready()

        async def after_restart() -> None:
            api = Api(server.url)
            job = await job_of(api, job_id)
            assert job["status"] == "failed" and job["error"] == STOPPED, job
            assert not os.path.exists(part) and os.listdir(os.path.join(data_dir, "exports")) == []
            status, again = await api.post("/api/exports", tok("a1"), {"userId": "st1"})  # the admin starts another
            assert status == 202
            done = await eventually(lambda: _done(api, again["data"]["id"]), 60, "the new export")
            assert done["progress"]["messages"] == 3
        run(after_restart())
    finally:
        paused.stop()
        server.stop()


async def _progressed(api: Any, job_id: str) -> bool:
    job = await job_of(api, job_id)
    return job["status"] == "running" and job["progress"]["messages"] >= 1


async def _done(api: Any, job_id: str) -> Any:
    job = await job_of(api, job_id)
    assert job["status"] in ("queued", "running", "done"), job
    return job if job["status"] == "done" else None


def test_in_a_cluster_an_export_made_on_one_node_downloads_through_another(cluster):
    a, b = cluster.start(2, upload_backend="gridfs")

    async def main() -> None:
        api_a, api_b = Api(a.url), Api(b.url)
        conv = await api_a.conversation("st1", "direct", ["st2"])
        await api_a.send("st1", conv["id"], "written through node A")
        status, made = await api_a.post("/api/exports", tok("a1"), {"userId": "st1"})
        assert status == 202, made
        job = await eventually(lambda: _done(api_a, made["data"]["id"]), 60, "the export on node A")
        through_b = await job_of(api_b, job["id"])  # a link node B signs
        code, body = await fetch(b.url + through_b["downloadUrl"])
        assert code == 200, body[:300]
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            data = json.loads(zf.read("data.json"))
        assert [m["text"] for m in data["messages"]] == ["written through node A"]
        code, again = await fetch(b.url + job["downloadUrl"])  # and node A's link works on node B
        assert code == 200 and again == body
        # node B's local copy of the archive is dropped once served; none is left in A's exports dir
        cache = os.path.join(b.data_dir, "uploads", "cache")
        until(lambda: not any(files for _, _, files in os.walk(cache)), 30, "node B's cached copy dropped")
        assert os.listdir(os.path.join(a.data_dir, "exports")) == []
    run(main())
