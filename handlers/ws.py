"""The WebSocket endpoint ``/ws`` and the transport that connects it to :class:`Realtime`.

The handler only moves frames: authentication happens before the upgrade (401, no socket),
each text frame goes to ``Realtime.handle`` and pushes come back through :class:`SocketHub`.
"""
from __future__ import annotations

import asyncio
import logging
import struct
import uuid
from typing import Any, Dict, List, Optional, Union
from urllib.parse import urlparse

import tornado.iostream
import tornado.web
import tornado.websocket

from chat.auth import Identity
from chat.errors import ChatError, Unavailable
from chat.runtime import Runtime
from handlers.base import JsonErrors, bearer

log = logging.getLogger("chat.ws")

CLOSE_SLOW_CONSUMER = 1008
CLOSE_INVALID_PAYLOAD = 1007


def text_frame(payload: bytes) -> bytes:
    """One unmasked, uncompressed, final WebSocket text frame (RFC 6455 §5.2), as a server
    sends it: built once per push and written as is to every receiver."""
    size = len(payload)
    if size < 126:
        return struct.pack("!BB", 0x81, size) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class StrictTextProtocol(tornado.websocket.WebSocketProtocol13):
    """RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with close code 1007
    (Tornado drops the TCP connection without a close frame), and nothing the client sends
    after the server's close frame is handled."""

    def _handle_message(self, opcode: int, data: bytes) -> Optional["asyncio.Future[None]"]:
        if opcode in (0x1, 0x2) and self.server_terminated:
            return None  # closing: the rest of the client's frames change nothing
        if opcode == 0x1 and not self._frame_compressed and not self.client_terminated:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self.close(CLOSE_INVALID_PAYLOAD, "text frame is not valid UTF-8")
                return None
            return self._run_callback(self.handler.on_message, text)
        return super()._handle_message(opcode, data)


class SocketHub:
    """The :class:`chat.realtime.Transport`: connection id -> live handler."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.handlers: Dict[str, "ChatSocket"] = {}
        self.inflight = 0
        runtime.realtime.set_transport(self)

    def send(self, conn_id: str, frame: str) -> None:
        self.send_many([conn_id], frame)

    def send_many(self, conn_ids: List[str], frame: str) -> None:
        """Encode and frame once, then write the same bytes to each receiver's stream."""
        data = text_frame(frame.encode("utf-8"))
        handlers = self.handlers
        for conn_id in conn_ids:
            handler = handlers.get(conn_id)
            if handler is not None:
                handler.push(data)

    def close(self, conn_id: str, code: int, reason: str) -> None:
        handler = self.handlers.get(conn_id)
        if handler is not None:
            handler.close(code, reason)


class ChatSocket(JsonErrors, tornado.websocket.WebSocketHandler):
    """One client socket. Per-connection state is the socket's own: its id, identity and
    unsent-bytes counter; everything else lives in :class:`Realtime`."""

    def initialize(self, runtime: Runtime, hub: SocketHub) -> None:
        self.runtime = runtime
        self.hub = hub
        self.conn_id = uuid.uuid4().hex
        self.ident: Optional[Identity] = None
        self.stream: Optional[tornado.iostream.IOStream] = None
        self.direct = False
        self.gone = False

    async def prepare(self) -> None:
        # before the upgrade: a refused token is a plain HTTP 401 and no socket is opened
        if self.runtime.draining:
            raise Unavailable("the server is shutting down")
        token = self.get_query_argument("token", None) or bearer(self.request)
        # the token must not stay in the request (access logs print the URI) nor be kept four
        # times per socket for the socket's life (a fifth of its memory)
        request = self.request
        request.uri = request.path
        request.query = ""
        request.arguments = {}
        request.query_arguments = {}
        request.headers.pop("Authorization", None)
        # load shedding: past this many sessions being set up at once, new ones are asked to come
        # back (503 + Retry-After, before the upgrade) instead of every handshake slowing down;
        # checked before the token, the costliest part of a refusal
        if self.runtime.realtime.opening >= self.runtime.settings.max_opening_sockets:
            raise Unavailable("too many connections being set up; retry shortly",
                              retry_after=self.runtime.settings.shed_retry_after)
        self.ident = self.runtime.verifier.verify(token)

    def check_origin(self, origin: str) -> bool:
        allowed = self.runtime.settings.allowed_origins
        if "*" in allowed or origin in allowed:
            return True
        return urlparse(origin).netloc.lower() == self.request.host.lower()

    def get_websocket_protocol(self) -> Optional[tornado.websocket.WebSocketProtocol]:
        protocol = super().get_websocket_protocol()
        if isinstance(protocol, tornado.websocket.WebSocketProtocol13):
            return StrictTextProtocol(self, False, protocol.params)
        return protocol

    def get_compression_options(self) -> Optional[Dict[str, Any]]:
        return None  # no permessage-deflate: it costs CPU per frame per receiver

    async def open(self, *args: Any) -> None:
        self.set_nodelay(True)
        connection = self.ws_connection
        self.stream = getattr(connection, "stream", None)
        if self.stream is not None:
            # past this much unsent data a write raises: the consumer is too slow (public API)
            self.stream.max_write_buffer_size = self.runtime.settings.ws_max_pending_bytes
        # the direct send() fast path is for plain sockets (TLS ends in front of this server)
        self.direct = type(self.stream) is tornado.iostream.IOStream
        self.hub.handlers[self.conn_id] = self
        assert self.ident is not None
        try:
            await self.runtime.realtime.open(self.conn_id, self.ident)
        except ChatError as exc:
            log.warning("could not open a session: %s", exc.message)
            self.close(1011, exc.code)
            return
        if self.gone:  # the client left while the session was being set up
            await self.runtime.realtime.close(self.conn_id)

    async def on_message(self, message: Any) -> None:
        # awaited by Tornado before the next frame: frames of one socket are handled in order
        self.hub.inflight += 1
        try:
            await self.runtime.realtime.handle(self.conn_id, message)
        finally:
            self.hub.inflight -= 1

    def on_close(self) -> None:
        self.gone = True
        self.hub.handlers.pop(self.conn_id, None)
        asyncio.ensure_future(self.runtime.realtime.close(self.conn_id))

    def push(self, frame: bytes) -> None:
        """Write one framed message, unless the client has stopped reading: then close it
        instead of buffering without bound."""
        stream = self.stream
        if self.gone or stream is None:
            return
        data: Union[bytes, memoryview] = frame
        connection = self.ws_connection
        if connection is None or connection.is_closing():
            return
        try:
            if self.direct and not stream.writing():
                # nothing queued before it: one send() on the non-blocking socket; only what the
                # kernel does not take goes through the stream's buffer (order is kept)
                try:
                    sent = stream.socket.send(data)
                except BlockingIOError:
                    sent = 0
                if sent == len(data):
                    return
                data = memoryview(data)[sent:]
            stream.write(data)
        except tornado.iostream.StreamBufferFullError:
            log.info("closing slow consumer %s (over %d bytes unsent)", self.conn_id,
                     self.runtime.settings.ws_max_pending_bytes)
            self.gone = True
            self.runtime.metrics.slow_consumer_closed()
            stream.close()  # its buffer is full: a close frame would never get through
        except tornado.iostream.StreamClosedError:
            self.gone = True
        except OSError:  # the peer reset the connection under a direct send
            self.gone = True
            stream.close()
