"""The audit log of staff actions: one entry per action, ``{at, actor, action, target,
school, detail}``, appended through :meth:`AuditLog.record` from the domain action that did
it (never from a handler). Every section of oversight and safeguarding records here."""
from __future__ import annotations

import enum
from typing import Any, Dict, Optional

from chat.clock import Clock, SystemClock
from chat.store.audit_repo import AuditEntries


class AuditAction(str, enum.Enum):
    """What an entry records (its ``action``; the API filters by these words)."""

    GRANT_OPEN = "oversight.grant"
    GRANT_READ = "oversight.read"
    CASE_READ = "moderation.case_read"
    CASE_ACTION = "moderation.action"
    MESSAGE_DELETE = "message.delete"
    PARTICIPANT_ADD = "participant.add"
    PARTICIPANT_REMOVE = "participant.remove"
    MUTE_SET = "mute.set"
    MUTE_CLEAR = "mute.clear"
    POLICY_CHANGE = "policy.change"
    FILTER_CHANGE = "filters.change"
    RETENTION_CHANGE = "retention.change"
    QUIET_HOURS_CHANGE = "quiet_hours.change"
    HOLD_SET = "hold.set"
    HOLD_RELEASE = "hold.release"
    EXPORT = "export.create"
    EXPORT_DOWNLOAD = "export.download"
    ERASURE = "user.erase"
    ROSTER_IMPORT = "roster.import"
    RETENTION_SWEEP = "retention.sweep"


class AuditLog:
    """Appends entries to the school's log (``repo`` None: a log that keeps nothing, for
    domain objects built without storage in unit tests)."""

    def __init__(self, repo: Optional[AuditEntries] = None, clock: Optional[Clock] = None) -> None:
        self._repo = repo
        self._clock = clock or SystemClock()

    async def record(self, actor: str, action: AuditAction, school: str, target: Dict[str, Any],
                     detail: Optional[Dict[str, Any]] = None) -> None:
        """Append one entry. ``target`` names what was acted on (``{"conversationId": ...}``,
        ``{"userId": ...}``, ``{"caseId": ...}``); ``detail`` holds the rest (a reason, the
        values before and after). Never a child's message text."""
        if self._repo is None:
            return
        last = await self._repo.last(school)
        seq = int(last["seq"]) + 1 if last else 1
        await self._repo.append({"school": school, "seq": seq, "chainKey": "%s:%012d" % (school, seq),
                                 "at": int(self._clock.time() * 1000), "actor": actor,
                                 "action": AuditAction(action).value, "target": dict(target),
                                 "detail": dict(detail or {})})
