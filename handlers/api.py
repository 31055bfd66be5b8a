"""REST handlers (PROTOCOL §7). Each method: parse, authorize, one service call, render."""
from __future__ import annotations

import ipaddress
import time
from typing import Any, Dict

from chat.auth import mint_token
from chat.errors import BadRequest, NotFound
from chat.ops.demo import demo_users
from chat.ratelimit import Limit
from chat.rules import validation as v
from chat.rules.scheduling import has_send_at
from chat.version import __version__
from chat.vocab import ROLES
from handlers.base import ApiHandler, allowed_methods, dumps


class HealthHandler(ApiHandler):
    """``GET /api/health``: no auth; 200 when storage answers, 503 when it does not.
    ``HEAD`` answers the same status with no body (for load balancers and uptime checks).
    Anyone may ask, so it names the kind of storage only: no path, host or credentials."""

    async def head(self) -> None:
        self.set_status(200 if await self.runtime.store.ping() else 503)
        self.finish()

    async def get(self) -> None:
        rt = self.runtime
        up = await rt.store.ping()
        data: Dict[str, Any] = {
            "status": "ok" if up else "degraded",
            "version": __version__,
            "storage": "embedded nx-27017" if rt.embedded is not None else "mongodb",
            "storageUp": up,
            "uptimeSeconds": round(time.time() - rt.started_at, 1),
            "connections": rt.manager.stats()["connections"],
            "usersOnline": rt.manager.stats()["users"],
        }
        if rt.embedded is not None:
            data["embeddedRestarts"] = rt.embedded.restarts
        broker = rt.broker.stats()
        if broker is not None:
            data["redis"] = broker
        self.set_status(200 if up else 503)
        self.finish(dumps({"data": data}))


class MeHandler(ApiHandler):
    """``GET /api/me``: who the token speaks for."""

    async def get(self) -> None:
        ident = await self.identity()
        self.send(ident.public())


class UsersHandler(ApiHandler):
    """``GET /api/users?q=&role=&limit=``: same-school directory search."""

    async def get(self) -> None:
        ident = await self.identity()
        role = self.arg("role") or ""
        if role and role not in ROLES:
            raise BadRequest("role must be student, teacher or admin")
        limit = v.query_int(self.arg("limit"), "limit", 50, 1, 200)
        users = await self.runtime.service.directory.list_users(ident, (self.arg("q") or "").strip()[:100], role, limit)
        self.send_list(users, False, None)


class ConversationsHandler(ApiHandler):
    """``GET``/``POST /api/conversations``."""

    async def get(self) -> None:
        ident = await self.identity()
        kind = self.arg("type") or None
        if kind is not None and kind not in v.CONVERSATION_TYPES:
            raise BadRequest("type must be one of %s" % ", ".join(v.CONVERSATION_TYPES))
        archived = v.query_bool(self.arg("archived"), "archived")
        limit = v.query_int(self.arg("limit"), "limit", 50, 1, 100)
        offset = v.query_int(self.arg("offset"), "offset", 0, 0, 10 ** 6)
        q = (self.arg("q") or "").strip()[:200] or None
        items, has_more = await self.runtime.service.conversations.list(ident, kind, archived, q, limit, offset)
        self.send_list(items, has_more, (offset or 0) + len(items) if has_more else None)

    async def post(self) -> None:
        ident = await self.identity()
        req = v.parse_new_conversation(self.body(), self.runtime.settings)
        view, created = await self.runtime.service.conversations.create(ident, req)
        self.send(view, 201 if created else 200)


class ConversationHandler(ApiHandler):
    """``GET``/``PATCH /api/conversations/{id}``."""

    async def get(self, conversation_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.conversations.get(ident, conversation_id))

    async def patch(self, conversation_id: str) -> None:
        ident = await self.identity()
        patch = v.parse_conversation_patch(self.body(), self.runtime.settings)
        self.send(await self.runtime.service.conversations.update(ident, conversation_id, patch))


class ParticipantsHandler(ApiHandler):
    """``POST /api/conversations/{id}/participants`` ``{userIds}``."""

    async def post(self, conversation_id: str) -> None:
        ident = await self.identity()
        user_ids = v.id_list(v.obj(self.body()), "userIds", self.runtime.settings.max_participants)
        self.send(await self.runtime.service.conversations.add_participants(ident, conversation_id, user_ids))


class ParticipantHandler(ApiHandler):
    """``DELETE /api/conversations/{id}/participants/{userId}``."""

    async def delete(self, conversation_id: str, user_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.conversations.remove_participant(ident, conversation_id, user_id))


class MessagesHandler(ApiHandler):
    """``GET`` history / ``POST`` send: ``/api/conversations/{id}/messages``."""

    async def get(self, conversation_id: str) -> None:
        ident = await self.identity()
        for name in self.request.query_arguments:  # before[x]=1: a cursor field sent as an object
            if name.partition("[")[0] in ("before", "after", "around") and "[" in name:
                raise BadRequest("%s must be an integer" % name.partition("[")[0])
        before = v.query_int_opt(self.arg("before"), "before", 0, 2 ** 53)
        after = v.query_int_opt(self.arg("after"), "after", 0, 2 ** 53)
        around = v.query_int_opt(self.arg("around"), "around", 1, 2 ** 53)
        limit = v.query_int(self.arg("limit"), "limit", 50, 1, 100)
        if around is not None:
            if before is not None or after is not None:
                raise BadRequest("around takes neither before nor after")
            page, has_more, cursor, has_newer = await self.runtime.service.messages.around(
                ident, conversation_id, around, limit)
            self.send_list(page, has_more, cursor, hasNewer=has_newer)
            return
        page, has_more, cursor = await self.runtime.service.messages.history(ident, conversation_id, before, after,
                                                                             limit)
        self.send_list(page, has_more, cursor)

    async def post(self, conversation_id: str) -> None:
        ident = await self.identity()
        self.runtime.limiter.check(ident.user_id, Limit.SEND)  # the same buckets as the socket's sends
        body = self.body()
        if has_send_at(body):  # notifications: scheduled messages (sent later, README "Scheduled messages")
            self.send(await self.runtime.service.scheduled.schedule(ident, conversation_id, body), 201)
            return
        req = v.parse_new_message(body, self.runtime.settings)
        message, created = await self.runtime.service.messages.send(ident, conversation_id, req)
        self.send(message, 201 if created else 200)


class MarkerHandler(ApiHandler):
    """``POST /api/conversations/{id}/read`` and ``/delivered`` ``{seq}``."""

    def initialize(self, runtime, kind: str) -> None:  # type: ignore[override]
        super().initialize(runtime)
        self.kind = kind

    async def post(self, conversation_id: str) -> None:
        ident = await self.identity()
        seq = v.parse_seq(self.body())
        self.send(await self.runtime.service.markers.mark(ident, conversation_id, seq, self.kind))


class MessageHandler(ApiHandler):
    """``PATCH`` edit / ``DELETE`` soft delete: ``/api/messages/{id}``."""

    async def patch(self, message_id: str) -> None:
        ident = await self.identity()
        text = v.parse_edit(self.body(), self.runtime.settings)
        self.send(await self.runtime.service.messages.edit(ident, message_id, text))

    async def delete(self, message_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.messages.delete(ident, message_id))


class ReactionHandler(ApiHandler):
    """``PUT``/``DELETE /api/messages/{id}/reactions/{emoji}``."""

    async def put(self, message_id: str, emoji: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.reactions.react(ident, message_id, emoji, True))

    async def delete(self, message_id: str, emoji: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.reactions.react(ident, message_id, emoji, False))


class ReceiptsHandler(ApiHandler):
    """``GET /api/messages/{id}/receipts``."""

    async def get(self, message_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.markers.receipts(ident, message_id))


class SearchHandler(ApiHandler):
    """``GET /api/search?q=&conversationId=&limit=``."""

    async def get(self) -> None:
        ident = await self.identity()
        limit = v.query_int(self.arg("limit"), "limit", 20, 1, 100)
        results = await self.runtime.service.searcher.search(ident, self.arg("q") or "", self.arg("conversationId"),
                                                             limit)
        self.send_list(results, False, None)


class UnreadHandler(ApiHandler):
    """``GET /api/unread``."""

    async def get(self) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.markers.unread(ident))


class MyClassesHandler(ApiHandler):
    """``GET /api/classes/mine``: the caller's classes from the roster with their conversations."""

    async def get(self) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.classes.mine(ident))


class PresenceHandler(ApiHandler):
    """``GET /api/presence?classId=&role=``: online users the caller may see."""

    async def get(self) -> None:
        ident = await self.identity()
        role = self.arg("role") or None
        if role is not None and role not in ROLES:
            raise BadRequest("role must be student, teacher or admin")
        users = await self.runtime.presence.presence_list(ident, self.arg("classId") or None, role)
        self.send_list(users, False, None)


def is_loopback(remote_ip: str) -> bool:
    """True for 127.0.0.0/8 and ::1 (and IPv4-mapped loopback); anything unparsable is not."""
    try:
        address = ipaddress.ip_address((remote_ip or "").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


class DemoHandler(ApiHandler):
    """``GET /api/demo/users`` and ``POST /api/demo/token {userId}``: demo mode only, and only
    for loopback clients (anyone else gets 404, as if the routes did not exist)."""

    def prepare(self) -> None:
        super().prepare()
        # X-Forwarded-For left in place means a proxy we do not trust (trusted ones' headers are
        # consumed, see handlers/proxy.py): the real client is unknown, so it is not loopback.
        forwarded = "X-Forwarded-For" in self.request.headers
        if self.request.method not in allowed_methods(type(self)):
            return  # a method the route never has: 405 with Allow, like every route (it is documented)
        if not (self.runtime.settings.demo and is_loopback(self.request.remote_ip) and not forwarded):
            raise NotFound("no such route")


class DemoUsersHandler(DemoHandler):
    """``GET /api/demo/users``."""

    async def get(self) -> None:
        self.send_list(demo_users(), False, None)


class DemoTokenHandler(DemoHandler):
    """``POST /api/demo/token {userId}``."""

    async def post(self) -> None:
        users = demo_users()
        user_id = v.choice(v.obj(self.body()), "userId", [u["id"] for u in users])
        user = next(u for u in users if u["id"] == user_id)
        token = mint_token(self.runtime.settings, user["id"], user["role"], user["school"], user["name"], 12 * 3600)
        self.send({"token": token, "user": user})
