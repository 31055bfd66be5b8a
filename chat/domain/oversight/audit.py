"""The audit log of staff actions: one entry per action, ``{at, actor, action, target,
school, detail}``, appended through :meth:`AuditLog.record` from the domain action that did
it (never from a handler). Every section of oversight and safeguarding records here.

**A hash chain per school** (:mod:`chat.domain.oversight.audit_chain`): entry ``seq`` n carries
``prev``, the hash of entry n-1 of its school, and ``hash``, SHA-256 over its canonical
serialization; ``server.py audit verify`` recomputes every link (README "Audit log").

**Appends stay linear.** Within a process, appends to one school's chain are serialized by an
asyncio lock, and the head (last seq and hash) is kept in memory. Across processes (a cluster:
several nodes on one database) the unique ``chainKey`` (school and seq) lets only one writer
store seq n; the other's insert is refused, it reads the head again and retries
(:data:`MAX_ATTEMPTS`), so the chain never forks and no entry is lost.

**Record before the action, after its checks.** A domain action first decides that the caller
may do it (permissions, validation, legal holds, "is there anything to do at all": an
idempotent repeat records nothing), then ``await self.core.audit.record(...)``, then does it.
If recording fails (storage ``unavailable``, or the chain too contended), the exception leaves
the action before it has any effect: the caller gets the error and nothing a member of staff
does goes unrecorded. The price is the other order's risk turned round: when the action itself
then fails (storage fails between the two writes), the entry records an action that was
authorized and begun but did not take effect; a retry records it again. Reads under a grant
follow the same rule (record, then answer). A bulk job (a roster import) records one entry with
what it is about to do (counts, not the data), then does it.

Never a child's message text in an entry: ids, counts, reasons, settings before and after.
"""
from __future__ import annotations

import asyncio
import enum
from typing import Any, Dict, Optional, Tuple

from chat.clock import Clock, SystemClock
from chat.domain.oversight.audit_chain import GENESIS, seal
from chat.errors import Unavailable
from chat.store.audit_repo import AuditEntries

#: inserts one append tries before it answers unavailable (each refused one means another process
#: appended meanwhile: a bound on how long another node's burst can hold this one back)
MAX_ATTEMPTS = 64


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
    # notifications: webhooks and bots
    WEBHOOK_CREATE = "webhook.create"
    WEBHOOK_UPDATE = "webhook.update"
    WEBHOOK_DELETE = "webhook.delete"
    WEBHOOK_REPLAY = "webhook.replay"
    BOT_CREATE = "bot.create"
    BOT_REVOKE = "bot.revoke"
    EMAIL_SETTINGS_CHANGE = "notifications.change"  # notifications: missed-message email


#: every action word, for the API's ``action=`` filter
ACTION_WORDS = tuple(a.value for a in AuditAction)


class AuditLog:
    """Appends entries to the school's log (``repo`` None: a log that keeps nothing, for
    domain objects built without storage in unit tests)."""

    def __init__(self, repo: Optional[AuditEntries] = None, clock: Optional[Clock] = None) -> None:
        self._repo = repo
        self._clock = clock or SystemClock()
        # per school (one entry each: bounded by the number of schools)
        self._locks: Dict[str, asyncio.Lock] = {}
        self._heads: Dict[str, Tuple[int, str]] = {}

    async def record(self, actor: str, action: AuditAction, school: str, target: Dict[str, Any],
                     detail: Optional[Dict[str, Any]] = None) -> None:
        """Append one entry. ``target`` names what was acted on (``{"conversationId": ...}``,
        ``{"userId": ...}``, ``{"caseId": ...}``); ``detail`` holds the rest (a reason, the
        values before and after). Never a child's message text. Raises ``Unavailable`` when
        it cannot be stored: the caller's action must then not happen (see the module doc)."""
        if self._repo is None:
            return
        entry = {"school": school, "at": int(self._clock.time() * 1000), "actor": actor,
                 "action": AuditAction(action).value, "target": dict(target), "detail": dict(detail or {})}
        lock = self._locks.setdefault(school, asyncio.Lock())
        async with lock:
            for _attempt in range(MAX_ATTEMPTS):
                seq, prev = await self._head(school)
                doc = seal(entry, seq + 1, prev)
                try:
                    stored = await self._repo.append(doc)
                except Unavailable:
                    self._heads.pop(school, None)  # the outcome is unknown: read the head next time
                    raise
                if stored:
                    self._heads[school] = (seq + 1, doc["hash"])
                    return
                self._heads.pop(school, None)  # another process appended seq + 1 first
            raise Unavailable("the audit log is busy, try again")

    async def _head(self, school: str) -> Tuple[int, str]:
        """The school's last ``(seq, hash)``: from memory, or read (``(0, GENESIS)`` when empty)."""
        head = self._heads.get(school)
        if head is not None:
            return head
        assert self._repo is not None
        last = await self._repo.last(school)
        if last is None:
            return 0, GENESIS
        return int(last["seq"]), str(last.get("hash") or "")
