"""The Tornado internals the socket tier relies on (handlers/tornado_ws.py) exist as used.

Fails loudly on a Tornado release that moved them, rather than letting the server silently
accept unmasked or non-UTF-8 frames."""
from __future__ import annotations

import pytest

from handlers import tornado_ws


def test_the_installed_tornado_has_every_internal_used():
    tornado_ws.check_tornado()  # raises UnsupportedTornado otherwise


def test_an_unlisted_tornado_release_is_refused_by_name():
    with pytest.raises(tornado_ws.UnsupportedTornado, match="Tornado 7.0.0 is not supported"):
        tornado_ws.check_tornado("7.0.0")


def test_a_moved_internal_is_named(monkeypatch):
    monkeypatch.delattr(tornado_ws.tornado.websocket.WebSocketProtocol13, "_read_bytes")
    with pytest.raises(tornado_ws.UnsupportedTornado, match="_read_bytes is gone"):
        tornado_ws.check_tornado()


def test_a_changed_signature_is_named(monkeypatch):
    async def _read_bytes(self, n, extra):  # noqa: ANN001
        return b""
    monkeypatch.setattr(tornado_ws.tornado.websocket.WebSocketProtocol13, "_read_bytes", _read_bytes)
    with pytest.raises(tornado_ws.UnsupportedTornado, match="_read_bytes takes"):
        tornado_ws.check_tornado()


def test_the_strict_protocol_overrides_what_it_means_to():
    cls = tornado_ws.StrictTextProtocol
    for name in ("_handle_message", "_receive_frame", "_read_bytes"):
        assert name in vars(cls), name


def test_a_moved_stream_internal_is_named(monkeypatch):
    monkeypatch.delattr(tornado_ws.tornado.iostream.BaseIOStream, "_read_to_buffer_loop")
    with pytest.raises(tornado_ws.UnsupportedTornado, match="BaseIOStream._read_to_buffer_loop is gone"):
        tornado_ws.check_tornado()
