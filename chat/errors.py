"""One small error hierarchy: a code from PROTOCOL §2 and a client-safe message.

HTTP statuses and WebSocket error frames are derived from ``code`` in one place each
(``handlers/base.py`` and ``chat/realtime/protocol.py``).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

STATUS: Dict[str, int] = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "policy_forbidden": 403,
    "muted": 403,
    "quiet_hours": 403,
    "not_found": 404,
    "timeout": 408,
    "conflict": 409,
    "message_gone": 410,
    "export_expired": 410,
    "too_large": 413,
    "content_blocked": 422,
    "rate_limited": 429,
    "internal": 500,
    "unavailable": 503,
}


class ChatError(Exception):
    """Base error; ``message`` is safe to show to clients."""

    code = "internal"
    default_message = "internal error"

    def __init__(self, message: str = "") -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def to_dict(self) -> Dict[str, Any]:
        """The error as clients get it (REST body and socket frame alike); a few codes add fields."""
        return {"code": self.code, "message": self.message}


class BadRequest(ChatError):
    code = "bad_request"
    default_message = "bad request"


class Unauthorized(ChatError):
    code = "unauthorized"
    default_message = "missing or invalid token"


class Forbidden(ChatError):
    code = "forbidden"
    default_message = "not allowed"


class PolicyForbidden(Forbidden):
    """The school's safeguarding policy does not allow it (a client can say why)."""

    code = "policy_forbidden"
    default_message = "the school's policy does not allow this"


class Muted(Forbidden):
    """The sender is muted in this conversation (or in slow mode) until a time."""

    code = "muted"
    default_message = "you are muted in this conversation"


class QuietHours(Forbidden):
    """The sender's role may not send now: the school's quiet hours (or a holiday). ``opensAt``
    is when it may again (ISO 8601 with the school's offset), ``opensAtMs`` the same in epoch
    ms; both null when no opening is in sight."""

    code = "quiet_hours"
    default_message = "quiet hours: chat is closed now"

    def __init__(self, message: str = "", opens_at: Optional[str] = None, opens_at_ms: Optional[int] = None) -> None:
        super().__init__(message)
        self.opens_at = opens_at
        self.opens_at_ms = opens_at_ms

    def to_dict(self) -> Dict[str, Any]:
        return dict(super().to_dict(), opensAt=self.opens_at, opensAtMs=self.opens_at_ms)


class NotFound(ChatError):
    code = "not_found"
    default_message = "not found"


class Conflict(ChatError):
    code = "conflict"
    default_message = "conflict"


class MessageGone(ChatError):
    """The message named is deleted (by its author, a moderator, or the school's retention):
    it cannot be forwarded (notifications: forwarding)."""

    code = "message_gone"
    default_message = "the message was deleted"


class Duplicate(Conflict):
    """A unique index refused a write (the store raises it; callers decide what it means).
    For a batch insert, ``index`` is the refused document's position and ``field`` names the
    unique key that refused it (``clientMsgId`` or ``seqKey``)."""

    default_message = "already exists"

    def __init__(self, message: str = "", index: "int | None" = None, field: "str | None" = None) -> None:
        super().__init__(message)
        self.index = index
        self.field = field


class RequestTimeout(ChatError):
    """HTTP only: a request body stopped arriving."""

    code = "timeout"
    default_message = "the request body stopped arriving"


class ContentBlocked(ChatError):
    """The school's word filter refused the text (the message was not sent)."""

    code = "content_blocked"
    default_message = "the message was not sent: it contains words the school does not allow"


class ExportExpired(ChatError):
    """An export whose archive was removed after the retention window (the job stays listed)."""

    code = "export_expired"
    default_message = "this export has expired and its archive was deleted: start a new export"


class TooLarge(ChatError):
    code = "too_large"
    default_message = "too large"


class RateLimited(ChatError):
    code = "rate_limited"
    default_message = "slow down"

    def __init__(self, message: str = "", retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ChatError):
    code = "unavailable"
    default_message = "storage unavailable, try again"

    def __init__(self, message: str = "", retry_after: "float | None" = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # set when the server asks clients to come back later


class Internal(ChatError):
    code = "internal"
    default_message = "internal error"

