"""Uploads hardened (issue 20, items 3, 7 and 15), through the real server:

- the daily quota holds for uploads running at once (chunked bodies, one node or two nodes on
  one Redis): it is reserved as the bytes arrive, and what a refused or smaller upload did not
  use is given back;
- a download name never ends in an extension that runs or renders, format characters (bidi
  controls) are gone from names, and markup in UTF-16/UTF-32 is refused like UTF-8 markup;
- a request body is timed out when it goes idle (408), not for being slow, on an injected clock.

Waits are barriers on observable state (work files, the idle timer, bytes received), never sleeps.
"""
from __future__ import annotations

import asyncio
import io
import os
from types import SimpleNamespace
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import quote, urlparse

import pytest
import tornado.httpclient
import tornado.testing
import ujson
from PIL import Image, PngImagePlugin

from chat.clock import ManualClock
from chat.settings import Settings
from handlers.http_server import build_http_server
from tests.conftest import token
from tests.e2e.test_cluster import REDIS, Cluster, RedisProc, run
from tests.e2e.uploads_helpers import upload

in_process = pytest.mark.usefixtures("school", "http_server")
needs_redis = pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")

QUOTA = 100_000


async def until(check: Callable[[], Any], what: str, bound: float = 60) -> Any:
    """Poll ``check`` (server state another task changes) until truthy; ``bound`` only stops a hang."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    while True:
        value = check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        await asyncio.sleep(0.01)


class RawUpload:
    """``POST /api/uploads`` over a plain socket, so pieces of the body go out exactly when the
    test says: chunked (``length=None``) or with a ``Content-Length``."""

    def __init__(self, base_url: str, user: str, name: str, length: Optional[int] = None,
                 secret_settings: Optional[Settings] = None) -> None:
        self.url = urlparse(base_url)
        self.user, self.name, self.length = user, name, length
        self.settings = secret_settings
        self.reader: Any = None
        self.writer: Any = None
        self.broken = False

    async def open(self) -> "RawUpload":
        self.reader, self.writer = await asyncio.open_connection(self.url.hostname, self.url.port)
        framing = "Content-Length: %d" % self.length if self.length is not None else "Transfer-Encoding: chunked"
        head = ("POST /api/uploads?name=%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/octet-stream\r\nConnection: close\r\n%s\r\n\r\n"
                % (quote(self.name), token(self.user, self.settings), framing))
        await self._write(head.encode())
        return self

    async def send(self, data: bytes) -> None:
        if self.length is None:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        await self._write(data)

    async def end(self) -> None:
        if self.length is None:
            await self._write(b"0\r\n\r\n")

    async def answer(self) -> Tuple[Optional[int], Dict[str, Any]]:
        """(status, JSON body), or (None, {}) when the server reset the connection instead."""
        got = b""
        try:
            while True:
                chunk = await asyncio.wait_for(self.reader.read(65536), 60)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        self.writer.close()
        if not got.startswith(b"HTTP/1.1 "):
            return None, {}
        head, _, body = got.partition(b"\r\n\r\n")
        return int(head.split(b" ")[1]), (ujson.loads(body) if body else {})

    async def _write(self, data: bytes) -> None:
        if self.broken:
            return
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionResetError, BrokenPipeError):
            self.broken = True  # refused and closed by the server: its answer is read later


def work_files(data_dir: str) -> List[str]:
    return os.listdir(os.path.join(data_dir, "uploads", "tmp"))


def png_with_text(kb: int) -> bytes:
    """A PNG carrying a large text chunk: stored smaller once written again from its pixels."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "x" * (kb * 1024))
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "green").save(out, "PNG", pnginfo=info)
    return out.getvalue()


async def stored_bytes(app: Any, user: str) -> int:
    return int(await app.settings["uploads"].repo.bytes_since(user, 0))


async def interleaved(uploads: List[RawUpload], pieces: List[List[bytes]], begun: Callable[[], bool]
                      ) -> List[Tuple[Optional[int], Dict[str, Any]]]:
    """Open every upload, wait until the server has begun all of them, send their pieces round
    robin (piece 1 of each, then piece 2 of each...), end them all, then read every answer."""
    for u in uploads:
        await u.open()
    await until(begun, "every upload begun")
    for round_ in range(max(len(p) for p in pieces)):
        for u, parts in zip(uploads, pieces, strict=True):
            if round_ < len(parts):
                await u.send(parts[round_])
    for u in uploads:
        await u.end()
    return [await u.answer() for u in uploads]


# ---------------------------------------------------------------------- item 3: the quota
@in_process
@pytest.mark.gen_test(timeout=180)
@pytest.mark.settings(upload_quota_bytes=QUOTA, rate_messages_burst=200)
async def test_concurrent_chunked_uploads_never_pass_the_daily_quota(base_url, api, app, tmp_path):
    data_dir = str(tmp_path)
    # an image stored smaller than it was sent (its 20 KB comment is dropped) counts its stored
    # size: the rest of its reservation is given back (checked by filling the quota exactly below)
    picture = png_with_text(20)
    status, pic = await upload(api, "st1", picture, "pic.png")
    assert status == 201 and pic["data"]["size"] < len(picture) // 10, pic
    # five chunked uploads of 30 KB against a 100 KB quota, all in flight at once
    uploads = [RawUpload(base_url, "st1", "part%d.txt" % i) for i in range(5)]
    pieces = [[bytes([97 + i]) * 10_000] * 3 for i in range(5)]
    answers = await interleaved(uploads, pieces, lambda: len(work_files(data_dir)) == 5)
    accepted = [body["data"]["size"] for status, body in answers if status == 201]
    assert all(status in (201, 429, None) for status, _ in answers), answers
    assert all(body["error"]["code"] == "rate_limited" for status, body in answers if status == 429)
    assert sum(accepted) <= QUOTA and len(accepted) <= 3, answers
    assert await stored_bytes(app, "st1") == sum(accepted) + pic["data"]["size"]
    await until(lambda: work_files(data_dir) == [], "the refused uploads' files removed")
    assert app.settings["uploads"].receiving() == {"uploads": 0, "bytes": 0}

    # what the refused uploads and the image did not use was given back: exactly the rest fits
    left = QUOTA - await stored_bytes(app, "st1")
    status, body = await upload(api, "st1", b"z" * left, "rest.txt")
    assert status == 201, body
    status, body = await upload(api, "st1", b"!", "over.txt")
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert await stored_bytes(app, "st1") == QUOTA
    assert (await upload(api, "st2", b"y" * 1000, "other.txt"))[0] == 201  # another user's quota


# ---------------------------------------------------------------------- item 7: names and types
@in_process
@pytest.mark.gen_test(timeout=120)
async def test_download_names_never_end_in_a_risky_extension(api, app, base_url):
    cases = {"run.bat": "run_bat.txt", "love.vbs": "love_vbs.txt", "app.JS": "app_JS.txt", "x.ps1": "x_ps1.txt",
             "page.hta": "page_hta.txt", "launch.desktop": "launch_desktop.txt", "index.html": "index_html.txt",
             "setup.exe.": "setup_exe.txt", "invoice\u202etxt.exe": "invoicetxt_exe.txt",
             "a\u2066b\u2069\u200d.txt": "ab.txt", "notes.txt": "notes.txt", "report.tar.gz": "report.tar.gz"}
    for raw, expected in cases.items():
        status, body = await upload(api, "st1", b"just some text\n", raw, "text/plain")
        assert status == 201, (raw, body)
        assert body["data"]["name"] == expected, raw
        resp = await tornado.httpclient.AsyncHTTPClient().fetch(
            base_url + body["data"]["url"], headers={"Authorization": "Bearer " + token("st1")}, raise_error=False)
        disposition = resp.headers["Content-Disposition"]
        assert disposition.startswith("attachment;") and quote(expected, safe="") in disposition, disposition
    status, body = await upload(api, "st1", png_with_text(1), "photo.svg")
    assert status == 201 and body["data"]["name"] == "photo_svg.png"  # named after its real type

    # a name stored before the rule is made harmless on the way out
    repo = app.settings["uploads"].repo
    status, body = await upload(api, "st1", b"old text\n", "old.txt")
    await repo.seam.io(lambda: repo._col.update_one({"_id": body["data"]["id"]}, {"$set": {"name": "legacy.HTA"}}))
    resp = await tornado.httpclient.AsyncHTTPClient().fetch(
        base_url + body["data"]["url"], headers={"Authorization": "Bearer " + token("st1")}, raise_error=False)
    assert 'filename="legacy_HTA.txt"' in resp.headers["Content-Disposition"]


SVG = '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = '\r\n  <!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>'


@in_process
@pytest.mark.gen_test(timeout=120)
async def test_utf16_and_utf32_markup_is_refused_like_utf8(api):
    for label, text in (("svg", SVG), ("html", HTML)):
        for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"):
            status, body = await upload(api, "st1", text.encode(encoding), "picture.txt", "text/plain")
            assert status == 400, (label, encoding, body)
            assert "HTML, SVG and XML" in body["error"]["message"], (label, encoding, body)
    # control characters after the markup do not hide it
    smuggled = ("<html>" + "\x01" * 200 + "<script>alert(1)</script>").encode("utf-16")
    status, body = await upload(api, "st1", smuggled, "notes.txt", "text/plain")
    assert status == 400 and "HTML, SVG and XML" in body["error"]["message"], body
    # wide text that is not markup is still text (with a byte order mark, as before)
    status, body = await upload(api, "st1", "Liebe Klasse 7B,\nHausaufgaben <3\n".encode("utf-16"), "brief.txt")
    assert status == 201 and body["data"]["mimeType"] == "text/plain", body


# ---------------------------------------------------------------------- item 15: idle bodies
@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def clocked_url(io_loop: Any, app: Any, settings: Settings, clock: ManualClock) -> Iterator[str]:
    """The app behind the real HTTP server, its idle-body timer on the manual clock."""
    sock, port = tornado.testing.bind_unused_port()
    server = build_http_server(app, settings, clock=clock)
    server.add_socket(sock)
    yield "http://127.0.0.1:%d" % port
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=30)


@pytest.mark.usefixtures("school")
@pytest.mark.gen_test(timeout=120)
@pytest.mark.settings(http_body_timeout=10)
async def test_an_idle_upload_body_gets_408_and_is_dropped(clocked_url, clock, app, tmp_path):
    up = await RawUpload(clocked_url, "st1", "essay.txt", length=1000).open()
    await up.send(b"The first ")
    await until(lambda: clock.pending() == 1, "the idle timer armed")  # the upload was begun
    assert len(work_files(str(tmp_path))) == 1
    clock.advance(9.9)
    assert clock.pending() == 1  # not idle long enough yet
    clock.advance(0.2)
    status, body = await up.answer()
    assert status == 408 and body["error"]["code"] == "timeout", body
    await until(lambda: work_files(str(tmp_path)) == [], "the upload's work file removed")
    assert app.settings["uploads"].receiving() == {"uploads": 0, "bytes": 0}
    assert await stored_bytes(app, "st1") == 0


@pytest.mark.usefixtures("school")
@pytest.mark.gen_test(timeout=180)
@pytest.mark.settings(http_body_timeout=10)
async def test_a_slow_but_steady_upload_is_not_timed_out(clocked_url, clock, app):
    text = b"one byte every six seconds\n"
    up = await RawUpload(clocked_url, "st1", "slow.txt", length=len(text)).open()
    await until(lambda: clock.pending() == 1, "the idle timer armed")
    uploads = app.settings["uploads"]
    for i in range(len(text) - 1):
        await up.send(text[i:i + 1])
        await until(lambda n=i + 1: uploads.receiving()["bytes"] == n, "byte %d received" % i)
        clock.advance(6)
    await up.send(text[-1:])  # 162 s for the whole body, never 10 s without a byte
    status, body = await up.answer()
    assert status == 201, body
    assert body["data"]["size"] == len(text)


# ---------------------------------------------------------------------- the quota across nodes
@pytest.fixture
def cluster(tmp_path: Any) -> Iterator[Cluster]:
    """A database process, a Redis and server nodes on them (see tests/e2e/test_cluster.py)."""
    c = Cluster(str(tmp_path))
    try:
        yield c
    finally:
        c.stop()


@needs_redis
def test_the_quota_holds_for_uploads_to_two_nodes_at_once(cluster):
    nodes = cluster.start(2, upload_quota_bytes=QUOTA, rate_messages_burst=200)

    async def main() -> None:
        # two chunked uploads of 60 KB, one per node, interleaved: together over the quota
        uploads = [RawUpload(n.url, "st1", "half%d.txt" % i) for i, n in enumerate(nodes)]
        pieces = [[b"a" * 30_000] * 2, [b"b" * 30_000] * 2]
        answers = await interleaved(uploads, pieces,
                                    lambda: all(len(work_files(n.data_dir)) == 1 for n in nodes))
        accepted = [body["data"]["size"] for status, body in answers if status == 201]
        assert sum(accepted) <= QUOTA and len(accepted) <= 1, answers
        # the refused upload's reservation is given back on its node: the rest fits on the other
        left = QUOTA - sum(accepted)
        status = await _eventually_uploaded(nodes[0].url, b"r" * left)
        assert status == 201
        over = await RawUpload(nodes[1].url, "st1", "over.txt", length=1).open()
        await over.send(b"!")
        status, body = await over.answer()
        assert status == 429 and body["error"]["code"] == "rate_limited", body

    run(main())


async def _eventually_uploaded(base_url: str, data: bytes) -> Optional[int]:
    """Upload ``data``; while the quota still shows a reservation being given back (429), again."""
    status: Optional[int] = None
    for _ in range(200):
        up = await RawUpload(base_url, "st1", "rest.txt", length=len(data)).open()
        await up.send(data)
        status, _body = await up.answer()
        if status != 429:
            return status
        await asyncio.sleep(0.05)
    return status


@needs_redis
def test_a_dead_nodes_reservations_are_dropped(tmp_path):
    redis = RedisProc(str(tmp_path))
    redis.start()
    try:
        run(_dead_node(redis.url))
    finally:
        redis.stop()


async def _dead_node(url: str) -> None:
    import redis.asyncio as aioredis

    from chat.cluster.quota import RedisQuota

    client = aioredis.from_url(url)
    prefix = "chat:q:"

    async def nothing_stored(user_id: str, since: int) -> int:
        return 0

    def quota(node_id: str) -> RedisQuota:
        return RedisQuota(SimpleNamespace(up=True, client=client), prefix, node_id, 100, nothing_stored)

    try:
        a, b = quota("nodea"), quota("nodeb")
        await client.set(prefix + "node:nodea", "1")
        await client.set(prefix + "node:nodeb", "1")
        on_a, on_b = a.open("u1"), b.open("u1")
        assert await a.reserve(on_a, 80)
        assert not await b.reserve(on_b, 30)  # 80 + 30 > 100, across nodes
        await client.delete(prefix + "node:nodea")  # node a died mid-upload
        assert await b.reserve(on_b, 30)
        await b.settle(on_b, 25)  # stored smaller than reserved: 25 count, 5 given back
        again = b.open("u1")
        assert await b.reserve(again, 75) and not await b.reserve(again, 1)
        await b.settle(again, None)
        assert await b.reserve(b.open("u1"), 75)
    finally:
        await client.aclose()


