"""Forwarding: a message of one conversation sent again into another the caller may post in
(README "Forwarding").

The forward is an ordinary send by the forwarder (:meth:`chat.domain.messages.MessageActions.send`:
the target's policy, filters, quiet hours, blocks and mutes apply), carrying a structured
attribution ``forwarded: {conversationId, conversationTitle, authorId, authorName, at, messageId}``
(a forward of a forward keeps the first one: the author stays the original author, an
announcement's included). Attachments are carried by reference: the stored metadata is copied
into the new message, never the bytes; the upload keeps its one owner and claim, and
:meth:`ForwardActions.carries` lets the members of the target read it while both messages are live
(an original deleted or removed by retention withdraws its files from every forward).
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.messages import MessageActions
from chat.errors import ChatError, Conflict, MessageGone
from chat.rules.forwarding import Forward
from chat.rules.validation import NewMessage
from chat.store import new_id
from chat.timeutil import iso


class ForwardActions:
    def __init__(self, core: Core, messages: MessageActions) -> None:
        self.core = core
        self.messages = messages

    async def forward(self, ident: Identity, message_id: str, fwd: Forward) -> Tuple[Dict[str, Any], bool]:
        """Forward a message the caller can read (as a participant) into ``fwd.conversation_id``.
        Returns (the new message, created); a retry with the same clientMsgId stores nothing."""
        msg, source = await self.core.message(ident, message_id)
        if msg.get("deletedAt") is not None or msg.get("purgedAt") is not None:
            reason = msg.get("deletedReason") or "deleted"
            raise MessageGone("the message was %s and cannot be forwarded"
                              % ("removed by the school's retention" if reason == "retention" else "deleted"))
        if msg.get("type") == "system":
            raise Conflict("a system message cannot be forwarded")
        attribution = msg.get("forwarded") or {
            "conversationId": source.id, "conversationTitle": source.doc.get("title"),
            "conversationType": source.type, "authorId": msg["senderId"],
            "authorName": msg.get("senderName") or msg["senderId"], "at": iso(msg["createdAt"]),
            "messageId": msg["id"]}
        attachments = [dict(a) for a in msg.get("attachments") or [] if isinstance(a, dict)]
        client_msg_id = fwd.client_msg_id or new_id()
        uploads = [a["id"] for a in attachments if isinstance(a.get("id"), str)]
        req = NewMessage(str(msg.get("text") or ""), str(msg.get("type") or "text"), attachments, client_msg_id,
                         None, [], forwarded=dict(attribution))
        if not uploads:
            return await self.messages.send(ident, fwd.conversation_id, req)
        await self.core.poster(ident, fwd.conversation_id)  # a target the caller may not post in: no row
        # before the send: the target's members may fetch them once message:new arrives
        await self.core.store.forwards.add(uploads, fwd.conversation_id, ident.user_id, client_msg_id,
                                           int(self.core.clock.time() * 1000))
        try:
            return await self.messages.send(ident, fwd.conversation_id, req)
        except ChatError:  # refused (policy, filters, blocks...): the rows go, unless an earlier try stored it
            if await self.core.store.messages.find_by_client_id(ident.user_id, client_msg_id) is None:
                await self.core.store.forwards.remove(uploads, fwd.conversation_id, client_msg_id)
            raise

    async def carries(self, meta: Dict[str, Any], ident: Identity) -> bool:
        """Whether a live forward carrying this upload is in a conversation ``ident`` takes part in
        (the download rule's answer for the target's members; the original is checked first)."""
        store = self.core.store
        for record in await store.forwards.of_upload(meta["id"]):
            try:  # a participant in the caller's school (as every read is)
                await self.core.participant(ident, record["conversationId"])
            except ChatError:
                continue
            message = await store.messages.find_by_client_id(record["senderId"], record["clientMsgId"])
            if (message is not None and message.get("deletedAt") is None
                    and message.get("conversationId") == record["conversationId"]
                    and any(isinstance(a, dict) and a.get("id") == meta["id"]
                            for a in message.get("attachments") or [])):
                return True
        return False
