"""A real HTTP receiver for webhook tests: a Tornado app on an ephemeral loopback port, in the
test's own event loop, that answers 200, fails (500), or hangs until the test lets it go; it
verifies each delivery's signature as a receiver should (chat.rules.webhook_sign.verify)."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Dict, List, Optional

import tornado.httpserver
import tornado.netutil
import tornado.web
import ujson

from chat.rules.webhook_sign import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


class Delivery:
    def __init__(self, headers: Dict[str, str], body: bytes, secret: Optional[str]) -> None:
        self.headers = headers
        self.body = body
        self.json: Dict[str, Any] = ujson.loads(body)
        self.event = headers.get(EVENT_HEADER)
        self.delivery_id = headers.get(DELIVERY_HEADER)
        self.verified = secret is not None and verify(secret, headers.get(TIMESTAMP_HEADER), body,
                                                      headers.get(SIGNATURE_HEADER), time.time())


class _Hook(tornado.web.RequestHandler):
    def initialize(self, rx: "Receiver") -> None:
        self.rx = rx

    async def post(self) -> None:
        rx = self.rx
        headers = {k: v for k, v in self.request.headers.get_all()}
        delivery = Delivery(headers, self.request.body, rx.secret)
        rx.attempts.append(delivery)
        rx.changed()
        mode = rx.mode
        if mode == "hang":
            rx.hanging += 1
            rx.changed()
            await rx.release.wait()
        if mode == "fail":
            self.set_status(500)
            self.finish("no")
            return
        rx.received.append(delivery)
        rx.changed()
        self.finish("ok")


class Receiver:
    """``mode``: ``ok`` (200), ``fail`` (500) or ``hang`` (no answer until :attr:`release` is
    set). ``attempts`` holds every POST, ``received`` those answered 200."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.secret: Optional[str] = None
        self.attempts: List[Delivery] = []
        self.received: List[Delivery] = []
        self.hanging = 0
        self.release = asyncio.Event()
        self._changed = asyncio.Event()
        app = tornado.web.Application([(r"/hook", _Hook, {"rx": self})])
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self.server = tornado.httpserver.HTTPServer(app)
        self.server.add_sockets(sockets)

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/hook" % self.port

    def changed(self) -> None:
        self._changed.set()

    async def until(self, check: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
        """Wait (an event, not a sleep) until ``check()`` holds; fail after ``timeout``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not check():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError("timed out waiting for %s: %d attempts, %d received %s" % (
                    what, len(self.attempts), len(self.received), [d.json["data"].get("seq") for d in self.received]))
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
            except asyncio.TimeoutError:
                pass

    def events(self, name: str) -> List[Delivery]:
        return [d for d in self.received if d.event == name]

    def stop(self) -> None:
        self.release.set()
        self.server.stop()
