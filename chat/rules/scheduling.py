"""Pure input rules of scheduled messages and forwards: the body of an edit of a scheduled
message and the body of a forward (``sendAt`` itself is read by
:func:`chat.domain.notify.scheduled.parse_send_at`, against the server's clock)."""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional

from chat.errors import BadRequest
from chat.rules.validation import MAX_CLIENT_MSG_ID, obj, parse_text, string
from chat.settings import Settings


@dataclasses.dataclass
class SchedulePatch:
    text: Optional[str] = None
    send_at: Any = None  # as sent: the domain reads it against its clock
    has_send_at: bool = False


def parse_schedule_patch(body: Any, settings: Settings) -> SchedulePatch:
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
        patch.send_at, patch.has_send_at = body["sendAt"], True
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
