"""``GET /metrics``: the Prometheus text exposition (see chat/metrics.py).

On the main port it answers loopback clients only, and those in ``metrics_allow`` (anyone else
gets 404, as if the route did not exist); ``metrics_port`` moves it to a loopback-only port of its
own (then the main port answers 404 here), and ``metrics_port = -1`` turns it off.
"""
from __future__ import annotations

from typing import Any

import tornado.web

from chat.errors import NotFound
from chat.metrics import CONTENT_TYPE
from chat.ops.proxies import ProxyRules
from chat.runtime import Runtime
from handlers.api import is_loopback
from handlers.base import JsonErrors

# left in place, these mean a proxy we do not trust relayed the request (trusted proxies' headers
# are consumed, see handlers/proxy.py): the real client is unknown, so it is not loopback
_RELAYED = ("X-Forwarded-For", "X-Real-Ip", "Forwarded")


class MetricsHandler(JsonErrors, tornado.web.RequestHandler):
    """The scrape endpoint; no auth: loopback clients, ``metrics_allow`` networks, or its own port."""

    def initialize(self, runtime: Runtime, dedicated: bool = False) -> None:
        self.runtime = runtime
        self.dedicated = dedicated

    def _client_allowed(self) -> bool:
        if self.dedicated:  # bound to 127.0.0.1 only
            return True
        client = self.request.remote_ip or ""
        if is_loopback(client) and not any(name in self.request.headers for name in _RELAYED):
            return True
        allow = self.runtime.settings.metrics_allow
        return bool(allow) and ProxyRules(allow).trusted(client)

    def get(self) -> None:
        metrics: Any = getattr(self.runtime, "metrics", None)
        port = self.runtime.settings.metrics_port
        if metrics is None or port < 0 or (port > 0) != self.dedicated or not self._client_allowed():
            raise NotFound("no such route")
        self.set_header("Content-Type", CONTENT_TYPE)
        self.set_header("Cache-Control", "no-store")
        self.finish(metrics.render())
