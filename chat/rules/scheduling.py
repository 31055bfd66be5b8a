"""Pure input rules of scheduled messages and forwards: ``sendAt`` (ISO 8601 with ``Z`` or an
offset, as every time the API answers, or epoch milliseconds, as its ``...Ms`` fields), the
body of an edit, and the body of a forward."""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional

from chat.errors import BadRequest
from chat.rules.validation import MAX_CLIENT_MSG_ID, obj, parse_text, string
from chat.settings import Settings
from chat.timeutil import parse_iso

DAY_MS = 86_400_000
#: the longest ISO 8601 text accepted for ``sendAt``
MAX_TIME_TEXT = 40


def parse_send_at(value: Any, now_ms: int, max_days: int) -> int:
    """``sendAt`` as epoch ms: after ``now_ms`` and at most ``max_days`` days after it."""
    if isinstance(value, bool) or value is None:
        raise BadRequest("sendAt must be an ISO 8601 time or epoch milliseconds")
    if isinstance(value, int):
        when = value
    elif isinstance(value, str) and 0 < len(value) <= MAX_TIME_TEXT:
        try:
            when = parse_iso(value)
        except (ValueError, OverflowError):
            raise BadRequest("sendAt must be an ISO 8601 time (2026-01-02T08:00:00Z) or epoch milliseconds") from None
    else:
        raise BadRequest("sendAt must be an ISO 8601 time or epoch milliseconds")
    if when <= now_ms:
        raise BadRequest("sendAt must be in the future")
    if when > now_ms + max_days * DAY_MS:
        raise BadRequest("sendAt must be at most %d days ahead" % max_days)
    return when


@dataclasses.dataclass
class SchedulePatch:
    text: Optional[str] = None
    send_at: Optional[int] = None


def parse_schedule_patch(body: Any, settings: Settings, now_ms: int) -> SchedulePatch:
    """``{text?, sendAt?}``: at least one; nothing else."""
    body = obj(body)
    unknown = sorted(set(body) - {"text", "sendAt"})
    if unknown:
        raise BadRequest("unknown field: %s" % unknown[0][:64])
    if not body:
        raise BadRequest("text or sendAt is required")
    patch = SchedulePatch()
    if "text" in body:
        patch.text = parse_text(body, settings, required=True)
    if "sendAt" in body:
        patch.send_at = parse_send_at(body["sendAt"], now_ms, settings.scheduled_max_days)
    return patch


@dataclasses.dataclass
class Forward:
    conversation_id: str
    client_msg_id: Optional[str]


def parse_forward(body: Any) -> Forward:
    """``{conversationId, clientMsgId?}`` (the clientMsgId makes a retried forward idempotent)."""
    body = obj(body)
    return Forward(string(body, "conversationId", max_len=64) or "",
                   string(body, "clientMsgId", required=False, max_len=MAX_CLIENT_MSG_ID))


def has_send_at(body: Any) -> bool:
    """Whether a send's body asks for a later send."""
    return isinstance(body, dict) and "sendAt" in body


def without_send_at(body: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in body.items() if k != "sendAt"}
