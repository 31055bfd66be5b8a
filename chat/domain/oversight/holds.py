"""Legal holds: what a hold covers is kept whatever else would delete it (retention, erasure,
a member's own delete) until the hold is released. Every deleting path asks
:meth:`HoldBook.covers` first.

A hold names a user of the school (everything that user wrote) or a conversation of the school
(everything in it). The school's admins set, list and release them
(``PUT``/``DELETE /api/holds/users/{userId}``, ``/api/holds/conversations/{conversationId}``,
``GET /api/holds``); each change is an audit entry. Holds are read from storage on every
question (two lookups by ``_id``), so a hold set on one node of a cluster covers the next
delete on any other.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Optional

from chat.auth import Identity
from chat.domain.oversight.audit import AuditAction
from chat.errors import BadRequest, Forbidden, NotFound
from chat.rules.validation import obj, string
from chat.store.hold_repo import Holds
from chat.timeutil import iso
from chat.vocab import Role

if TYPE_CHECKING:  # the core holds a HoldBook: imported for types only
    from chat.domain.core import Core

KINDS = ("user", "conversation")
MAX_REASON = 500
#: the most holds one school lists (and the sweep reads) at once
MAX_HOLDS = 1000


@dataclasses.dataclass(frozen=True)
class HeldSet:
    """A school's holds at one moment (what the retention sweep checks a batch against)."""

    users: FrozenSet[str] = frozenset()
    conversations: FrozenSet[str] = frozenset()

    def covers(self, user_id: Optional[str], conversation_id: Optional[str]) -> bool:
        return (user_id is not None and user_id in self.users) or (
            conversation_id is not None and conversation_id in self.conversations)

    def __bool__(self) -> bool:
        return bool(self.users or self.conversations)


class HoldBook:
    """Which users and conversations are under a legal hold (``repo`` None: a book that holds
    nothing, for domain objects built without storage in unit tests)."""

    def __init__(self, repo: Optional[Holds] = None) -> None:
        self._repo = repo

    async def covers(self, school: str, user_id: Optional[str] = None,
                     conversation_id: Optional[str] = None) -> bool:
        """True when a hold on ``user_id`` (the author of what is to be deleted) or on
        ``conversation_id`` (where it is) is in force in ``school``."""
        if self._repo is None:
            return False
        if user_id is not None and await self._repo.get(school, "user", user_id) is not None:
            return True
        return conversation_id is not None and await self._repo.get(school, "conversation", conversation_id) is not None

    async def snapshot(self, school: str) -> HeldSet:
        """Every hold of the school now (one query)."""
        if self._repo is None:
            return HeldSet()
        docs = await self._repo.of_school(school, MAX_HOLDS)
        return HeldSet(frozenset(d["targetId"] for d in docs if d["kind"] == "user"),
                       frozenset(d["targetId"] for d in docs if d["kind"] == "conversation"))


def hold_view(doc: Dict[str, Any]) -> Dict[str, Any]:
    """A hold as admins see it."""
    return {"kind": doc["kind"], "targetId": doc["targetId"], "reason": doc.get("reason") or "",
            "setBy": doc.get("by"), "setAt": iso(doc.get("at"))}


def parse_reason(body: Any) -> str:
    """``{reason}``: why the hold is set (1 to 500 characters after trimming); 400 otherwise."""
    value = obj(body)
    unknown = sorted(set(value) - {"reason"})
    if unknown:
        raise BadRequest("unknown field: %s" % unknown[0])
    reason = string(value, "reason", max_len=MAX_REASON)
    assert reason is not None
    return reason


def check_admin(ident: Identity) -> None:
    """Holds are for the school's admins only."""
    if ident.role != Role.ADMIN:
        raise Forbidden("only the school's admins manage legal holds")


class HoldActions:
    """Set, release and list a school's holds (admins), each change recorded in the audit."""

    def __init__(self, core: "Core") -> None:
        self.core = core

    async def _target(self, ident: Identity, kind: str, target_id: str) -> None:
        """404 unless the target is a user or conversation of the caller's school."""
        if kind == "user":
            user = await self.core.store.directory.get_user(target_id)
            if user is None or user.get("school") != ident.school:
                raise NotFound("no such user")
            return
        conv = await self.core.store.conversations.get(target_id)
        if conv is None or conv.get("school") != ident.school:
            raise NotFound("no such conversation")

    async def set(self, ident: Identity, kind: str, target_id: str, body: Any) -> Dict[str, Any]:
        """Set (or re-set with a new reason) a hold on a user or conversation of the school."""
        check_admin(ident)
        reason = parse_reason(body)
        await self._target(ident, kind, target_id)
        now = int(self.core.clock.time() * 1000)
        doc = await self.core.store.holds.put(ident.school, kind, target_id, reason, ident.user_id, now)
        await self.core.audit.record(ident.user_id, AuditAction.HOLD_SET, ident.school,
                                     {kind + "Id": target_id}, {"reason": reason})
        return hold_view(doc)

    async def release(self, ident: Identity, kind: str, target_id: str) -> Dict[str, Any]:
        """Release a hold (idempotent: ``released`` says whether there was one). What it kept
        is deleted by the next retention sweep if it is due."""
        check_admin(ident)
        await self._target(ident, kind, target_id)
        released = await self.core.store.holds.remove(ident.school, kind, target_id)
        if released:
            await self.core.audit.record(ident.user_id, AuditAction.HOLD_RELEASE, ident.school,
                                         {kind + "Id": target_id}, {})
        return {"kind": kind, "targetId": target_id, "released": released}

    async def list(self, ident: Identity) -> List[Dict[str, Any]]:
        """The school's holds, oldest first."""
        check_admin(ident)
        return [hold_view(d) for d in await self.core.store.holds.of_school(ident.school, MAX_HOLDS)]
