"""Transport limits through real clients: oversized heads and bodies get JSON answers (not a
reset), half-sent requests are timed out, and a text frame that is not UTF-8 closes its
socket with 1007."""
from __future__ import annotations

import asyncio
import socket
from typing import Tuple

import pytest
import tornado.httpclient
import tornado.testing
import tornado.web
import tornado.websocket
import ujson

from tests.conftest import Ws, token

pytestmark = pytest.mark.usefixtures("school")

MB = 1 << 20


def host_port(base_url: str) -> Tuple[str, int]:
    host, port = base_url.split("://", 1)[1].split(":")
    return host, int(port)


async def raw_connection(base_url: str) -> socket.socket:
    sock = socket.socket()
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, host_port(base_url))
    return sock


async def read_until_closed(sock: socket.socket, bound: float = 60) -> bytes:
    """Everything the server sends until it closes the connection (``bound`` only stops a hang)."""
    loop = asyncio.get_running_loop()
    got = b""
    while True:
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), bound)
        except ConnectionResetError:
            return got
        if not chunk:
            return got
        got += chunk


def assert_too_large(status: int, data: dict, expected: int) -> None:
    assert status == expected, (status, data)
    assert data["error"]["code"] == "too_large" and data["error"]["message"], data


@pytest.mark.gen_test(timeout=120)
async def test_a_100_kb_token_gets_431_as_json_over_rest_and_websocket(api, base_url):
    huge = "Bearer " + "x" * 100_000
    status, data = await api.get("/api/conversations", headers={"Authorization": huge})
    assert_too_large(status, data, 431)
    req = tornado.httpclient.HTTPRequest(base_url.replace("http://", "ws://") + "/ws?token=" + "y" * 100_000)
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await tornado.websocket.websocket_connect(req)
    assert info.value.code == 431
    assert ujson.loads(info.value.response.body)["error"]["code"] == "too_large"
    assert (await api.get("/api/conversations", "st1"))[0] == 200  # the server is fine


@pytest.mark.gen_test(timeout=120)
async def test_a_2_mb_body_gets_413_as_json_and_stores_nothing(api):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    path = "/api/conversations/%s/messages" % conv["id"]
    big = ujson.dumps({"text": "x" * (2 * MB)}).encode()
    status, data = await api.post(path, "st1", raw=big)
    assert_too_large(status, data, 413)
    # announced with Expect: 100-continue, it is refused before the body is sent
    resp = await api.client.fetch(api.base + path, method="POST", body=big, raise_error=False,
                                  expect_100_continue=True, request_timeout=60,
                                  headers={"Authorization": "Bearer " + token("st1")})
    assert_too_large(resp.code, ujson.loads(resp.body), 413)
    _, hist = await api.get(path, "st2")
    assert hist["data"] == []


@pytest.mark.gen_test(timeout=120)
async def test_a_chunked_body_over_the_limit_gets_413_as_json(api):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    path = "/api/conversations/%s/messages" % conv["id"]

    async def produce(write):
        await write(b'{"text": "')
        for _ in range(32):
            await write(b"x" * 65536)
        await write(b'"}')
    resp = await api.client.fetch(api.base + path, method="POST", body_producer=produce, raise_error=False,
                                  request_timeout=60, headers={"Authorization": "Bearer " + token("st1"),
                                                               "Transfer-Encoding": "chunked"})
    assert_too_large(resp.code, ujson.loads(resp.body), 413)
    _, hist = await api.get(path, "st2")
    assert hist["data"] == []


@pytest.mark.gen_test(timeout=120)
async def test_a_refused_request_leaves_the_connection_usable(http_server, base_url):
    sock = await raw_connection(base_url)
    loop = asyncio.get_running_loop()
    host, port = host_port(base_url)
    await loop.sock_sendall(sock, ("GET /api/health HTTP/1.1\r\nHost: %s:%d\r\nX-Pad: %s\r\n\r\n"
                                   % (host, port, "p" * 40_000)).encode())
    await loop.sock_sendall(sock, ("GET /api/health HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
                                   % (host, port)).encode())
    answers = await read_until_closed(sock)
    sock.close()
    first, second = answers.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"431 ") and b'"too_large"' in first
    assert second.startswith(b"200 ")


@pytest.mark.gen_test(timeout=120)
@pytest.mark.settings(http_header_timeout=0.5)
async def test_half_sent_headers_are_timed_out(http_server, base_url):
    sock = await raw_connection(base_url)
    await asyncio.get_running_loop().sock_sendall(sock, b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert await read_until_closed(sock) == b""  # closed by the server, no answer
    sock.close()


@pytest.mark.gen_test(timeout=120)
@pytest.mark.settings(http_body_timeout=0.5)
async def test_a_half_sent_body_is_timed_out(http_server, base_url):
    sock = await raw_connection(base_url)
    await asyncio.get_running_loop().sock_sendall(
        sock, b"POST /api/conversations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"type\"")
    answer = await read_until_closed(sock)  # answered, then closed
    assert answer.startswith(b"HTTP/1.1 408 ") and b'"timeout"' in answer
    sock.close()


@pytest.mark.gen_test
async def test_a_text_frame_that_is_not_utf8_closes_the_socket_with_1007(ws, runtime):
    c = await ws("st1")
    assert (await c.ok("ping"))["serverTime"]
    c.conn.protocol._write_frame(True, 0x1, b'{"event": "ping", "ref": "\xff\xfe"}')  # a crafted frame
    c.send("ping", ref="after")  # sent after the bad frame: never handled
    await asyncio.wait_for(c.closed.wait(), 30)
    assert c.close_code == 1007
    assert not [f for f in c.frames if f.get("ref") == "after"]
    other = await ws("st1")  # the server is fine
    assert (await other.ok("ping"))["serverTime"]
    assert isinstance(other, Ws)


@tornado.web.stream_request_body
class _Streaming(tornado.web.RequestHandler):
    """Like an upload route: it raises its own body limit and counts what arrives."""

    def prepare(self):
        self.request.connection.set_max_body_size(1 << 20)
        self.size = 0

    def data_received(self, chunk):
        self.size += len(chunk)

    def post(self):
        self.write({"size": self.size})


class _Buffered(tornado.web.RequestHandler):
    def post(self):
        self.write({"size": len(self.request.body)})


@pytest.mark.gen_test
async def test_routes_that_stream_their_body_set_their_own_limit(io_loop):
    from chat.settings import Settings
    from handlers.http_server import build_http_server

    sock, port = tornado.testing.bind_unused_port()
    server = build_http_server(tornado.web.Application([("/stream", _Streaming), ("/buffer", _Buffered)]),
                               Settings(max_body_bytes=1000))
    server.add_socket(sock)
    client = tornado.httpclient.AsyncHTTPClient()
    try:
        body = b"z" * 5000
        resp = await client.fetch("http://127.0.0.1:%d/stream" % port, method="POST", body=body)
        assert ujson.loads(resp.body) == {"size": 5000}
        resp = await client.fetch("http://127.0.0.1:%d/buffer" % port, method="POST", body=body, raise_error=False)
        assert_too_large(resp.code, ujson.loads(resp.body), 413)
        resp = await client.fetch("http://127.0.0.1:%d/buffer" % port, method="POST", body=b"z" * 900)
        assert ujson.loads(resp.body) == {"size": 900}
    finally:
        server.stop()
        await server.close_all_connections()
