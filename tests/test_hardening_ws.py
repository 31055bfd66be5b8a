"""WebSocket hardening: refused frames cost the sender's limits, closed sessions leave nothing
behind, unmasked client frames fail the connection. Real server, real sockets, real nx-27017."""
from __future__ import annotations

import asyncio
import base64
import gc
import os
import struct
import weakref
from typing import Any, Dict, List, Tuple
from urllib.parse import urlparse

import pytest
import tornado.httpclient
import tornado.websocket
import ujson

from handlers.ws import ChatSocket
from tests.conftest import Ws, token

pytestmark = pytest.mark.usefixtures("school")


async def until(condition: Any, what: str, turns: int = 3000) -> None:
    """Let the event loop run until ``condition()`` holds (a bound on a hang, not a timing)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened: " + what)


# ---------------------------------------------------------------------- item 6: session churn
def session_structures(runtime: Any, hub: Any) -> Dict[str, int]:
    """The sizes of everything the server keeps per open socket."""
    manager, realtime = runtime.manager, runtime.realtime
    return {
        "sessions": len(realtime.sessions),
        "links": len(hub.handlers),
        "pinged": len(hub.heartbeat._waiting),
        "inflight": hub.inflight,
        "opening": realtime.opening,
        "connections": len(manager.connections),
        "schools": len(manager.schools),
        "by_user": len(manager.by_user),
        "users": len(manager.users),
        "by_school": len(manager.by_school),
        "by_school_role": len(manager.by_school_role),
        "by_class": len(manager.by_class),
        "typing": len(realtime.typing._typing) + len(realtime.typing._by_user),
    }


@pytest.mark.settings(max_sockets_per_user=2)
@pytest.mark.gen_test(timeout=120)
async def test_closed_sessions_leave_nothing_behind(http_server, base_url, app, runtime, api, monkeypatch):
    """Sessions opened and closed in every way (clean close, dropped TCP connection, refused
    origin, over the socket cap) are freed as they close, by reference counting: the cyclic
    collector is off during the churn, so a reference cycle through a handler (which holds the
    request, the stream and its buffers) would keep every session's memory until some later
    full collection. The per-socket structures return to their baseline."""
    hub = app.settings["hub"]
    conv = await api.conversation("st1", "group", ["st2", "t1"], title="G")
    handlers: List["weakref.ref[ChatSocket]"] = []
    real_prepare = ChatSocket.prepare

    async def prepare(self: ChatSocket) -> None:
        handlers.append(weakref.ref(self))
        await real_prepare(self)
    monkeypatch.setattr(ChatSocket, "prepare", prepare)
    baseline = session_structures(runtime, hub)
    ws_url = base_url.replace("http://", "ws://") + "/ws?token="

    async def churn() -> None:
        for user in ("st1", "st2", "t1"):
            a, b = await Ws.connect(base_url, user), await Ws.connect(base_url, user)
            assert (await a.ok("sync", {"conversations": {conv["id"]: 0}, "changedSince": "2020-01-01T00:00:00Z"}))
            await a.ok("typing:start", {"conversationId": conv["id"]})
            await b.ok("presence:list")
            over = await Ws.connect(base_url, user, ready=False)  # the third: 4029
            await over.closed.wait()
            with pytest.raises(tornado.httpclient.HTTPClientError):  # refused after prepare: 403
                await tornado.websocket.websocket_connect(tornado.httpclient.HTTPRequest(
                    ws_url + token(user), headers={"Origin": "http://evil.example"}))
            await a.close()
            b.conn.protocol.stream.close()  # gone without a closing handshake
            await b.closed.wait()

    await churn()  # warm-up: caches and lazily built state of the first sessions
    await until(lambda: session_structures(runtime, hub) == baseline, "the warm-up sessions closed")
    handlers.clear()
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            await churn()
        await until(lambda: session_structures(runtime, hub) == baseline, "the sessions closed")
        assert len(handlers) == 3 * 3 * 4
        # a handler still alive now is kept by a cycle or a reference somewhere
        await until(lambda: not [h for h in handlers if h() is not None], "every handler freed", 500)
    finally:
        gc.enable()
    assert session_structures(runtime, hub) == baseline
    assert len(runtime.limiter) <= 3 * 3  # per user and limit, never per socket


# ---------------------------------------------------------------------- item 16: unmasked frames
class RawSocket:
    """A WebSocket client written by hand over TCP, to send frames no library would."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, base_url: str, user: str) -> "RawSocket":
        url = urlparse(base_url)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(("GET /ws?token=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                      % (token(user), url.netloc, key)).encode())
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    def send(self, opcode: int, payload: bytes, masked: bool = True) -> None:
        size = len(payload)
        mask_bit = 0x80 if masked else 0
        if size < 126:
            header = struct.pack("!BB", 0x80 | opcode, mask_bit | size)
        elif size < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, mask_bit | 126, size)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, mask_bit | 127, size)
        if masked:
            mask = os.urandom(4)
            payload = mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + payload)

    def send_json(self, frame: Dict[str, Any], masked: bool = True) -> None:
        self.send(0x1, ujson.dumps(frame).encode(), masked)

    async def frame(self) -> Tuple[int, bytes]:
        """The next frame from the server: (opcode, payload)."""
        first, second = await self.reader.readexactly(2)
        assert not second & 0x80, "server frames are never masked"
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return first & 0x0F, await self.reader.readexactly(size)

    async def json(self) -> Dict[str, Any]:
        opcode, payload = await self.frame()
        assert opcode == 0x1, (opcode, payload)
        return ujson.loads(payload)

    async def close_code(self) -> int:
        """The code of the server's close frame, which must be the next frame, then the end of
        the TCP connection."""
        opcode, payload = await self.frame()
        assert opcode == 0x8, (opcode, payload)
        assert await self.reader.read() == b""  # and the server hung up
        return int(struct.unpack("!H", payload[:2])[0])


@pytest.mark.gen_test(timeout=60)
async def test_unmasked_client_frames_fail_the_connection_with_1002(http_server, base_url, runtime):
    raw = await RawSocket.connect(base_url, "st1")
    assert (await raw.json())["event"] == "session:ready"
    raw.send_json({"event": "ping", "ref": "masked"})
    while (await raw.json()).get("ref") != "masked":
        pass  # the pong push, then the reply: a masked frame is handled
    raw.send_json({"event": "ping", "ref": "unmasked"}, masked=False)
    assert await raw.close_code() == 1002
    control = await RawSocket.connect(base_url, "st2")
    assert (await control.json())["event"] == "session:ready"
    control.send(0x9, b"hi", masked=False)  # a control frame must be masked too
    assert await control.close_code() == 1002
    await until(lambda: not runtime.realtime.sessions, "both sessions closed")
