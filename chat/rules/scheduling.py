"""Pure input rules of scheduled messages: the body of an edit, and whether a send asks for a
later one (``sendAt`` itself is read by :func:`chat.domain.notify.scheduled.parse_send_at`,
against the server's clock)."""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional

from chat.errors import BadRequest
from chat.rules.validation import obj, parse_text
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


def has_send_at(body: Any) -> bool:
    """Whether a send's body asks for a later send."""
    return isinstance(body, dict) and "sendAt" in body


def without_send_at(body: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in body.items() if k != "sendAt"}
