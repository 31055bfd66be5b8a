"""The socket-facing core: sessions, event dispatch and token life.

No sockets here: frames leave through an injected :class:`Transport` (``send``/``close`` by
connection id), which the Tornado WebSocket tier implements. Every event goes through the
explicit table :attr:`Realtime.dispatch`; unknown events never reach it (the parser rejects
them). Presence, typing and rate limits are their own modules, shared with REST.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Protocol

from chat.auth import Identity, TokenVerifier
from chat.clock import Clock, Timer
from chat.domain.service import ChatService
from chat.errors import ChatError, Forbidden, Internal, RateLimited, Unavailable
from chat.presence.relation import Presence
from chat.presence.service import PresenceService
from chat.ratelimit import Limit, RateLimiter
from chat.realtime import protocol as p
from chat.realtime.broker import Frame
from chat.realtime.connections import ConnectionManager
from chat.realtime.typing import TypingTracker
from chat.settings import Settings
from chat.timeutil import iso, now_ms
from chat.version import __version__
from chat.vocab import CloseCode, Marker

log = logging.getLogger("chat.realtime")

_LIMIT_OF = {p.Message.SEND: Limit.SEND, p.Message.FORWARD: Limit.SEND, p.Typing.START: Limit.TYPING}


class Transport(Protocol):
    def send(self, conn_id: str, frame: Frame) -> None: ...

    def send_many(self, conn_ids: List[str], frame: Frame) -> None: ...

    def close(self, conn_id: str, code: int, reason: str) -> None: ...


@dataclasses.dataclass(slots=True)
class Session:
    """One open socket."""

    conn_id: str
    ident: Identity
    presence: Presence
    strikes: int = 0        # frames refused in a row
    told_limited: bool = False  # this run of refused frames was told it is over the frame rate
    expiry: Optional[Timer] = None


class _NullTransport:
    def send(self, conn_id: str, frame: Frame) -> None:
        return None

    def send_many(self, conn_ids: List[str], frame: Frame) -> None:
        return None

    def close(self, conn_id: str, code: int, reason: str) -> None:
        return None


class Realtime:
    """Sessions and their events, on top of the service and the connection manager."""

    def __init__(self, settings: Settings, service: ChatService, manager: ConnectionManager,
                 verifier: TokenVerifier, presence: PresenceService, typing: TypingTracker,
                 limiter: RateLimiter, clock: Clock,
                 on_rate_limit_close: Callable[[], None] = lambda: None) -> None:
        self.settings = settings
        self.service = service
        self.manager = manager
        self.verifier = verifier
        self.presence = presence
        self.typing = typing
        self.limiter = limiter
        self.clock = clock
        self.on_rate_limit_close = on_rate_limit_close  # metrics
        self.transport: Transport = _NullTransport()
        self.sessions: Dict[str, Session] = {}
        self.draining = False
        self.opening = 0  # sessions being set up now (the handshake sheds load past a limit)
        self.dispatch: Dict[str, Callable[..., Awaitable[Any]]] = {
            p.Message.SEND: self._send,
            p.Message.EDIT: self._edit,
            p.Message.DELETE: self._delete,
            p.Message.DELIVERED: self._delivered,
            p.Message.READ: self._read,
            p.Message.REACT: self._react,
            p.Message.FORWARD: self._forward,
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

    # ------------------------------------------------------------------ open / close
    async def open(self, conn_id: str, ident: Identity) -> Optional[Session]:
        """Register a new socket: ``session:ready`` first, then ``user:online`` to the peers
        when it is the user's first connection. A user past ``max_sockets_per_user`` gets an
        error frame and the close code 4029 on the new socket (None is returned)."""
        self.opening += 1
        try:
            session = await self._open(conn_id, ident)
        finally:
            self.opening -= 1
        if session is not None:
            # the socket's frames are read only after open returns: an answer on it means every
            # node counts it, so closing another device afterwards never flaps the user offline
            # (not counted as opening: load shedding is about the handshake's own work)
            await self.presence.registered(conn_id)
        return session

    async def _open(self, conn_id: str, ident: Identity) -> Optional[Session]:
        ident = await self.service.directory.touch_identity(ident)
        if self.manager.sockets_of(ident.user_id) >= self.settings.max_sockets_per_user:
            self.refuse_socket(conn_id)
            return None
        presence = await self.presence.presence_of(ident)
        session = Session(conn_id, ident, presence)
        self.sessions[conn_id] = session
        first = self.manager.add(conn_id, presence, ident.school)
        self.transport.send(conn_id, p.push(p.Session.READY, {
            "user": ident.public(), "sessionId": conn_id, "serverTime": iso(now_ms()),
            "heartbeatSeconds": self.settings.ws_ping_interval, "version": __version__}))
        self.presence.opened(conn_id, presence, first)  # the backend decides whether the user came online
        self._schedule_expiry(session)
        return session

    def refuse_socket(self, conn_id: str) -> None:
        """The user holds ``max_sockets_per_user`` sockets already (here, or over all nodes):
        an error frame, then close this new one (4029)."""
        cap = self.settings.max_sockets_per_user
        self.transport.send(conn_id, p.error_frame(RateLimited("at most %d open sockets per user" % cap), None))
        self.transport.close(conn_id, CloseCode.TOO_MANY_SOCKETS, "too many sockets")

    async def close(self, conn_id: str) -> None:
        """Forget a socket; on the user's last one: stop its typing, persist ``lastSeen`` and
        send ``user:offline``."""
        session = self.sessions.pop(conn_id, None)
        if session is None:
            return
        if session.expiry is not None:
            session.expiry.cancel()
        presence, last = self.manager.remove(conn_id)
        if presence is None:
            return
        if last:
            self.typing.stop_user(presence.user_id)
        self.presence.closed(conn_id, presence, last)  # the backend decides whether the user went offline

    def _schedule_expiry(self, session: Session) -> None:
        if session.expiry is not None:
            session.expiry.cancel()
        delay = max(0.0, session.ident.exp + self.settings.jwt_leeway - self.clock.time())
        session.expiry = self.clock.call_later(delay, self._expire, session.conn_id)

    def _expire(self, conn_id: str) -> None:
        if conn_id not in self.sessions:
            return
        self.transport.send(conn_id, p.push(p.Auth.EXPIRED, {}))
        self.transport.close(conn_id, CloseCode.TOKEN_EXPIRED, "token expired")

    # ------------------------------------------------------------------ frames
    async def handle(self, conn_id: str, raw: Any) -> None:
        """Handle one client frame: exactly one reply when it has a ``ref``, after the work.

        Every frame first costs the user's frame tokens (all its sockets share them), by its
        size and before it is parsed. A frame over that rate is not read at all: the first of
        a run is answered with an ``error`` ``rate_limited`` (no ref: it was not read), the
        others not, so that replies never outpace the bucket. A refused frame (over a rate, or
        malformed) is a strike; more than ``rate_strikes`` in a row close the socket (1008)."""
        session = self.sessions.get(conn_id)
        if session is None:
            return
        settings = self.settings
        if not self.limiter.take(session.ident.user_id, Limit.FRAME, p.frame_cost(raw, settings)):
            if not self._strike(session, "rate limit exceeded") and not session.told_limited:
                session.told_limited = True
                self.transport.send(conn_id, p.error_frame(RateLimited(
                    "over the frame rate: frames are dropped unread until tokens are back"), None))
            return
        try:
            frame = p.parse_frame(raw, settings)
        except p.FrameError as exc:
            if not self._strike(session, "too many refused frames"):
                self.transport.send(conn_id, p.error_frame(exc.error, exc.ref))
            return
        if self.draining:  # shutting down: frames already taken finish, later ones are refused
            self.transport.send(conn_id, p.error_frame(Unavailable("the server is shutting down"), frame.ref))
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
        """The event's own limit (sends, typing), after the frame's tokens were taken."""
        kind = _LIMIT_OF.get(event)
        if kind is None or self.limiter.take(session.ident.user_id, kind):
            session.strikes = 0
            session.told_limited = False
            return
        self._strike(session, "rate limit exceeded")
        raise RateLimited("rate limit exceeded for %s" % event)

    def _strike(self, session: Session, reason: str) -> bool:
        """Count a refused frame; True when that closed the socket (nothing more to send)."""
        session.strikes += 1
        if session.strikes <= self.settings.rate_strikes:
            return False
        self.transport.close(session.conn_id, CloseCode.POLICY, reason)
        self.on_rate_limit_close()
        return True

    # ------------------------------------------------------------------ the dispatch table
    async def _send(self, s: Session, conversation_id: str, message: Any) -> Dict[str, Any]:
        view, _created = await self.service.messages.send(s.ident, conversation_id, message)
        return view

    async def _forward(self, s: Session, message_id: str, forward: Any) -> Dict[str, Any]:
        view, _created = await self.service.forwarding.forward(s.ident, message_id, forward)
        return view

    async def _edit(self, s: Session, message_id: str, text: str) -> Dict[str, Any]:
        return await self.service.messages.edit(s.ident, message_id, text)

    async def _delete(self, s: Session, message_id: str) -> Dict[str, Any]:
        result = await self.service.messages.delete(s.ident, message_id)
        return {"messageId": result["messageId"], "conversationId": result["conversationId"]}

    async def _delivered(self, s: Session, conversation_id: str, seq: int) -> Dict[str, Any]:
        await self.service.markers.mark(s.ident, conversation_id, seq, Marker.DELIVERED)
        return {}

    async def _read(self, s: Session, conversation_id: str, seq: int) -> Dict[str, Any]:
        result = await self.service.markers.mark(s.ident, conversation_id, seq, Marker.READ)
        return {"conversationId": conversation_id, "unread": result["unread"], "mentions": result["mentions"],
                "lastReadSeq": result["lastReadSeq"]}

    async def _react(self, s: Session, message_id: str, emoji: str, on: bool) -> Dict[str, Any]:
        return await self.service.reactions.react(s.ident, message_id, emoji, on)

    async def _typing_start(self, s: Session, conversation_id: str) -> Dict[str, Any]:
        members = await self.service.quiet_hours.typing_audience(s.ident, conversation_id)
        if members is None:  # the safety gate drops it (quiet hours): the reply is still ok
            return {}
        self.typing.start(conversation_id, s.ident.user_id, s.ident.name, members)
        return {}

    async def _typing_stop(self, s: Session, conversation_id: str) -> Dict[str, Any]:
        self.typing.stop(conversation_id, s.ident.user_id)
        return {}

    async def _sync(self, s: Session, seen: Dict[str, int], changed_since: Optional[int], limit: int
                    ) -> Dict[str, Any]:
        return await self.service.syncer.sync(s.ident, seen, changed_since, limit)

    async def _presence_list(self, s: Session, class_id: Optional[str], role: Optional[str]) -> List[Dict[str, Any]]:
        return await self.presence.presence_list(s.ident, class_id, role, s.presence)

    async def _refresh(self, s: Session, token: str) -> Dict[str, Any]:
        fresh = self.verifier.verify(token)
        if fresh.user_id != s.ident.user_id or fresh.school != s.ident.school or fresh.role != s.ident.role:
            raise Forbidden("the new token is for another user")
        if fresh.exp <= s.ident.exp:
            raise Forbidden("the new token does not expire later")
        s.ident = await self.service.directory.touch_identity(fresh)
        self._schedule_expiry(s)
        return {"exp": iso(fresh.exp * 1000)}

    async def _ping(self, s: Session) -> Dict[str, Any]:
        data = {"serverTime": iso(now_ms())}
        self.transport.send(s.conn_id, p.push(p.Session.PONG, data))
        return data

    # ------------------------------------------------------------------ shutdown
    def drain(self) -> None:
        """Refuse new frames (``unavailable``); frames already being handled finish."""
        self.draining = True

    def close_all(self, code: int = CloseCode.GOING_AWAY, reason: str = "server shutting down") -> None:
        for conn_id in list(self.sessions):
            self.transport.close(conn_id, code, reason)
