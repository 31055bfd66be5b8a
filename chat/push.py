"""The event sink of the real-time tier: domain events become socket pushes.

Each event is serialized once and written to every connection of every receiver by the
connection manager, which leaves out receivers whose token names another school than the
event's conversation. Events that imply more do it here, explicitly: a stored message ends
its sender's typing, and a new direct or group conversation makes its participants contacts
for presence.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Sequence

from chat import protocol as p
from chat.connections import ConnectionManager
from chat.events import Audience
from chat.typing_state import TypingTracker


class SocketEvents:
    """:class:`chat.events.EventSink` that pushes to sockets."""

    def __init__(self, manager: ConnectionManager, typing: TypingTracker,
                 delivered: Callable[[int], None] = lambda count: None) -> None:
        self.manager = manager
        self.typing = typing
        self.delivered = delivered  # counts message pushes written to sockets (metrics)

    def _push(self, event: str, data: Dict[str, Any], audience: Audience) -> None:
        self.manager.publish(event, data, audience.user_ids, audience.school)

    def message_stored(self, message: Dict[str, Any], audience: Audience) -> None:
        self.delivered(self.manager.publish(p.Message.NEW, message, audience.user_ids, audience.school))
        if self.typing.is_typing(message["conversationId"], message["senderId"]):
            self.typing.stop(message["conversationId"], message["senderId"])

    def message_updated(self, message: Dict[str, Any], audience: Audience) -> None:
        self._push(p.Message.UPDATED, message, audience)

    def message_deleted(self, data: Dict[str, Any], audience: Audience) -> None:
        self._push(p.Message.DELETED, data, audience)

    def marker_moved(self, data: Dict[str, Any], audience: Audience) -> None:
        self._push(p.Message.STATUS, data, audience)

    def unread_changed(self, data: Dict[str, Any], audience: Audience) -> None:
        self._push(p.Message.UNREAD, data, audience)

    def conversation_joined(self, view: Dict[str, Any], audience: Audience) -> None:
        self._push(p.Conversation.CREATED, view, audience)
        if view.get("type") in ("direct", "group"):
            self.manager.link(x["userId"] for x in view.get("participants", ()))

    def conversation_changed(self, view: Dict[str, Any], audience: Audience) -> None:
        self._push(p.Conversation.UPDATED, view, audience)

    def conversation_left(self, conversation_id: str, audience: Audience) -> None:
        self._push(p.Conversation.REMOVED, {"conversationId": conversation_id}, audience)


def typing_announcer(manager: ConnectionManager) -> Callable[[bool, Dict[str, Any], Sequence[str]], None]:
    """How the typing tracker's start/stop reach the typist's fellow participants."""
    def announce(started: bool, data: Dict[str, Any], receivers: Sequence[str]) -> None:
        manager.publish(p.Typing.START if started else p.Typing.STOP, data, receivers)
    return announce
