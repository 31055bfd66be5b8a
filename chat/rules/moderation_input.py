"""Reports and moderation: the words a request may use and the parsing of its bodies (the
OpenAPI document states the same rules, from the same constants)."""
from __future__ import annotations

import dataclasses
from typing import Any, Optional, Tuple

from chat.errors import BadRequest
from chat.rules import validation as v

REASONS = ("bullying", "harassment", "self_harm", "sexual_content", "violence", "spam", "other")
#: the reason of a case the word filter opened (the server's own: no report may give it)
FILTER_REASON = "filter"
#: every reason a case may have (the summary counts each)
CASE_REASONS = REASONS + (FILTER_REASON,)
#: what a case is about: a message, a user (reported), or a sender's repeated blocked texts
CASE_KINDS = ("message", "user", "repeated_blocks")
STATUSES = ("open", "in_review", "resolved")
ACTIONS = ("keep", "remove_message", "mute_author", "escalate")
MAX_NOTE = 1000
MAX_MUTE_HOURS = 24 * 30
DEFAULT_MUTE_HOURS = 24
MAX_CASES_PAGE = 100
#: a case cursor: the id of the last case of the page before
CURSOR_PATTERN = "^[0-9a-fA-F]{24}$"


def _note(body: Any) -> Optional[str]:
    """An optional note of at most MAX_NOTE characters as sent; stored trimmed (empty: none)."""
    value = body.get("note")
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest("note must be a string")
    if len(value) > MAX_NOTE:
        raise BadRequest("note must be at most %d characters" % MAX_NOTE)
    return value.strip() or None


def parse_report(body: Any) -> Tuple[str, Optional[str]]:
    """``{reason, note}`` of a report: (reason, note or None)."""
    body = v.obj(body)
    return v.choice(body, "reason", REASONS), _note(body)


@dataclasses.dataclass
class CaseChange:
    status: Optional[str]
    action: Optional[str]
    note: Optional[str]
    hours: int


def parse_case_change(body: Any) -> CaseChange:
    """``{status, action, note, hours}`` of a moderator's change: at least one of status,
    action and note; ``hours`` (1..MAX_MUTE_HOURS, default 24) is how long ``mute_author`` lasts."""
    body = v.obj(body)
    status = v.choice(body, "status", STATUSES) if body.get("status") is not None else None
    action = v.choice(body, "action", ACTIONS) if body.get("action") is not None else None
    note = _note(body)
    hours = v.integer(body, "hours", required=False, minimum=1, maximum=MAX_MUTE_HOURS)
    if status is None and action is None and body.get("note") is None:
        raise BadRequest("give a status, an action or a note")
    return CaseChange(status, action, note, DEFAULT_MUTE_HOURS if hours is None else hours)
