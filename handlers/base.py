"""Shared REST plumbing: JSON in/out, bearer auth, and the one mapping of errors to HTTP."""
from __future__ import annotations

import logging
import math
from typing import Any, Dict, List, Optional

import tornado.web
import ujson

from chat.auth import Identity, is_bot_token
from chat.errors import STATUS, BadRequest, ChatError, Forbidden, Internal, NotFound, RateLimited, TooLarge, Unavailable
from chat.rules.render import dumps
from chat.rules.validation import check_storable, query_text
from chat.runtime import Runtime

log = logging.getLogger("chat.http")

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               409: "conflict", 413: "too_large", 429: "rate_limited", 503: "unavailable"}


class MethodNotAllowed(ChatError):
    """A method the route does not have. HTTP-only (a socket event has no method), so it is
    not one of the protocol's shared codes and carries its status itself."""

    code = "method_not_allowed"
    default_message = "method not allowed"

    @property
    def status(self) -> int:
        return 405


def allowed_methods(handler_class: Any) -> List[str]:
    """The HTTP methods a handler class implements (Tornado's defaults answer 405)."""
    return [m for m in handler_class.SUPPORTED_METHODS
            if getattr(handler_class, m.lower(), None) is not getattr(tornado.web.RequestHandler, m.lower())]


class JsonErrors:
    """The one mapping of exceptions to HTTP error responses, for REST handlers and for the
    WebSocket handler before its upgrade."""

    request: Any

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = error_from(kwargs.get("exc_info"), status_code)
        if isinstance(error, MethodNotAllowed):
            allowed = allowed_methods(type(self))
            if not allowed:  # an unknown route with an exotic method is still an unknown route
                error = error_from(None, 404)
            else:
                self.set_header("Allow", ", ".join(allowed))  # type: ignore[attr-defined]
                error = MethodNotAllowed("%s is not allowed here; allowed: %s" % (
                    self.request.method, ", ".join(allowed)))
        self.set_status(error.status)  # type: ignore[attr-defined]
        self.set_header("Content-Type", "application/json; charset=utf-8")  # type: ignore[attr-defined]
        if error.code == "unauthorized":
            self.set_header("WWW-Authenticate", 'Bearer realm="chat"')  # type: ignore[attr-defined]
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, (RateLimited, Unavailable)) and retry_after is not None:
            self.set_header("Retry-After", str(max(1, math.ceil(retry_after))))  # type: ignore[attr-defined]
        self.finish(dumps({"error": error.to_dict()}))  # type: ignore[attr-defined]

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ChatError):
            log.debug("%s %s -> %s: %s", self.request.method, self.request.path, value.code, value.message)
        elif isinstance(value, tornado.web.HTTPError) and value.status_code < 500:
            log.debug("%s %s -> %s", self.request.method, self.request.path, value.status_code)
        else:
            super().log_exception(typ, value, tb)  # type: ignore[misc]


def bearer(request: Any) -> Optional[str]:
    """The token of an ``Authorization: Bearer`` header, if any."""
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


class ApiHandler(JsonErrors, tornado.web.RequestHandler):
    """Base of every REST handler."""

    runtime: Runtime

    def initialize(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def prepare(self) -> None:
        length = self.request.headers.get("Content-Length")
        limit = self.runtime.settings.max_body_bytes
        if (length and length.isdigit() and int(length) > limit) or len(self.request.body or b"") > limit:
            raise TooLarge("request body over %d bytes" % limit)

    # ------------------------------------------------------------------ input
    async def identity(self, bots: bool = False) -> Identity:
        """The verified caller (401 otherwise), with the directory refreshed from its claims.
        A bot's token (notifications: bots) is 401 when unknown or revoked, and 403 on every
        route but those that pass ``bots=True`` (sending a message)."""
        token = bearer(self.request)
        if is_bot_token(token):
            bot = await self.runtime.service.bots.authenticate(str(token))
            if not bots:
                raise Forbidden("a bot may only post messages to the conversations of its scopes")
            return bot
        ident = self.runtime.verifier.verify(token)
        return await self.runtime.service.directory.touch_identity(ident)

    def body(self) -> Any:
        """The decoded JSON body (400 when it is not JSON)."""
        raw = self.request.body or b""
        if not raw.strip():
            return {}
        try:
            decoded = ujson.loads(raw)
        except (ValueError, TypeError, OverflowError):
            raise BadRequest("body is not valid JSON") from None
        return check_storable(decoded)

    def arg(self, name: str) -> Optional[str]:
        """A query value exactly as sent (Tornado's own accessor turns control characters into
        spaces and trims, so ``?limit=%04`` would read as no limit): the last one if repeated,
        400 when it holds a control character."""
        values = self.request.query_arguments.get(name)
        if not values:
            return None
        return query_text(self.decode_argument(values[-1], name), name)

    # ------------------------------------------------------------------ output
    def send(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(dumps({"data": data}))

    def send_list(self, items: List[Any], has_more: bool, next_cursor: Any, **extra: Any) -> None:
        self.finish(dumps(dict({"data": items, "hasMore": has_more, "next": next_cursor}, **extra)))


def error_from(exc_info: Any, status_code: int) -> ChatError:
    """Any exception (or bare status) as a client-safe :class:`ChatError`."""
    exc = exc_info[1] if exc_info else None
    if isinstance(exc, ChatError):
        return exc
    if isinstance(exc, tornado.web.HTTPError):
        status_code = exc.status_code
    if status_code == 405:
        return MethodNotAllowed()
    code = _HTTP_CODES.get(status_code)
    if code is None:
        return Internal()
    error = ChatError(_DEFAULT_MESSAGES.get(status_code, code.replace("_", " ")))
    error.code = code
    return error


_DEFAULT_MESSAGES: Dict[int, str] = {404: "no such route"}
assert set(_HTTP_CODES.values()) <= set(STATUS)


class NotFoundHandler(ApiHandler):
    """Unknown routes: a JSON 404 like every other error."""

    def prepare(self) -> None:
        path = self.request.path
        if path.endswith("/") and path.strip("/") and self._routed(path.rstrip("/")):
            raise NotFound("no such route: %s takes no trailing slash" % path.rstrip("/"))
        raise tornado.web.HTTPError(404)

    def _routed(self, path: str) -> bool:
        """Whether an ``/api`` route other than this catch-all serves ``path``."""
        for rule in self.application.wildcard_router.rules:
            regex = getattr(rule.matcher, "regex", None)
            if (regex is not None and regex.pattern.startswith("/api/") and regex.match(path)
                    and rule.target is not type(self)):
                return True
        return False
