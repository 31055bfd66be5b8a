"""The broker seam: how a push reaches the sockets of its receivers on every node.

The socket event sink (:class:`chat.realtime.push.SocketEvents`) turns each domain event into
one :class:`Delivery` (the frame serialized once, its audience and a small routing header) and
hands it to the broker it was built with. A broker delivers it to this node's sockets through
the :class:`NodeEndpoint` it is attached to, and to other nodes if there are any:

- :class:`LocalBroker`: one process; delivery is a direct call.
- :class:`chat.cluster.broker.RedisBroker`: several processes over Redis; the same delivery
  reaches the endpoint of every node holding a socket of a receiver, in seq order.

The endpoint (:class:`chat.realtime.push.LocalDelivery`) is the one place where a delivery's
side effects happen, whichever node the event came from.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Any, Dict, Optional, Protocol, Sequence, Tuple, Union

from chat.live.writer import SharedSeqs

#: a serialized frame: text where it was made, UTF-8 bytes as it came from another node
Frame = Union[str, bytes]


class DeliveryKind(enum.StrEnum):
    MESSAGE = "message"            # message:new: ordered by seq per conversation
    CONVERSATION = "conversation"  # conversation:created for its audience
    TYPING = "typing"
    OTHER = "other"


@dataclasses.dataclass(slots=True, frozen=True)
class Delivery:
    """One push for its receivers: the frame and what routing and side effects need."""

    kind: DeliveryKind
    frame: Frame
    users: Tuple[str, ...]
    school: Optional[str] = None          # only receivers online with a token of this school
    conversation_id: Optional[str] = None  # MESSAGE
    seq: int = 0                           # MESSAGE
    sender_id: Optional[str] = None        # MESSAGE: whose typing ends


class NodeEndpoint(Protocol):
    """What a broker calls on this node."""

    def deliver(self, delivery: Delivery) -> None:
        """Write the delivery to this node's sockets, with its side effects."""

    def conversation_changed_elsewhere(self, conversation_id: str, school: str,
                                       members: Optional[Sequence[str]]) -> None:
        """Another node changed a conversation's participants or title (``members``: the
        participants of a direct or group conversation, for presence contacts)."""

    def message_stored_elsewhere(self, conversation_id: str, seq: int) -> None:
        """Another node stored seq ``seq`` of the conversation."""

    def safety_changed_elsewhere(self, kind: str, key: str) -> None:
        """Another node changed a safeguarding setting (see :meth:`chat.events.EventSink.safety_changed`)."""

    def resync_all(self) -> None:
        """Events may have been missed (a Redis outage): every client should ``sync``."""


class Broker(Protocol):
    def attach(self, endpoint: NodeEndpoint) -> None:
        """Install this node's endpoint (once, while wiring)."""

    def publish(self, delivery: Delivery) -> None:
        """Deliver to the receivers' sockets on every node (this one directly)."""

    def conversation_changed(self, conversation_id: str, school: str, members: Optional[Sequence[str]]) -> None:
        """Tell other nodes a conversation changed here (they re-read their copy)."""

    def holders_changed(self, user_id: str, nodes: int) -> None:
        """The user's sockets are now on ``nodes`` nodes (rate limits are shared by them)."""

    def safety_changed(self, kind: str, key: str) -> None:
        """Tell other nodes a safeguarding setting changed here (they drop their copy)."""

    def shared_seqs(self) -> Optional[SharedSeqs]:
        """Where the writer takes seqs when several processes write (None: it counts them)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def stats(self) -> Optional[Dict[str, Any]]:
        """What ``/api/health`` shows of the broker (None: nothing to show)."""

    def register_metrics(self, registry: Any) -> None:
        """Add the broker's gauges to a Prometheus registry."""


class _Unattached:
    def deliver(self, delivery: Delivery) -> None:
        raise RuntimeError("the broker has no endpoint attached")

    def conversation_changed_elsewhere(self, conversation_id: str, school: str,
                                       members: Optional[Sequence[str]]) -> None:
        return None

    def message_stored_elsewhere(self, conversation_id: str, seq: int) -> None:
        return None

    def safety_changed_elsewhere(self, kind: str, key: str) -> None:
        return None

    def resync_all(self) -> None:
        return None


UNATTACHED: NodeEndpoint = _Unattached()


class LocalBroker:
    """One process: every receiver's sockets are here."""

    def __init__(self) -> None:
        self.endpoint: NodeEndpoint = UNATTACHED

    def attach(self, endpoint: NodeEndpoint) -> None:
        self.endpoint = endpoint

    def publish(self, delivery: Delivery) -> None:
        self.endpoint.deliver(delivery)

    def conversation_changed(self, conversation_id: str, school: str, members: Optional[Sequence[str]]) -> None:
        return None  # no other node holds a copy

    def holders_changed(self, user_id: str, nodes: int) -> None:
        return None

    def safety_changed(self, kind: str, key: str) -> None:
        return None  # no other node holds a copy

    def shared_seqs(self) -> Optional[SharedSeqs]:
        return None  # the only writer: seqs are counted in memory

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def stats(self) -> Optional[Dict[str, Any]]:
        return None

    def register_metrics(self, registry: Any) -> None:
        return None
