"""Scheduled messages: a message its author asks to be sent later (README "Scheduled messages").

Visible only to its author: listed, edited and cancelled until it goes. Scheduling checks what
cannot change by then cheaply (the caller takes part in the conversation and may post in it,
mentions and the reply target); at its time :class:`chat.domain.notify.scheduled_sender.ScheduledSender`
sends it through the ordinary send path, where every safety rule applies.
"""
from __future__ import annotations

from typing import Any, Dict, List

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.oversight.audit_query import DATE_TIME_PATTERN, parse_time
from chat.errors import BadRequest, Conflict, Forbidden, NotFound
from chat.rules import policy
from chat.rules.scheduling import SchedulePatch, without_send_at
from chat.rules.validation import parse_new_message
from chat.timeutil import iso

DAY_MS = 86_400_000
#: the longest date-time text accepted for ``sendAt``
MAX_TIME_TEXT = 40
#: what ``sendAt`` may look like (the OpenAPI document states it)
SEND_AT_PATTERN = DATE_TIME_PATTERN


def parse_send_at(value: Any, now_ms: int, max_days: int) -> int:
    """``sendAt`` as epoch ms: an RFC 3339 date-time (``Z`` or an offset, as every time the API
    answers) or epoch milliseconds (as its ``...Ms`` fields); 400 when it is neither. Then it must
    be after now and at most ``max_days`` days ahead: judged against the server's clock, not
    from the request alone, so 409."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadRequest("sendAt must be a date-time like 2026-12-02T08:00:00Z or epoch milliseconds")
    if isinstance(value, int):
        when = value
    elif len(value) > MAX_TIME_TEXT:
        raise BadRequest("sendAt must be at most %d characters" % MAX_TIME_TEXT)
    else:
        when = parse_time(value, "sendAt")
    if when <= now_ms:
        raise Conflict("sendAt must be in the future")
    if when > now_ms + max_days * DAY_MS:
        raise Conflict("sendAt must be at most %d days ahead" % max_days)
    return when


def view(doc: Dict[str, Any]) -> Dict[str, Any]:
    """A scheduled message as its author sees it."""
    return {
        "id": doc["id"], "conversationId": doc["conversationId"], "text": doc.get("text"),
        "mentions": list(doc.get("mentions") or []), "replyTo": doc.get("replyTo"),
        "sendAt": iso(doc["sendAt"]), "sendAtMs": doc["sendAt"], "status": doc.get("status"),
        "attempts": int(doc.get("attempts") or 0), "messageId": doc.get("messageId"),
        "sentAt": iso(doc.get("sentAt")), "error": doc.get("error"),
        "createdAt": iso(doc.get("createdAt")), "updatedAt": iso(doc.get("updatedAt"))}


class ScheduledActions:
    """Schedule, list, look at, edit and cancel the caller's scheduled messages."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.repo = core.store.scheduled

    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    async def schedule(self, ident: Identity, conversation_id: str, body: Dict[str, Any]) -> Dict[str, Any]:
        settings = self.core.settings
        if settings.scheduled_max_pending <= 0:
            raise Forbidden("scheduled messages are turned off on this server")
        now = self._now()
        send_at = parse_send_at(body.get("sendAt"), now, settings.scheduled_max_days)
        req = parse_new_message(without_send_at(body), settings)
        if req.attachments:
            raise BadRequest("a scheduled message carries text only: send attachments now")
        if req.client_msg_id:
            raise BadRequest("a scheduled message takes no clientMsgId (its id is the send's)")
        state = await self.core.participant(ident, conversation_id)
        policy.check_post(state.type, state.roles.get(ident.user_id))
        strangers = [u for u in req.mentions if u not in state.roles]
        if strangers:
            raise Conflict("mentions must be participants of this conversation: %s" % ", ".join(strangers[:5]))
        if req.reply_to:
            target = await self.core.store.messages.get(req.reply_to)
            if target is None or target["conversationId"] != conversation_id:
                raise Conflict("replyTo must be a message of this conversation")
        if await self.repo.pending_count(ident.user_id) >= settings.scheduled_max_pending:
            raise Conflict("at most %d scheduled messages may wait at a time (refused ones count until dismissed)"
                           % settings.scheduled_max_pending)
        doc = await self.repo.insert({
            "school": ident.school, "conversationId": conversation_id, "senderId": ident.user_id,
            "senderName": ident.name, "senderRole": ident.role, "text": req.text, "type": req.type,
            "mentions": list(req.mentions), "replyTo": req.reply_to, "sendAt": send_at, "status": "scheduled",
            "attempts": 0, "claimedBy": None, "claimedAt": None, "messageId": None, "sentAt": None, "error": None,
            "createdAt": now, "updatedAt": now})
        return view(doc)

    async def list(self, ident: Identity) -> List[Dict[str, Any]]:
        """The caller's messages not sent yet (waiting, being sent, or refused), soonest first."""
        limit = self.core.settings.scheduled_max_pending + 200
        return [view(d) for d in await self.repo.of_sender(ident.user_id, limit) if d.get("school") == ident.school]

    async def _own(self, ident: Identity, scheduled_id: str) -> Dict[str, Any]:
        doc = await self.repo.get(scheduled_id)
        if doc is None or doc.get("senderId") != ident.user_id or doc.get("school") != ident.school \
                or doc.get("status") == "held":  # kept for a legal hold after its author's erasure
            raise NotFound("no such scheduled message")  # another's is not revealed
        return doc

    async def get(self, ident: Identity, scheduled_id: str) -> Dict[str, Any]:
        return view(await self._own(ident, scheduled_id))

    async def edit(self, ident: Identity, scheduled_id: str, patch: SchedulePatch) -> Dict[str, Any]:
        await self._own(ident, scheduled_id)
        fields: Dict[str, Any] = {"updatedAt": self._now()}
        if patch.text is not None:
            fields["text"] = patch.text
        if patch.has_send_at:
            fields["sendAt"] = parse_send_at(patch.send_at, self._now(), self.core.settings.scheduled_max_days)
        updated = await self.repo.update_pending(scheduled_id, ident.user_id, fields)
        if updated is None:
            raise Conflict("the scheduled message is already being sent, sent or refused")
        return view(updated)

    async def cancel(self, ident: Identity, scheduled_id: str) -> Dict[str, Any]:
        """Cancel a waiting message, or dismiss a refused one."""
        await self._own(ident, scheduled_id)
        if not await self.repo.remove(scheduled_id, ident.user_id, ["scheduled", "failed"]):
            raise Conflict("the scheduled message is already being sent or sent")
        return {"id": scheduled_id, "status": "cancelled"}
