"""Messages: send (through the writer), history, edit, delete, system messages, imports.

The path of one message: :meth:`MessageActions.send` checks the caller may post and builds
the document; :class:`chat.live.writer.MessageWriter` assigns its seq, stores it in a batch and
calls the event sink's ``message_stored`` (which pushes it to every participant's sockets)
before the sender's answer is returned here.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from chat.auth import BotIdentity, Identity
from chat.domain.core import Core
from chat.domain.oversight.audit import AuditAction
from chat.domain.oversight.retention import own_delete
from chat.domain.safety.gate import Post
from chat.errors import BadRequest, Conflict, Forbidden, NotFound
from chat.events import Audience
from chat.live.convcache import ConvState, summary
from chat.live.unread import UnreadCounter
from chat.rules import policy, render
from chat.rules.validation import NewMessage
from chat.store import new_id
from chat.timeutil import now_ms
from chat.uploads import UploadsService, resolve_attachments
from chat.uploads.lifecycle import message_deleted


class MessageActions:
    def __init__(self, core: Core, counter: UnreadCounter, uploads: Optional[UploadsService] = None) -> None:
        self.core = core
        self.counter = counter
        self.uploads = uploads

    async def send(self, ident: Identity, conversation_id: str, req: NewMessage) -> Tuple[Dict[str, Any], bool]:
        """Store and broadcast a message. Returns (message, created); a retry with a known
        clientMsgId returns the stored message with created=False and changes nothing."""
        state = await self.core.poster(ident, conversation_id)  # a participant, or a bot in its scopes
        bot = isinstance(ident, BotIdentity)
        policy.check_post(state.type, "admin" if bot else state.roles.get(ident.user_id))
        strangers = [u for u in req.mentions if u not in state.roles]
        if strangers:
            raise Conflict("mentions must be participants of this conversation: %s" % ", ".join(strangers[:5]))
        if req.reply_to:
            target = await self.core.store.messages.get(req.reply_to)
            if target is None or target["conversationId"] != conversation_id:
                raise Conflict("replyTo must be a message of this conversation")
        post = Post(req.text, [a.get("name") or "" for a in req.attachments], req.mentions)
        await self.core.safety.check_post(ident, state, post)
        client_msg_id = req.client_msg_id or new_id()
        attachments = req.attachments
        if any("uploadId" in a for a in attachments):
            if self.uploads is None:
                raise BadRequest("uploads are not enabled")
            attachments = await resolve_attachments(self.uploads, ident, attachments, conversation_id, client_msg_id)
        doc: Dict[str, Any] = {
            "id": new_id(), "conversationId": conversation_id, "senderId": ident.user_id,
            "senderName": ident.name, "type": req.type, "text": req.text, "attachments": attachments,
            "replyTo": req.reply_to, "clientMsgId": client_msg_id, "createdAt": now_ms(),
            "editedAt": None, "deletedAt": None,
            # as the gate left them (a blocked sender's mentions of its blocker are dropped)
            "mentions": [u for u in post.mentions if u != ident.user_id]}
        if bot:
            doc["senderKind"] = "bot"  # notifications: bots (rendered as "bot": true)
        if req.forwarded is not None:  # notifications: forwarding (the attribution the client shows)
            doc["forwarded"] = req.forwarded
        stored, created = await self.core.writer.submit(conversation_id, doc, bool(req.client_msg_id))
        if not created:
            if stored["conversationId"] != conversation_id:
                raise Conflict("clientMsgId was already used in another conversation")
            # a retry's answer is the stored message as it is now (edits and reactions since)
            stored = await self.core.store.messages.get(stored["id"]) or stored
            return render.message(stored), created
        view = render.message(stored)
        await self.core.safety.after_post(ident, state, post, view)
        return view, created

    async def post_system(self, ident: Identity, state: ConvState, action: str, text: str,
                          user_ids: List[str], client_msg_id: Optional[str] = None) -> Dict[str, Any]:
        """A server-written ``system`` message (never counted as unread). ``client_msg_id``:
        a key that makes posting it again a no-op (a step resumed after a crash)."""
        doc: Dict[str, Any] = {
            "id": new_id(), "conversationId": state.id, "senderId": ident.user_id, "senderName": ident.name,
            "type": "system", "text": text, "attachments": [], "replyTo": None,
            "clientMsgId": client_msg_id or new_id(),
            "createdAt": now_ms(), "editedAt": None, "deletedAt": None,
            "meta": {"action": action, "userIds": user_ids}}
        stored, _created = await self.core.writer.submit(state.id, doc, client_msg_id is not None)
        return render.message(stored)

    async def history(self, ident: Identity, conversation_id: str, before: Optional[int], after: Optional[int],
                      limit: int) -> Tuple[List[Dict[str, Any]], bool, Optional[int]]:
        """A page by seq, ascending. Without ``after``: the newest before ``before`` and
        ``next`` is the ``before`` of the older page. With ``after``: the oldest after it and
        ``next`` is the ``after`` of the newer page."""
        await self.core.reader(ident, conversation_id, "history")
        docs = await self.core.store.messages.history(conversation_id, before, after, limit + 1)
        has_more = len(docs) > limit
        if has_more:
            docs = docs[:limit] if after is not None else docs[1:]
        page = [render.message(d) for d in docs]
        cursor = None
        if has_more and page:
            cursor = page[-1]["seq"] if after is not None else page[0]["seq"]
        return page, has_more, cursor

    async def around(self, ident: Identity, conversation_id: str, seq: int, limit: int
                     ) -> Tuple[List[Dict[str, Any]], bool, Optional[int], bool]:
        """The page around ``seq`` (search results jump there): ascending, at most ``limit``,
        ``seq`` included, about half older. Returns (page, older exist, the ``before`` cursor of
        the older page, newer exist)."""
        await self.core.reader(ident, conversation_id, "history")
        messages = self.core.store.messages
        older_count = limit // 2
        older = await messages.history(conversation_id, seq + 1, None, older_count + 2)
        newer = await messages.history(conversation_id, None, seq, limit + 1)
        has_more = len(older) > older_count + 1
        older = older[-(older_count + 1):] if older else []
        room = limit - len(older)
        has_newer = len(newer) > room
        docs = older + newer[:room]
        page = [render.message(d) for d in docs]
        return page, has_more, (page[0]["seq"] if has_more and page else None), has_newer

    async def edit(self, ident: Identity, message_id: str, text: str) -> Dict[str, Any]:
        msg, state = await self.core.message(ident, message_id)
        policy.check_edit(msg, ident.user_id)
        await self.core.safety.check_post(ident, state, Post(text, edit_of=message_id))
        updated = await self.core.store.messages.edit(message_id, ident.user_id, text, now_ms())
        if updated is None:
            raise Conflict("the message was deleted")
        if state.last_message and state.last_message.get("id") == message_id:
            state.last_message = summary(updated)
            state.dirty = True
            self.core.flusher.schedule()
        view = render.message(updated)
        self.core.events.message_updated(view, state.audience())
        return view

    async def delete(self, ident: Identity, message_id: str) -> Dict[str, Any]:
        """Soft delete by whoever :func:`chat.rules.policy.may_delete` allows."""
        msg = await self.core.store.messages.get(message_id)
        if msg is None:
            raise NotFound("no such message")
        state = await self.core.cache.get(msg["conversationId"])
        same_school = state.school == ident.school
        participant = same_school and ident.user_id in state.roles
        if not participant and not policy.moderates(ident.role, state.type, same_school):
            raise Forbidden("not a participant of this conversation")
        if not policy.may_delete(msg, ident.user_id, ident.role, state.type, state.roles.get(ident.user_id),
                                 same_school):
            raise Forbidden("you may not delete this message")
        if msg["senderId"] != ident.user_id and msg.get("deletedAt") is None:
            # someone else's message: recorded before it is deleted (chat/domain/oversight/audit.py)
            await self.core.audit.record(ident.user_id, AuditAction.MESSAGE_DELETE, state.school,
                                         {"messageId": msg["id"], "conversationId": state.id},
                                         {"seq": msg["seq"], "authorId": msg["senderId"], "role": ident.role,
                                          "conversationType": state.type})
        return await self.soft_delete(ident, msg, state)

    async def soft_delete(self, ident: Identity, msg: Dict[str, Any], state: ConvState) -> Dict[str, Any]:
        """Soft delete a message the caller was found allowed to delete (by :meth:`delete`, or
        a school moderator acting on a case): the participants see it deleted."""
        message_id = msg["id"]
        result = {"messageId": message_id, "conversationId": state.id, "seq": msg["seq"]}
        if msg.get("deletedAt") is not None:
            return result  # deleting twice is idempotent
        deleted = await self.core.store.messages.soft_delete(message_id, ident.user_id, now_ms())
        if deleted is None:
            return result
        if state.last_message and state.last_message.get("id") == message_id:
            state.last_message = dict(state.last_message, preview=None, deleted=1)
            state.dirty = True
            self.core.flusher.schedule()
        self.core.events.message_deleted(result, state.audience())
        if msg["senderId"] == ident.user_id:  # a member's own delete: its content goes unless a hold keeps it
            await own_delete(self.core, msg, state)
        if self.uploads is not None and not msg.get("forwarded"):  # a forward's files are its original's
            await message_deleted(self.uploads, msg)
        if policy.counts_as_unread(msg, ""):
            await self.core.store.conversations.uncount_deleted(state.id, msg["senderId"], msg["seq"],
                                                                msg.get("mentions") or [])
            for m in await self.core.store.conversations.memberships_of([state.id]):
                if m["userId"] != msg["senderId"] and m.get("lastReadSeq", 0) < msg["seq"]:
                    await self.counter.settle(m, state.last_seq)
                    self.core.events.unread_changed({"conversationId": state.id, "unread": m.get("unread", 0),
                                                     "mentions": m.get("unreadMentions", 0),
                                                     "lastReadSeq": m.get("lastReadSeq", 0)},
                                                    Audience.one(state.school, m["userId"]))
        return result

    async def import_history(self, conversation_id: str, docs: Sequence[Dict[str, Any]]) -> int:
        """Append stored history (imports, benchmarks) past the live seq; returns the first seq."""
        if not docs:
            return 0
        # the writer is idle and lastSeq is on disk before the import reserves seqs
        await self.core.writer.drain()
        await self.core.flusher.flush()
        first = await self.core.writer.reserve_shared(conversation_id, len(docs))  # a cluster's counter
        shared = first is not None
        if first is None:
            first = await self.core.store.conversations.reserve_seqs(conversation_id, len(docs))
        await self.core.store.messages.insert_imported(conversation_id, first, docs)
        if shared:
            # the counter moved, the conversation's lastSeq did not: every node's indexer (and
            # the lists' unread counts) go by the stored lastSeq
            await self.core.store.conversations.raise_last_seq(conversation_id, first + len(docs) - 1)
        self.core.cache.forget(conversation_id)
        return first
