"""What the webhooks are told: the event sink that turns the service's events into outbox
deliveries (:class:`chat.domain.notify.webhook_dispatch.WebhookDispatcher`), and the JSON of
each event.

A child's words do not leave the server unless the school asked for them and the server
allows it: ``message.created`` carries the text (and ``conversation.created`` a group's title)
only for a webhook with ``includeText`` while ``webhook_allow_text`` is on (a message's text is
not stored in the outbox: the dispatcher adds it at each attempt if still allowed). Nothing else
carries text: ids, names of senders, types, times, counts.

Every body is ``{"id", "event", "school", "createdAt", "data"}``; ``id`` is the event's id
(the same for every webhook it goes to), ``X-Chat-Delivery`` the delivery's.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from chat.domain.notify.webhook_dispatch import WebhookDispatcher
from chat.events import Audience, NullEvents
from chat.live.convcache import ConversationCache
from chat.rules.render import dumps
from chat.settings import Settings
from chat.store import new_id
from chat.timeutil import iso

MESSAGE_CREATED = "message.created"
MESSAGE_DELETED = "message.deleted"
CONVERSATION_CREATED = "conversation.created"
CASE_CREATED = "case.created"


def envelope(event_id: str, event: str, school: str, at_ms: int, data: Dict[str, Any]) -> str:
    return dumps({"id": event_id, "event": event, "school": school, "createdAt": iso(at_ms), "data": data})


def message_data(message: Dict[str, Any], conversation_type: Optional[str], with_text: bool) -> Dict[str, Any]:
    data: Dict[str, Any] = {
        "messageId": message["id"], "conversationId": message["conversationId"],
        "conversationType": conversation_type, "seq": message["seq"], "senderId": message["senderId"],
        "senderName": message.get("senderName"), "bot": bool(message.get("bot")), "type": message.get("type"),
        "createdAt": message.get("createdAt"), "replyTo": message.get("replyTo"),
        "mentions": list(message.get("mentions") or []), "attachmentCount": len(message.get("attachments") or [])}
    if with_text:
        data["text"] = message.get("text")
    return data


def conversation_data(view: Dict[str, Any], participants: int, with_text: bool) -> Dict[str, Any]:
    data: Dict[str, Any] = {"conversationId": view["id"], "type": view["type"], "classId": view.get("classId"),
                            "createdBy": view.get("createdBy"), "createdAt": view.get("createdAt"),
                            "participantCount": participants}
    if with_text:
        data["title"] = view.get("title")
    return data


def case_data(case: Dict[str, Any]) -> Dict[str, Any]:
    return {"caseId": case["id"], "kind": case["kind"], "status": case["status"],
            "reasons": list(case.get("reasons") or []), "messageId": case.get("messageId"),
            "conversationId": case.get("conversationId"), "createdAt": case.get("createdAt")}


class WebhookEvents(NullEvents):
    """The service's events, as webhook deliveries (see the module doc)."""

    def __init__(self, dispatcher: WebhookDispatcher, settings: Settings, cache: ConversationCache) -> None:
        self.dispatcher = dispatcher
        self.settings = settings
        self.cache = cache

    def _with_text(self, hook: Dict[str, Any]) -> bool:
        return bool(hook.get("includeText")) and self.settings.webhook_allow_text

    def _queue(self, school: str, event: str, build: Callable[[bool], Dict[str, Any]],
               text_of: Optional[str] = None) -> None:
        if not self.dispatcher.subscribers(school, event):
            return  # the usual case: no work at all
        event_id, at = new_id(), self.dispatcher.now_ms()
        bodies: Dict[bool, str] = {}

        def body(hook: Dict[str, Any]) -> str:
            with_text = self._with_text(hook)
            if with_text not in bodies:
                bodies[with_text] = envelope(event_id, event, school, at, build(with_text))
            return bodies[with_text]
        self.dispatcher.queue(school, event, body, text_of)

    def message_stored(self, message: Dict[str, Any], audience: Audience) -> None:
        if message.get("type") == "system":
            return
        state = self.cache.cached([message["conversationId"]]).get(message["conversationId"])
        kind = state.type if state is not None else None
        # stored without the text: the dispatcher adds it when an attempt is made, if allowed then
        self._queue(audience.school, MESSAGE_CREATED, lambda _text: message_data(message, kind, False),
                    text_of=message["id"])

    def message_deleted(self, data: Dict[str, Any], audience: Audience) -> None:
        self._queue(audience.school, MESSAGE_DELETED,
                    lambda _text: {"messageId": data["messageId"], "conversationId": data["conversationId"],
                                   "seq": data.get("seq"), "reason": data.get("reason") or "deleted"})

    def conversation_created(self, view: Dict[str, Any], audience: Audience) -> None:
        count = len(audience.user_ids)
        self._queue(audience.school, CONVERSATION_CREATED, lambda text: conversation_data(view, count, text))

    def case_changed(self, case_view: Dict[str, Any], audience: Audience) -> None:
        # a case's first push: opened (a later report or change keeps createdAt and moves updatedAt)
        if case_view.get("createdAt") != case_view.get("updatedAt") or case_view.get("status") != "open":
            return
        self._queue(audience.school, CASE_CREATED, lambda _text: case_data(case_view))
