"""Bot (service) accounts of a school (``/api/bots``, its admins): an LMS posts announcements
with one over REST (``Authorization: Bearer <bot token>`` on ``POST
/api/conversations/{id}/messages``).

- A bot has a name and scopes: conversations it may post to, and classes (it may post to
  their class and announcement conversations). Nothing else: no reading, no other route.
- Its token (``chatbot_`` and 256 random bits) is in the answer of the create only; storage
  keeps its SHA-256. Revoking it is at once and everywhere (every request reads the bot).
- It sends through the ordinary send path as staff of its school (role ``teacher``): the
  send rate, word filters, mutes and the teachers' quiet hours apply as to a teacher; its
  messages are marked ``bot: true``.
- Creating and revoking one are audit entries (``bot.create``, ``bot.revoke``).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Dict, List

from chat.auth import BOT_TOKEN_PREFIX, BOT_USER_PREFIX, BotIdentity, Identity
from chat.domain.core import Core
from chat.domain.oversight.audit import AuditAction
from chat.errors import Conflict, Forbidden, NotFound, Unauthorized
from chat.live.convcache import ConvState
from chat.rules.notify_input import BotSpec
from chat.store import new_id
from chat.timeutil import iso
from chat.vocab import Role

#: the conversation types a bot may be scoped to
SCOPE_TYPES = ("class", "announcement", "group")

#: a bot never expires by time (it is revoked); the socket tier never sees one
NEVER = 2 ** 53


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bot_view(bot: Dict[str, Any]) -> Dict[str, Any]:
    return {"id": bot["id"], "userId": BOT_USER_PREFIX + bot["id"], "name": bot["name"],
            "scopes": {"conversations": list(bot.get("conversationIds") or []),
                       "classes": list(bot.get("classIds") or [])},
            "createdBy": bot.get("createdBy"), "createdAt": iso(bot.get("createdAt")),
            "revoked": bot.get("revokedAt") is not None, "revokedAt": iso(bot.get("revokedAt"))}


def in_scope(ident: BotIdentity, state: ConvState) -> bool:
    """A conversation of the bot's school it names, or a class or announcement conversation of
    a class it names."""
    if state.school != ident.school:
        return False
    if state.id in ident.conversation_ids:
        return True
    class_id = state.doc.get("classId")
    return bool(class_id) and class_id in ident.class_ids and state.type in ("class", "announcement")


class BotActions:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.store = core.store.bots

    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    @staticmethod
    def _admin(ident: Identity) -> None:
        if ident.role != Role.ADMIN or isinstance(ident, BotIdentity):
            raise Forbidden("only the school's admins manage its bots")

    async def _check_scopes(self, ident: Identity, spec: BotSpec) -> None:
        for conversation_id in spec.conversation_ids:
            try:
                state = await self.core.cache.get(conversation_id)
            except NotFound:
                raise Forbidden("scopes name an unknown conversation: %s" % conversation_id[:64]) from None
            if state.school != ident.school:
                raise Forbidden("scopes name an unknown conversation: %s" % conversation_id[:64])
            if state.type not in SCOPE_TYPES:  # never a direct conversation (two people's own)
                raise Forbidden("a bot posts only in class, announcement and group conversations, not a %s one: %s"
                                % (state.type, conversation_id[:64]))
        for class_id in spec.class_ids:
            klass = await self.core.store.directory.get_class(class_id)
            if klass is None or klass.get("school") != ident.school:
                raise Forbidden("scopes name an unknown class: %s" % class_id[:64])

    async def create(self, ident: Identity, spec: BotSpec) -> Dict[str, Any]:
        """A new bot; the answer holds its token, the only time it is shown."""
        self._admin(ident)
        await self._check_scopes(ident, spec)
        live = [b for b in await self.store.of_school(ident.school) if b.get("revokedAt") is None]
        if len(live) >= self.core.settings.bot_max_per_school:
            raise Conflict("the school has %d bots already (bot_max_per_school)" % len(live))
        token = BOT_TOKEN_PREFIX + secrets.token_urlsafe(32)
        doc = {"school": ident.school, "name": spec.name, "conversationIds": spec.conversation_ids,
               "classIds": spec.class_ids, "tokenHash": token_hash(token), "createdBy": ident.user_id,
               "createdAt": self._now(), "revokedAt": None, "revokedBy": None}
        bot_id = new_id()  # the audit entry is written first, naming the bot about to be stored
        await self.core.audit.record(ident.user_id, AuditAction.BOT_CREATE, ident.school, {"botId": bot_id},
                                     {"name": spec.name, "conversations": spec.conversation_ids,
                                      "classes": spec.class_ids})
        bot = await self.store.insert(doc, bot_id)
        return dict(bot_view(bot), token=token)

    async def list(self, ident: Identity) -> List[Dict[str, Any]]:
        self._admin(ident)
        return [bot_view(b) for b in await self.store.of_school(ident.school)]

    async def revoke(self, ident: Identity, bot_id: str) -> Dict[str, Any]:
        """Revoke the bot's token (idempotent)."""
        self._admin(ident)
        bot = await self.store.get(bot_id)
        if bot is None or bot.get("school") != ident.school:
            raise NotFound("no such bot")
        if bot.get("revokedAt") is not None:
            return bot_view(bot)
        await self.core.audit.record(ident.user_id, AuditAction.BOT_REVOKE, ident.school, {"botId": bot_id},
                                     {"name": bot["name"]})
        revoked = await self.store.revoke(bot_id, ident.user_id, self._now())
        return bot_view(revoked or bot)

    async def authenticate(self, token: str) -> BotIdentity:
        """The bot a token speaks for (401: unknown or revoked)."""
        bot = await self.store.by_token_hash(token_hash(token))
        if bot is None or not hmac.compare_digest(bot.get("tokenHash") or "", token_hash(token)):
            raise Unauthorized("invalid bot token")
        if bot.get("revokedAt") is not None:
            raise Unauthorized("the bot's token was revoked")
        return BotIdentity(user_id=BOT_USER_PREFIX + bot["id"], role=Role.TEACHER, school=bot["school"],
                           name=bot["name"], exp=NEVER, bot_id=bot["id"],
                           conversation_ids=tuple(bot.get("conversationIds") or ()),
                           class_ids=tuple(bot.get("classIds") or ()))
