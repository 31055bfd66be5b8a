"""What the domain tells the world: an explicit sink the service is built with.

The domain calls one method per kind of event; the real-time tier implements the sink
(pushes to sockets plus the side effects an event implies, such as ending a typist's typing
when its message arrives), and anything else that wants to know (metrics) is another sink
behind :class:`Fanout`. Nothing matches event names as strings.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Protocol, Sequence


@dataclasses.dataclass(frozen=True)
class Audience:
    """Who an event is for: users, as participants of a conversation of ``school``. A user
    whose token names another school does not get it (memberships in another school's
    conversations are invisible until the token says that school again)."""

    school: str
    user_ids: Sequence[str]

    @classmethod
    def one(cls, school: str, user_id: str) -> "Audience":
        return cls(school, (user_id,))


class EventSink(Protocol):
    def message_stored(self, message: Dict[str, Any], audience: Audience) -> None:
        """A new message is durably stored; ``message`` is its client view."""

    def message_updated(self, message: Dict[str, Any], audience: Audience) -> None:
        """A message was edited or its reactions changed."""

    def message_deleted(self, data: Dict[str, Any], audience: Audience) -> None:
        """A message was soft-deleted (``messageId``, ``conversationId``, ``seq``)."""

    def marker_moved(self, data: Dict[str, Any], audience: Audience) -> None:
        """A participant's read or delivered marker moved forward."""

    def unread_changed(self, data: Dict[str, Any], audience: Audience) -> None:
        """One user's unread count of a conversation changed other than by a new message."""

    def conversation_joined(self, view: Dict[str, Any], audience: Audience) -> None:
        """The audience (one user) is now a participant; ``view`` is as they see it."""

    def conversation_changed(self, view: Dict[str, Any], audience: Audience) -> None:
        """The conversation changed (title, participants, the user's own flags)."""

    def conversation_left(self, conversation_id: str, audience: Audience) -> None:
        """The audience (one user) is no longer a participant."""

    def school_policy(self, data: Dict[str, Any], audience: Audience) -> None:
        """A school's safeguarding policy changed (``schoolId``, ``policy``); the audience is its users."""

    def case_changed(self, case_view: Dict[str, Any], audience: Audience) -> None:
        """A moderation case was opened, reported again or changed status; the audience is
        the school's online moderators."""

    def safety_changed(self, kind: str, key: str) -> None:
        """A safeguarding setting other processes keep a copy of changed here (``kind``
        ``policy``/``filters``: ``key`` a school; ``blocks``: a user; ``mutes``: a
        conversation): they drop their copy (a cluster relays it; no socket push)."""

    def conversation_created(self, view: Dict[str, Any], audience: Audience) -> None:
        """A new conversation was stored (once, on the node that created it; ``view`` as no
        member in particular sees it; the audience is its participants): for integrations
        (webhooks), no socket push."""


class NullEvents:
    """A sink that drops everything (tools and tests that need no pushes)."""

    def message_stored(self, message: Dict[str, Any], audience: Audience) -> None:
        return None

    def message_updated(self, message: Dict[str, Any], audience: Audience) -> None:
        return None

    def message_deleted(self, data: Dict[str, Any], audience: Audience) -> None:
        return None

    def marker_moved(self, data: Dict[str, Any], audience: Audience) -> None:
        return None

    def unread_changed(self, data: Dict[str, Any], audience: Audience) -> None:
        return None

    def conversation_joined(self, view: Dict[str, Any], audience: Audience) -> None:
        return None

    def conversation_changed(self, view: Dict[str, Any], audience: Audience) -> None:
        return None

    def conversation_left(self, conversation_id: str, audience: Audience) -> None:
        return None

    def school_policy(self, data: Dict[str, Any], audience: Audience) -> None:
        return None

    def case_changed(self, case_view: Dict[str, Any], audience: Audience) -> None:
        return None

    def safety_changed(self, kind: str, key: str) -> None:
        return None

    def conversation_created(self, view: Dict[str, Any], audience: Audience) -> None:
        return None


class Fanout(NullEvents):
    """Several sinks behind one: each event goes to every sink, in order."""

    def __init__(self, sinks: Sequence[EventSink] = ()) -> None:
        self.sinks: List[EventSink] = list(sinks)

    def add(self, sink: EventSink) -> None:
        self.sinks.append(sink)

    def message_stored(self, message: Dict[str, Any], audience: Audience) -> None:
        for sink in self.sinks:
            sink.message_stored(message, audience)

    def message_updated(self, message: Dict[str, Any], audience: Audience) -> None:
        for sink in self.sinks:
            sink.message_updated(message, audience)

    def message_deleted(self, data: Dict[str, Any], audience: Audience) -> None:
        for sink in self.sinks:
            sink.message_deleted(data, audience)

    def marker_moved(self, data: Dict[str, Any], audience: Audience) -> None:
        for sink in self.sinks:
            sink.marker_moved(data, audience)

    def unread_changed(self, data: Dict[str, Any], audience: Audience) -> None:
        for sink in self.sinks:
            sink.unread_changed(data, audience)

    def conversation_joined(self, view: Dict[str, Any], audience: Audience) -> None:
        for sink in self.sinks:
            sink.conversation_joined(view, audience)

    def conversation_changed(self, view: Dict[str, Any], audience: Audience) -> None:
        for sink in self.sinks:
            sink.conversation_changed(view, audience)

    def conversation_left(self, conversation_id: str, audience: Audience) -> None:
        for sink in self.sinks:
            sink.conversation_left(conversation_id, audience)

    def school_policy(self, data: Dict[str, Any], audience: Audience) -> None:
        for sink in self.sinks:
            sink.school_policy(data, audience)

    def case_changed(self, case_view: Dict[str, Any], audience: Audience) -> None:
        for sink in self.sinks:
            sink.case_changed(case_view, audience)

    def safety_changed(self, kind: str, key: str) -> None:
        for sink in self.sinks:
            sink.safety_changed(kind, key)

    def conversation_created(self, view: Dict[str, Any], audience: Audience) -> None:
        for sink in self.sinks:
            sink.conversation_created(view, audience)
