"""A school's webhooks, for its admins: create, list, change, delete; the dead letters and
their replay (``/api/webhooks``). Every change is an audit entry (``webhook.*``); the secret
appears in the answer of a create (and of a ``rotateSecret``) only, never in a list or a log."""
from __future__ import annotations

import secrets
from typing import Any, Dict, List, Optional

import ujson

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.notify.webhook_dispatch import WebhookDispatcher
from chat.domain.oversight.audit import AuditAction
from chat.errors import Conflict, Forbidden, NotFound
from chat.rules.notify_input import MAX_DEAD_PAGE, MAX_HOOKS_PER_SCHOOL, WebhookSpec, check_target
from chat.store import new_id
from chat.timeutil import iso
from chat.vocab import Role

SECRET_PREFIX = "whsec_"


def webhook_view(hook: Dict[str, Any], secret: bool = False) -> Dict[str, Any]:
    view = {"id": hook["id"], "url": hook["url"], "events": list(hook.get("events") or []),
            "includeText": bool(hook.get("includeText")), "enabled": bool(hook.get("enabled", 1)),
            "description": hook.get("description"), "createdBy": hook.get("createdBy"),
            "createdAt": iso(hook.get("createdAt")), "updatedAt": iso(hook.get("updatedAt"))}
    if secret:
        view["secret"] = hook["secret"]
    return view


def dead_letter_view(doc: Dict[str, Any]) -> Dict[str, Any]:
    try:
        payload = ujson.loads(doc.get("body") or "null")
    except ValueError:
        payload = None
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, dict):  # a listing never shows text (a delivery stored before it was left out)
        data.pop("text", None)
        data.pop("title", None)
    return {"id": doc["id"], "event": doc["event"], "attempts": int(doc.get("attempts") or 0),
            "lastStatus": doc.get("lastStatus") or None, "lastError": doc.get("lastError"),
            "createdAt": iso(doc.get("createdAt")), "deadAt": iso(doc.get("deadAt")), "payload": payload}


def _audited(hook: Dict[str, Any]) -> Dict[str, Any]:
    """What the audit log keeps of a webhook (never its secret)."""
    return {"url": hook["url"], "events": list(hook.get("events") or []),
            "includeText": bool(hook.get("includeText")), "enabled": bool(hook.get("enabled", 1))}


class WebhookActions:
    def __init__(self, core: Core, dispatcher: WebhookDispatcher) -> None:
        self.core = core
        self.dispatcher = dispatcher
        self.store = core.store.webhooks

    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    @staticmethod
    def _admin(ident: Identity) -> None:
        if ident.role != Role.ADMIN:
            raise Forbidden("only the school's admins manage its webhooks")

    def _check(self, spec: WebhookSpec) -> None:
        settings = self.core.settings
        if spec.url is not None:
            check_target(spec.url, settings.webhook_allow_private)
        if spec.include_text and not settings.webhook_allow_text:
            raise Forbidden("this server does not send message text to webhooks (webhook_allow_text is off)")

    async def _hook(self, ident: Identity, hook_id: str) -> Dict[str, Any]:
        self._admin(ident)
        hook = await self.store.get_hook(hook_id)
        if hook is None or hook.get("school") != ident.school:
            raise NotFound("no such webhook")
        return hook

    async def create(self, ident: Identity, spec: WebhookSpec) -> Dict[str, Any]:
        self._admin(ident)
        self._check(spec)
        if len(await self.store.hooks_of(ident.school)) >= MAX_HOOKS_PER_SCHOOL:
            raise Conflict("the school has %d webhooks already" % MAX_HOOKS_PER_SCHOOL)
        now = self._now()
        doc = {"school": ident.school, "url": spec.url, "events": spec.events,
               "secret": SECRET_PREFIX + secrets.token_urlsafe(32), "includeText": 1 if spec.include_text else 0,
               "enabled": 0 if spec.enabled is False else 1, "description": spec.description or None,
               "createdBy": ident.user_id, "createdAt": now, "updatedAt": now}
        hook_id = new_id()  # the audit entry is written first, naming the webhook about to be stored
        await self.core.audit.record(ident.user_id, AuditAction.WEBHOOK_CREATE, ident.school,
                                     {"webhookId": hook_id}, _audited(doc))
        hook = await self.store.insert_hook(doc, hook_id)
        self.dispatcher.hook_changed(hook)
        return webhook_view(hook, secret=True)

    async def list(self, ident: Identity) -> List[Dict[str, Any]]:
        self._admin(ident)
        return [webhook_view(h) for h in await self.store.hooks_of(ident.school)]

    async def get(self, ident: Identity, hook_id: str) -> Dict[str, Any]:
        return webhook_view(await self._hook(ident, hook_id))

    async def update(self, ident: Identity, hook_id: str, spec: WebhookSpec) -> Dict[str, Any]:
        hook = await self._hook(ident, hook_id)
        self._check(spec)
        fields: Dict[str, Any] = {"updatedAt": self._now()}
        if spec.url is not None:
            fields["url"] = spec.url
        if spec.events is not None:
            fields["events"] = spec.events
        if spec.include_text is not None:
            fields["includeText"] = 1 if spec.include_text else 0
        if spec.enabled is not None:
            fields["enabled"] = 1 if spec.enabled else 0
        if spec.description is not None:
            fields["description"] = spec.description or None
        if spec.rotate_secret:
            fields["secret"] = SECRET_PREFIX + secrets.token_urlsafe(32)
        await self.core.audit.record(ident.user_id, AuditAction.WEBHOOK_UPDATE, ident.school,
                                     {"webhookId": hook_id},
                                     {"previous": _audited(hook), "webhook": _audited(dict(hook, **fields)),
                                      "secretRotated": spec.rotate_secret})
        updated = await self.store.update_hook(hook_id, fields)
        if updated is None:
            raise NotFound("no such webhook")
        self.dispatcher.hook_changed(updated)
        return webhook_view(updated, secret=spec.rotate_secret)

    async def delete(self, ident: Identity, hook_id: str) -> Dict[str, Any]:
        hook = await self._hook(ident, hook_id)
        await self.core.audit.record(ident.user_id, AuditAction.WEBHOOK_DELETE, ident.school,
                                     {"webhookId": hook_id}, _audited(hook))
        await self.store.delete_hook(hook_id)
        self.dispatcher.hook_removed(hook_id)
        return {"id": hook_id, "deleted": True}

    async def dead_letters(self, ident: Identity, hook_id: str, limit: int) -> List[Dict[str, Any]]:
        await self._hook(ident, hook_id)
        return [dead_letter_view(d) for d in await self.store.dead_letters(hook_id, limit)]

    async def replay(self, ident: Identity, hook_id: str, ids: Optional[List[str]]) -> Dict[str, Any]:
        """Queue dead letters again (attempts start over); answers how many."""
        await self._hook(ident, hook_id)
        count = await self.store.replay(hook_id, ids, self._now(), MAX_DEAD_PAGE)
        await self.core.audit.record(ident.user_id, AuditAction.WEBHOOK_REPLAY, ident.school,
                                     {"webhookId": hook_id}, {"replayed": count, "ids": list(ids or [])[:20]})
        self.dispatcher.counted(hook_id, count)
        self.dispatcher.wake(hook_id)
        return {"webhookId": hook_id, "replayed": count}
