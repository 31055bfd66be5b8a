"""The README's upload commands with the real curl against ``python server.py``: upload,
download with a range, signed links opened without a header, and a refused oversize body."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from typing import List

import pytest

from tests.e2e.test_process import ServerProc
from tests.e2e.uploads_helpers import PDF, jpeg_with_gps


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=60)


@pytest.fixture
def server(tmp_path):
    proc = ServerProc(str(tmp_path / "data"), "--max-upload-bytes", "100000")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def test_curl_uploads_downloads_and_opens_signed_links(server, tmp_path):
    tok = server.cli("token", "--user", "t1", "--role", "teacher", "--school", "s1").stdout.strip()
    auth = "Authorization: Bearer " + tok
    pdf = tmp_path / "worksheet.pdf"
    pdf.write_bytes(PDF)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_with_gps((640, 480)))
    out = curl("--data-binary", "@%s" % pdf, "-H", "Content-Type: application/pdf", "-H", auth,
               server.url + "/api/uploads?name=worksheet.pdf")
    doc = json.loads(out.stdout)["data"]
    assert (doc["name"], doc["mimeType"], doc["sha256"]) == ("worksheet.pdf", "application/pdf",
                                                             hashlib.sha256(PDF).hexdigest())
    out = curl("--data-binary", "@%s" % photo, "-H", auth, server.url + "/api/uploads?name=photo.jpg")
    image = json.loads(out.stdout)["data"]
    assert (image["mimeType"], image["width"], image["height"]) == ("image/jpeg", 640, 480)
    # download as the README shows (-OJ: the name comes from Content-Disposition)
    got = subprocess.run(["curl", "-sS", "-OJ", "-H", auth, server.url + doc["url"]], cwd=str(tmp_path / "data"),
                         capture_output=True, timeout=60)
    assert got.returncode == 0 and (tmp_path / "data" / "worksheet.pdf").read_bytes() == PDF
    part = curl("-H", auth, "-H", "Range: bytes=0-3", server.url + doc["url"])
    assert part.stdout == PDF[:4]
    out = curl("-X", "POST", "-H", auth, server.url + "/api/uploads/links",
               "-d", json.dumps({"ids": [image["id"], doc["id"]]}))
    links = json.loads(out.stdout)["data"]
    full = curl(server.url + links[image["id"]]["url"])  # no Authorization header at all
    assert hashlib.sha256(full.stdout).hexdigest() == image["sha256"] and b"Exif" not in full.stdout
    thumb = curl("-w", "%{http_code} %{content_type}", "-o", os.devnull,
                 server.url + links[image["id"]]["thumbnailUrl"])
    assert thumb.stdout == b"200 image/jpeg"
    # over --max-upload-bytes: 413 before curl sends the body (it waits for 100-continue)
    big = tmp_path / "big.pdf"
    big.write_bytes(PDF + b"\0" * 200_000)
    args: List[str] = ["--data-binary", "@%s" % big, "-H", "Expect: 100-continue", "-H", auth,
                       "-w", "\n%{http_code}", server.url + "/api/uploads?name=big.pdf"]
    refused = curl(*args)
    body, code = refused.stdout.rsplit(b"\n", 1)
    assert code == b"413" and json.loads(body)["error"]["code"] == "too_large"
