"""ChatService: every rule of the REST API and the socket events, in one place.

Handlers (REST and WebSocket) parse input with :mod:`chat.validation`, call one method
here and render what it returns. The service never touches sockets: whatever must reach
other users goes through the injected ``publish(event, data, user_ids)`` callable, which
the connection manager provides (a no-op without one).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from chat import render
from chat.auth import Identity
from chat.errors import BadRequest, Conflict, Duplicate, Forbidden, NotFound
from chat.settings import Settings
from chat.store import Store, new_id
from chat.timeutil import iso, now_ms
from chat.validation import ConversationPatch, NewConversation, NewMessage, valid_emoji

log = logging.getLogger("chat.service")

Publish = Callable[[str, Dict[str, Any], Iterable[str]], None]
MANAGERS = ("owner", "admin")
MUTE_FOREVER = 2 ** 62


def _no_publish(event: str, data: Dict[str, Any], user_ids: Iterable[str]) -> None:
    return None


class ChatService:
    """The chat domain on top of :class:`Store`."""

    def __init__(self, settings: Settings, store: Store, publish: Optional[Publish] = None,
                 online: Optional[Callable[[str], bool]] = None) -> None:
        self.settings = settings
        self.store = store
        self.publish: Publish = publish or _no_publish
        self.online: Callable[[str], bool] = online or (lambda _user_id: False)
        self._seen: Dict[str, Tuple[str, str, str]] = {}
        self._names: Dict[str, str] = {}
        self._send_locks: Dict[str, List[Any]] = {}  # conversation id -> [lock, holders + waiters]

    # ------------------------------------------------------------------ identities
    async def touch_identity(self, ident: Identity) -> Identity:
        """Upsert the token's user into the directory (once per change, not per request) and
        fill in its display name: token claim, else directory, else id."""
        key = (ident.name, ident.role, ident.school)
        if self._seen.get(ident.user_id) != key:
            await self.store.upsert_user(ident.user_id, ident.name, ident.role, ident.school, now_ms())
            self._seen[ident.user_id] = key
            if ident.name:
                self._names[ident.user_id] = ident.name
            else:
                user = await self.store.get_user(ident.user_id)
                self._names[ident.user_id] = (user or {}).get("name") or ident.user_id
        name = ident.name or self._names.get(ident.user_id) or ident.user_id
        if name == ident.name:
            return ident
        return Identity(ident.user_id, ident.role, ident.school, name, ident.exp)

    async def list_users(self, ident: Identity, q: str, role: str, limit: int) -> List[Dict[str, Any]]:
        """Same-school directory search (for starting conversations)."""
        users = await self.store.find_users(ident.school, q, role, limit)
        return [{"id": u["id"], "name": u.get("name") or u["id"], "role": u["role"], "online": self.online(u["id"])}
                for u in users]

    async def _same_school_users(self, ident: Identity, user_ids: Sequence[str]) -> Dict[str, Dict[str, Any]]:
        users = await self.store.get_users(user_ids)
        for uid in user_ids:
            user = users.get(uid)
            if user is None or user.get("school") != ident.school:
                # one message for both: never reveal whether an id exists in another school
                raise BadRequest("unknown user %s" % uid)
        return users

    # ------------------------------------------------------------------ access
    async def _conversation_for(self, ident: Identity, conversation_id: str
                                ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """The conversation and the caller's membership; 404 unknown, 403 not a participant."""
        conv = await self.store.get_conversation(conversation_id)
        if conv is None:
            raise NotFound("no such conversation")
        if conv.get("school") != ident.school or ident.user_id not in conv.get("memberIds", ()):
            raise Forbidden("not a participant of this conversation")
        membership = await self.store.get_membership(conversation_id, ident.user_id)
        if membership is None:
            raise Forbidden("not a participant of this conversation")
        return conv, membership

    async def member_ids(self, ident: Identity, conversation_id: str) -> List[str]:
        """The participants of a conversation the caller is in (403/404 otherwise)."""
        conv, _membership = await self._conversation_for(ident, conversation_id)
        return list(conv["memberIds"])

    async def _message_for(self, ident: Identity, message_id: str
                           ) -> Tuple[Dict[str, Any], Dict[str, Any], Dict[str, Any]]:
        msg = await self.store.get_message(message_id)
        if msg is None:
            raise NotFound("no such message")
        conv, membership = await self._conversation_for(ident, msg["conversationId"])
        return msg, conv, membership

    async def _view(self, ident: Identity, conv: Dict[str, Any], membership: Optional[Dict[str, Any]] = None
                    ) -> Dict[str, Any]:
        members = await self.store.memberships_of([conv["id"]])
        users = await self.store.get_users(m["userId"] for m in members)
        if membership is None:
            membership = next((m for m in members if m["userId"] == ident.user_id), None)
        return render.conversation(conv, membership, members, users, self.online)

    async def _publish_conversation(self, event: str, conv: Dict[str, Any], user_ids: Iterable[str]) -> None:
        """Push a conversation to each receiver as that receiver sees it."""
        targets = set(user_ids)
        if not targets:
            return
        members = await self.store.memberships_of([conv["id"]])
        users = await self.store.get_users(m["userId"] for m in members)
        by_user = {m["userId"]: m for m in members}
        for uid in targets:
            self.publish(event, render.conversation(conv, by_user.get(uid), members, users), [uid])

    # ------------------------------------------------------------------ conversations
    async def create_conversation(self, ident: Identity, req: NewConversation) -> Tuple[Dict[str, Any], bool]:
        """Create (or, for a direct pair, find) a conversation. Returns (view, created)."""
        now = now_ms()
        conv_id = new_id()
        members: List[Tuple[str, str]]
        if req.type == "direct":
            others = [u for u in req.participant_ids if u != ident.user_id]
            if len(others) != 1 or len(req.participant_ids) > 2:
                raise BadRequest("a direct conversation needs exactly one other user")
            await self._same_school_users(ident, others)
            pair = sorted([ident.user_id, others[0]])
            key = "direct:%s:%s:%s" % (ident.school, pair[0], pair[1])
            members = [(ident.user_id, "member"), (others[0], "member")]
            title, class_id = None, None
        elif req.type == "group":
            others = [u for u in req.participant_ids if u != ident.user_id]
            if len(others) + 1 > self.settings.max_participants:
                raise BadRequest("at most %d participants" % self.settings.max_participants)
            await self._same_school_users(ident, others)
            key = "conv:" + conv_id
            members = [(ident.user_id, "owner")] + [(u, "member") for u in others]
            title, class_id = req.title, None
        else:
            klass = await self.store.get_class(req.class_id or "")
            if klass is None or klass.get("school") != ident.school:
                raise NotFound("no such class")
            teaches = ident.user_id in klass.get("teacherIds", [])
            if not (teaches or ident.role == "admin"):
                raise Forbidden("only a teacher of the class or a school admin may do that")
            key = "conv:" + conv_id
            members = [(ident.user_id, "owner")]
            members += [(t, "admin") for t in klass.get("teacherIds", []) if t != ident.user_id]
            members += [(s, "member") for s in klass.get("studentIds", []) if s != ident.user_id]
            if len(members) > self.settings.max_participants:
                raise BadRequest("the class has more than %d members" % self.settings.max_participants)
            title, class_id = req.title or klass.get("name") or class_id, klass["id"]
        doc = {"id": conv_id, "key": key, "type": req.type, "title": title, "classId": class_id,
               "school": ident.school, "createdBy": ident.user_id, "createdAt": now, "lastSeq": 0,
               "lastActivityAt": now, "lastMessage": None, "memberIds": []}
        conv, created = await self.store.insert_conversation(doc)
        if created:
            await self.store.add_members(conv["id"], members, now)
            conv["memberIds"] = [m[0] for m in members]
            await self._publish_conversation("conversation:created", conv,
                                             [m[0] for m in members if m[0] != ident.user_id])
        return await self._view(ident, conv), created

    async def list_conversations(self, ident: Identity, type_: Optional[str], archived: Optional[bool],
                                 q: Optional[str], limit: int, offset: int
                                 ) -> Tuple[List[Dict[str, Any]], bool]:
        """The caller's conversations: pinned first, then newest activity."""
        memberships = {m["conversationId"]: m for m in await self.store.memberships_of_user(ident.user_id)}
        want_archived = bool(archived)
        convs = [c for c in await self.store.get_conversations(memberships)
                 if (type_ is None or c["type"] == type_)
                 and (memberships[c["id"]].get("archivedAt") is not None) == want_archived]
        members: List[Dict[str, Any]] = []
        users: Dict[str, Dict[str, Any]] = {}
        if q:
            members = await self.store.memberships_of(c["id"] for c in convs)
            users = await self.store.get_users(m["userId"] for m in members)
            needle = q.lower()
            names: Dict[str, List[str]] = {}
            for m in members:
                names.setdefault(m["conversationId"], []).append(render.display_name(m["userId"], users).lower())
            convs = [c for c in convs if needle in (c.get("title") or "").lower()
                     or any(needle in n for n in names.get(c["id"], []))]

        def order(c: Dict[str, Any]) -> Tuple[int, int]:
            pinned = memberships[c["id"]].get("pinnedAt")
            return (-(pinned or 0), -(c.get("lastActivityAt") or 0))
        convs.sort(key=order)
        page = convs[offset:offset + limit]
        if not q:
            members = await self.store.memberships_of(c["id"] for c in page)
            users = await self.store.get_users(m["userId"] for m in members)
        by_conv: Dict[str, List[Dict[str, Any]]] = {}
        for m in members:
            by_conv.setdefault(m["conversationId"], []).append(m)
        views = [render.conversation(c, memberships[c["id"]], by_conv.get(c["id"], []), users, self.online)
                 for c in page]
        return views, len(convs) > offset + limit

    async def get_conversation(self, ident: Identity, conversation_id: str) -> Dict[str, Any]:
        conv, membership = await self._conversation_for(ident, conversation_id)
        return await self._view(ident, conv, membership)

    async def update_conversation(self, ident: Identity, conversation_id: str, patch: ConversationPatch
                                  ) -> Dict[str, Any]:
        """Title (owner/admin, not direct) and the caller's own muted/pinned/archived."""
        conv, membership = await self._conversation_for(ident, conversation_id)
        now = now_ms()
        if patch.title is not None and patch.title != conv.get("title"):
            if conv["type"] == "direct":
                raise BadRequest("a direct conversation has no title")
            if membership.get("role") not in MANAGERS:
                raise Forbidden("only the owner or an admin may rename")
            await self.store.set_conversation_fields(conversation_id, {"title": patch.title})
            conv["title"] = patch.title
            await self._system(ident, conv, "renamed", "%s renamed the conversation to \u201c%s\u201d"
                               % (ident.name, patch.title), [])
            await self._publish_conversation("conversation:updated", conv,
                                             [u for u in conv["memberIds"] if u != ident.user_id])
        mine: Dict[str, Any] = {}
        for flag, field, value in (("muted", "mutedUntil", MUTE_FOREVER), ("pinned", "pinnedAt", now),
                                   ("archived", "archivedAt", now)):
            wanted = getattr(patch, flag)
            if wanted is not None and (membership.get(field) is not None) != wanted:
                mine[field] = value if wanted else None
        if mine:
            await self.store.set_membership_fields(conversation_id, ident.user_id, mine)
            membership.update(mine)
        view = await self._view(ident, conv, membership)
        if mine:
            self.publish("conversation:updated", view, [ident.user_id])  # the caller's other devices
        return view

    async def add_participants(self, ident: Identity, conversation_id: str, user_ids: List[str]) -> Dict[str, Any]:
        conv, membership = await self._conversation_for(ident, conversation_id)
        if conv["type"] == "direct":
            raise BadRequest("a direct conversation takes no participant changes")
        if membership.get("role") not in MANAGERS:
            raise Forbidden("only the owner or an admin may add participants")
        if not user_ids:
            raise BadRequest("userIds must not be empty")
        users = await self._same_school_users(ident, user_ids)
        if len(set(conv["memberIds"]) | set(user_ids)) > self.settings.max_participants:
            raise BadRequest("at most %d participants" % self.settings.max_participants)
        added = await self.store.add_members(conversation_id, [(u, "member") for u in user_ids], now_ms())
        if added:
            before = list(conv["memberIds"])
            conv["memberIds"] = before + added
            names = ", ".join(render.display_name(u, users) for u in added)
            await self._system(ident, conv, "added", "%s added %s" % (ident.name, names), added)
            await self._publish_conversation("conversation:created", conv, added)
            await self._publish_conversation("conversation:updated", conv,
                                             [u for u in before if u != ident.user_id])
        return await self._view(ident, conv, membership)

    async def remove_participant(self, ident: Identity, conversation_id: str, user_id: str) -> Dict[str, Any]:
        """Owner/admin removes anyone; a member removes only itself (leaves)."""
        conv, membership = await self._conversation_for(ident, conversation_id)
        if conv["type"] == "direct":
            raise BadRequest("a direct conversation takes no participant changes")
        leaving = user_id == ident.user_id
        if not leaving and membership.get("role") not in MANAGERS:
            raise Forbidden("only the owner or an admin may remove others")
        if user_id not in conv["memberIds"]:
            raise NotFound("not a participant")
        users = await self.store.get_users([user_id])
        if leaving:
            text = "%s left" % ident.name
        else:
            text = "%s removed %s" % (ident.name, render.display_name(user_id, users))
        # the system message is written while the leaver is still a member, so it reaches them too
        await self._system(ident, conv, "left" if leaving else "removed", text, [user_id])
        await self.store.remove_member(conversation_id, user_id)
        conv["memberIds"] = [u for u in conv["memberIds"] if u != user_id]
        self.publish("conversation:removed", {"conversationId": conversation_id}, [user_id])
        await self._publish_conversation("conversation:updated", conv, conv["memberIds"])
        return {"conversationId": conversation_id, "userId": user_id}

    async def unread(self, ident: Identity) -> Dict[str, Any]:
        """Unread per conversation and the total (muted and archived ones left out of the total)."""
        rows = []
        total = 0
        for m in await self.store.memberships_of_user(ident.user_id):
            rows.append({"conversationId": m["conversationId"], "unread": m.get("unread", 0),
                         "lastReadSeq": m.get("lastReadSeq", 0), "muted": m.get("mutedUntil") is not None})
            if m.get("mutedUntil") is None and m.get("archivedAt") is None:
                total += m.get("unread", 0)
        rows.sort(key=lambda r: r["conversationId"])
        return {"total": total, "conversations": rows}

    # ------------------------------------------------------------------ messages
    async def _store_and_publish(self, conv: Dict[str, Any], doc: Dict[str, Any], check_duplicate: bool
                                 ) -> Tuple[Dict[str, Any], bool]:
        """Persist, then broadcast, in seq order: a per-conversation lock spans the duplicate
        check, the seq assignment, the insert and the push, so pushes leave in exactly seq
        order and a retry racing its original finds it. Returns (stored doc, created)."""
        cid = conv["id"]
        summary = {"id": doc["id"], "senderId": doc["senderId"], "senderName": doc["senderName"],
                   "preview": render.preview(doc), "type": doc["type"], "createdAt": doc["createdAt"]}
        entry = self._send_locks.get(cid)
        if entry is None:
            entry = self._send_locks[cid] = [asyncio.Lock(), 0]
        # counted, not lock.locked(): right after a release the lock reads unlocked while a
        # woken waiter has yet to take it, and dropping it then would let a second lock in
        entry[1] += 1
        try:
            async with entry[0]:
                stored, created = await self.store.store_message(doc, summary, doc["createdAt"], check_duplicate)
                if created:
                    self.publish("message:new", render.message(stored), conv["memberIds"])
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._send_locks[cid]
        return stored, created

    async def _system(self, ident: Identity, conv: Dict[str, Any], action: str, text: str,
                      user_ids: List[str]) -> Dict[str, Any]:
        """A server-written ``system`` message (not counted as unread)."""
        doc = {"id": new_id(), "conversationId": conv["id"], "senderId": ident.user_id, "senderName": ident.name,
               "type": "system", "text": text, "attachments": [], "replyTo": None, "clientMsgId": new_id(),
               "createdAt": now_ms(), "editedAt": None, "deletedAt": None, "meta": {"action": action,
                                                                                   "userIds": user_ids}}
        stored, _created = await self._store_and_publish(conv, doc, check_duplicate=False)
        return render.message(stored)

    async def send_message(self, ident: Identity, conversation_id: str, req: NewMessage
                           ) -> Tuple[Dict[str, Any], bool]:
        """Store and broadcast a message. Returns (message, created); a retry with a known
        clientMsgId returns the stored message with created=False and changes nothing."""
        conv, membership = await self._conversation_for(ident, conversation_id)
        if conv["type"] == "announcement" and membership.get("role") not in MANAGERS:
            raise Forbidden("announcements are read-only for members")
        if req.reply_to:
            target = await self.store.get_message(req.reply_to)
            if target is None or target["conversationId"] != conversation_id:
                raise BadRequest("replyTo must be a message of this conversation")
        doc = {"id": new_id(), "conversationId": conversation_id, "senderId": ident.user_id,
               "senderName": ident.name, "type": req.type, "text": req.text, "attachments": req.attachments,
               "replyTo": req.reply_to, "clientMsgId": req.client_msg_id or new_id(), "createdAt": now_ms(),
               "editedAt": None, "deletedAt": None}
        try:
            stored, created = await self._store_and_publish(conv, doc, check_duplicate=bool(req.client_msg_id))
        except Duplicate:
            # the same clientMsgId raced in through another conversation's lock: the first won
            stored = await self.store.find_by_client_id(ident.user_id, doc["clientMsgId"])
            if stored is None:
                raise
            created = False
        if not created:
            return await self._existing(stored, conversation_id), False
        await self.store.bump_unread(conversation_id, ident.user_id)
        return render.message(stored), True

    async def _existing(self, doc: Dict[str, Any], conversation_id: str) -> Dict[str, Any]:
        if doc["conversationId"] != conversation_id:
            raise Conflict("clientMsgId was already used in another conversation")
        reactions = await self.store.reactions_of([doc["id"]])
        return render.message(doc, reactions.get(doc["id"]))

    async def _render_many(self, docs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        reactions = await self.store.reactions_of(d["id"] for d in docs if d.get("deletedAt") is None)
        return [render.message(d, reactions.get(d["id"])) for d in docs]

    async def history(self, ident: Identity, conversation_id: str, before: Optional[int], after: Optional[int],
                      limit: int) -> Tuple[List[Dict[str, Any]], bool, Optional[int]]:
        """A page by seq, ascending. Without ``after``: the newest before ``before`` and
        ``next`` is the ``before`` of the older page. With ``after``: the oldest after it and
        ``next`` is the ``after`` of the newer page."""
        await self._conversation_for(ident, conversation_id)
        docs = await self.store.history(conversation_id, before, after, limit + 1)
        has_more = len(docs) > limit
        if has_more:
            docs = docs[:limit] if after is not None else docs[1:]
        page = await self._render_many(docs)
        cursor = None
        if has_more and page:
            cursor = page[-1]["seq"] if after is not None else page[0]["seq"]
        return page, has_more, cursor

    async def edit_message(self, ident: Identity, message_id: str, text: str) -> Dict[str, Any]:
        msg, conv, _membership = await self._message_for(ident, message_id)
        if msg["senderId"] != ident.user_id or msg.get("type") == "system":
            raise Forbidden("only the sender may edit a message")
        if msg.get("deletedAt") is not None:
            raise Conflict("the message was deleted")
        updated = await self.store.edit_message(message_id, ident.user_id, text, now_ms())
        if updated is None:
            raise Conflict("the message was deleted")
        view = (await self._render_many([updated]))[0]
        self.publish("message:updated", view, conv["memberIds"])
        return view

    async def delete_message(self, ident: Identity, message_id: str) -> Dict[str, Any]:
        """Soft delete by the sender, a conversation owner/admin, or for class and
        announcement conversations a teacher/admin of the school."""
        msg, conv, membership = await self._message_for(ident, message_id)
        allowed = (msg["senderId"] == ident.user_id or membership.get("role") in MANAGERS
                   or (conv["type"] in ("class", "announcement") and ident.role in ("teacher", "admin")))
        if not allowed:
            raise Forbidden("you may not delete this message")
        result = {"messageId": message_id, "conversationId": conv["id"], "seq": msg["seq"]}
        if msg.get("deletedAt") is not None:
            return result  # deleting twice is idempotent
        if await self.store.delete_message(message_id, ident.user_id, now_ms()) is None:
            return result
        self.publish("message:deleted", result, conv["memberIds"])
        if msg.get("type") != "system":
            for m in await self.store.memberships_of([conv["id"]]):
                if m["userId"] != msg["senderId"] and m.get("lastReadSeq", 0) < msg["seq"]:
                    self.publish("unread:update", {"conversationId": conv["id"], "unread": m.get("unread", 0),
                                                   "lastReadSeq": m.get("lastReadSeq", 0)}, [m["userId"]])
        return result

    async def react(self, ident: Identity, message_id: str, emoji: str, on: bool) -> Dict[str, List[str]]:
        """Add or remove the caller's reaction; returns the message's reactions."""
        emoji = valid_emoji(emoji)
        msg, conv, _membership = await self._message_for(ident, message_id)
        if msg.get("deletedAt") is not None:
            raise Conflict("the message was deleted")
        now = now_ms()
        if on:
            outcome = await self.store.add_reaction(message_id, conv["id"], ident.user_id, emoji, now,
                                                    self.settings.max_reaction_emojis)
            if outcome == "too_many":
                raise BadRequest("at most %d different reactions per message" % self.settings.max_reaction_emojis)
            changed = outcome == "added"
        else:
            changed = await self.store.remove_reaction(message_id, ident.user_id, emoji, now)
        reactions = (await self.store.reactions_of([message_id])).get(message_id, {})
        if changed:
            msg["updatedAt"] = now
            self.publish("message:updated", render.message(msg, reactions), conv["memberIds"])
        return reactions

    async def mark(self, ident: Identity, conversation_id: str, seq: int, kind: str) -> Dict[str, Any]:
        """Move the caller's read or delivered marker forward (never back, never past lastSeq)."""
        conv, before = await self._conversation_for(ident, conversation_id)
        seq = min(seq, conv.get("lastSeq", 0))
        after = await self.store.advance_marker(conversation_id, ident.user_id, kind, seq, now_ms())
        if after is None:
            raise Forbidden("not a participant of this conversation")
        field = "lastReadSeq" if kind == "read" else "lastDeliveredSeq"
        moved = after.get(field, 0) > before.get(field, 0)
        if moved:
            at = after.get("lastReadAt" if kind == "read" else "lastDeliveredAt")
            self.publish("message:status", {"conversationId": conversation_id, "seq": after[field],
                                            "userId": ident.user_id, "status": kind, "at": iso(at)},
                         conv["memberIds"])
        result = {"conversationId": conversation_id, "unread": after.get("unread", 0),
                  "lastReadSeq": after.get("lastReadSeq", 0), "lastDeliveredSeq": after.get("lastDeliveredSeq", 0)}
        if kind == "read" and (moved or after.get("unread") != before.get("unread")):
            self.publish("unread:update", {"conversationId": conversation_id, "unread": result["unread"],
                                           "lastReadSeq": result["lastReadSeq"]}, [ident.user_id])
        return result

    async def receipts(self, ident: Identity, message_id: str) -> Dict[str, Any]:
        """Per other participant: delivered/read with the time its marker last moved."""
        msg, conv, _membership = await self._message_for(ident, message_id)
        members = await self.store.memberships_of([conv["id"]])
        users = await self.store.get_users(m["userId"] for m in members)
        rows = []
        for m in sorted(members, key=lambda m: m["userId"]):
            if m["userId"] == msg["senderId"]:
                continue
            read = m.get("lastReadSeq", 0) >= msg["seq"]
            delivered = read or m.get("lastDeliveredSeq", 0) >= msg["seq"]
            rows.append({"userId": m["userId"], "name": render.display_name(m["userId"], users),
                         "status": "read" if read else "delivered" if delivered else "sent",
                         "delivered": delivered, "deliveredAt": iso(m.get("lastDeliveredAt")) if delivered else None,
                         "read": read, "readAt": iso(m.get("lastReadAt")) if read else None})
        return {"messageId": message_id, "conversationId": conv["id"], "seq": msg["seq"], "receipts": rows}

    async def search(self, ident: Identity, q: str, conversation_id: Optional[str], limit: int
                     ) -> List[Dict[str, Any]]:
        q = q.strip()
        if len(q) < 2:
            raise BadRequest("q must be at least 2 characters")
        if len(q) > 200:
            raise BadRequest("q must be at most 200 characters")
        if conversation_id:
            conv, _membership = await self._conversation_for(ident, conversation_id)
            convs = [conv]
        else:
            ids = [m["conversationId"] for m in await self.store.memberships_of_user(ident.user_id)]
            convs = await self.store.get_conversations(ids)
        scope = [(c["id"], c.get("lastSeq", 0)) for c in convs if c.get("lastSeq", 0) > 0]
        return await self._render_many(await self.store.search(scope, q, limit, self.settings.search_chunk))

    async def sync(self, ident: Identity, seen: Dict[str, int], changed_since: Optional[int], limit: int
                   ) -> Dict[str, Any]:
        """Messages after the last seq seen per conversation (ascending, at most ``limit``
        each, ``hasMore`` per conversation), and those changed since ``changed_since``."""
        memberships = {m["conversationId"]: m for m in await self.store.memberships_of_user(ident.user_id)}
        messages: List[Dict[str, Any]] = []
        has_more: Dict[str, bool] = {}
        for cid, last in seen.items():
            if cid not in memberships:
                has_more[cid] = False
                continue
            docs = await self.store.history(cid, None, last, limit + 1)
            has_more[cid] = len(docs) > limit
            messages.extend(await self._render_many(docs[:limit]))
        changed: List[Dict[str, Any]] = []
        if changed_since is not None:
            docs = await self.store.changed_since(list(memberships), changed_since, 1000)
            changed = await self._render_many(docs)
        return {"messages": messages, "changed": changed, "hasMore": has_more}
