"""Blocks, conversation mutes and slow mode (README "Blocks, mutes and slow mode").

- A block: the two users can no longer start a direct conversation with each other; in an
  existing direct conversation the blocked user can no longer post or edit (the blocker still
  can); the blocked user's mentions of the blocker are dropped from its messages (they notify
  nothing). Students cannot block staff: a school rule (an adult must stay reachable).
- A mute: a conversation's owner/admins, or (in class and announcement conversations) the
  school's staff, silence a member until a time; its sends and edits answer ``muted``. A
  moderator's ``mute_author`` (a case action) is the same mute, with the case as its
  ``reason``; only staff replace or lift such a mute while it lasts. Each mute set or lifted
  is audited (``mute.set``, ``mute.clear``).
- Slow mode: ``slowModeSeconds`` on the conversation; a member may post once per that many
  seconds (staff and the conversation's owner/admins exempt); a send too soon answers ``muted``
  with the seconds left.

:class:`BlockRule` enforces them (a :class:`chat.domain.safety.gate.SafetyRule`);
:class:`BlockActions` changes them (``service.blocks``).
"""
from __future__ import annotations

import collections
import math
from typing import Any, Dict, List, Optional, Tuple

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.oversight.audit import AuditAction
from chat.domain.safety.blockbook import BlockBook
from chat.domain.safety.cases import is_moderator
from chat.domain.safety.changes import BLOCKS, MUTES, announce
from chat.domain.safety.gate import Post, SafetyRule, Start
from chat.errors import Conflict, Forbidden, Muted, NotFound, PolicyForbidden
from chat.live.convcache import ConvState
from chat.rules import policy
from chat.rules.validation import MAX_SLOW_MODE_SECONDS
from chat.timeutil import iso
from chat.vocab import ConversationType, Role, is_staff


class BlockRule(SafetyRule):
    """Blocks, mutes and slow mode on every start and post (see the module doc)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        ttl = core.settings.block_cache_ttl if core.settings.redis_url else None
        self.book = BlockBook(core.store, core.clock, ttl)
        # (conversationId, userId) -> monotonic time of the last send in slow mode, oldest first
        self._last_send: "collections.OrderedDict[Tuple[str, str], float]" = collections.OrderedDict()

    async def check_start(self, ident: Identity, start: Start) -> None:
        if start.type != ConversationType.DIRECT or not start.others:
            return
        mine = await self.book.of_user(ident.user_id)
        other = start.others[0]
        if other in mine.made:
            raise PolicyForbidden("you have blocked this user: unblock them to start a conversation")
        if other in mine.against:
            raise PolicyForbidden("you cannot start a conversation with this user")

    async def check_post(self, ident: Identity, state: ConvState, post: Post) -> None:
        now_ms = int(self.core.clock.time() * 1000)
        mute = (await self.book.mutes(state.id)).get(ident.user_id)
        if mute is not None and mute.until > now_ms:
            if mute.reason:
                raise Muted("a moderator muted you in this conversation until %s" % iso(mute.until))
            raise Muted("you are muted in this conversation until %s" % iso(mute.until))
        if state.type == ConversationType.DIRECT or post.mentions:
            against = (await self.book.of_user(ident.user_id)).against
            if against:
                if state.type == ConversationType.DIRECT and any(u in against for u in state.roles):
                    raise PolicyForbidden("you can no longer send messages in this conversation")
                post.mentions = [u for u in post.mentions if u not in against]
        if post.edit_of is None:
            self._slow_mode(ident, state)

    def _slow_mode(self, ident: Identity, state: ConvState) -> None:
        seconds = int(state.doc.get("slowModeSeconds") or 0)
        if not seconds or is_staff(ident.role) or policy.is_manager(state.roles.get(ident.user_id)):
            return
        now = self.core.clock.monotonic()
        key = (state.id, ident.user_id)
        last = self._last_send.get(key)
        if last is not None and now - last < seconds:
            raise Muted("slow mode: you can send again in %d seconds" % max(1, math.ceil(seconds - (now - last))))
        self._last_send[key] = now
        self._last_send.move_to_end(key)
        # what no slow mode can still need: memory stays bounded by the last hour's senders
        while self._last_send:
            first_key, first = next(iter(self._last_send.items()))
            if now - first < MAX_SLOW_MODE_SECONDS:
                break
            del self._last_send[first_key]


def rule_of(core: Core) -> BlockRule:
    """The service's block rule (built by :func:`chat.domain.safety.rules.build_rules`)."""
    for rule in core.safety.rules:
        if isinstance(rule, BlockRule):
            return rule
    raise RuntimeError("the block rule is not registered")


class BlockActions:
    """``service.blocks``: block/unblock users, mute/unmute conversation members."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.book = rule_of(core).book

    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    async def _same_school_user(self, ident: Identity, user_id: str) -> Dict[str, Any]:
        user = (await self.core.store.directory.get_users([user_id])).get(user_id)
        if user is None or user.get("school") != ident.school:
            raise NotFound("no such user")  # never tell whether an id exists in another school
        return user

    def _blocks_changed(self, *user_ids: str) -> None:
        self.book.blocks_changed(*user_ids)
        for uid in user_ids:
            announce(self.core, BLOCKS, uid)

    def _mutes_changed(self, conversation_id: str) -> None:
        self.book.mutes_changed(conversation_id)
        announce(self.core, MUTES, conversation_id)

    # ------------------------------------------------------------------ blocks
    async def block(self, ident: Identity, user_id: str) -> Dict[str, Any]:
        """Block a user of the caller's school (idempotent)."""
        if user_id == ident.user_id:
            raise Conflict("you cannot block yourself")
        user = await self._same_school_user(ident, user_id)
        if ident.role == Role.STUDENT and is_staff(user.get("role") or ""):
            raise PolicyForbidden("students cannot block teachers or admins (a school rule); "
                                  "you can report a message or tell another member of staff")
        doc = await self.core.store.blocks.put_block(ident.school, ident.user_id, user_id, self._now())
        self._blocks_changed(ident.user_id, user_id)
        return _block_view(user_id, user, doc)

    async def unblock(self, ident: Identity, user_id: str) -> Dict[str, Any]:
        """Lift the caller's block of a user (idempotent)."""
        await self._same_school_user(ident, user_id)
        await self.core.store.blocks.delete_block(ident.user_id, user_id)
        self._blocks_changed(ident.user_id, user_id)
        return {"userId": user_id}

    async def list(self, ident: Identity) -> List[Dict[str, Any]]:
        """The users the caller blocks, newest first."""
        made, _against = await self.core.store.blocks.involving(ident.user_id)
        made = sorted((d for d in made if d.get("school") == ident.school), key=lambda d: -d.get("createdAt", 0))
        users = await self.core.store.directory.get_users([d["blockedId"] for d in made])
        return [_block_view(d["blockedId"], users.get(d["blockedId"]), d) for d in made]

    # ------------------------------------------------------------------ mutes
    async def _moderated(self, ident: Identity, conversation_id: str) -> ConvState:
        """The conversation if the caller may mute its members (403 otherwise)."""
        state = await self.core.cache.get(conversation_id)
        same_school = state.school == ident.school
        conv_role = state.roles.get(ident.user_id) if same_school else None
        if conv_role is None and not policy.moderates(ident.role, state.type, same_school):
            raise Forbidden("not a participant of this conversation")
        if not policy.may_mute(ident.role, state.type, conv_role, same_school):
            raise Forbidden("only the conversation's owner or admins (and staff, in class conversations) may mute")
        return state

    async def mute(self, ident: Identity, conversation_id: str, user_id: str, minutes: int) -> Dict[str, Any]:
        """Mute a member for ``minutes`` (a new mute replaces the old one)."""
        state = await self._moderated(ident, conversation_id)
        if user_id == ident.user_id:
            raise Conflict("you cannot mute yourself")
        if user_id not in state.roles:
            raise NotFound("not a participant")
        target = (await self.core.store.directory.get_users([user_id])).get(user_id) or {}
        if not is_staff(ident.role) and is_staff(target.get("role") or ""):
            raise PolicyForbidden("students cannot mute teachers or admins (a school rule)")
        await self._not_a_moderators(ident, state.id, user_id)
        now = self._now()
        doc = await self.core.store.blocks.put_mute(state.id, user_id, now + minutes * 60_000, ident.user_id, now)
        self._mutes_changed(state.id)
        await self._audit_mute(ident, AuditAction.MUTE_SET, state, user_id, {"minutes": minutes, "until": doc["until"]})
        return _mute_view(doc, target)

    async def mute_author(self, moderator: Identity, conversation_id: str, user_id: str, until: int,
                          case_id: str) -> Dict[str, Any]:
        """A moderator's ``mute_author`` (the caller checked it moderates the case): the same
        conversation mute, its ``reason`` the case."""
        doc = await self.core.store.blocks.put_mute(conversation_id, user_id, until, moderator.user_id,
                                                    self._now(), reason=case_id)
        self._mutes_changed(conversation_id)
        await self.core.audit.record(moderator.user_id, AuditAction.MUTE_SET, moderator.school,
                                     {"conversationId": conversation_id, "userId": user_id},
                                     {"until": until, "reason": case_id})
        return doc

    async def unmute(self, ident: Identity, conversation_id: str, user_id: str) -> Dict[str, Any]:
        """Lift a member's mute (idempotent). The school's moderators may lift a moderator's
        mute in any conversation of the school (they set it without managing it)."""
        state = await self.core.cache.get(conversation_id)
        doc = await self.core.store.blocks.mute_of(state.id, user_id)
        if not (doc is not None and doc.get("reason") and state.school == ident.school
                and await self._is_moderator(ident)):
            state = await self._moderated(ident, conversation_id)
            await self._not_a_moderators(ident, state.id, user_id)
        lifted = await self.core.store.blocks.delete_mute(state.id, user_id)
        self._mutes_changed(state.id)
        if lifted:
            await self._audit_mute(ident, AuditAction.MUTE_CLEAR, state, user_id,
                                   {"reason": doc.get("reason") if doc else None})
        return {"conversationId": state.id, "userId": user_id}

    async def _audit_mute(self, ident: Identity, action: AuditAction, state: ConvState, user_id: str,
                          detail: Dict[str, Any]) -> None:
        await self.core.audit.record(ident.user_id, action, state.school,
                                     {"conversationId": state.id, "userId": user_id}, detail)

    async def _is_moderator(self, ident: Identity) -> bool:
        user = None if ident.role == Role.ADMIN else await self.core.store.directory.get_user(ident.user_id)
        return is_moderator(ident.role, user, ident.school)

    async def _not_a_moderators(self, ident: Identity, conversation_id: str, user_id: str) -> None:
        """A moderator's mute still in force is replaced or lifted by staff only (a student who
        owns a group cannot undo a safeguarding decision)."""
        if is_staff(ident.role):
            return
        doc = await self.core.store.blocks.mute_of(conversation_id, user_id)
        if doc is not None and doc.get("reason") and int(doc["until"]) > self._now():
            raise PolicyForbidden("a moderator muted this member: only staff may change that mute")

    async def mutes(self, ident: Identity, conversation_id: str) -> List[Dict[str, Any]]:
        """The conversation's mutes that have not ended, soonest end first."""
        state = await self._moderated(ident, conversation_id)
        now = self._now()
        docs = sorted((d for d in await self.core.store.blocks.mutes_of(state.id) if d["until"] > now),
                      key=lambda d: d["until"])
        users = await self.core.store.directory.get_users([d["userId"] for d in docs])
        return [_mute_view(d, users.get(d["userId"])) for d in docs]


def _block_view(user_id: str, user: Optional[Dict[str, Any]], doc: Dict[str, Any]) -> Dict[str, Any]:
    user = user or {}
    return {"userId": user_id, "name": user.get("name") or user_id, "role": user.get("role"),
            "createdAt": iso(doc.get("createdAt"))}


def _mute_view(doc: Dict[str, Any], user: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    return {"conversationId": doc["conversationId"], "userId": doc["userId"],
            "name": (user or {}).get("name") or doc["userId"], "until": iso(doc["until"]),
            "mutedBy": doc.get("by"), "reason": doc.get("reason"), "createdAt": iso(doc.get("createdAt"))}
