"""Uploads attached to messages, end to end: ``attachments: [{"uploadId"}]`` in a REST and a
socket send, the other participants opening the file (and no one else), deletion closing it.

These need the wiring described in ``chat/uploads/attachments.py`` (the send path calls
``resolve_attachments``, the delete path ``lifecycle.message_deleted``, uploads take tokens
from the shared send bucket): until it is merged they fail, by design.
"""
from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.e2e.test_uploads import fetch, service
from tests.e2e.uploads_helpers import PDF, jpeg_with_gps, upload

pytestmark = pytest.mark.usefixtures("school", "http_server")

MSGS = "/api/conversations/%s/messages"


@pytest.mark.gen_test
async def test_a_teacher_attaches_a_pdf_and_the_class_opens_it(api, base_url):
    conv = await api.conversation("t1", "class", classId="c1")
    _, up = await upload(api, "t1", PDF, "worksheet.pdf", "application/pdf")
    upload_id = up["data"]["id"]
    status, data = await api.post(MSGS % conv["id"], "t1", {"type": "file", "text": "Homework",
                                                            "attachments": [{"uploadId": upload_id}],
                                                            "clientMsgId": "hw-1"})
    assert status == 201, data
    att = data["data"]["attachments"]
    assert att == [{"id": upload_id, "name": "worksheet.pdf", "size": len(PDF), "mimeType": "application/pdf",
                    "url": "/api/uploads/" + upload_id, "thumbnail": None, "width": None, "height": None}]
    # a retry of the same send is the same message, the upload claimed again by it
    status, again = await api.post(MSGS % conv["id"], "t1", {"type": "file", "text": "Homework",
                                                             "attachments": [{"uploadId": upload_id}],
                                                             "clientMsgId": "hw-1"})
    assert status == 200 and again["data"]["id"] == data["data"]["id"]
    _, history = await api.get(MSGS % conv["id"], "st1")
    assert history["data"][-1]["attachments"] == att
    for member in ("st1", "st2", "t1"):
        resp = await fetch(base_url, att[0]["url"], member)
        assert resp.code == 200 and resp.body == PDF, member
    for outsider in ("st3", "t2", "x1", "x2"):
        assert (await fetch(base_url, att[0]["url"], outsider)).code == 404, outsider
    status, links = await api.post("/api/uploads/links", "st2", {"ids": [upload_id]})
    assert status == 200 and (await fetch(base_url, links["data"][upload_id]["url"])).body == PDF


@pytest.mark.gen_test
async def test_a_student_sends_a_photo_over_the_socket_and_the_teacher_opens_it(api, ws, base_url):
    conv = await api.conversation("st1", "direct", ["t1"])
    teacher = await ws("t1")
    student = await ws("st1")
    _, up = await upload(api, "st1", jpeg_with_gps((800, 600)), "IMG_2001.jpg", "image/jpeg")
    upload_id = up["data"]["id"]
    msg = await student.ok("message:send", {"conversationId": conv["id"], "type": "image",
                                            "attachments": [{"uploadId": upload_id}], "clientMsgId": "ph-1"})
    att = msg["attachments"][0]
    assert (att["id"], att["width"], att["height"], att["mimeType"]) == (upload_id, 800, 600, "image/jpeg")
    assert att["thumbnail"] == "/api/uploads/%s/thumbnail" % upload_id
    pushed = await teacher.expect("message:new", lambda f: f["data"]["id"] == msg["id"])
    assert pushed["data"]["attachments"] == msg["attachments"]
    _, links = await api.post("/api/uploads/links", "t1", {"ids": [upload_id]})
    thumb = await fetch(base_url, links["data"][upload_id]["thumbnailUrl"])
    full = await fetch(base_url, links["data"][upload_id]["url"])
    assert thumb.code == 200 and full.code == 200 and full.headers["Content-Disposition"].startswith("inline")
    with Image.open(io.BytesIO(full.body)) as im:
        assert im.size == (800, 600) and not im.getexif().get_ifd(0x8825)


@pytest.mark.gen_test
async def test_attachments_must_be_the_senders_own_unclaimed_uploads(api, app):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    other_conv = await api.conversation("st1", "group", ["st3"], title="H")
    _, mine = await upload(api, "st1", PDF, "a.pdf")
    _, theirs = await upload(api, "st2", PDF, "b.pdf")
    _, foreign = await upload(api, "x2", PDF, "c.pdf")
    for items in ([{"uploadId": 5}], ["x"], [{"uploadId": mine["data"]["id"]}] * 11):
        status, body = await api.post(MSGS % conv["id"], "st1", {"attachments": items})
        assert status == 400 and body["error"]["code"] == "bad_request", items
    # well formed, but not one of the sender's uploads: 403
    for items in ([{"uploadId": theirs["data"]["id"]}], [{"uploadId": foreign["data"]["id"]}],
                  [{"uploadId": "0" * 24}], [{"uploadId": "junk"}]):
        status, body = await api.post(MSGS % conv["id"], "st1", {"attachments": items})
        assert status == 403 and body["error"]["code"] == "forbidden", items
    assert (await api.post(MSGS % conv["id"], "st1", {"attachments": [{"uploadId": mine["data"]["id"]}],
                                                      "clientMsgId": "one"}))[0] == 201
    status, body = await api.post(MSGS % other_conv["id"], "st1", {"attachments": [{"uploadId": mine["data"]["id"]}],
                                                                  "clientMsgId": "two"})
    assert status == 409 and body["error"]["code"] == "conflict"
    _, history = await api.get(MSGS % other_conv["id"], "st1")
    assert history["data"] == []


@pytest.mark.gen_test
async def test_deleting_the_message_closes_its_file_to_participants(api, base_url, app):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    _, up = await upload(api, "st1", PDF, "a.pdf")
    msg = await api.send("st1", conv["id"], "see this", attachments=[{"uploadId": up["data"]["id"]}])
    url = msg["attachments"][0]["url"]
    assert (await fetch(base_url, url, "st2")).code == 200
    assert (await api.delete("/api/messages/" + msg["id"], "st1"))[0] == 200
    assert (await fetch(base_url, url, "st2")).code == 404
    assert (await fetch(base_url, url, "st1")).code == 200 and (await fetch(base_url, url, "a1")).code == 200
    meta = await service(app).repo.get(up["data"]["id"])
    assert meta["deletedAt"] is not None  # the retention clock runs


@pytest.mark.gen_test
async def test_uploads_and_links_mix_and_a_repeated_upload_is_stored_once(api):
    conv = await api.conversation("st1", "direct", ["st2"])
    _, up = await upload(api, "st1", PDF, "a.pdf")
    link = {"name": "site", "size": 1, "mimeType": "text/html", "url": "https://example.org/"}
    msg = await api.send("st1", conv["id"], "two", attachments=[{"uploadId": up["data"]["id"]}, link,
                                                                {"uploadId": up["data"]["id"]}])
    assert [a.get("id") for a in msg["attachments"]] == [up["data"]["id"], None]
    assert msg["attachments"][1] == link


@pytest.mark.settings(rate_messages=0.0001, rate_messages_burst=2)
@pytest.mark.gen_test
async def test_uploads_and_sends_share_the_per_user_send_bucket(api):
    conv = await api.conversation("st1", "direct", ["st2"])
    assert (await api.post(MSGS % conv["id"], "st1", {"text": "one"}))[0] == 201
    assert (await upload(api, "st1", PDF, "a.pdf"))[0] == 201
    status, body = await upload(api, "st1", PDF, "b.pdf")
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert (await api.post(MSGS % conv["id"], "st1", {"text": "two"}))[0] == 429
