"""The WebSocket wire protocol (PROTOCOL §2-§3): event names, frame decoding and validation,
and the one place errors become frames. Pure: no I/O, no Tornado.

A client frame is ``{"event": str, "data": object, "ref": str?}``. :func:`parse_frame`
returns a :class:`Frame` whose ``args`` are the event's validated, typed arguments, or raises
:class:`FrameError` carrying the ``ref`` when one could be read, so the caller can still
answer exactly once.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Dict, Optional

import ujson

from chat.errors import BadRequest, ChatError, TooLarge
from chat.rules import validation as v
from chat.rules.forwarding import parse_forward
from chat.rules.render import dumps
from chat.settings import Settings
from chat.timeutil import parse_iso
from chat.vocab import ROLES


class User:
    ONLINE = "user:online"
    OFFLINE = "user:offline"


class Message:
    SEND = "message:send"
    NEW = "message:new"
    EDIT = "message:edit"
    UPDATED = "message:updated"
    DELETE = "message:delete"
    DELETED = "message:deleted"
    DELIVERED = "message:delivered"
    READ = "message:read"
    REACT = "message:react"
    FORWARD = "message:forward"  # notifications: forwarding
    STATUS = "message:status"
    UNREAD = "unread:update"


class Typing:
    START = "typing:start"
    STOP = "typing:stop"


class Conversation:
    CREATED = "conversation:created"
    UPDATED = "conversation:updated"
    REMOVED = "conversation:removed"
    SYNC = "sync"


class Presence:
    LIST = "presence:list"


class School:
    POLICY = "school:policy"  # push: the school's safeguarding policy changed


class Moderation:
    CASE = "moderation:case"  # push: a case of the school opened, reported again or changed status


class Auth:
    REFRESH = "auth:refresh"
    EXPIRED = "auth:expired"


class Session:
    READY = "session:ready"
    RESYNC = "session:resync"  # push: events may have been missed; the client answers with ``sync``
    PING = "ping"
    PONG = "pong"
    REPLY = "reply"
    ERROR = "error"


MAX_REF = 64
MAX_SYNC_CONVERSATIONS = 1000
#: a JSON escape of a UTF-16 surrogate: how a frame that is valid UTF-8 carries a lone one
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclasses.dataclass
class Frame:
    event: str
    args: Dict[str, Any]
    ref: Optional[str]


class FrameError(Exception):
    """A frame that cannot be handled; ``ref`` is set when the frame carried a readable one."""

    def __init__(self, error: ChatError, ref: Optional[str] = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.ref = ref


# ---------------------------------------------------------------------- per-event validators
def _conversation_id(data: Dict[str, Any]) -> str:
    return v.string(data, "conversationId", max_len=64)  # type: ignore[return-value]


def _message_id(data: Dict[str, Any]) -> str:
    return v.string(data, "messageId", max_len=64)  # type: ignore[return-value]


def _send(data: Dict[str, Any], s: Settings) -> Dict[str, Any]:
    if "sendAt" in data:  # notifications: scheduled messages are REST only (never sent now by mistake)
        raise BadRequest("schedule a message with POST /api/conversations/{id}/messages and sendAt")
    return {"conversation_id": _conversation_id(data), "message": v.parse_new_message(data, s)}


def _forward(data: Dict[str, Any], s: Settings) -> Dict[str, Any]:
    return {"message_id": _message_id(data), "forward": parse_forward(data)}


def _edit(data: Dict[str, Any], s: Settings) -> Dict[str, Any]:
    return {"message_id": _message_id(data), "text": v.parse_edit(data, s)}


def _delete(data: Dict[str, Any], s: Settings) -> Dict[str, Any]:
    return {"message_id": _message_id(data)}


def _marker(data: Dict[str, Any], s: Settings) -> Dict[str, Any]:
    return {"conversation_id": _conversation_id(data), "seq": v.parse_seq(data)}


def _react(data: Dict[str, Any], s: Settings) -> Dict[str, Any]:
    on = data.get("on", True)
    if not isinstance(on, bool):
        raise BadRequest("on must be true or false")
    return {"message_id": _message_id(data), "emoji": v.valid_emoji(data.get("emoji")), "on": on}


def _typing(data: Dict[str, Any], s: Settings) -> Dict[str, Any]:
    return {"conversation_id": _conversation_id(data)}


def _sync(data: Dict[str, Any], s: Settings) -> Dict[str, Any]:
    raw = data.get("conversations", {})
    if not isinstance(raw, dict):
        raise BadRequest("conversations must be an object of conversationId: lastSeqSeen")
    if len(raw) > MAX_SYNC_CONVERSATIONS:
        raise BadRequest("at most %d conversations per sync" % MAX_SYNC_CONVERSATIONS)
    seen: Dict[str, int] = {}
    for cid, last in raw.items():
        if not isinstance(cid, str) or len(cid) > 64:
            raise BadRequest("conversation ids must be strings")
        if isinstance(last, bool) or not isinstance(last, int) or last < 0:
            raise BadRequest("lastSeqSeen must be a non-negative integer")
        seen[cid] = last
    since = None
    if data.get("changedSince") is not None:
        if not isinstance(data["changedSince"], str):
            raise BadRequest("changedSince must be an ISO time")
        try:
            since = parse_iso(data["changedSince"])
        except ValueError:
            raise BadRequest("changedSince must be an ISO time") from None
    limit = v.integer(data, "limit", required=False, minimum=1, maximum=s.sync_limit) or min(100, s.sync_limit)
    return {"seen": seen, "changed_since": since, "limit": limit}


def _presence(data: Dict[str, Any], s: Settings) -> Dict[str, Any]:
    role = v.string(data, "role", required=False, max_len=16)
    if role is not None and role not in ROLES:
        raise BadRequest("role must be student, teacher or admin")
    return {"class_id": v.string(data, "classId", required=False), "role": role}


def _refresh(data: Dict[str, Any], s: Settings) -> Dict[str, Any]:
    return {"token": v.string(data, "token", max_len=8192)}


def _nothing(data: Dict[str, Any], s: Settings) -> Dict[str, Any]:
    return {}


#: client events and their validators: anything not listed is rejected explicitly
CLIENT_EVENTS: Dict[str, Callable[[Dict[str, Any], Settings], Dict[str, Any]]] = {
    Message.SEND: _send,
    Message.EDIT: _edit,
    Message.DELETE: _delete,
    Message.DELIVERED: _marker,
    Message.READ: _marker,
    Message.REACT: _react,
    Message.FORWARD: _forward,
    Typing.START: _typing,
    Typing.STOP: _typing,
    Conversation.SYNC: _sync,
    Presence.LIST: _presence,
    Auth.REFRESH: _refresh,
    Session.PING: _nothing,
}


def frame_cost(raw: Any, settings: Settings) -> int:
    """The frame tokens a frame costs, taken before it is parsed: one per started
    ``rate_frame_bytes``, since reading a frame costs in proportion to its size."""
    return 1 + max(0, len(raw) - 1) // max(1, settings.rate_frame_bytes)


def parse_frame(raw: Any, settings: Settings) -> Frame:
    """Decode and validate one client frame."""
    if isinstance(raw, bytes):
        raise FrameError(BadRequest("frames must be JSON text, not binary"))
    too_large = len(raw) > settings.ws_max_frame_bytes
    try:
        decoded = ujson.loads(raw)
    except (ValueError, TypeError, OverflowError):
        if too_large:
            raise FrameError(TooLarge("frame over %d bytes" % settings.ws_max_frame_bytes)) from None
        raise FrameError(BadRequest("frame is not valid JSON")) from None
    if not isinstance(decoded, dict):
        raise FrameError(BadRequest("a frame must be a JSON object"))
    ref = decoded.get("ref")
    if ref is not None and (not isinstance(ref, str) or not ref or len(ref) > MAX_REF or not v.storable(ref)):
        raise FrameError(BadRequest("ref must be a string of 1 to %d characters" % MAX_REF))
    if too_large:  # refused: not walked
        raise FrameError(TooLarge("frame over %d bytes" % settings.ws_max_frame_bytes), ref)
    if _SURROGATE_ESCAPE.search(raw) or not v.storable(raw):  # else no string in it holds one
        try:
            v.check_storable(decoded, "the frame")
        except BadRequest as exc:
            raise FrameError(exc, ref) from None
    event = decoded.get("event")
    if not isinstance(event, str):
        raise FrameError(BadRequest("event must be a string"), ref)
    validator = CLIENT_EVENTS.get(event)
    if validator is None:
        raise FrameError(BadRequest("unknown event %r" % event[:64]), ref)
    data = decoded.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrameError(BadRequest("data must be a JSON object"), ref)
    try:
        args = validator(data, settings)
    except ChatError as exc:
        raise FrameError(exc, ref) from None
    return Frame(event, args, ref)


# ---------------------------------------------------------------------- encoding (the one error mapping)
def push(event: str, data: Dict[str, Any]) -> str:
    return dumps({"event": event, "data": data})


def reply(ref: str, data: Any) -> str:
    return dumps({"event": Session.REPLY, "ref": ref, "ok": True, "data": data})


def error_frame(error: ChatError, ref: Optional[str]) -> str:
    """A failed frame: a ``reply`` with ``ok: false`` when it had a ref, else an ``error`` push."""
    if ref is not None:
        return dumps({"event": Session.REPLY, "ref": ref, "ok": False, "error": error.to_dict()})
    return dumps({"event": Session.ERROR, "error": error.to_dict()})
