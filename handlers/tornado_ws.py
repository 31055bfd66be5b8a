"""The Tornado internals the socket tier relies on, in one place.

Tornado's public WebSocket API has no hook for three things the server needs, so these reach
into ``tornado.websocket.WebSocketProtocol13``'s private methods and attributes:

- ``_handle_message`` and ``_frame_compressed``: a text frame that is not UTF-8 fails the
  connection with 1007 (Tornado drops TCP without a close frame), and nothing the client sends
  after the server's close frame is handled (RFC 6455 §8.1);
- ``_receive_frame`` and ``_read_bytes``: an unmasked client frame fails the connection with
  1002 before its payload is read (RFC 6455 §5.1; Tornado reads the mask bit but accepts either);
- ``stream``: the socket's IOStream, written directly by the hub (one ``send()`` per push);
- ``BaseIOStream.reading``, ``_read_to_buffer_loop``, ``_read_buffer_size`` and
  ``_read_future``: :func:`keep_reading` keeps a socket registered for reads between the parts
  of a frame (see there).

They are checked at import against the Tornado versions they were written for, and
``tests/unit/test_tornado_ws.py`` checks each still exists with the signature used, so an upgrade
that moves them fails loudly instead of silently accepting what RFC 6455 refuses.
"""
from __future__ import annotations

import asyncio
import inspect
from typing import Any, Dict, Optional

import tornado
import tornado.iostream
import tornado.websocket

from chat.vocab import CloseCode

#: the Tornado releases these internals were read from (major, minor)
SUPPORTED = ((6, 4), (6, 5), (6, 6))
#: every private name used here, with the parameters it must take
INTERNALS = {
    "_handle_message": ["self", "opcode", "data"],
    "_receive_frame": ["self"],
    "_read_bytes": ["self", "n"],
    "_run_callback": None,   # called, not overridden: existence is enough
    "_abort": ["self"],
}


#: the stream methods keep_reading overrides (their instance attributes are read at run time)
STREAM_INTERNALS = ("reading", "_read_to_buffer_loop", "_handle_events", "_add_io_state")


class UnsupportedTornado(RuntimeError):
    pass


def check_tornado(version: str = tornado.version) -> None:
    """Raise :class:`UnsupportedTornado` unless this Tornado has the internals used here."""
    major_minor = tuple(int(x) for x in version.split(".")[:2])
    if major_minor not in SUPPORTED:
        raise UnsupportedTornado("Tornado %s is not supported by handlers/tornado_ws.py (supported: %s); "
                                 "check its private WebSocket methods before allowing it"
                                 % (version, ", ".join("%d.%d" % v for v in SUPPORTED)))
    for name in STREAM_INTERNALS:
        if not hasattr(tornado.iostream.BaseIOStream, name):
            raise UnsupportedTornado("tornado.iostream.BaseIOStream.%s is gone" % name)
    cls = tornado.websocket.WebSocketProtocol13
    for name, params in INTERNALS.items():
        member = getattr(cls, name, None)
        if member is None:
            raise UnsupportedTornado("tornado.websocket.WebSocketProtocol13.%s is gone" % name)
        if params is not None and list(inspect.signature(member).parameters) != params:
            raise UnsupportedTornado("tornado.websocket.WebSocketProtocol13.%s takes %s now"
                                     % (name, list(inspect.signature(member).parameters)))


check_tornado()


#: stream class -> its keep-reading subclass (see keep_reading)
_KEEPING: Dict[type, type] = {}


def _keeping(cls: type) -> type:
    base = getattr(cls, "reading")  # noqa: B009 (a type, to mypy)
    base_loop = getattr(cls, "_read_to_buffer_loop")  # noqa: B009

    def reading(self: Any) -> bool:
        # Tornado asks this when an event is handled, to choose the socket's interest: a
        # frame's header is read first and the rest of the frame is still in the buffer then,
        # so Tornado stopped listening for reads and started again right after (two epoll_ctl
        # calls and uvloop's handle churn for every frame a client sends, 6 % of the server's
        # time at 3,000 messages a second). While less than a message is buffered: "reading".
        # Not when Tornado reads with no read pending (the handler is busy): there the answer
        # chooses how much to read, and Tornado's one chunk per event must stay one chunk.
        if self.in_read_loop:
            return bool(base(self))
        return bool(base(self)) or (0 < self._read_buffer_size < self.keep_reading_below and not self.closed())

    def _read_to_buffer_loop(self: Any) -> Any:
        self.in_read_loop = True
        try:
            return base_loop(self)
        finally:
            self.in_read_loop = False
    return type("KeepReading" + cls.__name__, (cls,), {"reading": reading, "_read_to_buffer_loop": _read_to_buffer_loop,
                                                        "keeps_reading": True, "in_read_loop": False})


def keep_reading(stream: tornado.iostream.IOStream, below: int) -> None:
    """Keep ``stream`` registered for reads while under ``below`` bytes wait in its buffer
    (past that Tornado's own behaviour returns: it stops reading, and TCP pushes back on the
    client). Changes the instance's class to a subclass that overrides ``reading`` and, to tell
    its callers apart, ``_read_to_buffer_loop``."""
    cls = type(stream)
    if not getattr(cls, "keeps_reading", False):
        sub = _KEEPING.get(cls)
        if sub is None:
            sub = _KEEPING[cls] = _keeping(cls)
        stream.__class__ = sub
    stream.keep_reading_below = below  # type: ignore[attr-defined]


def socket_stream(connection: Any) -> Optional[tornado.iostream.IOStream]:
    """The IOStream under an open WebSocket connection (None once it is gone)."""
    return getattr(connection, "stream", None)


class StrictTextProtocol(tornado.websocket.WebSocketProtocol13):
    """RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with close code 1007
    (Tornado drops the TCP connection without a close frame), and nothing the client sends
    after the server's close frame is handled. RFC 6455 §5.1: a client frame that is not
    masked fails the connection with close code 1002 (Tornado reads the mask bit but accepts
    either), before its payload is read."""

    _at_header = False  # the next read of the stream is a frame's first two bytes

    async def _receive_frame(self) -> None:
        self._at_header = True
        await super()._receive_frame()

    async def _read_bytes(self, n: int) -> bytes:
        data = await super()._read_bytes(n)
        if self._at_header:
            self._at_header = False
            if not data[1] & 0x80:  # the MASK bit of the second header byte
                self.close(CloseCode.PROTOCOL_ERROR, "client frames must be masked")
                self._abort()
                raise tornado.iostream.StreamClosedError()  # ends the frame loop
        return data

    def _handle_message(self, opcode: int, data: bytes) -> Optional["asyncio.Future[None]"]:
        if opcode in (0x1, 0x2) and self.server_terminated:
            return None  # closing: the rest of the client's frames change nothing
        if opcode == 0x1 and not self._frame_compressed and not self.client_terminated:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self.close(CloseCode.INVALID_PAYLOAD, "text frame is not valid UTF-8")
                return None
            return self._run_callback(self.handler.on_message, text)
        return super()._handle_message(opcode, data)
