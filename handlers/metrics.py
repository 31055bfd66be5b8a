"""``GET /metrics``: the Prometheus text exposition (see chat/metrics.py).

On the main port unless ``metrics_port`` moves it to a loopback-only port of its own (then the
main port answers 404 here), or ``metrics_port = -1`` turns it off.
"""
from __future__ import annotations

from typing import Any

import tornado.web

from chat.errors import NotFound
from chat.metrics import CONTENT_TYPE
from chat.runtime import Runtime
from handlers.base import JsonErrors


class MetricsHandler(JsonErrors, tornado.web.RequestHandler):
    """The scrape endpoint; no auth (bind it to loopback with metrics_port, or filter at the proxy)."""

    def initialize(self, runtime: Runtime, dedicated: bool = False) -> None:
        self.runtime = runtime
        self.dedicated = dedicated

    def get(self) -> None:
        metrics: Any = getattr(self.runtime, "metrics", None)
        port = self.runtime.settings.metrics_port
        if metrics is None or port < 0 or (port > 0) != self.dedicated:
            raise NotFound("no such route")
        self.set_header("Content-Type", CONTENT_TYPE)
        self.set_header("Cache-Control", "no-store")
        self.finish(metrics.render())
