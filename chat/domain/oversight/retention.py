"""Retention: how long a school keeps message content, files of deleted messages and the
evidence of resolved moderation cases (``GET``/``PUT /api/schools/{id}/retention``, admins),
and what a member's own delete leaves for the sweep (:mod:`chat.domain.oversight.retention_sweep`).

A school's document: ``messages.retentionDays`` (0: kept forever), ``messages.byType`` (the
same per conversation type; null: the school's value), ``uploads.retentionDays`` (files of
deleted messages) and ``caseRetentionDays`` (evidence of a case, counted from its resolution).
Unset values come from the settings ``retention_message_days``, ``upload_retention_days`` and
``retention_case_days``. Each change is an audit entry with the values before and after.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from chat.auth import Identity
from chat.domain.oversight.audit import AuditAction
from chat.errors import BadRequest, Forbidden, NotFound
from chat.rules.validation import integer, obj
from chat.settings import Settings
from chat.vocab import Role

if TYPE_CHECKING:
    from chat.domain.core import Core
    from chat.live.convcache import ConvState

CONVERSATION_TYPES = ("direct", "group", "class", "announcement")
MAX_DAYS = 36500
DAY_MS = 86_400_000


def _days(body: Mapping[str, Any], key: str, where: str, minimum: int = 0, nullable: bool = False) -> Optional[int]:
    """A number of days (``nullable``: null is a value, else it is refused); 400 with the
    field's path otherwise."""
    if body.get(key) is None and nullable:
        return None
    try:
        return integer(body, key, required=True, minimum=minimum, maximum=MAX_DAYS)
    except BadRequest as exc:
        raise BadRequest("%s%s" % (where, exc.message)) from None


def _only(body: Mapping[str, Any], allowed: Any, where: str) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadRequest("unknown field: %s%s" % (where, unknown[0]))


@dataclasses.dataclass(frozen=True)
class RetentionPolicy:
    """A school's retention (days; 0 message days: kept forever)."""

    message_days: int
    by_type: Mapping[str, Optional[int]]
    upload_days: int
    case_days: int

    @classmethod
    def defaults(cls, settings: Settings) -> "RetentionPolicy":
        return cls(settings.retention_message_days, {t: None for t in CONVERSATION_TYPES},
                   int(settings.upload_retention_days), settings.retention_case_days)

    @classmethod
    def of(cls, doc: Optional[Mapping[str, Any]], settings: Settings) -> "RetentionPolicy":
        """The policy a stored document (None: never set) gives under these settings."""
        base = cls.defaults(settings)
        if not doc:
            return base
        stored = dict(doc.get("byType") or {})
        return cls(int(doc.get("messageDays", base.message_days)),
                   {t: (int(stored[t]) if stored.get(t) is not None else None) for t in CONVERSATION_TYPES},
                   int(doc.get("uploadDays", base.upload_days)), int(doc.get("caseDays", base.case_days)))

    def days_for(self, conversation_type: str) -> int:
        """Days the content of a message in such a conversation is kept (0: forever)."""
        own = self.by_type.get(conversation_type)
        return self.message_days if own is None else own

    @property
    def sweeps_messages(self) -> bool:
        return bool(self.message_days) or any(self.by_type.values())

    def changed(self, body: Any) -> "RetentionPolicy":
        """The policy after a ``PUT`` body (some of the fields; 400 for anything malformed,
        and then nothing changes)."""
        value = obj(body)
        if not value:
            raise BadRequest("body must name at least one of messages, uploads, caseRetentionDays")
        _only(value, ("messages", "uploads", "caseRetentionDays"), "")
        message_days, by_type = self.message_days, dict(self.by_type)
        if "messages" in value:
            messages = obj(value["messages"], "messages")
            _only(messages, ("retentionDays", "byType"), "messages.")
            if "retentionDays" in messages:
                message_days = _days(messages, "retentionDays", "messages.") or 0
            if "byType" in messages:
                types = obj(messages["byType"], "messages.byType")
                _only(types, CONVERSATION_TYPES, "messages.byType.")
                for kind in types:
                    by_type[kind] = _days(types, kind, "messages.byType.", nullable=True)
        upload_days = self.upload_days
        if "uploads" in value:
            uploads = obj(value["uploads"], "uploads")
            _only(uploads, ("retentionDays",), "uploads.")
            if "retentionDays" in uploads:
                upload_days = _days(uploads, "retentionDays", "uploads.", minimum=1) or upload_days
        case_days = self.case_days
        if "caseRetentionDays" in value:
            case_days = _days(value, "caseRetentionDays", "") or 0
        return RetentionPolicy(message_days, by_type, upload_days, case_days)

    def view(self) -> Dict[str, Any]:
        return {"messages": {"retentionDays": self.message_days, "byType": dict(self.by_type)},
                "uploads": {"retentionDays": self.upload_days}, "caseRetentionDays": self.case_days}

    def stored(self) -> Dict[str, Any]:
        return {"messageDays": self.message_days, "byType": dict(self.by_type), "uploadDays": self.upload_days,
                "caseDays": self.case_days}


class RetentionActions:
    """Reading and changing a school's retention (admins of that school only)."""

    def __init__(self, core: "Core") -> None:
        self.core = core

    def _check(self, ident: Identity, school_id: str) -> None:
        if school_id != ident.school:
            raise NotFound("no such school")  # another school is never revealed
        if ident.role != Role.ADMIN:
            raise Forbidden("only the school's admins manage its retention")

    async def policy(self, school: str) -> RetentionPolicy:
        return RetentionPolicy.of(await self.core.store.retention.get_settings(school), self.core.settings)

    async def get(self, ident: Identity, school_id: str) -> Dict[str, Any]:
        """The school's retention."""
        self._check(ident, school_id)
        return {"schoolId": school_id, "retention": (await self.policy(school_id)).view()}

    async def put(self, ident: Identity, school_id: str, body: Any) -> Dict[str, Any]:
        """Change some of the school's retention; recorded in the audit (before and after)."""
        self._check(ident, school_id)
        old = await self.policy(school_id)
        new = old.changed(body)
        if new != old:
            now = int(self.core.clock.time() * 1000)
            await self.core.store.retention.put_settings(school_id, new.stored(), ident.user_id, now)
            await self.core.audit.record(ident.user_id, AuditAction.RETENTION_CHANGE, school_id,
                                         {"schoolId": school_id}, {"before": old.view(), "after": new.view()})
        return {"schoolId": school_id, "retention": new.view()}


async def own_delete(core: "Core", msg: Dict[str, Any], state: "ConvState") -> None:
    """A member deleted their own message (already hidden from everyone): its content is
    removed by the next sweep, unless a hold covers it (then it is kept, marked ``heldAt``,
    until the hold is released)."""
    now = int(core.clock.time() * 1000)
    if await core.holds.covers(state.school, user_id=msg["senderId"], conversation_id=state.id):
        await core.store.retention.mark_held(msg["id"], now)
    await core.store.retention.add_pending([{
        "messageId": msg["id"], "school": state.school, "conversationId": state.id, "senderId": msg["senderId"],
        "type": state.type, "kind": "delete", "at": now}])
