"""Applies ``trusted_proxies`` (chat/ops/proxies.py) to every request before routing.

Wraps the application as the HTTP server's delegate: for a connection from a trusted proxy,
the request's ``remote_ip``, ``protocol`` and ``Host`` become the forwarded ones (so the access
log, the demo routes' loopback rule and the WebSocket Origin check all see the real client and
public host), and the consumed X-Forwarded-* headers are removed. From anyone else they are
left as sent and ignored. Tornado's own ``xheaders`` cannot do this: it trusts every peer.
"""
from __future__ import annotations

from typing import Any, Optional, cast

from tornado import httputil

from chat.ops.proxies import ProxyRules

FORWARDED = ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip")


class TrustedProxies(httputil.HTTPServerConnectionDelegate):
    """The server delegate: the application behind the forwarded-header rules."""

    def __init__(self, app: httputil.HTTPServerConnectionDelegate, rules: ProxyRules) -> None:
        self.app = app
        self.rules = rules

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        return _Forwarded(self.app.start_request(server_conn, request_conn), request_conn, self.rules)

    def on_close(self, server_conn: object) -> None:
        self.app.on_close(server_conn)

    def find_handler(self, request: httputil.HTTPServerRequest) -> Any:
        """The application's routing, for the transport limits in front (streaming routes)."""
        return cast(Any, self.app).find_handler(request)


class _Forwarded(httputil.HTTPMessageDelegate):
    def __init__(self, inner: httputil.HTTPMessageDelegate, conn: Any, rules: ProxyRules) -> None:
        self.inner = inner
        self.context: Any = getattr(conn, "context", None)
        self.rules = rules
        self.saved: Optional[tuple] = None

    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> Any:
        ctx: Any = self.context
        peer = getattr(ctx, "remote_ip", None)
        found = self.rules.forwarded(peer, headers) if peer else None
        if found is not None:
            # the connection (keep-alive) may carry other requests: restored when this one ends
            self.saved = (ctx.remote_ip, ctx.protocol)
            ctx.remote_ip = found["remote_ip"]
            ctx.protocol = found.get("protocol", ctx.protocol)
            if "host" in found:
                headers["Host"] = found["host"]
            for name in FORWARDED:
                headers.pop(name, None)
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        self.inner.finish()
        self._restore()

    def on_connection_close(self) -> None:
        self.inner.on_connection_close()
        self._restore()

    def _restore(self) -> None:
        if self.saved is not None and self.context is not None:
            self.context.remote_ip, self.context.protocol = self.saved
            self.saved = None
