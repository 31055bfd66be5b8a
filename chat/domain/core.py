"""What every domain module shares: the dependencies and the access checks.

Built once per process by :class:`chat.domain.service.ChatService`; the action modules
(conversations, messages, reactions, markers, search, sync, directory) receive it.
"""
from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from chat.auth import BotIdentity, Identity
from chat.clock import Clock
from chat.domain.oversight.audit import AuditAction, AuditLog
from chat.domain.oversight.grant_book import GrantBook
from chat.domain.oversight.holds import HoldBook
from chat.domain.safety.gate import SafetyGate
from chat.errors import Forbidden, NotFound
from chat.events import EventSink
from chat.live.convcache import ConversationCache, ConvState
from chat.live.flusher import Flusher
from chat.live.writer import MessageWriter
from chat.settings import Settings
from chat.store import Store

# a user's conversations missing from the cache are loaded into it when this few (a load is three
# reads, once for all members); more are read in one query without caching them
LOAD_INTO_CACHE = 8


@dataclasses.dataclass
class Core:
    settings: Settings
    store: Store
    events: EventSink
    clock: Clock
    cache: ConversationCache
    writer: MessageWriter
    flusher: Flusher
    online: Callable[[str], bool]
    #: every safeguarding rule, asked before what they govern (chat/domain/safety)
    safety: SafetyGate = dataclasses.field(default_factory=SafetyGate)
    #: where staff actions are recorded (chat/domain/oversight/audit.py)
    audit: AuditLog = dataclasses.field(default_factory=AuditLog)
    #: legal holds every deleting path asks first (chat/domain/oversight/holds.py)
    holds: HoldBook = dataclasses.field(default_factory=HoldBook)
    #: oversight access grants the read paths honour (chat/domain/oversight/grants.py)
    grants: GrantBook = dataclasses.field(default_factory=GrantBook)

    async def participant(self, ident: Identity, conversation_id: str) -> ConvState:
        """The conversation if the caller takes part in it, in the caller's token school
        (a membership in another school's conversation is invisible); 404 unknown, 403
        otherwise."""
        state = await self.cache.get(conversation_id)
        if state.school != ident.school or ident.user_id not in state.roles:
            raise Forbidden("not a participant of this conversation")
        return state

    async def poster(self, ident: Identity, conversation_id: str) -> ConvState:
        """The conversation if the caller may send to it: a participant (as :meth:`participant`),
        or a bot whose scopes name it (notifications: bots; it posts as staff, not a member)."""
        if not isinstance(ident, BotIdentity):
            return await self.participant(ident, conversation_id)
        state = await self.cache.get(conversation_id)
        class_id = state.doc.get("classId")
        if state.school != ident.school or not (
                state.id in ident.conversation_ids
                or (class_id and class_id in ident.class_ids and state.type in ("class", "announcement"))):
            raise Forbidden("this conversation is outside the bot's scopes")
        return state

    async def reader(self, ident: Identity, conversation_id: str, what: str) -> ConvState:
        """The conversation if the caller may READ it: a participant (as :meth:`participant`),
        or someone of its school holding an oversight grant for it now, whose read is then
        recorded as ``what`` (history, search, receipts, attachment, view). Read paths only:
        every write keeps asking :meth:`participant`."""
        state = await self.cache.get(conversation_id)
        if state.school == ident.school and ident.user_id not in state.roles:
            grant = await self.grants.active(ident.user_id, conversation_id)
            if grant is not None and grant.get("school") == state.school:
                await self.audit.record(ident.user_id, AuditAction.GRANT_READ, state.school,
                                        {"conversationId": state.id},
                                        {"reason": grant["reason"], "grantId": grant["id"], "what": what})
                return state
        if state.school != ident.school or ident.user_id not in state.roles:
            raise Forbidden("not a participant of this conversation")
        return state

    async def membership(self, ident: Identity, conversation_id: str) -> Tuple[ConvState, Dict[str, Any]]:
        """The conversation and the caller's stored membership (markers, flags)."""
        state = await self.participant(ident, conversation_id)
        membership = await self.store.conversations.membership(conversation_id, ident.user_id)
        if membership is None:
            raise Forbidden("not a participant of this conversation")
        return state, membership

    async def message(self, ident: Identity, message_id: str) -> Tuple[Dict[str, Any], ConvState]:
        """A message of a conversation the caller takes part in."""
        msg = await self.store.messages.get(message_id)
        if msg is None:
            raise NotFound("no such message")
        return msg, await self.participant(ident, msg["conversationId"])

    async def readable_message(self, ident: Identity, message_id: str, what: str
                               ) -> Tuple[Dict[str, Any], ConvState]:
        """A message of a conversation the caller may read (see :meth:`reader`)."""
        msg = await self.store.messages.get(message_id)
        if msg is None:
            raise NotFound("no such message")
        return msg, await self.reader(ident, msg["conversationId"], what)

    async def live_docs(self, conversation_ids: Iterable[str]) -> List[Dict[str, Any]]:
        """Conversation documents, with the live fields of cached ones."""
        ids = list(conversation_ids)
        cached = self.cache.cached(ids)
        docs = [st.as_doc() for st in cached.values()]
        missing = [c for c in ids if c not in cached]
        # (not in a cluster: a node's cached state follows only the messages it is sent)
        if 0 < len(missing) <= LOAD_INTO_CACHE and not self.settings.redis_url:
            # load them into the cache: the conversation's other members (all reconnecting
            # after a restart, say) then find them there instead of reading storage each
            for state in await asyncio.gather(*(self._cached_or_none(c) for c in missing)):
                if state is not None:
                    docs.append(state.as_doc())
            return docs
        return docs + await self.store.conversations.get_many(missing)

    async def _cached_or_none(self, conversation_id: str) -> Optional[ConvState]:
        try:
            return await self.cache.get(conversation_id)
        except NotFound:  # a membership of a conversation that is gone
            return None

    async def my_memberships(self, ident: Identity) -> Tuple[Dict[str, Dict[str, Any]], List[Dict[str, Any]]]:
        """The caller's memberships and conversation documents, of its token school only."""
        memberships = {m["conversationId"]: m
                       for m in await self.store.conversations.memberships_of_user(ident.user_id)}
        docs = [d for d in await self.live_docs(memberships) if d.get("school") == ident.school]
        return {d["id"]: memberships[d["id"]] for d in docs}, docs
