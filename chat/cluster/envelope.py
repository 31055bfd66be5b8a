"""What one node sends another through Redis: a typed envelope with full-word fields.

A push travels as a small JSON routing header, a newline, then the frame exactly as the origin
serialized it. The receiving node decodes the header only (the ordering buffer needs nothing
more) and writes the frame's bytes to its sockets without parsing the message again. The
other kinds are a header alone. ujson escapes control characters, so a header never holds a
raw newline and the first one ends it.

The envelopes one routing call sends one node travel as one Redis message, a bundle
(:data:`BUNDLE`, then each envelope as its length in bytes, ``:`` and its bytes): the receiving
node then reads one message from Redis per loop turn of the sender, not one per push.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Any, Dict, List, Optional, Tuple

import ujson

from chat.realtime.broker import Delivery, DeliveryKind


class Kind(enum.StrEnum):
    PUSH = "push"                  # a delivery for the receivers' sockets on the receiving node
    CONVERSATION = "conversation"  # a conversation's participants or title changed: re-read it
    RESYNC = "resync"              # Redis came back: every client should sync
    HOLD = "hold"                  # the number of nodes holding a user's sockets changed
    SAFETY = "safety"              # a safeguarding setting changed: drop the cached copy


@dataclasses.dataclass(slots=True, frozen=True)
class Envelope:
    kind: Kind
    origin: str                            # the node that sent it
    id: str = ""                           # PUSH: unique, so a node delivers it once
    delivery: Optional[Delivery] = None    # PUSH
    conversation_id: Optional[str] = None  # CONVERSATION
    school: Optional[str] = None           # CONVERSATION
    members: Optional[Tuple[str, ...]] = None  # CONVERSATION: a direct or group one's participants
    user_id: Optional[str] = None          # HOLD
    nodes: int = 0                         # HOLD
    topic: Optional[str] = None            # SAFETY: policy, filters, blocks or mutes
    key: Optional[str] = None              # SAFETY: the school, user or conversation

    def encode(self) -> str:
        header: Dict[str, Any] = {"kind": self.kind.value, "origin": self.origin}
        d = self.delivery
        if d is None:
            for key, value in (("conversationId", self.conversation_id), ("school", self.school),
                               ("members", self.members), ("userId", self.user_id),
                               ("topic", self.topic), ("key", self.key)):
                if value is not None:
                    header[key] = value
            if self.kind is Kind.HOLD:
                header["nodes"] = self.nodes
            return ujson.dumps(header)
        header.update(id=self.id, delivery=d.kind.value, users=d.users, school=d.school)
        if d.kind is DeliveryKind.MESSAGE:
            header.update(conversationId=d.conversation_id, seq=d.seq, senderId=d.sender_id)
        frame = d.frame if isinstance(d.frame, str) else d.frame.decode("utf-8")
        return ujson.dumps(header) + "\n" + frame

    @classmethod
    def decode(cls, payload: bytes) -> "Envelope":
        """Raises ValueError (or KeyError) for a payload no node wrote."""
        cut = payload.find(b"\n")
        head = ujson.loads(payload if cut < 0 else payload[:cut])
        kind = Kind(head["kind"])
        if kind is Kind.PUSH:
            if cut < 0:
                raise ValueError("a push without its frame")
            delivery = Delivery(DeliveryKind(head["delivery"]), payload[cut + 1:], tuple(head["users"]),
                                head.get("school"), head.get("conversationId"), int(head.get("seq") or 0),
                                head.get("senderId"))
            return cls(kind, head["origin"], id=head["id"], delivery=delivery)
        members = head.get("members")
        return cls(kind, head["origin"], conversation_id=head.get("conversationId"), school=head.get("school"),
                   members=tuple(members) if members is not None else None, user_id=head.get("userId"),
                   nodes=int(head.get("nodes") or 0), topic=head.get("topic"), key=head.get("key"))


#: the first byte of a bundle (an envelope's header starts with ``{``)
BUNDLE = b"*"


def bundle(payloads: List[bytes]) -> bytes:
    """Several envelopes as one payload (what the routing script in Redis builds; tests)."""
    return BUNDLE + b"".join(b"%d:%s" % (len(one), one) for one in payloads)


def unbundle(payload: bytes) -> List[bytes]:
    """The envelopes of a payload, in order: a bundle's, or the payload itself. Raises
    ValueError for a bundle no node wrote (a length past its end, a missing ``:``)."""
    if payload[:1] != BUNDLE:
        return [payload]
    out: List[bytes] = []
    at, end = 1, len(payload)
    while at < end:
        colon = payload.index(b":", at)  # ValueError when missing
        size = int(payload[at:colon])
        start = colon + 1
        if size < 0 or start + size > end:
            raise ValueError("a bundle cut short")
        out.append(payload[start:start + size])
        at = start + size
    return out
