"""Uploads over real HTTP (real server, real nx-27017): what is accepted and refused, names,
limits, quota, rate limits, image cleaning, downloads with Range/ETag, access, signed links."""
from __future__ import annotations

import asyncio
import hashlib
import io
import os
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlparse

import pytest
import tornado.httpclient
from PIL import Image, PngImagePlugin

from chat.auth import Identity
from chat.settings import Settings
from chat.uploads import policy
from tests.conftest import token
from tests.e2e.uploads_helpers import PDF, docx, jpeg_with_gps, png, upload

pytestmark = pytest.mark.usefixtures("school", "http_server")


def service(app: Any) -> Any:
    return app.settings["uploads"]


async def fetch(base_url: str, path: str, user: Optional[str] = None, method: str = "GET",
                headers: Optional[Dict[str, str]] = None) -> tornado.httpclient.HTTPResponse:
    hdrs = dict(headers or {})
    if user is not None:
        hdrs["Authorization"] = "Bearer " + token(user)
    return await tornado.httpclient.AsyncHTTPClient().fetch(base_url + path, method=method, headers=hdrs,
                                                            raise_error=False, request_timeout=60)


async def count(app: Any) -> int:
    repo = service(app).repo
    return await repo.seam.io(lambda: repo._col.count_documents({}))


def blobs(tmp_path: Any) -> list:
    root = os.path.join(str(tmp_path), "uploads", "blobs")
    return sorted(f for _d, _s, files in os.walk(root) for f in files)


def work_files(tmp_path: Any) -> list:
    return os.listdir(os.path.join(str(tmp_path), "uploads", "tmp"))


# ---------------------------------------------------------------------- accepting
@pytest.mark.gen_test
async def test_curl_style_upload_answers_the_stored_metadata(api, app, tmp_path):
    status, data = await upload(api, "t1", PDF, "worksheet.pdf", "application/pdf")
    assert status == 201, data
    up = data["data"]
    assert (up["name"], up["size"], up["mimeType"]) == ("worksheet.pdf", len(PDF), "application/pdf")
    assert up["sha256"] == hashlib.sha256(PDF).hexdigest() and len(up["id"]) == 24
    assert (up["width"], up["height"], up["thumbnail"]) == (None, None, None)
    assert up["url"] == "/api/uploads/" + up["id"] and up["createdAt"].endswith("Z")
    meta = await service(app).repo.get(up["id"])
    assert (meta["ownerId"], meta["school"]) == ("t1", "s1")  # belongs to its uploader and school
    assert blobs(tmp_path) == [up["sha256"]] and work_files(tmp_path) == []


@pytest.mark.gen_test
async def test_browser_style_upload_with_a_unicode_name(api):
    status, data = await upload(api, "st1", png(), "Hausaufgabe – Seite 1.png", "image/png",
                                headers={"Origin": "http://localhost", "X-Requested-With": "XMLHttpRequest"})
    assert status == 201, data
    assert data["data"]["name"] == "Hausaufgabe – Seite 1.png" and data["data"]["mimeType"] == "image/png"


@pytest.mark.gen_test
async def test_the_type_is_sniffed_never_taken_from_the_client(api):
    status, data = await upload(api, "st1", png(), "homework.pdf", "application/pdf")
    assert status == 201 and data["data"]["mimeType"] == "image/png"
    status, data = await upload(api, "st1", PDF, "cat.png", "image/png")
    assert status == 201 and data["data"]["mimeType"] == "application/pdf"
    status, data = await upload(api, "st1", docx(), "essay", "text/html")
    assert status == 201
    assert data["data"]["mimeType"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    status, data = await upload(api, "st1", b"Dear class,\nread page 4.\n", "notes.exe", "application/x-msdownload")
    assert status == 201 and data["data"]["mimeType"] == "text/plain"


REFUSED = [
    (b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "notes.txt", "text/plain", "HTML"),
    (b"  <html><script>alert(1)</script>", "notes.txt", "text/plain", "HTML"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>', "a.png",
     "image/png", "SVG"),
    (b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>", "b.svg", "image/svg+xml", "SVG"),
    (b"\x7fELF\x02\x01\x01" + b"\0" * 200, "game.pdf", "application/pdf", "programs"),
    (b"MZ\x90\x00" + b"\0" * 200, "setup.doc", "application/msword", "programs"),
    (b"#!/bin/sh\nrm -rf ~\n", "run.txt", "text/plain", "programs"),
    (b"PK\x03\x04" + b"\0" * 100, "archive.zip", "application/zip", "not accepted"),
    (bytes(range(256)) * 4, "blob.bin", "application/octet-stream", "application/octet-stream"),
]


@pytest.mark.gen_test
async def test_html_svg_executables_and_unknown_types_are_refused_and_nothing_is_stored(api, app, tmp_path):
    for data, name, ctype, words in REFUSED:
        status, body = await upload(api, "st1", data, name, ctype)
        assert status == 400 and body["error"]["code"] == "bad_request", (name, body)
        assert words in body["error"]["message"], (name, body)
    assert await count(app) == 0 and blobs(tmp_path) == [] and work_files(tmp_path) == []


@pytest.mark.gen_test
async def test_zero_bytes_are_refused(api, app):
    status, body = await upload(api, "st1", b"", "empty.txt", "text/plain")
    assert status == 400 and body["error"]["message"] == "the file is empty"
    assert await count(app) == 0


@pytest.mark.gen_test
async def test_names_are_sanitized(api):
    cases = {"../../etc/passwd": "passwd", "..\\..\\Windows\\win.ini": "win.ini", "a\x00b\nc\x7f.txt": "abc.txt",
             "   ": "file", "...hidden": "hidden", 'we<ird>:"na|me?*.txt': "we_ird___na_me__.txt",
             "x" * 500 + ".txt": "x" * 196 + ".txt"}
    for raw, expected in cases.items():
        status, body = await upload(api, "st1", b"some text\n", raw, "text/plain")
        assert status == 201 and body["data"]["name"] == expected, (raw, body)
    status, body = await upload(api, "st1", b"some text\n", None, "text/plain")
    assert status == 201 and body["data"]["name"] == "file"


def test_sanitize_name_unit():
    assert policy.sanitize_name("/tmp/../../x.pdf") == "x.pdf"
    # U+0085 is a control character, U+200B a format character (Cf): both removed
    assert policy.sanitize_name("\u202ereadme\u200b.txt".replace("\u202e", "\x85")) == "readme.txt"
    assert policy.sanitize_name("report . pdf . ") == "report . pdf"
    assert len(policy.sanitize_name("é" * 300 + ".docx", 200)) == 200
    assert policy.content_disposition('a "b".pdf', False) == \
        'attachment; filename="a _b_.pdf"; filename*=UTF-8\'\'a%20%22b%22.pdf'


# ---------------------------------------------------------------------- limits
async def raw_request(base_url: str, head: str, chunks: Any = ()) -> Tuple[int, bytes, bool]:
    """Send a request by hand; returns (status, body, whether the server then closed)."""
    url = urlparse(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(head.encode("latin-1"))
    for chunk in chunks:
        writer.write(chunk)
    await writer.drain()
    header = await reader.readuntil(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    length = int([line.split(b":")[1] for line in header.split(b"\r\n")
                  if line.lower().startswith(b"content-length")][0])
    body = await reader.readexactly(length)
    closed = await reader.read(1) == b""
    writer.close()
    return status, body, closed


@pytest.mark.settings(max_upload_bytes=200_000)
@pytest.mark.gen_test
async def test_a_declared_length_over_the_limit_is_refused_before_any_body_is_sent(base_url, app):
    head = ("POST /api/uploads?name=big.pdf HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/pdf\r\nContent-Length: 1000000000\r\n\r\n" % token("st1"))
    status, body, closed = await raw_request(base_url, head)  # not one byte of the body is ever sent
    assert status == 413 and b'"too_large"' in body and closed
    assert await count(app) == 0


@pytest.mark.settings(max_upload_bytes=200_000)
@pytest.mark.gen_test
async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(base_url, app, tmp_path):
    head = ("POST /api/uploads?name=big.pdf HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Transfer-Encoding: chunked\r\n\r\n" % token("st1"))
    piece = b"%PDF" + b"\0" * (50_000 - 4)
    chunks = [b"%x\r\n" % len(piece) + piece + b"\r\n" for _ in range(5)]  # 250,000 bytes, no terminator
    status, body, closed = await raw_request(base_url, head, chunks)
    assert status == 413 and b"200000 bytes" in body and closed  # the rest of the file is never read
    assert await count(app) == 0 and blobs(tmp_path) == [] and work_files(tmp_path) == []


@pytest.mark.settings(max_upload_bytes=1000)
@pytest.mark.gen_test
async def test_exactly_the_limit_is_accepted_one_more_byte_is_not(api):
    status, _ = await upload(api, "st1", b"a" * 1000, "a.txt", "text/plain")
    assert status == 201
    status, body = await upload(api, "st1", b"a" * 1001, "b.txt", "text/plain")
    assert status == 413 and body["error"]["code"] == "too_large"


@pytest.mark.settings(upload_quota_bytes=1500)
@pytest.mark.gen_test
async def test_the_daily_quota_is_per_user(api, base_url, app):
    assert (await upload(api, "st1", b"b" * 1000, "a.txt", "text/plain"))[0] == 201
    status, body = await upload(api, "st1", b"c" * 600, "b.txt", "text/plain")
    assert status == 429 and "quota" in body["error"]["message"]
    # a chunked body (no declared length) is stopped when it passes what is left
    head = ("POST /api/uploads?name=c.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Transfer-Encoding: chunked\r\n\r\n" % token("st1"))
    status, body, closed = await raw_request(base_url, head, [b"258\r\n" + b"d" * 600 + b"\r\n"])
    assert status == 429 and closed
    assert (await upload(api, "st1", b"e" * 500, "d.txt", "text/plain"))[0] == 201  # what is left fits
    assert (await upload(api, "st2", b"f" * 1000, "e.txt", "text/plain"))[0] == 201  # someone else's quota
    assert await count(app) == 3


@pytest.mark.settings(rate_messages=0.0001, rate_messages_burst=3)
@pytest.mark.gen_test
async def test_uploads_count_against_the_per_user_send_rate(api):
    for i in range(3):
        assert (await upload(api, "st1", b"note %d\n" % i, "n.txt", "text/plain"))[0] == 201
    status, body = await upload(api, "st1", b"one more\n", "n.txt", "text/plain")
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert (await upload(api, "st2", b"mine\n", "n.txt", "text/plain"))[0] == 201


@pytest.mark.gen_test
async def test_auth_is_required(api, base_url, app):
    status, body = await api.post("/api/uploads?name=a.pdf", None, raw=PDF)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    status, body = await api.post("/api/uploads?name=a.pdf&token=" + token("st1"), None, raw=PDF)
    assert status == 401  # a JWT in the URL is never accepted
    assert await count(app) == 0


# ---------------------------------------------------------------------- images
@pytest.mark.gen_test
async def test_exif_and_gps_are_stripped_and_orientation_applied(api, base_url):
    original = jpeg_with_gps((64, 48), orientation=6)
    with Image.open(io.BytesIO(original)) as im:
        assert im.getexif().get_ifd(0x8825) and b"Example Road" in original  # the sample does carry them
    status, data = await upload(api, "st1", original, "IMG_0001.JPG", "image/jpeg")
    assert status == 201, data
    up = data["data"]
    assert (up["mimeType"], up["width"], up["height"]) == ("image/jpeg", 48, 64)  # rotated upright
    resp = await fetch(base_url, up["url"], "st1")
    assert resp.code == 200 and hashlib.sha256(resp.body).hexdigest() == up["sha256"] and len(resp.body) == up["size"]
    assert b"Example Road" not in resp.body and b"KidCam" not in resp.body and b"Exif" not in resp.body
    with Image.open(io.BytesIO(resp.body)) as im:
        assert dict(im.getexif()) == {} and not im.getexif().get_ifd(0x8825) and "comment" not in im.info
        assert im.size == (48, 64)


@pytest.mark.gen_test
async def test_png_text_chunks_are_stripped(api, base_url):
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "51.5 N, 0.12 W")
    out = io.BytesIO()
    Image.new("RGBA", (30, 20), (0, 255, 0, 128)).save(out, "PNG", pnginfo=info)
    status, data = await upload(api, "st1", out.getvalue(), "p.png", "image/png")
    assert status == 201
    resp = await fetch(base_url, data["data"]["url"], "st1")
    assert b"Location" not in resp.body
    with Image.open(io.BytesIO(resp.body)) as im:
        assert im.mode == "RGBA" and im.getpixel((3, 3)) == (0, 255, 0, 128) and "Location" not in im.info


@pytest.mark.gen_test
async def test_thumbnails_are_made_and_served(api, base_url):
    status, data = await upload(api, "st1", png((1000, 500), "green"), "wide.png", "image/png")
    assert status == 201
    up = data["data"]
    assert (up["width"], up["height"]) == (1000, 500) and up["thumbnail"] == up["url"] + "/thumbnail"
    resp = await fetch(base_url, up["thumbnail"], "st1")
    assert resp.code == 200 and resp.headers["Content-Type"] == "image/jpeg"
    assert resp.headers["Content-Disposition"].startswith("inline;")
    with Image.open(io.BytesIO(resp.body)) as im:
        assert im.size == (320, 160)
    # a PDF has none
    _, pdf = await upload(api, "st1", PDF, "a.pdf")
    resp = await fetch(base_url, pdf["data"]["url"] + "/thumbnail", "st1")
    assert resp.code == 404


@pytest.mark.settings(upload_max_pixels=10_000)
@pytest.mark.gen_test
async def test_huge_and_broken_images_are_refused(api, app):
    status, body = await upload(api, "st1", png((200, 200)), "big.png", "image/png")
    assert status == 413 and body["error"]["code"] == "too_large" and "pixels" in body["error"]["message"]
    broken = png((50, 50))[:60]
    status, body = await upload(api, "st1", broken, "broken.png", "image/png")
    assert status == 400 and "could not be read" in body["error"]["message"]
    assert await count(app) == 0


# ---------------------------------------------------------------------- downloads
@pytest.mark.gen_test
async def test_download_headers_range_etag_and_conditional_requests(api, base_url):
    body = b"%PDF-1.4\n" + bytes(range(256)) * 40
    _, data = await upload(api, "t1", body, "worksheet.pdf", "application/pdf")
    up = data["data"]
    resp = await fetch(base_url, up["url"], "t1")
    assert resp.code == 200 and resp.body == body
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="worksheet.pdf"')
    assert resp.headers["ETag"] == '"%s"' % up["sha256"] and resp.headers["Accept-Ranges"] == "bytes"
    part = await fetch(base_url, up["url"], "t1", headers={"Range": "bytes=9-18"})
    assert part.code == 206 and part.body == body[9:19]
    assert part.headers["Content-Range"] == "bytes 9-18/%d" % len(body)
    tail = await fetch(base_url, up["url"], "t1", headers={"Range": "bytes=-5"})
    assert tail.code == 206 and tail.body == body[-5:]
    bad = await fetch(base_url, up["url"], "t1", headers={"Range": "bytes=99999-"})
    assert bad.code == 416
    same = await fetch(base_url, up["url"], "t1", headers={"If-None-Match": resp.headers["ETag"]})
    assert same.code == 304 and same.body == b""
    head = await fetch(base_url, up["url"], "t1", method="HEAD")
    assert head.code == 200 and head.headers["Content-Length"] == str(len(body)) and head.body == b""
    # text is served as text, never as a page
    _, txt = await upload(api, "t1", b"plain words\n", "n.txt", "text/plain")
    resp = await fetch(base_url, txt["data"]["url"], "t1")
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.gen_test
async def test_safe_images_are_inline_everything_else_an_attachment(api, base_url):
    _, image = await upload(api, "t1", png(), "p.png", "image/png")
    resp = await fetch(base_url, image["data"]["url"], "t1")
    assert resp.headers["Content-Disposition"].startswith('inline; filename="p.png"')
    assert resp.headers["Content-Type"] == "image/png"


@pytest.mark.gen_test
async def test_only_the_uploader_and_school_admins_open_an_unattached_upload(api, base_url):
    _, data = await upload(api, "t1", PDF, "private.pdf", "application/pdf")
    url = data["data"]["url"]
    assert (await fetch(base_url, url, "t1")).code == 200
    assert (await fetch(base_url, url, "a1")).code == 200  # the school's audit
    for other in ("st1", "t2", "x1", "x2"):  # a non-participant of the school, another school
        resp = await fetch(base_url, url, other)
        assert resp.code == 404 and b'"not_found"' in resp.body, other
    for bad in ("/api/uploads/" + "0" * 24, "/api/uploads/nonsense", "/api/uploads/" + "0" * 24 + "/thumbnail"):
        assert (await fetch(base_url, bad, "t1")).code == 404
    assert (await fetch(base_url, url)).code == 401
    assert (await fetch(base_url, url + "?token=" + token("t1"))).code == 401  # never a JWT in a URL


@pytest.mark.gen_test
async def test_signed_links_open_without_a_header_and_cannot_be_forged(api, base_url, app):
    _, image = await upload(api, "st1", png((400, 400)), "p.png", "image/png")
    _, doc = await upload(api, "st1", PDF, "d.pdf", "application/pdf")
    _, foreign = await upload(api, "x2", PDF, "x.pdf", "application/pdf")
    ids = [image["data"]["id"], doc["data"]["id"], foreign["data"]["id"], "0" * 24, "junk"]
    status, links = await api.post("/api/uploads/links", "st1", {"ids": ids})
    assert status == 200 and sorted(links["data"]) == sorted(ids[:2])  # what st1 may not open is left out
    link = links["data"][image["data"]["id"]]
    assert link["expiresAt"].endswith("Z") and links["data"][doc["data"]["id"]]["thumbnailUrl"] is None
    assert "eyJ" not in link["url"] and token("st1") not in link["url"]  # no JWT in any URL
    resp = await fetch(base_url, link["url"])
    assert resp.code == 200 and resp.headers["ETag"] == '"%s"' % image["data"]["sha256"]
    thumb = await fetch(base_url, link["thumbnailUrl"])
    assert thumb.code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    # the thumbnail's signature does not open the file, a changed user or id does not verify
    assert (await fetch(base_url, link["thumbnailUrl"].replace("/thumbnail", ""))).code == 401
    assert (await fetch(base_url, link["url"].replace("u=st1", "u=st2"))).code == 401
    other = "/api/uploads/%s?%s" % (doc["data"]["id"], link["url"].split("?", 1)[1])
    assert (await fetch(base_url, other)).code == 401
    # an expired link (signed for a moment in the past)
    signer = service(app).signer
    ident = Identity(user_id="st1", role="student", school="s1", name="", exp=0)
    stale = signer.url(image["data"]["url"], image["data"]["id"], "file", ident, exp=1_000_000)
    resp = await fetch(base_url, stale)
    assert resp.code == 401 and b"expired" in resp.body
    # a valid signature still runs the access rule: another school's user gets nothing
    forged_for_x = Identity(user_id="x2", role="student", school="s2", name="", exp=0)
    resp = await fetch(base_url, signer.url(image["data"]["url"], image["data"]["id"], "file", forged_for_x))
    assert resp.code == 404
    for body in ({"ids": "x"}, {"ids": [1]}, {"ids": ["a"] * 101}, {}):
        assert (await api.post("/api/uploads/links", "st1", body))[0] == 400


@pytest.mark.gen_test
async def test_the_same_bytes_are_stored_once(api, tmp_path):
    _, first = await upload(api, "st1", PDF, "a.pdf")
    _, second = await upload(api, "st2", PDF, "b.pdf")
    assert first["data"]["id"] != second["data"]["id"] and first["data"]["sha256"] == second["data"]["sha256"]
    assert blobs(tmp_path) == [first["data"]["sha256"]]


# ---------------------------------------------------------------------- sniffing and images, unit
def _zip(members: Dict[str, str], mimetype: Optional[str] = None) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        if mimetype:
            zf.writestr("mimetype", mimetype)
        for name, text in members.items():
            zf.writestr(name, text)
    return out.getvalue()


def _image(fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (12, 10), "white").save(out, fmt, **params)
    return out.getvalue()


SNIFFED = [
    (_image("JPEG"), "", "image/jpeg"), (_image("GIF"), "", "image/gif"), (_image("WEBP"), "", "image/webp"),
    (_image("BMP"), "", "image/bmp"), (PDF, "", "application/pdf"),
    (_zip({"[Content_Types].xml": "<T/>", "xl/workbook.xml": "<w/>"}), "",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (_zip({"[Content_Types].xml": "<T/>", "ppt/presentation.xml": "<p/>"}), "",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    (_zip({"content.xml": "<c/>"}, "application/vnd.oasis.opendocument.spreadsheet"), "",
     "application/vnd.oasis.opendocument.spreadsheet"),
    (bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 504, "marks.xls", "application/vnd.ms-excel"),
    (bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 504, "letter.doc", "application/msword"),
    (b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\0" * 100, "", "audio/mpeg"),
    (b"RIFF\x64\x00\x00\x00WAVEfmt " + b"\0" * 100, "", "audio/wav"),
    (b"OggS\x00\x02" + b"\0" * 100, "", "audio/ogg"),
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\0" * 100, "", "video/mp4"),
    (bytes.fromhex("1A45DFA3") + b"\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm" + b"\0" * 50, "",
     "video/webm"),
    ("Grüße, Klasse 7!\n".encode("utf-8"), "", "text/plain"),
    (b"\xef\xbb\xbf  <html>", "", "text/html"),
]


def test_sniffing_from_the_bytes(tmp_path):
    for i, (data, name, expected) in enumerate(SNIFFED):
        path = tmp_path / ("sample%d" % i)  # no extension: the name must not decide
        path.write_bytes(data)
        assert policy.sniff(str(path), name) == expected, (i, expected)
    for mime in {m for _d, _n, m in SNIFFED} - {"text/html"}:
        policy.check_type(mime, Settings().upload_types)  # every one of them is allowed by default


@pytest.mark.gen_test
async def test_animated_gifs_keep_their_frames_and_webp_loses_its_exif(api, base_url):
    frames = [Image.new("RGB", (20, 20), c) for c in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0, comment=b"school trip")
    assert Image.open(io.BytesIO(out.getvalue())).n_frames == 3 and b"school trip" in out.getvalue()
    status, data = await upload(api, "st1", out.getvalue(), "a.gif", "image/gif")
    assert status == 201, data
    resp = await fetch(base_url, data["data"]["url"], "st1")
    with Image.open(io.BytesIO(resp.body)) as im:
        assert im.n_frames == 3 and b"school trip" not in resp.body
    exif = Image.Exif()
    exif[0x0110] = "KidCam 3000"
    status, data = await upload(api, "st1", _image("WEBP", exif=exif), "w.webp", "image/webp")
    assert status == 201
    resp = await fetch(base_url, data["data"]["url"], "st1")
    assert b"KidCam" not in resp.body and (data["data"]["width"], data["data"]["height"]) == (12, 10)
