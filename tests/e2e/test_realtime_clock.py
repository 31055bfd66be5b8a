"""Everything the server does on its own after a while (typing timeouts, debounce, token
buckets, token expiry), driven by an injected clock: no test here waits for wall time."""
from __future__ import annotations

import asyncio
from typing import Any

import jwt
import pytest

from chat.clock import ManualClock
from tests.conftest import Ws, token

pytestmark = [pytest.mark.usefixtures("school"), pytest.mark.manual_clock]  # the server runs on the clock fixture



async def barrier(*clients: Ws) -> None:
    """Pushes decided before now have reached these sockets (a ping round trip each)."""
    for c in clients:
        await c.ok("ping")


@pytest.mark.gen_test
@pytest.mark.settings(typing_timeout=5, typing_debounce=2)
async def test_typing_indicator_lifecycle(ws, api, clock):
    conv = await api.conversation("st1", "group", ["st2", "st3"], title="G")
    typist, other_device = await ws("st1"), await ws("st1")
    b, c = await ws("st2"), await ws("st3")
    assert await typist.ok("typing:start", {"conversationId": conv["id"]}) == {}
    start = await b.expect("typing:start")
    assert start["data"] == {"conversationId": conv["id"], "userId": "st1", "name": "Sam Student"}
    await c.expect("typing:start")
    clock.advance(1)
    await typist.ok("typing:start", {"conversationId": conv["id"]})  # within the debounce: not re-sent
    clock.advance(4.5)  # 5.5 s after the first start, 4.5 after the second: the timeout restarted
    await barrier(b)
    assert len(b.of("typing:start")) == 1 and not b.of("typing:stop")
    clock.advance(0.5)  # 5 s after the last start: the server's own timeout
    stop = await b.expect("typing:stop")
    assert stop["data"]["userId"] == "st1"
    assert not other_device.of("typing:start") and not typist.of("typing:start")
    await typist.ok("typing:start", {"conversationId": conv["id"]})  # past the debounce: sent again
    await b.expect("typing:start")
    await typist.ok("message:send", {"conversationId": conv["id"], "text": "done typing"})
    await b.expect("typing:stop")  # sending stops it
    clock.advance(2)
    await typist.ok("typing:start", {"conversationId": conv["id"]})
    await b.expect("typing:start")
    await typist.ok("typing:stop", {"conversationId": conv["id"]})
    await b.expect("typing:stop")
    reply = await c.request("typing:start", {"conversationId": "0" * 24})
    assert reply["error"]["code"] == "not_found"


@pytest.mark.gen_test
async def test_typing_stops_when_the_typists_last_connection_closes(ws, api, runtime):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    typist, other_device = await ws("st1"), await ws("st1")
    b = await ws("st2")
    await typist.ok("typing:start", {"conversationId": conv["id"]})
    await b.expect("typing:start")
    await typist.close()
    while len(runtime.manager.by_user.get("st1", ())) > 1:  # until the server has handled that close
        await other_device.ok("ping")
    await barrier(b)
    assert not b.of("typing:stop")  # another connection of the typist is still open
    await other_device.close()
    stop = await b.expect("typing:stop")
    assert stop["data"] == {"conversationId": conv["id"], "userId": "st1", "name": "Sam Student"}


def expires(tok: str) -> int:
    return int(jwt.decode(tok, options={"verify_signature": False})["exp"])


@pytest.mark.gen_test
@pytest.mark.settings(jwt_leeway=30)
async def test_token_expiry_and_refresh(base_url, http_server, clock):
    first, second = token("st1", ttl=600), token("st2", ttl=600)
    short = await Ws.connect(base_url, "st1", tok=first)
    kept = await Ws.connect(base_url, "st2", tok=second)
    clock.advance(expires(first) + 30 - clock.time() - 1)  # one second before exp + leeway
    await barrier(short, kept)
    assert not short.of("auth:expired")  # within the leeway
    bad = await kept.request("auth:refresh", {"token": token("st1", ttl=6000)})
    assert bad["ok"] is False and bad["error"]["code"] == "forbidden"
    bad = await kept.request("auth:refresh", {"token": "garbage"})
    assert bad["error"]["code"] == "unauthorized"
    longer = token("st2", ttl=6000)
    fresh = await kept.ok("auth:refresh", {"token": longer})
    assert fresh["exp"].endswith("Z")
    clock.advance(2)
    await short.expect("auth:expired")
    await short.closed.wait()
    assert short.close_code == 4001
    await barrier(kept)
    assert not kept.closed.is_set() and not kept.of("auth:expired")  # refreshed: expires later
    clock.advance(expires(longer) + 30 - clock.time() + 1)
    await kept.expect("auth:expired")
    await kept.closed.wait()
    assert kept.close_code == 4001


@pytest.mark.gen_test
@pytest.mark.settings(rate_messages=1, rate_messages_burst=3, rate_strikes=5)
async def test_rate_limits_refill_with_time_then_close(ws, api, clock):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    c = await ws("st1")
    replies = [await c.request("message:send", {"conversationId": conv["id"], "text": "m%d" % i}) for i in range(5)]
    assert [r["ok"] for r in replies] == [True, True, True, False, False]
    assert replies[3]["error"]["code"] == "rate_limited"
    clock.advance(1)  # one token back
    assert (await c.request("message:send", {"conversationId": conv["id"], "text": "m5"}))["ok"] is True
    for i in range(10):
        c.send("message:send", {"conversationId": conv["id"], "text": "spam"}, "x%d" % i)
    await c.closed.wait()
    assert c.close_code == 1008
    _, hist = await api.get("/api/conversations/%s/messages" % conv["id"], "st2")
    assert [m["text"] for m in hist["data"]] == ["m0", "m1", "m2", "m5"]


@pytest.mark.settings(ws_ping_interval=25, ws_ping_timeout=20)
@pytest.mark.gen_test
async def test_a_socket_that_never_answers_pings_is_closed_and_the_others_stay(clock, ws):
    alive, mute = await ws("st1"), await ws("st2")
    protocol = mute.conn.protocol
    real = protocol._handle_message

    def no_pong(opcode: int, data: bytes) -> Any:
        return None if opcode == 0x9 else real(opcode, data)  # a peer gone quiet: pings unanswered
    protocol._handle_message = no_pong
    clock.advance(25)  # a round: both pinged
    # alive read the ping before this reply and answered it at once; one more round trip and
    # the server has handled that pong
    await barrier(alive, mute, alive)
    clock.advance(19.9)
    await barrier(alive, mute)
    assert mute.close_code is None
    clock.advance(0.1)
    await asyncio.wait_for(mute.closed.wait(), 30)
    assert mute.close_code == 1001 and mute.conn.close_reason == "ping timed out"
    clock.advance(5)  # the next round, 25 s after the first: alive answers again
    await barrier(alive, alive)
    clock.advance(20)
    assert await alive.ok("ping")


@pytest.mark.gen_test
async def test_heartbeat_rounds_in_chunks_and_a_timeout_equal_to_the_interval():
    from chat.realtime import heartbeat as hb

    clock = ManualClock()
    ids = ["c%d" % i for i in range(hb.CHUNK * 2 + 3)]
    pinged, closed = [], []
    beat = hb.Heartbeat(clock, 10, 10, lambda: ids, pinged.append, closed.append)
    beat.start()
    clock.advance(10)
    assert pinged == ids[:hb.CHUNK]  # one chunk per loop turn
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert pinged == ids
    for conn_id in ids[1:]:
        beat.pong(conn_id)
    ids.remove("c0")  # closed by the transport after its timeout, so not in the next round
    clock.advance(10)  # the deadline and the next round fall together: the late one is judged first
    assert closed == ["c0"]
    for _ in range(3):
        await asyncio.sleep(0)
    for conn_id in ids:
        beat.pong(conn_id)
    clock.advance(10)
    assert closed == ["c0"]
    beat.stop()
    clock.advance(100)
    assert closed == ["c0"]


@pytest.mark.gen_test
async def test_names_in_conversation_views_come_from_memory_and_follow_roster_imports(clock, runtime, api, settings):
    from chat.ops.roster import import_roster

    conv = await api.conversation("st1", "group", ["st2"], title="Pair")
    reads = []
    real = runtime.store.directory.get_users

    async def spy(ids):
        reads.append(list(ids))
        return await real(ids)
    runtime.store.directory.get_users = spy

    async def names() -> list:
        status, page = await api.call("GET", "/api/conversations", "st1")
        assert status == 200
        return [p["name"] for c in page["data"] if c["id"] == conv["id"] for p in c["participants"]]
    assert sorted(await names()) == ["Sam Student", "Sue Student"] and reads == []
    await import_roster(runtime.store, [{"id": "st2", "name": "Susan Student", "role": "student", "school": "s1"}], [])
    assert "Sue Student" in await names()  # read again at most every roster_refresh seconds
    clock.advance(settings.roster_refresh)
    assert sorted(await names()) == ["Sam Student", "Susan Student"] and reads == []


@pytest.mark.gen_test
async def test_a_socket_that_fails_to_be_pinged_or_closed_does_not_stop_the_round():
    from chat.realtime import heartbeat as hb

    clock = ManualClock()
    ids = ["a", "b", "c"]
    pinged, closed = [], []

    def ping(conn_id: str) -> None:
        if conn_id == "a":
            raise OSError("its buffer is full")
        pinged.append(conn_id)

    def close(conn_id: str) -> None:
        if conn_id == "a":
            raise OSError("cannot close")
        closed.append(conn_id)
    beat = hb.Heartbeat(clock, 10, 5, lambda: ids, ping, close)
    beat.start()
    clock.advance(10)
    assert pinged == ["b", "c"]
    clock.advance(5)
    assert sorted(closed) == ["b", "c"]
    beat.stop()
