"""The socket-facing core: sessions, event dispatch, typing, presence, rate limits, token life.

No sockets here: frames leave through an injected :class:`Transport` (``send``/``close`` by
connection id), which the Tornado WebSocket tier implements. Every event goes through the
explicit table :attr:`Realtime.dispatch`; unknown events never reach it (the parser rejects
them).
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Protocol, Set, Tuple

from chat import protocol as p
from chat.auth import Identity, TokenVerifier
from chat.connections import ConnectionManager, Presence
from chat.errors import ChatError, Forbidden, Internal, RateLimited, Unavailable
from chat.service import ChatService
from chat.settings import Settings
from chat.timeutil import iso, now_ms

log = logging.getLogger("chat.realtime")

CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOKEN_EXPIRED = 4001


class Transport(Protocol):
    def send(self, conn_id: str, frame: str) -> None: ...

    def send_many(self, conn_ids: List[str], frame: str) -> None: ...

    def close(self, conn_id: str, code: int, reason: str) -> None: ...


class TokenBucket:
    """A classic token bucket: ``rate`` tokens per second up to ``burst``."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, time.monotonic()

    def take(self, now: Optional[float] = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclasses.dataclass(slots=True)
class _Typist:
    name: str
    others: List[str]
    last_sent: float
    timer: Optional[asyncio.TimerHandle] = None


class TypingTracker:
    """Who is typing where. Broadcasts ``typing:start`` at most once per ``debounce`` seconds
    per (conversation, user), and ``typing:stop`` itself after ``timeout`` seconds without a
    new start, when the typist sends a message, or when its last connection closes."""

    def __init__(self, publish: Callable[[str, Dict[str, Any], Iterable[str]], Any], timeout: float,
                 debounce: float) -> None:
        self._publish = publish
        self.timeout = timeout
        self.debounce = debounce
        self._typing: Dict[Tuple[str, str], _Typist] = {}
        self._by_user: Dict[str, Set[str]] = {}

    def start(self, conversation_id: str, user_id: str, name: str, members: Iterable[str]) -> None:
        key = (conversation_id, user_id)
        now = time.monotonic()
        state = self._typing.get(key)
        if state is None:
            state = self._typing[key] = _Typist(name, [m for m in members if m != user_id], 0.0)
            self._by_user.setdefault(user_id, set()).add(conversation_id)
        if state.timer is not None:
            state.timer.cancel()
        state.timer = asyncio.get_running_loop().call_later(self.timeout, self.stop, conversation_id, user_id)
        if now - state.last_sent >= self.debounce:
            state.last_sent = now
            self._publish(p.Typing.START, {"conversationId": conversation_id, "userId": user_id, "name": name},
                          state.others)

    def stop(self, conversation_id: str, user_id: str) -> None:
        state = self._typing.pop((conversation_id, user_id), None)
        if state is None:
            return
        if state.timer is not None:
            state.timer.cancel()
        convs = self._by_user.get(user_id)
        if convs is not None:
            convs.discard(conversation_id)
            if not convs:
                del self._by_user[user_id]
        self._publish(p.Typing.STOP, {"conversationId": conversation_id, "userId": user_id, "name": state.name},
                      state.others)

    def stop_user(self, user_id: str) -> None:
        for conversation_id in list(self._by_user.get(user_id, ())):
            self.stop(conversation_id, user_id)

    def is_typing(self, conversation_id: str, user_id: str) -> bool:
        return (conversation_id, user_id) in self._typing


@dataclasses.dataclass(slots=True)
class Session:
    """One open socket."""

    conn_id: str
    ident: Identity
    presence: Presence
    strikes: int = 0
    expiry: Optional[asyncio.TimerHandle] = None


class _NullTransport:
    def send(self, conn_id: str, frame: str) -> None:
        return None

    def send_many(self, conn_ids: List[str], frame: str) -> None:
        return None

    def close(self, conn_id: str, code: int, reason: str) -> None:
        return None


class Realtime:
    """Sessions and their events, on top of the service and the connection manager."""

    def __init__(self, settings: Settings, service: ChatService, manager: ConnectionManager,
                 verifier: TokenVerifier) -> None:
        self.settings = settings
        self.service = service
        self.store = service.store
        self.manager = manager
        self.verifier = verifier
        self.transport: Transport = _NullTransport()
        self.sessions: Dict[str, Session] = {}
        self._buckets: Dict[str, Tuple[TokenBucket, TokenBucket, TokenBucket]] = {}  # frames, sends, typing
        self.typing = TypingTracker(self.publish, settings.typing_timeout, settings.typing_debounce)
        service.publish = self.publish
        self.dispatch: Dict[str, Callable[..., Awaitable[Any]]] = {
            p.Message.SEND: self._send,
            p.Message.EDIT: self._edit,
            p.Message.DELETE: self._delete,
            p.Message.DELIVERED: self._delivered,
            p.Message.READ: self._read,
            p.Message.REACT: self._react,
            p.Typing.START: self._typing_start,
            p.Typing.STOP: self._typing_stop,
            p.Conversation.SYNC: self._sync,
            p.Presence.LIST: self._presence_list,
            p.Auth.REFRESH: self._refresh,
            p.Session.PING: self._ping,
        }
        assert set(self.dispatch) == set(p.CLIENT_EVENTS), "every parsed event needs a handler"

    def set_transport(self, transport: Transport) -> None:
        self.transport = transport
        self.manager.set_sender(transport.send_many)

    # ------------------------------------------------------------------ the publish seam
    def publish(self, event: str, data: Dict[str, Any], user_ids: Iterable[str]) -> None:
        """What the service pushes: to the manager, plus the side effects pushes imply."""
        self.manager.publish(event, data, user_ids)
        if event == p.Message.NEW and self.typing.is_typing(data["conversationId"], data["senderId"]):
            self.typing.stop(data["conversationId"], data["senderId"])
        elif event == p.Conversation.CREATED and data.get("type") in ("direct", "group"):
            self.manager.link(x["userId"] for x in data.get("participants", ()))

    # ------------------------------------------------------------------ open / close
    async def _presence_of(self, ident: Identity) -> Presence:
        classes = await self.store.classes_of_user(ident.user_id)
        class_ids = frozenset(c["id"] for c in classes if c.get("school") == ident.school)
        contacts: Set[str] = set()
        for conv in await self.store.conversations_of_user(ident.user_id):
            if conv.get("type") in ("direct", "group") and conv.get("school") == ident.school:
                contacts.update(conv.get("memberIds", ()))
        contacts.discard(ident.user_id)
        return Presence(ident.user_id, ident.name, ident.role, ident.school, class_ids,
                        contacts or frozenset(), now_ms())

    async def open(self, conn_id: str, ident: Identity) -> Session:
        """Register a new socket: ``session:ready`` first, then ``user:online`` to the peers
        when it is the user's first connection."""
        ident = await self.service.touch_identity(ident)
        online = self.manager.users.get(ident.user_id)
        presence = online if online is not None else await self._presence_of(ident)
        session = Session(conn_id, ident, presence)
        self.sessions[conn_id] = session
        first = self.manager.add(conn_id, presence)
        self.transport.send(conn_id, p.push(p.Session.READY, {
            "user": ident.public(), "sessionId": conn_id, "serverTime": iso(now_ms()),
            "heartbeatSeconds": self.settings.ws_ping_interval}))
        if first:
            self.manager.publish(p.User.ONLINE, presence.public(), self.manager.audience(presence))
        self._schedule_expiry(session)
        return session

    async def close(self, conn_id: str) -> None:
        """Forget a socket; on the user's last one: stop its typing, persist ``lastSeen`` and
        send ``user:offline``."""
        session = self.sessions.pop(conn_id, None)
        if session is None:
            return
        if session.expiry is not None:
            session.expiry.cancel()
        presence, last = self.manager.remove(conn_id)
        if not last or presence is None:
            return
        self._buckets.pop(presence.user_id, None)
        self.typing.stop_user(presence.user_id)
        seen = now_ms()
        data = dict(presence.public(), lastSeen=iso(seen))
        self.manager.publish(p.User.OFFLINE, data, self.manager.audience(presence))
        try:
            await self.store.set_last_seen(presence.user_id, seen)
        except Unavailable:
            log.warning("could not persist lastSeen of %s", presence.user_id)

    def _schedule_expiry(self, session: Session) -> None:
        if session.expiry is not None:
            session.expiry.cancel()
        delay = max(0.0, session.ident.exp + self.settings.jwt_leeway - time.time())
        session.expiry = asyncio.get_running_loop().call_later(delay, self._expire, session.conn_id)

    def _expire(self, conn_id: str) -> None:
        if conn_id not in self.sessions:
            return
        self.transport.send(conn_id, p.push(p.Auth.EXPIRED, {}))
        self.transport.close(conn_id, CLOSE_TOKEN_EXPIRED, "token expired")

    # ------------------------------------------------------------------ frames
    async def handle(self, conn_id: str, raw: Any) -> None:
        """Handle one client frame: exactly one reply when it has a ``ref``, after the work."""
        session = self.sessions.get(conn_id)
        if session is None:
            return
        try:
            frame = p.parse_frame(raw, self.settings)
        except p.FrameError as exc:
            self.transport.send(conn_id, p.error_frame(exc.error, exc.ref))
            return
        try:
            self._check_rate(session, frame.event)
            result = await self.dispatch[frame.event](session, **frame.args)
        except ChatError as exc:
            self.transport.send(conn_id, p.error_frame(exc, frame.ref))
            return
        except Exception:  # never let one frame take the connection down
            log.exception("event %s failed", frame.event)
            self.transport.send(conn_id, p.error_frame(Internal(), frame.ref))
            return
        if frame.ref is not None:
            self.transport.send(conn_id, p.reply(frame.ref, result))

    def _check_rate(self, session: Session, event: str) -> None:
        buckets = self._buckets.get(session.ident.user_id)
        if buckets is None:  # made on the user's first frame: idle sockets cost nothing here
            buckets = self._buckets[session.ident.user_id] = (
                TokenBucket(self.settings.rate_frames, self.settings.rate_frames_burst),
                TokenBucket(self.settings.rate_messages, self.settings.rate_messages_burst),
                TokenBucket(self.settings.rate_typing, self.settings.rate_typing_burst),
            )
        frames, sends, typing = buckets
        ok = frames.take()
        if ok and event == p.Message.SEND:
            ok = sends.take()
        elif ok and event == p.Typing.START:
            ok = typing.take()
        if ok:
            session.strikes = 0
            return
        session.strikes += 1
        if session.strikes > self.settings.rate_strikes:
            self.transport.close(session.conn_id, CLOSE_POLICY, "rate limit exceeded")
        raise RateLimited("rate limit exceeded for %s" % event)

    # ------------------------------------------------------------------ the dispatch table
    async def _send(self, s: Session, conversation_id: str, message: Any) -> Dict[str, Any]:
        view, _created = await self.service.send_message(s.ident, conversation_id, message)
        return view

    async def _edit(self, s: Session, message_id: str, text: str) -> Dict[str, Any]:
        return await self.service.edit_message(s.ident, message_id, text)

    async def _delete(self, s: Session, message_id: str) -> Dict[str, Any]:
        result = await self.service.delete_message(s.ident, message_id)
        return {"messageId": result["messageId"], "conversationId": result["conversationId"]}

    async def _delivered(self, s: Session, conversation_id: str, seq: int) -> Dict[str, Any]:
        await self.service.mark(s.ident, conversation_id, seq, "delivered")
        return {}

    async def _read(self, s: Session, conversation_id: str, seq: int) -> Dict[str, Any]:
        result = await self.service.mark(s.ident, conversation_id, seq, "read")
        return {"conversationId": conversation_id, "unread": result["unread"], "lastReadSeq": result["lastReadSeq"]}

    async def _react(self, s: Session, message_id: str, emoji: str, on: bool) -> Dict[str, Any]:
        return await self.service.react(s.ident, message_id, emoji, on)

    async def _typing_start(self, s: Session, conversation_id: str) -> Dict[str, Any]:
        members = await self.service.member_ids(s.ident, conversation_id)
        self.typing.start(conversation_id, s.ident.user_id, s.ident.name, members)
        return {}

    async def _typing_stop(self, s: Session, conversation_id: str) -> Dict[str, Any]:
        self.typing.stop(conversation_id, s.ident.user_id)
        return {}

    async def _sync(self, s: Session, seen: Dict[str, int], changed_since: Optional[int], limit: int
                    ) -> Dict[str, Any]:
        return await self.service.sync(s.ident, seen, changed_since, limit)

    async def _presence_list(self, s: Session, class_id: Optional[str], role: Optional[str]) -> List[Dict[str, Any]]:
        return await self.presence_list(s.ident, class_id, role, s.presence)

    async def _refresh(self, s: Session, token: str) -> Dict[str, Any]:
        fresh = self.verifier.verify(token)
        if fresh.user_id != s.ident.user_id or fresh.school != s.ident.school or fresh.role != s.ident.role:
            raise Forbidden("the new token is for another user")
        if fresh.exp <= s.ident.exp:
            raise Forbidden("the new token does not expire later")
        s.ident = await self.service.touch_identity(fresh)
        self._schedule_expiry(s)
        return {"exp": iso(fresh.exp * 1000)}

    async def _ping(self, s: Session) -> Dict[str, Any]:
        data = {"serverTime": iso(now_ms())}
        self.transport.send(s.conn_id, p.push(p.Session.PONG, data))
        return data

    # ------------------------------------------------------------------ presence (REST shares it)
    async def presence_list(self, ident: Identity, class_id: Optional[str], role: Optional[str],
                            presence: Optional[Presence] = None) -> List[Dict[str, Any]]:
        """Online users this user may see (PROTOCOL §6), optionally of one class or role."""
        if presence is None:
            presence = self.manager.users.get(ident.user_id) or await self._presence_of(ident)
        peers = self.manager.audience(presence)
        if class_id is not None:
            peers &= self.manager.by_class.get(class_id, set())
        out = []
        for uid in peers:
            peer = self.manager.users[uid]
            if role is None or peer.role == role:
                out.append(dict(peer.public(), since=iso(peer.since)))
        out.sort(key=lambda x: (x["name"].lower(), x["userId"]))
        return out

    # ------------------------------------------------------------------ shutdown
    def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "server shutting down") -> None:
        for conn_id in list(self.sessions):
            self.transport.close(conn_id, code, reason)
