"""The event sink of the real-time tier: domain events become socket pushes.

Each event is serialized once and written to every connection of every receiver by the
connection manager; events that imply more do it here, explicitly: a stored message ends its
sender's typing, and a new direct or group conversation makes its participants contacts for
presence.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Sequence

from chat import protocol as p
from chat.connections import ConnectionManager
from chat.typing_state import TypingTracker


class SocketEvents:
    """:class:`chat.events.EventSink` that pushes to sockets."""

    def __init__(self, manager: ConnectionManager, typing: TypingTracker) -> None:
        self.manager = manager
        self.typing = typing

    def message_stored(self, message: Dict[str, Any], member_ids: Sequence[str]) -> None:
        self.manager.publish(p.Message.NEW, message, member_ids)
        if self.typing.is_typing(message["conversationId"], message["senderId"]):
            self.typing.stop(message["conversationId"], message["senderId"])

    def message_updated(self, message: Dict[str, Any], member_ids: Sequence[str]) -> None:
        self.manager.publish(p.Message.UPDATED, message, member_ids)

    def message_deleted(self, data: Dict[str, Any], member_ids: Sequence[str]) -> None:
        self.manager.publish(p.Message.DELETED, data, member_ids)

    def marker_moved(self, data: Dict[str, Any], member_ids: Sequence[str]) -> None:
        self.manager.publish(p.Message.STATUS, data, member_ids)

    def unread_changed(self, data: Dict[str, Any], user_id: str) -> None:
        self.manager.publish(p.Message.UNREAD, data, [user_id])

    def conversation_joined(self, view: Dict[str, Any], user_id: str) -> None:
        self.manager.publish(p.Conversation.CREATED, view, [user_id])
        if view.get("type") in ("direct", "group"):
            self.manager.link(x["userId"] for x in view.get("participants", ()))

    def conversation_changed(self, view: Dict[str, Any], user_id: str) -> None:
        self.manager.publish(p.Conversation.UPDATED, view, [user_id])

    def conversation_left(self, conversation_id: str, user_id: str) -> None:
        self.manager.publish(p.Conversation.REMOVED, {"conversationId": conversation_id}, [user_id])



def typing_announcer(manager: ConnectionManager) -> Callable[[bool, Dict[str, Any], Sequence[str]], None]:
    """How the typing tracker's start/stop reach the typist's fellow participants."""
    def announce(started: bool, data: Dict[str, Any], receivers: Sequence[str]) -> None:
        manager.publish(p.Typing.START if started else p.Typing.STOP, data, receivers)
    return announce
