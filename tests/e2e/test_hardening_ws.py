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

from chat.clock import ManualClock
from chat.ratelimit import Limit, RateLimiter
from chat.realtime import protocol as p
from chat.settings import Settings
from handlers.ws import ChatSocket
from tests.conftest import Ws, token

pytestmark = [pytest.mark.usefixtures("school"), pytest.mark.manual_clock]  # the server runs on the clock fixture



async def until(condition: Any, what: str, turns: int = 3000) -> None:
    """Let the event loop run until ``condition()`` holds (a bound on a hang, not a timing)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened: " + what)


# ---------------------------------------------------------------------- item 4: refused frames
def test_a_frame_costs_tokens_by_its_size_and_a_refused_take_costs_nothing():
    s = Settings(rate_frame_bytes=100, rate_frames=1, rate_frames_burst=10)
    assert [p.frame_cost("x" * n, s) for n in (0, 1, 100, 101, 200, 201, 1000)] == [1, 1, 1, 2, 2, 3, 10]
    limiter = RateLimiter(s, ManualClock())
    assert limiter.take("u", Limit.FRAME, 7)
    assert not limiter.take("u", Limit.FRAME, 4)  # 3 left: refused, and nothing taken
    assert limiter.take("u", Limit.FRAME, 3) and not limiter.take("u", Limit.FRAME)
    assert limiter.take("v", Limit.FRAME, 50)  # more than a full bucket costs a full bucket


def answers(clients: List[Ws]) -> List[Dict[str, Any]]:
    """What the server answered to these sockets' frames (replies, errors, pongs)."""
    return [f for c in clients for f in c.frames if f.get("event") in ("reply", "error", "pong")]


GARBAGE = ["{not json", '{"event": "nope", "ref": "u"}', '{"event": "ping", "ref": 7}',
           '{"event": "message:read", "data": {"seq": "x"}, "ref": "v"}']


@pytest.mark.settings(rate_frames_burst=30, rate_strikes=5, max_sockets_per_user=4)
@pytest.mark.gen_test(timeout=120)
async def test_garbage_from_many_sockets_costs_the_users_frame_bucket(ws, api, clock, settings):
    """Four sockets of one user, each sending 250 frames (malformed ones with a valid ping
    after every four, which would reset a strike count that only rate limits fed): every frame
    takes the user's frame tokens before it is parsed, so the answers stop when the bucket is
    empty, each socket is told once, and the frames it goes on sending are strikes that close it.
    Another user is not affected; the bucket survives a reconnect and refills with time."""
    conv = await api.conversation("st2", "group", ["t1"], title="G")
    sockets = [await ws("st1") for _ in range(4)]
    other = await ws("st2")
    for c in sockets:
        for _ in range(50):
            for raw in GARBAGE:
                c.send("", raw=raw)
            c.send("ping", ref="p")
    for c in sockets:
        await asyncio.wait_for(c.closed.wait(), 60)
        assert c.close_code == 1008
    got = answers(sockets)
    limited = [f for f in got if f["event"] == "error" and f["error"]["code"] == "rate_limited"]
    assert len(limited) == len(sockets)  # told once per socket, then frames dropped unread
    taken = [f for f in got if f not in limited and f["event"] != "pong"]  # each cost a token
    assert len(taken) == settings.rate_frames_burst  # nothing refills: the manual clock stands still
    assert len(got) <= 2 * settings.rate_frames_burst + len(sockets)  # a ping: reply and pong
    # st2, online with st1 all along, is untouched: its own bucket, no strikes
    for i in range(10):
        assert (await other.ok("message:send", {"conversationId": conv["id"], "text": "m%d" % i}))["seq"] == i + 1
    assert not [f for f in other.frames if f.get("event") == "error"]
    again = await ws("st1")  # reconnecting refills nothing
    again.send("ping", ref="late")
    assert (await again.expect("error"))["error"]["code"] == "rate_limited"
    await other.barrier()
    assert not again.of("reply")
    clock.advance(2 / settings.rate_frames)  # two tokens back
    assert (await again.ok("ping"))["serverTime"]


@pytest.mark.settings(rate_frames_burst=30, rate_strikes=5)
@pytest.mark.gen_test(timeout=120)
async def test_big_frames_cost_by_their_size_and_are_strikes(ws, settings):
    """Frames of 230 KB (under the hard limit, over the soft one) each cost 15 of the 30 tokens:
    two are answered ``too_large``, the third is dropped unread (and told), and three more
    refused frames close the socket."""
    c = await ws("st3")
    other = await ws("st2")
    size = 230 * 1024
    assert p.frame_cost("x" * size, settings) == 15
    for i in range(10):
        c.send("", raw=ujson.dumps({"event": "message:send", "ref": "b%d" % i,
                                    "data": {"conversationId": "x", "text": "y" * size}}))
    await asyncio.wait_for(c.closed.wait(), 60)
    assert c.close_code == 1008
    got = answers([c])
    assert [(f.get("ref"), f["error"]["code"]) for f in got] == [
        ("b0", "too_large"), ("b1", "too_large"), (None, "rate_limited")]
    assert (await other.ok("ping"))["serverTime"]


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
        "by_school": len(manager.online.by_school),
        "by_school_role": len(manager.online.by_school_role),
        "by_class": len(manager.online.by_class),
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
