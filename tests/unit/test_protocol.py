"""The wire protocol's parser and frames, without a connection (tests/e2e/test_protocol_fuzz.py
throws generated frames at a live one)."""
from __future__ import annotations

import pytest
import ujson

from chat.errors import BadRequest, TooLarge
from chat.realtime import protocol as p
from chat.settings import Settings


def test_parse_valid_frames():
    s = Settings()
    f = p.parse_frame('{"event":"message:send","data":{"conversationId":"c","text":" hi "},"ref":"r1"}', s)
    assert f.event == "message:send" and f.ref == "r1"
    assert f.args["conversation_id"] == "c" and f.args["message"].text == "hi"
    assert p.parse_frame('{"event":"ping"}', s).args == {} and p.parse_frame('{"event":"ping"}', s).ref is None
    f = p.parse_frame(ujson.dumps({"event": "sync", "data": {"conversations": {"a": 3}, "changedSince":
                                                            "2026-01-01T00:00:00.000Z"}}), s)
    assert f.args == {"seen": {"a": 3}, "changed_since": 1767225600000, "limit": 100}
    f = p.parse_frame('{"event":"message:react","data":{"messageId":"m","emoji":"\\ud83d\\udc4d"}}', s)
    assert f.args["on"] is True
    assert set(p.CLIENT_EVENTS) == {"message:send", "message:edit", "message:delete", "message:delivered",
                                    "message:read", "message:react", "message:forward", "typing:start", "typing:stop", "sync",
                                    "presence:list", "auth:refresh", "ping"}
    f = p.parse_frame('{"event":"message:forward","data":{"messageId":"m","conversationId":"c"}}', s)
    assert f.args["message_id"] == "m" and f.args["forward"].conversation_id == "c"
    with pytest.raises(p.FrameError):  # scheduling is REST only: never sent now by mistake
        p.parse_frame('{"event":"message:send","data":{"conversationId":"c","text":"x","sendAt":1}}', s)


@pytest.mark.parametrize("raw,code,ref", [
    ("nope", "bad_request", None),
    ("[]", "bad_request", None),
    ('{"event": "x", "ref": "a"}', "bad_request", "a"),
    ('{"event": "ping", "ref": ""}', "bad_request", None),
    ('{"event": "ping", "ref": 5}', "bad_request", None),
    ('{"event": "ping", "ref": "' + "r" * 65 + '"}', "bad_request", None),
    ('{"ref": "b"}', "bad_request", "b"),
    ('{"event": "message:read", "data": {"conversationId": "c", "seq": 1.5}, "ref": "c"}', "bad_request", "c"),
    ('{"event": "message:read", "data": "x", "ref": "d"}', "bad_request", "d"),
    ('{"event": "presence:list", "data": {"role": "king"}, "ref": "e"}', "bad_request", "e"),
    ('{"event": "sync", "data": {"conversations": [1]}, "ref": "f"}', "bad_request", "f"),
    ('{"event": "sync", "data": {"limit": 100000}, "ref": "g"}', "bad_request", "g"),
])
def test_parse_rejects(raw, code, ref):
    with pytest.raises(p.FrameError) as info:
        p.parse_frame(raw, Settings())
    assert info.value.error.code == code and info.value.ref == ref


def test_too_large_keeps_the_ref_and_error_frames():
    s = Settings(ws_max_frame_bytes=50)
    with pytest.raises(p.FrameError) as info:
        p.parse_frame(ujson.dumps({"event": "ping", "ref": "big", "data": {"pad": "x" * 100}}), s)
    assert isinstance(info.value.error, TooLarge) and info.value.ref == "big"
    assert ujson.loads(p.error_frame(BadRequest("no"), "r")) == {
        "event": "reply", "ref": "r", "ok": False, "error": {"code": "bad_request", "message": "no"}}
    assert ujson.loads(p.error_frame(BadRequest("no"), None)) == {
        "event": "error", "error": {"code": "bad_request", "message": "no"}}
    assert ujson.loads(p.reply("r", {"a": 1})) == {"event": "reply", "ref": "r", "ok": True, "data": {"a": 1}}
