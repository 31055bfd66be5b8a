"""Upload storage and lifecycle against the real nx-27017: the GridFS backend, a 50 MB body
streamed through HTTP, removal of never-attached uploads and of expired ones, the download
rule's treatment of deleted messages, and the repository's queries."""
from __future__ import annotations

import hashlib
import os
import tracemalloc
from typing import Any

import gridfs
import pymongo
import pytest
import tornado.httpclient
import ujson

from chat.auth import Identity
from chat.timeutil import now_ms
from chat.uploads import lifecycle, may_download
from tests.conftest import token
from tests.e2e.test_uploads import blobs, fetch, service
from tests.e2e.uploads_helpers import PDF, jpeg_with_gps, upload

pytestmark = pytest.mark.usefixtures("school", "http_server")

HOUR = 3600_000
DAY = 24 * HOUR


async def gridfs_files(app: Any) -> list:
    seam = service(app).repo.seam
    files = seam.collection("uploads.files")
    return await seam.io(lambda: sorted(d["filename"] for d in files.find({}, {"filename": 1})))


@pytest.mark.settings(upload_backend="gridfs")
@pytest.mark.gen_test
async def test_gridfs_backend_stores_once_serves_ranges_and_removes(api, app, base_url, tmp_path, mongo_uri,
                                                                    settings):
    assert service(app).storage.label.startswith("gridfs")
    body = b"%PDF-1.4\n" + os.urandom(700_000)  # several GridFS chunks
    status, first = await upload(api, "t1", body, "big.pdf", "application/pdf")
    assert status == 201, first
    _, second = await upload(api, "st1", body, "copy.pdf", "application/pdf")
    _, photo = await upload(api, "st1", jpeg_with_gps(), "p.jpg", "image/jpeg")
    sha = first["data"]["sha256"]
    assert second["data"]["sha256"] == sha
    expected = sorted({sha, photo["data"]["sha256"], (await service(app).repo.get(photo["data"]["id"]))["thumbSha256"]})
    assert await gridfs_files(app) == expected  # the same bytes once; nothing on the filesystem
    assert blobs(tmp_path) == []
    resp = await fetch(base_url, first["data"]["url"], "t1")
    assert resp.code == 200 and resp.body == body
    # laid out as the GridFS spec says: the driver's own reader reads it
    client = pymongo.MongoClient(mongo_uri, directConnection=True)
    try:
        bucket = gridfs.GridFSBucket(client[settings.db_name], bucket_name="uploads")
        assert bucket.open_download_stream_by_name(sha).read() == body
    finally:
        client.close()
    part = await fetch(base_url, first["data"]["url"], "t1", headers={"Range": "bytes=600000-600099"})
    assert part.code == 206 and part.body == body[600000:600100]
    # the local cache is only a cache
    cached = await service(app).storage.local_path(sha)
    os.unlink(cached)
    assert (await fetch(base_url, second["data"]["url"], "st1")).body == body
    thumb = await fetch(base_url, photo["data"]["thumbnail"], "st1")
    assert thumb.code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    # removal: the shared bytes stay while one upload still uses them
    counts = await lifecycle.sweep(service(app), now_ms() + 25 * HOUR)
    assert counts == {"orphans": 3, "expired": 0}
    assert await gridfs_files(app) == []
    assert (await fetch(base_url, first["data"]["url"], "t1")).code == 404


@pytest.mark.settings(max_upload_bytes=50 * 1024 * 1024)
@pytest.mark.gen_test(timeout=240)
async def test_a_50_mb_body_is_streamed_to_storage(base_url, app, tmp_path):
    size = 50 * 1024 * 1024
    block = b"%PDF-1.4\n" + bytes(range(256)) * 4096
    digest = hashlib.sha256()
    sent = 0

    async def produce(write: Any) -> None:
        nonlocal sent
        while sent < size:
            piece = block[:min(len(block), size - sent)]
            digest.update(piece)
            sent += len(piece)
            await write(piece)
    # Python allocations of this process (server and client) while the file passes through;
    # the RSS of a separate server process is measured by bench/uploads.py
    tracemalloc.start()
    try:
        resp = await tornado.httpclient.AsyncHTTPClient().fetch(
            base_url + "/api/uploads?name=video.pdf", method="POST", body_producer=produce,
            headers={"Authorization": "Bearer " + token("t1"), "Content-Length": str(size)},
            request_timeout=240, raise_error=False)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert resp.code == 201, resp.body[:200]
    assert peak < size // 10, peak  # far less than the file: it was never held in memory
    up = ujson.loads(resp.body)["data"]
    assert (up["size"], up["sha256"], up["mimeType"]) == (size, digest.hexdigest(), "application/pdf")
    assert blobs(tmp_path) == [up["sha256"]]
    part = await fetch(base_url, up["url"], "t1", headers={"Range": "bytes=%d-" % (size - 10)})
    assert part.code == 206 and len(part.body) == 10


@pytest.mark.gen_test
async def test_never_attached_uploads_are_removed_after_the_setting(api, app, base_url, tmp_path):
    uploads = service(app)
    _, kept = await upload(api, "st1", PDF, "a.pdf")
    _, orphan = await upload(api, "st2", PDF, "same-bytes.pdf")
    _, lone = await upload(api, "st2", b"only here\n", "n.txt", "text/plain")
    claimed = await uploads.repo.claim(kept["data"]["id"], "c" * 24, "msg-1", now_ms())
    assert claimed is not None and claimed["attachedAt"] is not None
    assert await lifecycle.sweep(uploads, now_ms() + 23 * HOUR) == {"orphans": 0, "expired": 0}  # too young
    assert await lifecycle.sweep(uploads, now_ms() + 25 * HOUR) == {"orphans": 2, "expired": 0}
    assert await uploads.repo.get(orphan["data"]["id"]) is None and await uploads.repo.get(lone["data"]["id"]) is None
    assert blobs(tmp_path) == [kept["data"]["sha256"]]  # still used by the attached upload
    assert (await fetch(base_url, kept["data"]["url"], "st1")).code == 200
    assert (await fetch(base_url, orphan["data"]["url"], "st2")).code == 404


@pytest.mark.settings(upload_retention_days=30)
@pytest.mark.gen_test
async def test_files_of_deleted_messages_are_closed_to_participants_kept_for_audit_then_removed(api, app, tmp_path):
    uploads = service(app)
    _, up = await upload(api, "st1", PDF, "a.pdf")
    await uploads.repo.claim(up["data"]["id"], "c" * 24, "msg-1", now_ms())
    meta = await uploads.repo.get(up["data"]["id"])
    member = Identity("st2", "student", "s1", "", 0)
    admin = Identity("a1", "admin", "s1", "", 0)

    async def yes(meta: Any, ident: Any) -> bool:
        return True
    assert await may_download(meta, member, yes)
    await lifecycle.message_deleted(uploads, {"attachments": [{"id": up["data"]["id"]}, {"url": "x"}]}, now_ms())
    meta = await uploads.repo.get(up["data"]["id"])
    assert meta["deletedAt"] is not None
    assert not await may_download(meta, member, yes)  # participants: gone with the message
    owner = Identity("st1", "student", "s1", "", 0)
    assert await may_download(meta, admin, yes) and await may_download(meta, owner, yes)
    assert not await may_download(meta, Identity("x1", "admin", "s2", "", 0), yes)
    assert await lifecycle.sweep(uploads, now_ms() + 29 * DAY) == {"orphans": 0, "expired": 0}
    assert await lifecycle.sweep(uploads, now_ms() + 31 * DAY) == {"orphans": 0, "expired": 1}
    assert await uploads.repo.get(up["data"]["id"]) is None and blobs(tmp_path) == []


@pytest.mark.gen_test
async def test_a_claim_holds_for_one_message_and_its_retries(api, app):
    repo = service(app).repo
    _, up = await upload(api, "st1", PDF, "a.pdf")
    upload_id = up["data"]["id"]
    first = await repo.claim(upload_id, "c" * 24, "m-1", now_ms())
    assert first is not None and (first["conversationId"], first["clientMsgId"]) == ("c" * 24, "m-1")
    assert (await repo.claim(upload_id, "c" * 24, "m-1", now_ms())) is not None  # a retried send
    assert await repo.claim(upload_id, "c" * 24, "m-2", now_ms()) is None  # another message
    assert await repo.claim(upload_id, "d" * 24, "m-1", now_ms()) is None
    assert await repo.claim("0" * 24, "c" * 24, "m-1", now_ms()) is None
    assert await repo.bytes_since("st1", 0) == len(PDF) and await repo.bytes_since("st1", now_ms() + DAY) == 0
