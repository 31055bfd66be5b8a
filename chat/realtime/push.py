"""Domain events become socket pushes, through the broker, and land in one place per node.

:class:`SocketEvents` is the service's event sink: each event is serialized once into a
:class:`chat.realtime.broker.Delivery` and published through the broker (one process or a
cluster: the sink cannot tell). :class:`LocalDelivery` is this node's endpoint of the broker:
it writes a delivery to the local sockets of its receivers (the connection manager leaves out
receivers whose token names another school than the event's conversation) and does what a
delivery implies, here and nowhere else: a stored message ends its sender's typing, and message
pushes are counted.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Set

from chat.events import Audience
from chat.presence.backend import Announce
from chat.presence.relation import Presence
from chat.realtime import protocol as p
from chat.realtime.broker import Broker, Delivery, DeliveryKind
from chat.realtime.connections import ConnectionManager
from chat.realtime.typing import Announce as TypingAnnounce, TypingTracker
from chat.timeutil import iso, now_ms
from chat.vocab import CONTACT_TYPES


def _members(view: Dict[str, Any]) -> Optional[Sequence[str]]:
    """The participants of a direct or group conversation (presence contacts), else None."""
    if view.get("type") in CONTACT_TYPES:
        return [x["userId"] for x in view.get("participants", ())]
    return None


class SocketEvents:
    """:class:`chat.events.EventSink` that publishes pushes through a broker."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def _push(self, event: str, data: Dict[str, Any], audience: Audience,
              kind: DeliveryKind = DeliveryKind.OTHER) -> None:
        self.broker.publish(Delivery(kind, p.push(event, data), tuple(audience.user_ids), audience.school))

    def message_stored(self, message: Dict[str, Any], audience: Audience) -> None:
        self.broker.publish(Delivery(DeliveryKind.MESSAGE, p.push(p.Message.NEW, message),
                                     tuple(audience.user_ids), audience.school, message["conversationId"],
                                     message["seq"], message["senderId"]))

    def message_updated(self, message: Dict[str, Any], audience: Audience) -> None:
        self._push(p.Message.UPDATED, message, audience)

    def message_deleted(self, data: Dict[str, Any], audience: Audience) -> None:
        self._push(p.Message.DELETED, data, audience)

    def marker_moved(self, data: Dict[str, Any], audience: Audience) -> None:
        self._push(p.Message.STATUS, data, audience)

    def unread_changed(self, data: Dict[str, Any], audience: Audience) -> None:
        self._push(p.Message.UNREAD, data, audience)

    def conversation_joined(self, view: Dict[str, Any], audience: Audience) -> None:
        # the change first: a node that hears of it re-reads its copy before its users see the push
        self.broker.conversation_changed(view["id"], audience.school, _members(view))
        self._push(p.Conversation.CREATED, view, audience, DeliveryKind.CONVERSATION)

    def conversation_changed(self, view: Dict[str, Any], audience: Audience) -> None:
        self.broker.conversation_changed(view["id"], audience.school, _members(view))
        self._push(p.Conversation.UPDATED, view, audience)

    def conversation_left(self, conversation_id: str, audience: Audience) -> None:
        self.broker.conversation_changed(conversation_id, audience.school, None)
        self._push(p.Conversation.REMOVED, {"conversationId": conversation_id}, audience)

    def school_policy(self, data: Dict[str, Any], audience: Audience) -> None:
        self._push(p.School.POLICY, data, audience)

    def case_changed(self, case_view: Dict[str, Any], audience: Audience) -> None:
        self._push(p.Moderation.CASE, case_view, audience)

    def safety_changed(self, kind: str, key: str) -> None:
        self.broker.safety_changed(kind, key)  # for the other nodes' services only: no socket push

    def conversation_created(self, view: Dict[str, Any], audience: Audience) -> None:
        return None  # for integrations (webhooks): the members hear of it as conversation:created


class LocalDelivery:
    """This node's :class:`chat.realtime.broker.NodeEndpoint` (see the module doc).

    ``on_conversation`` and ``on_message`` are what the live state does when another node
    changed a conversation or stored a message (the service's and the contacts index's named
    methods), ``on_safety`` when it changed a safeguarding setting; ``delivered`` counts
    message pushes written to sockets (metrics)."""

    def __init__(self, manager: ConnectionManager, typing: TypingTracker,
                 delivered: Callable[[int], None],
                 on_conversation: Callable[[str, str, Optional[Sequence[str]]], None],
                 on_message: Callable[[str, int], None],
                 on_safety: Optional[Callable[[str, str], None]] = None) -> None:
        self.manager = manager
        self.typing = typing
        self.delivered = delivered
        self.on_conversation = on_conversation
        self.on_message = on_message
        self.on_safety = on_safety

    def deliver(self, delivery: Delivery) -> None:
        written = self.manager.publish_frame(delivery.frame, delivery.users, delivery.school)
        if delivery.kind is DeliveryKind.MESSAGE:
            self.delivered(written)
            cid, sender = delivery.conversation_id, delivery.sender_id
            if cid is not None and sender is not None and self.typing.is_typing(cid, sender):
                self.typing.stop(cid, sender)  # the typist's node ends it, wherever the message was stored

    def conversation_changed_elsewhere(self, conversation_id: str, school: str,
                                       members: Optional[Sequence[str]]) -> None:
        self.on_conversation(conversation_id, school, members)

    def message_stored_elsewhere(self, conversation_id: str, seq: int) -> None:
        self.on_message(conversation_id, seq)

    def safety_changed_elsewhere(self, kind: str, key: str) -> None:
        if self.on_safety is not None:
            self.on_safety(kind, key)

    def resync_all(self) -> None:
        everyone = [str(u) for u in self.manager.by_user]
        self.manager.publish(p.Session.RESYNC, {"reason": "events may have been missed; send sync"}, everyone)


def typing_announcer(broker: Broker) -> TypingAnnounce:
    """How the typing tracker's start/stop reach the typist's fellow participants, on any node."""
    def announce(started: bool, data: Dict[str, Any], receivers: Sequence[str]) -> None:
        event = p.Typing.START if started else p.Typing.STOP
        broker.publish(Delivery(DeliveryKind.TYPING, p.push(event, data), tuple(receivers)))
    return announce


def presence_announcer(manager: ConnectionManager) -> Announce:
    """How the presence backend's online/offline reach the peers' sockets on this node."""
    def announce(online: bool, presence: Presence, receivers: Set[str], when: Optional[int]) -> None:
        if online:
            manager.publish(p.User.ONLINE, presence.public(), receivers)
        else:
            manager.publish(p.User.OFFLINE, dict(presence.public(), lastSeen=iso(when or now_ms())), receivers)
    return announce
