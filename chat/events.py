"""What the domain tells the world: an explicit sink the service is built with.

The domain calls one method per kind of event; the real-time tier implements the sink
(pushes to sockets plus the side effects an event implies, such as ending a typist's typing
when its message arrives), and anything else that wants to know (metrics) is another sink
behind :class:`Fanout`. Nothing matches event names as strings.
"""
from __future__ import annotations

from typing import Any, Dict, List, Protocol, Sequence


class EventSink(Protocol):
    def message_stored(self, message: Dict[str, Any], member_ids: Sequence[str]) -> None:
        """A new message is durably stored; ``message`` is its client view."""

    def message_updated(self, message: Dict[str, Any], member_ids: Sequence[str]) -> None:
        """A message was edited or its reactions changed."""

    def message_deleted(self, data: Dict[str, Any], member_ids: Sequence[str]) -> None:
        """A message was soft-deleted (``messageId``, ``conversationId``, ``seq``)."""

    def marker_moved(self, data: Dict[str, Any], member_ids: Sequence[str]) -> None:
        """A participant's read or delivered marker moved forward."""

    def unread_changed(self, data: Dict[str, Any], user_id: str) -> None:
        """A user's unread count of one conversation changed other than by a new message."""

    def conversation_joined(self, view: Dict[str, Any], user_id: str) -> None:
        """``user_id`` is now a participant (created or added); ``view`` is as they see it."""

    def conversation_changed(self, view: Dict[str, Any], user_id: str) -> None:
        """The conversation changed (title, participants, the user's own flags)."""

    def conversation_left(self, conversation_id: str, user_id: str) -> None:
        """``user_id`` is no longer a participant."""


class NullEvents:
    """A sink that drops everything (tools and tests that need no pushes)."""

    def message_stored(self, message: Dict[str, Any], member_ids: Sequence[str]) -> None:
        return None

    def message_updated(self, message: Dict[str, Any], member_ids: Sequence[str]) -> None:
        return None

    def message_deleted(self, data: Dict[str, Any], member_ids: Sequence[str]) -> None:
        return None

    def marker_moved(self, data: Dict[str, Any], member_ids: Sequence[str]) -> None:
        return None

    def unread_changed(self, data: Dict[str, Any], user_id: str) -> None:
        return None

    def conversation_joined(self, view: Dict[str, Any], user_id: str) -> None:
        return None

    def conversation_changed(self, view: Dict[str, Any], user_id: str) -> None:
        return None

    def conversation_left(self, conversation_id: str, user_id: str) -> None:
        return None


class Fanout(NullEvents):
    """Several sinks behind one: each event goes to every sink, in order."""

    def __init__(self, sinks: Sequence[EventSink] = ()) -> None:
        self.sinks: List[EventSink] = list(sinks)

    def add(self, sink: EventSink) -> None:
        self.sinks.append(sink)

    def message_stored(self, message: Dict[str, Any], member_ids: Sequence[str]) -> None:
        for sink in self.sinks:
            sink.message_stored(message, member_ids)

    def message_updated(self, message: Dict[str, Any], member_ids: Sequence[str]) -> None:
        for sink in self.sinks:
            sink.message_updated(message, member_ids)

    def message_deleted(self, data: Dict[str, Any], member_ids: Sequence[str]) -> None:
        for sink in self.sinks:
            sink.message_deleted(data, member_ids)

    def marker_moved(self, data: Dict[str, Any], member_ids: Sequence[str]) -> None:
        for sink in self.sinks:
            sink.marker_moved(data, member_ids)

    def unread_changed(self, data: Dict[str, Any], user_id: str) -> None:
        for sink in self.sinks:
            sink.unread_changed(data, user_id)

    def conversation_joined(self, view: Dict[str, Any], user_id: str) -> None:
        for sink in self.sinks:
            sink.conversation_joined(view, user_id)

    def conversation_changed(self, view: Dict[str, Any], user_id: str) -> None:
        for sink in self.sinks:
            sink.conversation_changed(view, user_id)

    def conversation_left(self, conversation_id: str, user_id: str) -> None:
        for sink in self.sinks:
            sink.conversation_left(conversation_id, user_id)
