"""What users and schools say about missed-message email (README "Missed-message email"):
a user's own preferences (``GET``/``PATCH /api/me/notifications``), the school's setting that
lets its staff see previews (``GET``/``PUT /api/schools/{id}/notifications``, admins only,
audited) and the signed one-click unsubscribe link (RFC 8058; no token needed)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

from chat.auth import Identity
from chat.domain.oversight.audit import AuditAction
from chat.errors import BadRequest, Forbidden, NotFound
from chat.rules import email_digest as digest
from chat.vocab import Role, is_staff

if TYPE_CHECKING:
    from chat.domain.core import Core
    from chat.domain.notify.missed_email import MissedEmail

PREF_FIELDS = ("enabled", "previews")


def _flags(body: Any, allowed: tuple, what: str) -> Dict[str, bool]:
    """The boolean fields of a change (at least one, only known ones), else 400."""
    if not isinstance(body, dict) or not body:
        raise BadRequest("%s must be an object with at least one of %s" % (what, ", ".join(allowed)))
    for key, value in body.items():
        if key not in allowed:
            raise BadRequest("%s: unknown field %r (allowed: %s)" % (what, key, ", ".join(allowed)))
        if not isinstance(value, bool):
            raise BadRequest("%s.%s must be true or false" % (what, key))
    return dict(body)


class NotificationActions:
    """``service.notifications`` (see the module doc)."""

    def __init__(self, core: "Core", email: "MissedEmail") -> None:
        self.core = core
        self.email = email
        self.repo = core.store.email

    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    # ------------------------------------------------------------------ the caller's own
    async def mine(self, ident: Identity) -> Dict[str, Any]:
        """``{email: {available, enabled, addressKnown, previews, previewsAllowed}}``."""
        prefs = await self.repo.get_prefs(ident.user_id)
        user = await self.core.store.directory.get_user(ident.user_id) or {}
        allowed = is_staff(ident.role) and (await self.repo.get_school(ident.school)).get("staffPreviewsAt") is not None
        return {"email": {
            "available": self.email.enabled,
            "enabled": prefs.get("offAt") is None,
            "addressKnown": digest.valid_address(user.get("email") or user.get("tokenEmail")),
            "previews": allowed and prefs.get("previewsAt") is not None,
            "previewsAllowed": allowed}}

    async def change(self, ident: Identity, body: Any) -> Dict[str, Any]:
        """Change some of the caller's preferences: ``{email: {enabled?, previews?}}``. Previews
        can be asked for by staff whose school allows them (403 otherwise)."""
        if not isinstance(body, dict) or set(body) != {"email"}:
            raise BadRequest("the body must be {\"email\": {...}}")
        change = _flags(body["email"], PREF_FIELDS, "email")
        fields: Dict[str, Optional[int]] = {}
        now = self._now()
        if "enabled" in change:
            fields["offAt"] = None if change["enabled"] else now
        if "previews" in change:
            if change["previews"]:
                school = await self.repo.get_school(ident.school)
                if not is_staff(ident.role) or school.get("staffPreviewsAt") is None:
                    raise Forbidden("message previews in email are for staff, when their school allows them")
            fields["previewsAt"] = now if change["previews"] else None
        await self.repo.set_prefs(ident.user_id, fields, now)
        return await self.mine(ident)

    # ------------------------------------------------------------------ the school's
    def _admin(self, ident: Identity, school_id: str) -> None:
        if school_id != ident.school:
            raise NotFound("no such school")
        if ident.role != Role.ADMIN:
            raise Forbidden("only the school's admins change its notification settings")

    async def school(self, ident: Identity, school_id: str) -> Dict[str, Any]:
        self._admin(ident, school_id)
        doc = await self.repo.get_school(school_id)
        return {"schoolId": school_id, "notifications": {"staffEmailPreviews": doc.get("staffPreviewsAt") is not None}}

    async def change_school(self, ident: Identity, school_id: str, body: Any) -> Dict[str, Any]:
        """``{staffEmailPreviews}``: whether staff may ask for message text in their emails
        (students' emails never carry any). Recorded in the audit (before and after)."""
        self._admin(ident, school_id)
        change = _flags(body, ("staffEmailPreviews",), "the body")
        before = await self.school(ident, school_id)
        if before["notifications"]["staffEmailPreviews"] != change["staffEmailPreviews"]:
            await self.core.audit.record(ident.user_id, AuditAction.EMAIL_SETTINGS_CHANGE, school_id,
                                         {"schoolId": school_id},
                                         {"before": before["notifications"], "after": change})
            now = self._now()
            await self.repo.set_school(school_id, {"staffPreviewsAt": now if change["staffEmailPreviews"] else None},
                                       ident.user_id, now)
        return {"schoolId": school_id, "notifications": change}

    # ------------------------------------------------------------------ the link
    async def unsubscribe(self, user_id: Optional[str], signature: Optional[str]) -> Dict[str, Any]:
        """Turn the user's email off: the link's signature is the authority (403 when wrong)."""
        if not user_id or not signature or not digest.verify(self.email.key, user_id, signature):
            raise Forbidden("this unsubscribe link is not valid")
        now = self._now()
        await self.repo.set_prefs(user_id, {"offAt": now}, now)
        return {"unsubscribed": True}

    def check_link(self, user_id: Optional[str], signature: Optional[str]) -> None:
        """403 unless the link is one the server signed (the page that confirms it)."""
        if not user_id or not signature or not digest.verify(self.email.key, user_id, signature):
            raise Forbidden("this unsubscribe link is not valid")
