"""The wire protocol under a hypothesis fuzz test that throws generated frames at a live
connection: every frame with a ref gets exactly one reply, nothing is stored, and the connection
keeps working (the parser's own tests are in tests/unit/test_protocol.py)."""
from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any, Dict, List

import pytest
import tornado.websocket
import ujson
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from chat.ops.embedded import free_port
from chat.ops.roster import import_roster
from chat.realtime import protocol as p
from chat.rules.validation import storable
from chat.runtime import build_runtime
from chat.settings import Settings
from handlers.http_server import build_http_server
from handlers.routes import make_app
from tests.conftest import CLASSES, SECRET, USERS, token


# ---------------------------------------------------------------------- live fuzzing
@pytest.fixture(scope="module")
def live(mongo_uri, tmp_path_factory):
    """A real server in a background thread (hypothesis drives sync tests)."""
    settings = Settings(data_dir=str(tmp_path_factory.mktemp("fuzz")), db_name="fz_" + uuid.uuid4().hex[:10],
                        jwt_secret=SECRET, ws_ping_interval=0, rate_frames=10000, rate_frames_burst=10000,
                        rate_messages=10000, rate_messages_burst=10000, ws_max_frame_bytes=4096,
                        ws_max_message_size=1 << 20)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: Dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            rt = build_runtime(settings, mongo_uri)
            await rt.store.ensure_indexes()
            await import_roster(rt.store, USERS, CLASSES)
            ident = rt.verifier.verify(token("st1"))
            from chat.rules.validation import NewConversation
            conv, _ = await rt.service.conversations.create(ident, NewConversation("group", ["st2"], "Fuzz", None))
            server = build_http_server(make_app(rt), settings)
            port = free_port()
            server.listen(port, "127.0.0.1")
            state.update(rt=rt, server=server, url="ws://127.0.0.1:%d/ws" % port, conv=conv["id"])
            ready.set()
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30)
    yield state, loop

    async def stop() -> None:
        state["server"].stop()
        await state["rt"].store.drop_database()
    asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    state["rt"].store.close()


# text includes lone surrogates (valid JSON escapes, not storable): they must be refused, alone
texts = st.one_of(st.text(max_size=30),
                  st.text(alphabet=st.characters(codec=None, categories=["Cs", "Ll", "So"]), max_size=8))
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=False), texts)
json_value = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
    texts, kids, max_size=4), max_leaves=12)
field_names = st.sampled_from(["conversationId", "messageId", "text", "seq", "emoji", "on", "type", "attachments",
                               "clientMsgId", "replyTo", "conversations", "changedSince", "limit", "classId",
                               "role", "token"])
events = st.one_of(st.sampled_from(sorted(p.CLIENT_EVENTS)), st.text(max_size=20), st.integers(), st.none())
structured = st.fixed_dictionaries(
    {"event": events},
    optional={"data": st.one_of(st.dictionaries(field_names, json_value, max_size=6), json_value),
              "ref": st.one_of(st.just("REF"), st.integers(), texts, st.text(max_size=70), st.none()),
              "junk": json_value})
def dumps(value: Any) -> str:
    return ujson.dumps(value, ensure_ascii=True)  # lone surrogates as escapes, as a client sends them


frames = st.one_of(
    structured.map(dumps),
    json_value.map(dumps),
    st.text(max_size=200),
    st.builds(lambda n: ujson.dumps({"event": "message:send", "ref": "REF", "data": {"text": "x" * n}}),
              st.integers(4000, 9000)),
)


@hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(frames, min_size=1, max_size=15))
def test_fuzzed_frames_get_one_reply_each_and_change_nothing(live, batch):
    state, loop = live

    async def scenario() -> None:
        conn = await tornado.websocket.websocket_connect(state["url"] + "?token=" + token("st1"))
        got: List[Dict[str, Any]] = [ujson.loads(await conn.read_message())]
        expected_refs = []
        for i, raw in enumerate(batch):
            ref = "f%d" % i
            raw = raw.replace('"REF"', '"%s"' % ref)
            try:
                decoded = ujson.loads(raw)
            except ValueError:
                decoded = None
            sent_ref = decoded.get("ref") if isinstance(decoded, dict) else None
            if isinstance(sent_ref, str) and 1 <= len(sent_ref) <= p.MAX_REF and storable(sent_ref):
                expected_refs.append(sent_ref)
            await conn.write_message(raw)
        await conn.write_message(ujson.dumps({"event": "ping", "ref": "final-\u2713"}))
        while True:
            msg = await asyncio.wait_for(conn.read_message(), 60)  # only stops a hang
            assert msg is not None, "the connection was closed: %s" % got[-3:]
            got.append(ujson.loads(msg))
            if got[-1].get("event") == "reply" and got[-1].get("ref") == "final-\u2713":
                break
        replies = [g["ref"] for g in got if g.get("event") == "reply"]
        assert sorted(replies) == sorted(expected_refs + ["final-\u2713"])  # exactly one each
        conn.close()
        stored = await state["rt"].store.messages.history(state["conv"], None, None, 10)
        assert stored == [] or all(m["type"] == "system" for m in stored)
    asyncio.run_coroutine_threadsafe(scenario(), loop).result(60)


@hsettings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(before=st.lists(structured.map(dumps), max_size=4), bad=st.binary(min_size=1, max_size=40))
def test_invalid_utf8_closes_with_1007_and_changes_nothing(live, before, bad):
    state, loop = live
    payload = b'{"event": "message:send", "ref": "x", "data": {"text": "' + b"\xff" + bad + b'"}}'

    async def scenario() -> None:
        conn = await tornado.websocket.websocket_connect(state["url"] + "?token=" + token("st1"))
        await conn.read_message()  # session:ready
        for raw in before:
            await conn.write_message(raw.replace('"REF"', '"b"'))
        conn.protocol._write_frame(True, 0x1, payload)  # a text frame that is not UTF-8
        while await asyncio.wait_for(conn.read_message(), 60) is not None:  # only stops a hang
            pass
        assert conn.close_code == 1007
        stored = await state["rt"].store.messages.history(state["conv"], None, None, 10)
        assert stored == [] or all(m["type"] == "system" for m in stored)
    asyncio.run_coroutine_threadsafe(scenario(), loop).result(60)
