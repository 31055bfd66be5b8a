"""Audited oversight access (README "Oversight access").

A school's moderators (its admins and the users its roster marks ``safeguarding``, the rule of
:func:`chat.domain.safety.moderation.is_moderator`) open any conversation of their school
read-only by stating a reason: a grant lets that one person read that one conversation for
``oversight_minutes``: its view, history, search within it, receipts and its attachments.
Never writes: sending, editing, deleting, reacting, markers, renaming and participants keep
asking :meth:`chat.domain.core.Core.participant`. The participants are not told (no push, no
system message); the school policy's ``reviewNotice`` tells everyone that the school may review
conversations. A grant gives no socket subscription: reads under it are REST only.

Every grant and every read under one is an audit entry. The reads ask
:meth:`chat.domain.core.Core.reader`, which consults the core's
:class:`chat.domain.oversight.grant_book.GrantBook`. Grants are stored (``oversight_grants``),
so one made on one node of a cluster holds on every other: a node remembers the grants it has
found until they expire (a grant is never withdrawn early) and asks storage about any other.
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.oversight.audit import AuditAction
from chat.domain.oversight.grant_book import StoredGrants
from chat.domain.safety.moderation import is_moderator
from chat.errors import Forbidden, NotFound
from chat.rules import validation as v
from chat.timeutil import iso
from chat.vocab import Role

MIN_REASON = 10
MAX_REASON = 500


def parse_grant(body: Any) -> Tuple[str, str]:
    """``{conversationId, reason}`` of ``POST /api/oversight/grants`` (the reason trimmed,
    :data:`MIN_REASON`..:data:`MAX_REASON` characters); 400 otherwise."""
    body = v.obj(body)
    conversation_id = v.string(body, "conversationId")
    reason = v.string(body, "reason", min_len=MIN_REASON, max_len=MAX_REASON)
    assert conversation_id is not None and reason is not None
    return conversation_id, reason


def grant_view(doc: Dict[str, Any]) -> Dict[str, Any]:
    """A grant as its holder sees it."""
    return {"id": doc["id"], "conversationId": doc["conversationId"], "userId": doc["userId"],
            "reason": doc["reason"], "createdAt": iso(doc["createdAt"]), "expiresAt": iso(doc["expiresAt"])}


class GrantActions:
    """Open and list grants (``POST``/``GET /api/oversight/grants``)."""

    def __init__(self, core: Core, book: StoredGrants) -> None:
        self.core = core
        self.book = book

    async def _check_moderator(self, ident: Identity) -> None:
        user = None if ident.role == Role.ADMIN else await self.core.store.directory.get_user(ident.user_id)
        if not is_moderator(ident.role, user, ident.school):
            raise Forbidden("only the school's admins and safeguarding leads may open conversations for review")

    async def open(self, ident: Identity, conversation_id: str, reason: str) -> Dict[str, Any]:
        """A grant to read the conversation for ``oversight_minutes`` (recorded). Not a
        moderator: 403; unknown or another school's conversation: 404."""
        await self._check_moderator(ident)
        try:
            state = await self.core.cache.get(conversation_id)
        except NotFound:
            raise NotFound("no such conversation") from None
        if state.school != ident.school:
            raise NotFound("no such conversation")  # another school's is never revealed
        now = self.book.now_ms()
        grant = await self.core.store.grants.insert({
            "school": ident.school, "userId": ident.user_id, "conversationId": state.id, "reason": reason,
            "createdAt": now, "expiresAt": now + int(self.core.settings.oversight_minutes * 60_000)})
        self.book.remember(grant)
        await self.core.audit.record(ident.user_id, AuditAction.GRANT_OPEN, ident.school,
                                     {"conversationId": state.id},
                                     {"reason": reason, "grantId": grant["id"], "expiresAt": grant["expiresAt"]})
        return grant_view(grant)

    async def list(self, ident: Identity) -> List[Dict[str, Any]]:
        """The caller's grants in force now, newest first (moderators only)."""
        await self._check_moderator(ident)
        return [grant_view(g) for g in await self.book.of_user(ident.user_id) if g.get("school") == ident.school]

    async def attachment_reader(self, conversation_id: str, ident: Identity) -> bool:
        """Whether ``ident`` may open an attachment of a live message of the conversation
        without taking part in it: under a grant (the read is recorded). The upload service
        asks this once it found the message carrying the upload."""
        try:
            await self.core.reader(ident, conversation_id, "attachment")
        except (Forbidden, NotFound):
            return False
        return True

    async def admin_file_look(self, meta: Dict[str, Any], ident: Identity) -> None:
        """A school admin opened a file carried into a conversation (admins may open every
        file of their school): when they do not take part in that conversation, the look is
        recorded as a read under oversight."""
        try:
            state = await self.core.cache.get(str(meta["conversationId"]))
        except NotFound:
            return
        if state.school != ident.school or ident.user_id in state.roles:
            return
        await self.core.audit.record(ident.user_id, AuditAction.GRANT_READ, state.school,
                                     {"conversationId": state.id},
                                     {"what": "attachment", "grantId": None, "uploadId": str(meta.get("id")),
                                      "reason": "a school admin opened a file of the school"})
