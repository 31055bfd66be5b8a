"""Images under hostile input (issue 20, items 1, 2 and 12), over real HTTP: the work per image
is bounded (pixels x frames, time, decodes at once) and done in short-lived worker processes, so
the server's memory never holds a decoded image; every image Pillow opens is stored cleanly or
refused with a 4xx; a BMP is written again from its pixels like every other image."""
from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import signal
import time
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

import pytest
import tornado.httpclient
from PIL import Image, ImageSequence

from tests.conftest import token
from tests.e2e import image_targets
from tests.e2e.test_binary import BINARY, IN_CI
from tests.e2e.test_process import ServerProc
from tests.e2e.uploads_helpers import upload
from tests.unit.test_images import encoded


def service(app: Any) -> Any:
    return app.settings["uploads"]


def work_files(tmp_path: Any) -> List[str]:
    return os.listdir(os.path.join(str(tmp_path), "uploads", "tmp"))


async def download(base_url: str, path: str, user: str) -> bytes:
    resp = await tornado.httpclient.AsyncHTTPClient().fetch(
        base_url + path, headers={"Authorization": "Bearer " + token(user)}, request_timeout=60)
    return resp.body


def mpo() -> bytes:
    """A multi-picture JPEG (a 3D camera's stereo pair): two JPEG frames in one file."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "MPO", save_all=True, append_images=[Image.new("RGB", (64, 48))])
    assert Image.open(io.BytesIO(out.getvalue())).n_frames == 2
    return out.getvalue()


def animation(fmt: str, frames: int = 4) -> bytes:
    images = [Image.new("RGBA", (30, 20), (i * 40, 0, 0, 128 if i % 2 else 255)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, fmt, save_all=True, append_images=images[1:], duration=[50 + 10 * i for i in range(frames)],
                   loop=0)
    return out.getvalue()


# ---------------------------------------------------------------------- item 1: bounded work
@pytest.mark.gen_test(timeout=120)
async def test_a_3000_frame_gif_is_refused_too_large_before_its_frames_are_decoded(api, app, tmp_path):
    gif = image_targets.many_frame_gif(3000, 400, 400)
    assert len(gif) < 70_000 and Image.open(io.BytesIO(gif)).n_frames == 3000
    status, body = await upload(api, "st1", gif, "many.gif", "image/gif")
    assert status == 413 and body["error"]["code"] == "too_large", body
    assert "3000 frames" in body["error"]["message"]
    assert work_files(tmp_path) == [] and service(app).images.running == 0


@pytest.mark.gen_test(timeout=120)
async def test_pixels_times_frames_is_the_limit_exactly(api, app):
    gif = image_targets.many_frame_gif(3, 20, 20)
    images = service(app).images
    images.limits = dataclasses.replace(images.limits, max_total_pixels=3 * 20 * 20 - 1)
    status, body = await upload(api, "st1", gif, "three.gif", "image/gif")
    assert status == 413 and body["error"]["code"] == "too_large", body
    images.limits = dataclasses.replace(images.limits, max_total_pixels=3 * 20 * 20)
    status, body = await upload(api, "st1", gif, "three.gif", "image/gif")
    assert status == 201, body


@pytest.mark.settings(upload_image_seconds=0.5)
@pytest.mark.gen_test(timeout=120)
async def test_an_image_that_takes_too_long_is_killed_and_refused_too_large(api, app, tmp_path):
    service(app).images.target = image_targets.hang  # a decoder that never returns
    status, body = await upload(api, "st1", encoded("PNG"), "slow.png", "image/png")
    assert status == 413 and body["error"]["code"] == "too_large", body
    assert "0.5 seconds" in body["error"]["message"]
    assert service(app).images.running == 0 and work_files(tmp_path) == []


@pytest.mark.gen_test(timeout=120)
async def test_a_worker_that_is_killed_or_crashes_is_a_refusal_never_a_500(api, app, tmp_path):
    service(app).images.target = image_targets.killed  # what the OOM killer does
    status, body = await upload(api, "st1", encoded("PNG"), "a.png", "image/png")
    assert status == 413 and body["error"]["code"] == "too_large", body
    service(app).images.target = image_targets.crashed  # a decoder bug
    status, body = await upload(api, "st1", encoded("PNG"), "b.png", "image/png")
    assert status == 400 and body["error"]["code"] == "bad_request", body
    assert service(app).images.running == 0 and work_files(tmp_path) == []
    from chat.uploads.images import process_image

    service(app).images.target = process_image  # and the next image is fine
    status, body = await upload(api, "st1", encoded("PNG"), "c.png", "image/png")
    assert status == 201, body


@pytest.mark.settings(upload_image_workers=1, upload_image_seconds=300)  # the gate, not the clock, holds it
@pytest.mark.gen_test(timeout=180)
async def test_images_are_decoded_one_at_a_time_with_one_worker(api, app, tmp_path):
    images = service(app).images
    images.target = image_targets.gated
    work = os.path.join(str(tmp_path), "uploads", "tmp")
    first = asyncio.ensure_future(upload(api, "st1", encoded("PNG"), "1.png", "image/png"))
    second = asyncio.ensure_future(upload(api, "st2", encoded("PNG"), "2.png", "image/png"))
    for _ in range(1200):  # until one worker runs and the other image waits for it
        if images.waiting == 1 and any(f.startswith("started-") for f in os.listdir(work)):
            break
        await asyncio.sleep(0.05)
    assert images.waiting == 1 and images.running == 1
    assert len([f for f in os.listdir(work) if f.startswith("started-")]) == 1
    open(os.path.join(work, "gate"), "w").close()
    assert (await first)[0] == 201 and (await second)[0] == 201
    assert len([f for f in os.listdir(work) if f.startswith("started-")]) == 2


def _descendants(pid: int) -> List[int]:
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, encoding="ascii") as fh:
                    ppid = int(fh.read().rsplit(") ", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _status_kb(pid: int, field: str) -> int:
    with open("/proc/%d/status" % pid, encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _cmdline(pid: int) -> str:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def test_the_server_process_never_holds_a_decoded_photo_and_its_workers_stop_with_it(tmp_path):
    """A real server: a 7000x7000 JPEG (147 MB of pixels) is stored and thumbnailed, the
    server's own peak memory does not move, and SIGTERM leaves no worker behind."""
    photo = image_targets.big_jpeg()
    server = ServerProc(str(tmp_path / "data"))
    try:
        server.wait_ready()
        tok = server.cli("token", "--user", "t1", "--role", "teacher", "--school", "s1").stdout.strip()

        def post(data: bytes, name: str) -> Tuple[int, bytes]:
            req = urllib.request.Request(server.url + "/api/uploads?name=" + name, data=data, method="POST",
                                         headers={"Authorization": "Bearer " + tok, "Content-Type": "image/jpeg"})
            try:
                with urllib.request.urlopen(req, timeout=120) as resp:
                    return resp.status, resp.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()

        assert post(encoded("JPEG"), "warm.jpg")[0] == 201  # first-use imports happen here
        with open("/proc/%d/clear_refs" % server.proc.pid, "w", encoding="ascii") as fh:
            fh.write("5")  # the peak (VmHWM) restarts from the current RSS
        before = _status_kb(server.proc.pid, "VmRSS")
        status, body = post(photo, "big.jpg")
        assert status == 201, body
        assert (json.loads(body)["data"]["width"], json.loads(body)["data"]["height"]) == (7000, 7000)
        peak = _status_kb(server.proc.pid, "VmHWM")
        assert peak - before < 40 * 1024, "the server grew by %d KB decoding a photo" % (peak - before)
        req = urllib.request.Request(server.url + json.loads(body)["data"]["thumbnail"],
                                     headers={"Authorization": "Bearer " + tok})
        with urllib.request.urlopen(req, timeout=60) as resp:
            assert Image.open(io.BytesIO(resp.read())).size == (320, 320)  # from a reduced decode (draft)
        workers = [p for p in _descendants(server.proc.pid) if "forkserver" in _cmdline(p)]
        assert workers, "no image worker process: %s" % [_cmdline(p) for p in _descendants(server.proc.pid)]
        tree = _descendants(server.proc.pid)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0, server.output()
        left = [p for p in tree if os.path.exists("/proc/%d" % p) and _status_state(p) != "Z"]
        for _ in range(100):
            if not left:
                break
            time.sleep(0.1)
            left = [p for p in left if os.path.exists("/proc/%d" % p) and _status_state(p) != "Z"]
        assert not left, "left behind: %s" % [_cmdline(p) for p in left]
    finally:
        server.stop()


def _status_state(pid: int) -> Optional[str]:
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as fh:
            return fh.read().rsplit(") ", 1)[1][:1]
    except OSError:
        return None


# ---------------------------------------------------------------------- item 2: odd formats
@pytest.mark.gen_test(timeout=120)
async def test_a_multi_picture_jpeg_is_stored_as_its_first_picture(api, base_url):
    status, body = await upload(api, "st1", mpo(), "stereo.jpg", "image/jpeg")
    assert status == 201, body
    up = body["data"]
    assert (up["mimeType"], up["width"], up["height"]) == ("image/jpeg", 64, 48)
    stored = await download(base_url, up["url"], "st1")
    with Image.open(io.BytesIO(stored)) as im:
        assert im.format == "JPEG" and getattr(im, "n_frames", 1) == 1 and im.getpixel((32, 24))[0] > 200
    assert b"MPF" not in stored and up["thumbnail"]


@pytest.mark.gen_test(timeout=120)
async def test_odd_images_over_http_are_stored_or_refused_with_4xx(api, base_url):
    cases = [("cmyk.jpg", encoded("JPEG", "CMYK")), ("progressive.jpg", encoded("JPEG", progressive=True)),
             ("deep.png", encoded("PNG", "I;16")), ("grey-alpha.png", encoded("PNG", "LA")),
             ("anim.png", animation("PNG")), ("anim.webp", animation("WEBP")), ("anim.gif", animation("GIF")),
             ("mono.bmp", encoded("BMP", "1")), ("truncated.jpg", encoded("JPEG")[:200]),
             ("huge-header.png", encoded("PNG")[:16] + (100000).to_bytes(4, "big") * 2 + encoded("PNG")[24:])]
    for name, data in cases:
        status, body = await upload(api, "st1", data, name, "application/octet-stream")
        assert status in (201, 400, 413), (name, status, body)
        if status != 201:
            assert body["error"]["code"] in ("bad_request", "too_large"), (name, body)
            continue
        stored = await download(base_url, body["data"]["url"], "st1")
        with Image.open(io.BytesIO(stored)) as im:
            frames = getattr(im, "n_frames", 1)
            assert frames == (4 if name.startswith("anim") else 1), name
            if name.startswith("anim"):
                assert [f.load() and f.info.get("duration") for f in ImageSequence.Iterator(im)] == [50, 60, 70, 80], name


# ---------------------------------------------------------------------- item 12: BMP
@pytest.mark.gen_test(timeout=120)
async def test_a_bmp_is_written_again_from_its_pixels_and_appended_bytes_are_gone(api, base_url):
    out = io.BytesIO()
    Image.new("RGB", (20, 10), (0, 128, 255)).save(out, "BMP")
    trailer = b"GPS 51.5072 N 0.1276 W <script>alert(1)</script>PK\x03\x04\x14\x00secret.txt"
    status, body = await upload(api, "st1", out.getvalue() + trailer, "pic.bmp", "image/bmp")
    assert status == 201, body
    stored = await download(base_url, body["data"]["url"], "st1")
    assert b"GPS" not in stored and b"<script>" not in stored and b"PK\x03\x04" not in stored
    assert body["data"]["size"] == len(stored) < len(out.getvalue()) + len(trailer)
    with Image.open(io.BytesIO(stored)) as im:
        assert im.format == "BMP" and im.size == (20, 10) and im.getpixel((5, 5)) == (0, 128, 255)


@pytest.mark.gen_test(timeout=120)
async def test_thumbnails_carry_no_metadata_either(api, base_url):
    from tests.e2e.uploads_helpers import jpeg_with_gps

    for name, data in (("gps.jpg", jpeg_with_gps((640, 480), orientation=6)), ("stereo.jpg", mpo())):
        status, body = await upload(api, "st1", data, name, "image/jpeg")
        assert status == 201, body
        thumb = await download(base_url, body["data"]["thumbnail"], "st1")
        assert b"Example Road" not in thumb and b"KidCam" not in thumb and b"Exif" not in thumb, name
        assert b"MPF" not in thumb, name
        with Image.open(io.BytesIO(thumb)) as im:
            assert dict(im.getexif()) == {} and "comment" not in im.info, name
            if name == "gps.jpg":
                assert im.size == (240, 320)  # upright, like the photo


@pytest.mark.skipif(not os.path.exists(BINARY) and not IN_CI, reason="dist/school-chat not built (deploy/build-binary.sh)")
def test_the_one_file_executable_cleans_images_in_its_workers_and_takes_them_along(tmp_path):
    import subprocess

    from chat.ops.embedded import free_port

    port, data = free_port(), str(tmp_path / "data")
    proc = subprocess.Popen([BINARY, "--port", str(port), "--data-dir", data], cwd=str(tmp_path), env={},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree: List[int] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/api/health" % port, timeout=10):
                    break
            except OSError:
                time.sleep(0.1)
        tok = subprocess.run([BINARY, "token", "--user", "t1", "--role", "teacher", "--school", "s1",
                              "--data-dir", data], env={}, capture_output=True, text=True, timeout=60).stdout.strip()

        def post(body: bytes) -> int:
            req = urllib.request.Request("http://127.0.0.1:%d/api/uploads?name=f" % port, data=body, method="POST",
                                         headers={"Authorization": "Bearer " + tok})
            try:
                with urllib.request.urlopen(req, timeout=120) as resp:
                    return int(resp.status)
            except urllib.error.HTTPError as exc:
                return int(exc.code)

        assert post(mpo()) == 201
        assert post(image_targets.big_jpeg(2000)) == 201
        assert post(image_targets.many_frame_gif(3000, 400, 400)) == 413
        tree = _descendants(proc.pid)
        assert any("forkserver" in _cmdline(pid) for pid in tree), [_cmdline(pid) for pid in tree]
        proc.kill()  # the launcher, as a supervisor's last resort: everything below goes with it
        proc.wait(10)
        deadline = time.monotonic() + 30
        while any(_status_state(pid) not in (None, "Z") for pid in tree):
            assert time.monotonic() < deadline, "left running: %s" % [_cmdline(pid) for pid in tree]
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in tree:
            if _status_state(pid) not in (None, "Z"):
                os.kill(pid, signal.SIGKILL)
