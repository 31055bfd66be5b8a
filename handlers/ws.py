"""The WebSocket endpoint ``/ws`` and the transport that connects it to :class:`Realtime`.

The handler only moves frames: authentication happens before the upgrade (401, no socket),
each text frame goes to ``Realtime.handle`` and pushes come back through :class:`SocketHub`.
"""
from __future__ import annotations

import asyncio
import logging
import struct
import uuid
from typing import Any, Dict, List, Optional, Union, cast
from urllib.parse import urlparse

import tornado.iostream
import tornado.web
import tornado.websocket

from chat.auth import Identity
from chat.errors import ChatError, Unavailable
from chat.realtime.broker import Frame
from chat.realtime.heartbeat import Heartbeat
from chat.runtime import Runtime
from chat.vocab import CloseCode
from handlers.base import JsonErrors, bearer
from handlers.tornado_ws import StrictTextProtocol, keep_reading, socket_stream

log = logging.getLogger("chat.ws")



def text_frame(payload: bytes) -> bytes:
    """One unmasked, uncompressed, final WebSocket text frame (RFC 6455 §5.2), as a server
    sends it: built once per push and written as is to every receiver."""
    size = len(payload)
    if size < 126:
        return struct.pack("!BB", 0x81, size) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class Link:
    """One open socket as the hub knows it. Slots, and kept off the handler, whose attribute
    dict stays small: past 30 attributes CPython stops sharing a class's attribute keys and
    gives every instance a dict of its own, over a kilobyte per idle socket.

    The handler and its link refer to each other while the socket is open; the handler lets go
    of its link when the socket closes or its upgrade is refused, so that a closed session (the
    handler, its request, stream and buffers) is freed at once by reference counting instead of
    waiting, as a reference cycle, for a rare full collection of the cyclic garbage collector."""

    __slots__ = ("conn_id", "ident", "handler", "stream", "direct", "gone", "queued")

    def __init__(self, conn_id: str, ident: Identity, handler: "ChatSocket") -> None:
        self.conn_id = conn_id
        self.ident = ident
        self.handler = handler
        self.stream: Optional[tornado.iostream.IOStream] = None
        self.direct = False
        self.gone = False
        self.queued: Optional[List[bytes]] = None  # frames of this loop turn, written at its end

    def flush(self, runtime: Runtime) -> bool:
        """Write the frames queued this loop turn with one system call, unless the client has
        stopped reading: then close it instead of buffering without bound. False when there
        was nothing to write or nowhere to write it."""
        frames = self.queued
        self.queued = None
        stream = self.stream
        if frames is None or self.gone or stream is None:
            return False
        connection = self.handler.ws_connection
        if connection is None or connection.is_closing():
            return False
        data: Union[bytes, memoryview] = frames[0] if len(frames) == 1 else b"".join(frames)
        try:
            if self.direct and not stream.writing():
                # nothing queued before it: one send() on the non-blocking socket; only what the
                # kernel does not take goes through the stream's buffer (order is kept)
                try:
                    sent = stream.socket.send(data)
                except BlockingIOError:
                    sent = 0
                if sent == len(data):
                    return True
                data = memoryview(data)[sent:]
            stream.write(data)
        except tornado.iostream.StreamBufferFullError:
            log.info("closing slow consumer %s (over %d bytes unsent)", self.conn_id,
                     runtime.settings.ws_max_pending_bytes)
            self.gone = True
            runtime.metrics.slow_consumer_closed()
            stream.close()  # its buffer is full: a close frame would never get through
        except tornado.iostream.StreamClosedError:
            self.gone = True
        except OSError:  # the peer reset the connection under a direct send
            self.gone = True
            stream.close()
        return True  # a write was made (or failed and closed the socket)


class SocketHub:
    """The :class:`chat.realtime.sessions.Transport`: connection id -> live socket, and the one
    keep-alive timer of all sockets.

    Frames are corked: what a socket is sent during one turn of the event loop is written at the
    end of that turn with one system call (each frame stays a frame of its own, so the protocol
    is unchanged). Under load a turn carries a writer batch's worth of messages, and a member of
    busy conversations gets several at once; a send() per frame was the largest cost left."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.handlers: Dict[str, Link] = {}
        self.inflight = 0
        self._frames = 0  # frames queued this turn (metrics)
        self._dirty: List[Link] = []  # links with frames queued this turn
        settings = runtime.settings
        self.heartbeat = Heartbeat(runtime.clock, settings.ws_ping_interval, settings.ws_ping_timeout,
                                   self.handlers.keys, self._ping, self._ping_timed_out)
        runtime.realtime.set_transport(self)

    def add(self, link: Link) -> None:
        self.handlers[link.conn_id] = link
        if not self.heartbeat.running:
            self.heartbeat.start()

    def send(self, conn_id: str, frame: Frame) -> None:
        self.send_many([conn_id], frame)

    def send_many(self, conn_ids: List[str], frame: Frame) -> None:
        """Encode and frame once, then write the same bytes to each receiver's stream (a frame
        from another node arrives as UTF-8 bytes already)."""
        data = text_frame(frame if isinstance(frame, bytes) else frame.encode("utf-8"))
        handlers = self.handlers
        dirty = self._dirty
        was_idle = not dirty
        for conn_id in conn_ids:
            link = handlers.get(conn_id)
            if link is None or link.gone:
                continue
            queued = link.queued
            if queued is None:
                link.queued = [data]
                dirty.append(link)
            else:
                queued.append(data)
            self._frames += 1
        if was_idle and dirty:
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write every socket's frames of this turn (one write per socket)."""
        dirty, self._dirty = self._dirty, []
        runtime = self.runtime
        frames, self._frames = self._frames, 0
        # (a link flushed early by a close was written and counted then)
        writes = sum(link.flush(runtime) for link in dirty)
        runtime.metrics.socket_writes(frames, writes)

    def close(self, conn_id: str, code: int, reason: str) -> None:
        link = self.handlers.get(conn_id)
        if link is not None:
            if link.flush(self.runtime):  # what it was sent goes before the close frame
                self.runtime.metrics.socket_writes(0, 1)
            link.handler.close(code, reason)

    def _ping(self, conn_id: str) -> None:
        link = self.handlers.get(conn_id)
        if link is None or link.gone:
            return
        try:
            link.handler.ping()
        except (tornado.websocket.WebSocketClosedError, tornado.iostream.StreamClosedError):
            pass
        except tornado.iostream.StreamBufferFullError:  # not reading: the next round closes it
            pass

    def _ping_timed_out(self, conn_id: str) -> None:
        link = self.handlers.get(conn_id)
        if link is not None:
            log.info("closing %s: no pong within %.0f s", conn_id, self.heartbeat.timeout)
            try:
                link.handler.close(CloseCode.GOING_AWAY, "ping timed out")
            except tornado.iostream.StreamBufferFullError:
                link.gone = True
                if link.stream is not None:
                    link.stream.close()


class ChatSocket(JsonErrors, tornado.websocket.WebSocketHandler):
    """One client socket. What it keeps is one :class:`Link` (its id, identity and stream);
    everything else lives in :class:`Realtime`. The runtime and the hub are the
    application's (see ``handlers.routes``), not copies per socket."""

    link: Optional[Link] = None

    @property
    def runtime(self) -> Runtime:
        return cast(Runtime, self.application.settings["runtime"])

    @property
    def hub(self) -> SocketHub:
        return cast(SocketHub, self.application.settings["hub"])

    async def prepare(self) -> None:
        # before the upgrade: a refused token is a plain HTTP 401 and no socket is opened
        runtime = self.runtime
        if runtime.draining:
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
        if runtime.realtime.opening >= runtime.settings.max_opening_sockets:
            raise Unavailable("too many connections being set up; retry shortly",
                              retry_after=runtime.settings.shed_retry_after)
        self.link = Link(uuid.uuid4().hex, runtime.verifier.verify(token), self)

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

    @property
    def ping_interval(self) -> Optional[float]:
        return None  # the hub pings every socket from one timer (chat.realtime.heartbeat)

    async def open(self, *args: Any) -> None:
        link = self.link
        assert link is not None
        runtime = self.runtime
        self.set_nodelay(True)
        stream = socket_stream(self.ws_connection)
        link.stream = stream
        if stream is not None:
            # past this much unsent data a write raises: the consumer is too slow (public API)
            stream.max_write_buffer_size = runtime.settings.ws_max_pending_bytes
        # the direct send() fast path is for plain sockets (TLS ends in front of this server)
        link.direct = type(stream) is tornado.iostream.IOStream
        if stream is not None:
            keep_reading(stream, runtime.settings.ws_max_message_size)
        self.hub.add(link)
        try:
            await runtime.realtime.open(link.conn_id, link.ident)
        except ChatError as exc:
            log.warning("could not open a session: %s", exc.message)
            self.close(1011, exc.code)
            return
        if link.gone:  # the client left while the session was being set up
            await runtime.realtime.close(link.conn_id)

    async def on_message(self, message: Any) -> None:
        # awaited by Tornado before the next frame: frames of one socket are handled in order
        hub = self.hub
        assert self.link is not None
        hub.inflight += 1
        try:
            await self.runtime.realtime.handle(self.link.conn_id, message)
        finally:
            hub.inflight -= 1

    def on_pong(self, data: bytes) -> None:
        if self.link is not None:
            self.hub.heartbeat.pong(self.link.conn_id)

    def on_finish(self) -> None:
        if self.get_status() != 101:  # the upgrade was refused (origin, headers): no socket
            self.link = None  # break the cycle (see Link)

    def on_close(self) -> None:
        link = self.link
        if link is None:
            return
        self.link = None  # break the cycle (see Link)
        link.gone = True
        self.hub.handlers.pop(link.conn_id, None)
        asyncio.ensure_future(self.runtime.realtime.close(link.conn_id))
