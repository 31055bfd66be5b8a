"""The HTTP server in front of the application, and shutdown signals that cannot be lost.

- :func:`build_http_server`: request heads and bodies are bounded in size and in time. A request
  over a limit gets a JSON answer (431/413 ``too_large``) instead of a dropped connection, and
  its body is read and dropped first (up to ``http_discard_bytes``) so the client, still
  sending, is not reset before it can read the answer. A body is timed out when it goes idle
  (no byte for ``http_body_timeout`` seconds: 408 ``timeout``), never for being slow, so a
  large upload over a slow line still arrives.
- :func:`install_stop_signals`: SIGINT/SIGTERM run a callback on the loop even when the loop's
  own wakeup pipe is full.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any, Awaitable, Callable, Iterable, Optional, Union

import tornado.httpserver
import tornado.httputil

from chat.clock import Clock, SystemClock, Timer
from chat.errors import ChatError, RequestTimeout, TooLarge
from chat.rules.render import dumps
from chat.settings import Settings

log = logging.getLogger("chat.http")

#: heads between ``http_max_header_bytes`` and this many times it still get their 431; larger
#: ones are cut off by Tornado (it buffers a head in memory while reading it)
HEAD_READ_FACTOR = 8

_REASONS = {408: "Request Timeout", 413: "Payload Too Large", 431: "Request Header Fields Too Large"}


def build_http_server(app: tornado.httputil.HTTPServerConnectionDelegate, settings: Settings,
                      ssl_options: Any = None, clock: Optional[Clock] = None) -> tornado.httpserver.HTTPServer:
    """The HTTP server for ``app`` with the size limits and read timeouts of ``settings``
    (not listening yet: call ``listen`` or ``add_sockets``); ``ssl_options`` serves TLS;
    ``clock`` times idle bodies (tests pass a manual one)."""
    return tornado.httpserver.HTTPServer(
        _Limits(app, settings, clock or SystemClock()),
        xheaders=False,
        ssl_options=ssl_options,
        max_header_size=settings.http_max_header_bytes * HEAD_READ_FACTOR,
        # chunked bodies are counted as they arrive: room to drop an over-limit one
        max_body_size=settings.max_body_bytes + settings.http_discard_bytes,
        # Tornado's name: how long it waits for a request's head, the first one or the next
        idle_connection_timeout=settings.http_header_timeout,
        # not Tornado's body_timeout: it bounds the whole body, and a slow client never finishes
        # a large upload; idle bodies are timed out by _LimitedRequest instead
        body_timeout=None,
    )


class _Limits(tornado.httputil.HTTPServerConnectionDelegate):
    """Wraps the application: each request passes through :class:`_LimitedRequest`."""

    def __init__(self, app: tornado.httputil.HTTPServerConnectionDelegate, settings: Settings, clock: Clock) -> None:
        self.app = app
        self.settings = settings
        self.clock = clock

    def start_request(self, server_conn: object, request_conn: tornado.httputil.HTTPConnection
                      ) -> tornado.httputil.HTTPMessageDelegate:
        return _LimitedRequest(self.app.start_request(server_conn, request_conn), request_conn, self.settings,
                               lambda start_line, headers: _streams_body(self.app, request_conn, start_line, headers),
                               self.clock)

    def on_close(self, server_conn: object) -> None:
        self.app.on_close(server_conn)


def head_size(start_line: tornado.httputil.RequestStartLine, headers: tornado.httputil.HTTPHeaders) -> int:
    """Bytes of a request head as sent (request line, header lines, their CRLFs)."""
    size = len(start_line.method) + len(start_line.path) + len(start_line.version) + 4
    for name, value in headers.get_all():
        size += len(name) + len(value) + 4
    return size


def _streams_body(app: Any, conn: tornado.httputil.HTTPConnection, start_line: tornado.httputil.RequestStartLine,
                  headers: tornado.httputil.HTTPHeaders) -> bool:
    """Whether the route of this request streams its body (``tornado.web.stream_request_body``,
    e.g. uploads): such a handler sets its own body limit, so the transport leaves it alone."""
    find = getattr(app, "find_handler", None)
    if find is None:
        return False
    handler = find(tornado.httputil.HTTPServerRequest(connection=conn, start_line=start_line, headers=headers))
    return bool(getattr(getattr(handler, "handler_class", None), "_stream_request_body", False))


class _IdleBody:
    """The idle timer of one request body: ``expire()`` runs once ``timeout`` seconds passed
    without a byte arriving while the application was not busy with the last one. One timer
    at a time, moved on lazily (not one per chunk)."""

    def __init__(self, clock: Clock, timeout: float, expire: Callable[[], None]) -> None:
        self.clock = clock
        self.timeout = timeout
        self.expire: Optional[Callable[[], None]] = expire
        self.busy = False
        self.done = False
        self._last = 0.0
        self._timer: Optional[Timer] = None

    def start(self) -> None:
        if self.timeout > 0 and not self.done:
            self.touch()
            self._schedule(self.timeout)

    def touch(self) -> None:
        self._last = self.clock.monotonic()

    def stop(self) -> None:
        self.done = True
        # the request's bound method points back at the request: let go of it, so a finished
        # request (its handler, stream and buffers) is freed at once by reference counting
        self.expire = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def after(self, work: Awaitable[None]) -> None:
        """Await the application's handling of a chunk; that time is not the client's."""
        self.busy = True
        try:
            await work
        finally:
            self.busy = False
            self.touch()

    def _schedule(self, delay: float) -> None:
        self._timer = self.clock.call_later(delay, self._check)

    def _check(self) -> None:
        self._timer = None
        if self.done:
            return
        idle = 0.0 if self.busy else self.clock.monotonic() - self._last
        if idle < self.timeout:
            self._schedule(self.timeout - idle)
            return
        expire, self.expire = self.expire, None
        self.done = True
        if expire is not None:
            expire()


class _LimitedRequest(tornado.httputil.HTTPMessageDelegate):
    """One request: refused with a JSON error when its head or body is over the limit or its
    body goes idle, otherwise handed to the application's delegate unchanged."""

    def __init__(self, inner: tornado.httputil.HTTPMessageDelegate, conn: tornado.httputil.HTTPConnection,
                 settings: Settings, streams: Callable[[Any, Any], bool], clock: Clock) -> None:
        self.inner = inner
        self.conn = conn
        self.settings = settings
        self.streams = streams
        self.idle = _IdleBody(clock, settings.http_body_timeout, self._idle)
        self.timed_out = False
        self.unlimited = False  # a streaming route: its handler limits the body
        self.refused: Optional[tuple] = None  # (status, message) once refused
        self.answered = False
        self.received = 0

    def headers_received(self, start_line: Union[tornado.httputil.RequestStartLine,
                                                 tornado.httputil.ResponseStartLine],
                         headers: tornado.httputil.HTTPHeaders) -> Optional[Awaitable[None]]:
        assert isinstance(start_line, tornado.httputil.RequestStartLine)
        limits = self.settings
        length = _content_length(headers)
        big = (length if length is not None else 0) > limits.max_body_bytes or "Transfer-Encoding" in headers
        if head_size(start_line, headers) > limits.http_max_header_bytes:
            self._refuse(431, "request headers over %d bytes" % limits.http_max_header_bytes)
        elif big and self.streams(start_line, headers):  # routed only for the few large bodies
            self.unlimited = True
        elif length is not None and length > limits.max_body_bytes:
            self._refuse(413, "request body over %d bytes" % limits.max_body_bytes)
        has_body = (length or 0) > 0 or "Transfer-Encoding" in headers
        if self.refused is None:
            pending = self.inner.headers_received(start_line, headers)
            if not has_body:
                return pending
            if pending is None:
                self.idle.start()
                return None
            return self._watch_after(pending)
        if has_body:
            self.idle.start()
        if length is not None:
            # Tornado reads the declared body (to drop it) instead of failing it with a bare 400
            self.conn.set_max_body_size(max(length, limits.max_body_bytes))  # type: ignore[attr-defined]
        if headers.get("Expect", "").lower() == "100-continue" or (length or 0) > limits.http_discard_bytes:
            # the client waits for a go-ahead, or the body is too big to drop: answer now, and
            # the connection closes after the answer since the body was never read
            self._answer()
        return None

    async def _watch_after(self, pending: Awaitable[None]) -> None:
        await pending  # the application's prepare (an upload authorizes and opens its file)
        self.idle.start()

    def data_received(self, chunk: bytes) -> Optional[Awaitable[None]]:
        self.idle.touch()
        if self.refused is not None or self.timed_out:
            return None  # dropped
        if not self.unlimited:
            self.received += len(chunk)
            if self.received > self.settings.max_body_bytes:  # a chunked body grew past the limit
                self._refuse(413, "request body over %d bytes" % self.settings.max_body_bytes)
                self.inner.on_connection_close()  # the application never sees this request
                return None
        work = self.inner.data_received(chunk)
        return self.idle.after(work) if work is not None else None

    def finish(self) -> None:
        self.idle.stop()
        if self.timed_out:
            return
        if self.refused is None:
            self.inner.finish()
        elif not self.answered:
            self._answer()

    def on_connection_close(self) -> None:
        self.idle.stop()
        if self.refused is None and not self.timed_out:
            self.inner.on_connection_close()

    def _idle(self) -> None:
        """No byte of the body for ``http_body_timeout`` seconds: answer 408 and close."""
        conn: Any = self.conn
        if self.refused is not None and not self.answered:
            self._answer()  # a refused body, still being dropped: its answer now
            return
        if self.refused is not None or conn._write_finished or conn._response_start_line is not None:
            conn.close()  # answered already (the application refused it early)
            return
        self.timed_out = True
        log.info("timed out an idle request body")
        self.inner.on_connection_close()  # the application drops the request (an upload its file)
        self._write_error(408, RequestTimeout("no bytes of the request body for %g seconds" % self.idle.timeout))

    def _refuse(self, status: int, message: str) -> None:
        self.refused = (status, message)
        log.info("refused a request: %s", message)

    def _answer(self) -> None:
        assert self.refused is not None
        status, message = self.refused
        self.answered = True
        self._write_error(status, TooLarge(message))

    def _write_error(self, status: int, error: ChatError) -> None:
        body = dumps({"error": error.to_dict()}).encode("utf-8")
        headers = tornado.httputil.HTTPHeaders({"Content-Type": "application/json; charset=utf-8",
                                                "Content-Length": str(len(body)), "Cache-Control": "no-store"})
        self.conn.write_headers(tornado.httputil.ResponseStartLine("HTTP/1.1", status, _REASONS[status]),
                                headers, body)
        self.conn.finish()


def _content_length(headers: tornado.httputil.HTTPHeaders) -> Optional[int]:
    value = headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None  # absent (chunked or no body) or malformed: Tornado rejects the latter itself
    return int(value)


# ---------------------------------------------------------------------- shutdown signals
def install_stop_signals(loop: asyncio.AbstractEventLoop, callback: Callable[[], Any],
                         signals: Iterable[int] = (signal.SIGINT, signal.SIGTERM)) -> Callable[[], None]:
    """Run ``callback`` on ``loop`` whenever one of ``signals`` arrives; returns a function that
    puts the previous handlers back. Call it from the main thread, the loop's thread.

    ``loop.add_signal_handler`` is not used on purpose: it delivers a signal as a byte written to
    the loop's self-pipe, the same pipe every ``call_soon_threadsafe`` (every executor
    completion) writes to. When a flood of completions fills that pipe, the signal's byte is
    dropped and its handler never runs. Here the signal runs a plain Python handler, which the
    interpreter always runs in the main thread, and the handler queues the callback; the
    wakeup byte goes to a pipe of its own that nothing else writes to, so it cannot be full and
    an idle loop still wakes up to run the handler.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)

    def on_signal(signum: int, frame: Any) -> None:
        if loop.is_closed():  # left installed past the loop's life: behave as before
            signal.signal(signum, previous.get(signum) or signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        # appending to the loop's queue cannot be lost; the self-pipe byte written with it may
        # be, but then the pipe is full of other bytes and wakes the loop anyway
        loop.call_soon_threadsafe(callback)

    def drain() -> None:
        try:
            while os.read(read_fd, 4096):
                pass
        except BlockingIOError:
            pass

    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    old_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    loop.add_reader(read_fd, drain)

    def uninstall() -> None:
        loop.remove_reader(read_fd)
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(read_fd)
        os.close(write_fd)
    return uninstall
