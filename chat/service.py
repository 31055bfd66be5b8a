"""ChatService: every rule of the REST API and the socket events, in one place.

Handlers (REST and WebSocket) parse input with :mod:`chat.validation`, call one method
here and render what it returns. The service never touches sockets: whatever must reach
other users goes through the injected ``publish(event, data, user_ids)`` callable.

Hot path. One process owns a database (the deployment model: one process per school
server), so the service keeps the state of active conversations in memory
(:class:`ConvState`: members and roles, ``lastSeq``, ``lastMessage``) and writes messages
through one group-commit writer: every send queued while a batch is being written goes into
the next batch, which costs one duplicate check and one ``insert_many`` whatever its size.
Seqs are assigned by the writer in queue order and the batch is broadcast after it is
stored, in seq order. ``lastSeq``/``lastMessage`` are written behind (``$max``, at most
``conversation_flush`` seconds later and at shutdown) and recovered from the newest stored
message when a conversation is loaded, so an unclean stop loses nothing. Unread counters
are not touched per message: each membership counts what arrived since it last looked
(``unreadSeq``), when its owner looks.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from chat import render
from chat.auth import Identity
from chat.errors import BadRequest, ChatError, Conflict, Duplicate, Forbidden, NotFound, Unavailable
from chat.settings import Settings
from chat.store import Store, new_id
from chat.timeutil import iso, now_ms
from chat.validation import ConversationPatch, NewConversation, NewMessage, valid_emoji

log = logging.getLogger("chat.service")

Publish = Callable[[str, Dict[str, Any], Iterable[str]], None]
MANAGERS = ("owner", "admin")
MUTE_FOREVER = 2 ** 62
MAX_BATCH = 1000
MAX_CACHED = 20000
RECENT_IDS = 50000  # (sender, clientMsgId) of recent stores: most retries are answered from memory


def _no_publish(event: str, data: Dict[str, Any], user_ids: Iterable[str]) -> None:
    return None


@dataclasses.dataclass
class ConvState:
    """An active conversation as the writer knows it (authoritative for lastSeq/lastMessage)."""

    doc: Dict[str, Any]
    roles: Dict[str, str]
    last_seq: int
    last_message: Optional[Dict[str, Any]]
    last_activity: int
    dirty: bool = False

    @property
    def id(self) -> str:
        return self.doc["id"]

    @property
    def member_ids(self) -> List[str]:
        return list(self.roles)

    def as_doc(self) -> Dict[str, Any]:
        """The conversation document with the live fields."""
        doc = dict(self.doc)
        doc.update(lastSeq=self.last_seq, lastMessage=self.last_message, lastActivityAt=self.last_activity,
                   memberIds=self.member_ids)
        return doc


@dataclasses.dataclass
class _Send:
    state: ConvState
    doc: Dict[str, Any]
    check_duplicate: bool
    future: "asyncio.Future[Tuple[Dict[str, Any], bool]]"


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
        self._states: Dict[str, ConvState] = {}
        self._loading: Dict[str, "asyncio.Future[ConvState]"] = {}
        self._queue: List[_Send] = []
        self._writing: Set[str] = set()  # conversations of the batch being written
        self._recent: "collections.OrderedDict[Tuple[str, str], Dict[str, Any]]" = collections.OrderedDict()
        self._writer: Optional["asyncio.Task[None]"] = None
        self._last_write = 0.0
        self._flush_timer: Optional[asyncio.TimerHandle] = None
        self._flushing: Optional["asyncio.Task[None]"] = None

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

    # ------------------------------------------------------------------ conversation state
    async def _state(self, conversation_id: str) -> ConvState:
        """The cached state of a conversation, loaded once (404 for unknown ids)."""
        state = self._states.get(conversation_id)
        if state is not None:
            return state
        pending = self._loading.get(conversation_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: "asyncio.Future[ConvState]" = asyncio.get_running_loop().create_future()
        self._loading[conversation_id] = future
        try:
            doc = await self.store.get_conversation(conversation_id)
            if doc is None:
                raise NotFound("no such conversation")
            members = await self.store.memberships_of([conversation_id])
            newest = await self.store.newest_message(conversation_id)
            last_seq, last_message, activity = doc.get("lastSeq", 0), doc.get("lastMessage"), doc.get("lastActivityAt", 0)
            if newest is not None and newest["seq"] > last_seq:  # written behind and not flushed: recover
                last_seq, last_message, activity = newest["seq"], self._summary(newest), newest["createdAt"]
            state = ConvState(doc, {m["userId"]: m.get("role", "member") for m in sorted(
                members, key=lambda m: (m.get("joinedAt", 0), m["userId"]))}, last_seq, last_message, activity)
            if len(self._states) >= MAX_CACHED:
                self._evict()
            self._states[conversation_id] = state
            future.set_result(state)
            return state
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it through shield
            raise
        finally:
            del self._loading[conversation_id]

    def _evict(self) -> None:
        # never a conversation with unflushed state or messages queued or being written: a reload
        # would not see them yet and would hand out their seqs again
        busy = {item.state.id for item in self._queue} | self._writing
        idle = [cid for cid, st in self._states.items() if not st.dirty and cid not in busy]
        for cid in idle[:max(1, MAX_CACHED // 10)]:
            del self._states[cid]

    def forget(self, conversation_id: str) -> None:
        """Drop a cached state (after writes made outside the service, e.g. a history import)."""
        state = self._states.pop(conversation_id, None)
        if state is not None and state.dirty:
            self._states[conversation_id] = state  # unflushed: keep it, it is authoritative

    @staticmethod
    def _summary(doc: Dict[str, Any]) -> Dict[str, Any]:
        return {"id": doc["id"], "senderId": doc["senderId"], "senderName": doc.get("senderName"),
                "preview": render.preview(doc), "type": doc.get("type", "text"), "createdAt": doc["createdAt"]}

    async def _participant(self, ident: Identity, conversation_id: str) -> ConvState:
        """The conversation if the caller takes part in it; 404 unknown, 403 otherwise."""
        state = await self._state(conversation_id)
        if state.doc.get("school") != ident.school or ident.user_id not in state.roles:
            raise Forbidden("not a participant of this conversation")
        return state

    async def _conversation_for(self, ident: Identity, conversation_id: str
                                ) -> Tuple[ConvState, Dict[str, Any]]:
        """The conversation and the caller's stored membership (markers, flags)."""
        state = await self._participant(ident, conversation_id)
        membership = await self.store.get_membership(conversation_id, ident.user_id)
        if membership is None:
            raise Forbidden("not a participant of this conversation")
        return state, membership

    async def member_ids(self, ident: Identity, conversation_id: str) -> List[str]:
        """The participants of a conversation the caller is in (403/404 otherwise)."""
        return (await self._participant(ident, conversation_id)).member_ids

    async def _message_for(self, ident: Identity, message_id: str) -> Tuple[Dict[str, Any], ConvState]:
        msg = await self.store.get_message(message_id)
        if msg is None:
            raise NotFound("no such message")
        return msg, await self._participant(ident, msg["conversationId"])

    async def _docs_with_live_state(self, conversation_ids: Iterable[str]) -> List[Dict[str, Any]]:
        """Conversation documents, with the live fields of cached ones."""
        ids = list(conversation_ids)
        cached = [self._states[c].as_doc() for c in ids if c in self._states]
        missing = [c for c in ids if c not in self._states]
        return cached + await self.store.get_conversations(missing)

    async def _fresh_unread(self, memberships: Sequence[Dict[str, Any]], last_seqs: Dict[str, int]) -> None:
        """Catch up the unread counters that are behind their conversation (in place)."""
        stale = [(m, last_seqs[m["conversationId"]]) for m in memberships
                 if last_seqs.get(m["conversationId"], 0) > m.get("unreadSeq", m.get("lastReadSeq", 0))]
        if stale:
            await self.store.catch_up_unread(stale)

    async def _view(self, ident: Identity, state: ConvState) -> Dict[str, Any]:
        members = await self.store.memberships_of([state.id])
        await self._fresh_unread(members, {state.id: state.last_seq})
        users = await self.store.get_users(m["userId"] for m in members)
        membership = next((m for m in members if m["userId"] == ident.user_id), None)
        return render.conversation(state.as_doc(), membership, members, users, self.online)

    async def _publish_conversation(self, event: str, state: ConvState, user_ids: Iterable[str]) -> None:
        """Push a conversation to each receiver as that receiver sees it."""
        targets = set(user_ids)
        if not targets:
            return
        members = await self.store.memberships_of([state.id])
        users = await self.store.get_users(m["userId"] for m in members)
        by_user = {m["userId"]: m for m in members}
        doc = state.as_doc()
        for uid in targets:
            self.publish(event, render.conversation(doc, by_user.get(uid), members, users), [uid])

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
        doc: Dict[str, Any] = {"id": conv_id, "key": key, "type": req.type, "title": title, "classId": class_id,
               "school": ident.school, "createdBy": ident.user_id, "createdAt": now, "lastSeq": 0,
               "lastActivityAt": now, "lastMessage": None, "memberIds": []}
        conv, created = await self.store.insert_conversation(doc)
        if created:
            await self.store.add_members(conv["id"], members, now)
        state = await self._state(conv["id"])
        if created:
            await self._publish_conversation("conversation:created", state,
                                             [m[0] for m in members if m[0] != ident.user_id])
        elif ident.user_id not in state.roles:
            raise Forbidden("not a participant of this conversation")
        return await self._view(ident, state), created

    async def list_conversations(self, ident: Identity, type_: Optional[str], archived: Optional[bool],
                                 q: Optional[str], limit: int, offset: int
                                 ) -> Tuple[List[Dict[str, Any]], bool]:
        """The caller's conversations: pinned first, then newest activity."""
        memberships = {m["conversationId"]: m for m in await self.store.memberships_of_user(ident.user_id)}
        want_archived = bool(archived)
        convs = [c for c in await self._docs_with_live_state(memberships)
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
        await self._fresh_unread([memberships[c["id"]] for c in page], {c["id"]: c.get("lastSeq", 0) for c in page})
        if not q:
            members = await self.store.memberships_of(c["id"] for c in page)
            users = await self.store.get_users(m["userId"] for m in members)
        by_conv: Dict[str, List[Dict[str, Any]]] = {}
        for m in members:
            if m["userId"] == ident.user_id:
                m = memberships[m["conversationId"]]  # the caught-up one
            by_conv.setdefault(m["conversationId"], []).append(m)
        views = [render.conversation(c, memberships[c["id"]], by_conv.get(c["id"], []), users, self.online)
                 for c in page]
        return views, len(convs) > offset + limit

    async def get_conversation(self, ident: Identity, conversation_id: str) -> Dict[str, Any]:
        return await self._view(ident, await self._participant(ident, conversation_id))

    async def update_conversation(self, ident: Identity, conversation_id: str, patch: ConversationPatch
                                  ) -> Dict[str, Any]:
        """Title (owner/admin, not direct) and the caller's own muted/pinned/archived."""
        state, membership = await self._conversation_for(ident, conversation_id)
        now = now_ms()
        if patch.title is not None and patch.title != state.doc.get("title"):
            if state.doc["type"] == "direct":
                raise BadRequest("a direct conversation has no title")
            if membership.get("role") not in MANAGERS:
                raise Forbidden("only the owner or an admin may rename")
            await self.store.set_conversation_fields(conversation_id, {"title": patch.title})
            state.doc["title"] = patch.title
            await self._system(ident, state, "renamed", "%s renamed the conversation to \u201c%s\u201d"
                               % (ident.name, patch.title), [])
            await self._publish_conversation("conversation:updated", state,
                                             [u for u in state.roles if u != ident.user_id])
        mine: Dict[str, Any] = {}
        for flag, field, value in (("muted", "mutedUntil", MUTE_FOREVER), ("pinned", "pinnedAt", now),
                                   ("archived", "archivedAt", now)):
            wanted = getattr(patch, flag)
            if wanted is not None and (membership.get(field) is not None) != wanted:
                mine[field] = value if wanted else None
        if mine:
            await self.store.set_membership_fields(conversation_id, ident.user_id, mine)
        view = await self._view(ident, state)
        if mine:
            self.publish("conversation:updated", view, [ident.user_id])  # the caller's other devices
        return view

    async def add_participants(self, ident: Identity, conversation_id: str, user_ids: List[str]) -> Dict[str, Any]:
        state, membership = await self._conversation_for(ident, conversation_id)
        if state.doc["type"] == "direct":
            raise BadRequest("a direct conversation takes no participant changes")
        if membership.get("role") not in MANAGERS:
            raise Forbidden("only the owner or an admin may add participants")
        if not user_ids:
            raise BadRequest("userIds must not be empty")
        users = await self._same_school_users(ident, user_ids)
        if len(set(state.roles) | set(user_ids)) > self.settings.max_participants:
            raise BadRequest("at most %d participants" % self.settings.max_participants)
        added = await self.store.add_members(conversation_id, [(u, "member") for u in user_ids], now_ms(),
                                             read_upto=state.last_seq)
        if added:
            before = list(state.roles)
            for uid in added:
                state.roles[uid] = "member"
            names = ", ".join(render.display_name(u, users) for u in added)
            await self._system(ident, state, "added", "%s added %s" % (ident.name, names), added)
            await self._publish_conversation("conversation:created", state, added)
            await self._publish_conversation("conversation:updated", state, [u for u in before if u != ident.user_id])
        return await self._view(ident, state)

    async def remove_participant(self, ident: Identity, conversation_id: str, user_id: str) -> Dict[str, Any]:
        """Owner/admin removes anyone; a member removes only itself (leaves)."""
        state, membership = await self._conversation_for(ident, conversation_id)
        if state.doc["type"] == "direct":
            raise BadRequest("a direct conversation takes no participant changes")
        leaving = user_id == ident.user_id
        if not leaving and membership.get("role") not in MANAGERS:
            raise Forbidden("only the owner or an admin may remove others")
        if user_id not in state.roles:
            raise NotFound("not a participant")
        users = await self.store.get_users([user_id])
        if leaving:
            text = "%s left" % ident.name
        else:
            text = "%s removed %s" % (ident.name, render.display_name(user_id, users))
        # the system message is written while the leaver is still a member, so it reaches them too
        await self._system(ident, state, "left" if leaving else "removed", text, [user_id])
        await self.store.remove_member(conversation_id, user_id)
        state.roles.pop(user_id, None)
        self.publish("conversation:removed", {"conversationId": conversation_id}, [user_id])
        await self._publish_conversation("conversation:updated", state, state.member_ids)
        return {"conversationId": conversation_id, "userId": user_id}

    async def unread(self, ident: Identity) -> Dict[str, Any]:
        """Unread per conversation and the total (muted and archived ones left out of the total)."""
        memberships = await self.store.memberships_of_user(ident.user_id)
        docs = await self._docs_with_live_state(m["conversationId"] for m in memberships)
        await self._fresh_unread(memberships, {d["id"]: d.get("lastSeq", 0) for d in docs})
        rows = []
        total = 0
        for m in memberships:
            rows.append({"conversationId": m["conversationId"], "unread": m.get("unread", 0),
                         "lastReadSeq": m.get("lastReadSeq", 0), "muted": m.get("mutedUntil") is not None})
            if m.get("mutedUntil") is None and m.get("archivedAt") is None:
                total += m.get("unread", 0)
        rows.sort(key=lambda r: r["conversationId"])
        return {"total": total, "conversations": rows}

    # ------------------------------------------------------------------ the send pipeline
    async def _submit(self, state: ConvState, doc: Dict[str, Any], check_duplicate: bool
                      ) -> Tuple[Dict[str, Any], bool]:
        """Queue a message for the writer; resolves with (stored doc, created) once it is
        durably stored (and broadcast), or raises."""
        future: "asyncio.Future[Tuple[Dict[str, Any], bool]]" = asyncio.get_running_loop().create_future()
        self._queue.append(_Send(state, doc, check_duplicate, future))
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_loop())
        return await future

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        linger = self.settings.write_linger
        try:
            while self._queue:
                if linger and len(self._queue) < MAX_BATCH and loop.time() - self._last_write < 0.05:
                    # busy: let the batch fill a little, a batch costs the database about as much as
                    # two messages, so small batches would spend most of it on overhead
                    await asyncio.sleep(linger)
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                self._writing = {item.state.id for item in batch}
                try:
                    await self._write_batch(batch)
                except Exception as exc:  # never leave a sender waiting
                    log.exception("writing a batch of %d messages failed", len(batch))
                    error = exc if isinstance(exc, ChatError) else Unavailable()
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(error)
                self._writing = set()
                self._last_write = loop.time()
        finally:
            self._writing = set()
            self._writer = None

    async def _write_batch(self, batch: List[_Send]) -> None:
        """One batch: seqs assigned in queue order, one ``insert_many``, then the broadcast in
        seq order and the answers.

        Retries are found in memory when recent; otherwise the unique (senderId, clientMsgId)
        index refuses them at the insert, which reports where: the refused message is answered
        with the stored one and the rest of its conversation is renumbered, so no seq is ever
        skipped. No query runs before the insert.
        """
        fresh: List[_Send] = []
        first_of: Dict[Tuple[str, str], _Send] = {}
        for item in batch:
            key = (item.doc["senderId"], item.doc["clientMsgId"])
            known = self._recent.get(key) if item.check_duplicate else None
            if known is not None:
                item.future.set_result((known, False))
            elif key not in first_of:
                first_of[key] = item
                fresh.append(item)
        if not fresh:
            return
        states = {item.state.id: item.state for item in fresh}
        before = {cid: (st.last_seq, st.last_message, st.last_activity) for cid, st in states.items()}
        for item in fresh:
            item.state.last_seq += 1
            item.doc["seq"] = item.state.last_seq
        stored: List[_Send] = []
        pending = fresh
        try:
            while pending:
                try:
                    await self.store.insert_messages([item.doc for item in pending])
                    stored.extend(pending)
                    break
                except Duplicate as dup:
                    if dup.field != "clientMsgId" or dup.index is None:
                        raise Unavailable("the conversation changed underneath; retry") from dup
                    stored.extend(pending[:dup.index])
                    refused = pending[dup.index]
                    original = await self.store.find_by_client_id(refused.doc["senderId"], refused.doc["clientMsgId"])
                    if original is None:
                        raise Unavailable("retry") from dup
                    refused.future.set_result((original, False))
                    pending = pending[dup.index + 1:]
                    for item in pending:  # close the gap the refused one would leave
                        if item.state is refused.state:
                            item.doc["seq"] -= 1
                    refused.state.last_seq -= 1
        except Exception:
            # unacknowledged: put the counters back and reload these conversations from storage
            # (whatever a failed insert did store is found again as the newest message)
            for cid, st in states.items():
                st.last_seq, st.last_message, st.last_activity = before[cid]
                self._states.pop(cid, None)
            raise
        for item in stored:
            state = item.state
            state.last_message = self._summary(item.doc)
            state.last_activity = max(state.last_activity, item.doc["createdAt"])
            state.dirty = True
            self._remember(item.doc)
            self.publish("message:new", render.message(item.doc), state.member_ids)
            item.future.set_result((item.doc, True))
        for item in batch:
            if not item.future.done():  # a duplicate of one stored in this batch: a retry's answer
                item.future.set_result((first_of[(item.doc["senderId"], item.doc["clientMsgId"])].doc, False))
        self._schedule_flush()

    def _remember(self, doc: Dict[str, Any]) -> None:
        self._recent[(doc["senderId"], doc["clientMsgId"])] = doc
        if len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)

    def _schedule_flush(self) -> None:
        if self._flush_timer is None and self._flushing is None:
            self._flush_timer = asyncio.get_running_loop().call_later(
                self.settings.conversation_flush, lambda: setattr(self, "_flushing", asyncio.ensure_future(
                    self._flush_soon())))

    async def _flush_soon(self) -> None:
        self._flush_timer = None
        try:
            await self.flush()
        except ChatError:
            log.warning("could not write conversation state; will retry")
        finally:
            self._flushing = None
            if any(st.dirty for st in self._states.values()):
                self._schedule_flush()

    async def flush(self) -> None:
        """Write the live ``lastSeq``/``lastMessage``/``lastActivityAt`` of changed conversations."""
        dirty = [st for st in self._states.values() if st.dirty]
        if not dirty:
            return
        for st in dirty:
            st.dirty = False
        try:
            await self.store.flush_conversations([(st.id, st.last_seq, st.last_message, st.last_activity)
                                                  for st in dirty])
        except ChatError:
            for st in dirty:
                st.dirty = True
            raise

    async def close(self) -> None:
        """Finish queued sends and write the conversation state (at shutdown)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        await self.flush()

    # ------------------------------------------------------------------ messages
    async def _system(self, ident: Identity, state: ConvState, action: str, text: str,
                      user_ids: List[str]) -> Dict[str, Any]:
        """A server-written ``system`` message (not counted as unread)."""
        doc: Dict[str, Any] = {
               "id": new_id(), "conversationId": state.id, "senderId": ident.user_id, "senderName": ident.name,
               "type": "system", "text": text, "attachments": [], "replyTo": None, "clientMsgId": new_id(),
               "createdAt": now_ms(), "editedAt": None, "deletedAt": None,
               "meta": {"action": action, "userIds": user_ids}}
        stored, _created = await self._submit(state, doc, check_duplicate=False)
        return render.message(stored)

    async def send_message(self, ident: Identity, conversation_id: str, req: NewMessage
                           ) -> Tuple[Dict[str, Any], bool]:
        """Store and broadcast a message. Returns (message, created); a retry with a known
        clientMsgId returns the stored message with created=False and changes nothing."""
        state = await self._participant(ident, conversation_id)
        if state.doc["type"] == "announcement" and state.roles.get(ident.user_id) not in MANAGERS:
            raise Forbidden("announcements are read-only for members")
        if req.reply_to:
            target = await self.store.get_message(req.reply_to)
            if target is None or target["conversationId"] != conversation_id:
                raise BadRequest("replyTo must be a message of this conversation")
        doc: Dict[str, Any] = {"id": new_id(), "conversationId": conversation_id, "senderId": ident.user_id,
               "senderName": ident.name, "type": req.type, "text": req.text, "attachments": req.attachments,
               "replyTo": req.reply_to, "clientMsgId": req.client_msg_id or new_id(), "createdAt": now_ms(),
               "editedAt": None, "deletedAt": None}
        stored, created = await self._submit(state, doc, check_duplicate=bool(req.client_msg_id))
        if not created:
            if stored["conversationId"] != conversation_id:
                raise Conflict("clientMsgId was already used in another conversation")
            # a retry's answer is the stored message as it is now (edits and reactions since)
            stored = await self.store.get_message(stored["id"]) or stored
        return render.message(stored), created

    async def _render_many(self, docs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        return [render.message(d) for d in docs]

    async def history(self, ident: Identity, conversation_id: str, before: Optional[int], after: Optional[int],
                      limit: int) -> Tuple[List[Dict[str, Any]], bool, Optional[int]]:
        """A page by seq, ascending. Without ``after``: the newest before ``before`` and
        ``next`` is the ``before`` of the older page. With ``after``: the oldest after it and
        ``next`` is the ``after`` of the newer page."""
        await self._participant(ident, conversation_id)
        docs = await self.store.history(conversation_id, before, after, limit + 1)
        has_more = len(docs) > limit
        if has_more:
            docs = docs[:limit] if after is not None else docs[1:]
        page = await self._render_many(docs)
        cursor = None
        if has_more and page:
            cursor = page[-1]["seq"] if after is not None else page[0]["seq"]
        return page, has_more, cursor

    async def import_messages(self, conversation_id: str, docs: Sequence[Dict[str, Any]]) -> int:
        """Append stored history (imports, benchmarks) past the live seq; returns the first seq."""
        await self.close()  # the writer is idle and lastSeq is on disk before the import reserves seqs
        first = await self.store.import_messages(conversation_id, docs)
        self.forget(conversation_id)
        return first

    async def edit_message(self, ident: Identity, message_id: str, text: str) -> Dict[str, Any]:
        msg, state = await self._message_for(ident, message_id)
        if msg["senderId"] != ident.user_id or msg.get("type") == "system":
            raise Forbidden("only the sender may edit a message")
        if msg.get("deletedAt") is not None:
            raise Conflict("the message was deleted")
        updated = await self.store.edit_message(message_id, ident.user_id, text, now_ms())
        if updated is None:
            raise Conflict("the message was deleted")
        if state.last_message and state.last_message.get("id") == message_id:
            state.last_message = self._summary(updated)
            state.dirty = True
            self._schedule_flush()
        view = (await self._render_many([updated]))[0]
        self.publish("message:updated", view, state.member_ids)
        return view

    async def delete_message(self, ident: Identity, message_id: str) -> Dict[str, Any]:
        """Soft delete by the sender, a conversation owner/admin, or for class and
        announcement conversations a teacher/admin of the school."""
        msg, state = await self._message_for(ident, message_id)
        allowed = (msg["senderId"] == ident.user_id or state.roles.get(ident.user_id) in MANAGERS
                   or (state.doc["type"] in ("class", "announcement") and ident.role in ("teacher", "admin")))
        if not allowed:
            raise Forbidden("you may not delete this message")
        result = {"messageId": message_id, "conversationId": state.id, "seq": msg["seq"]}
        if msg.get("deletedAt") is not None:
            return result  # deleting twice is idempotent
        if await self.store.delete_message(message_id, ident.user_id, now_ms()) is None:
            return result
        if state.last_message and state.last_message.get("id") == message_id:
            state.last_message = dict(state.last_message, preview=None, deleted=1)
            state.dirty = True
            self._schedule_flush()
        self.publish("message:deleted", result, state.member_ids)
        if msg.get("type") != "system":
            members = await self.store.memberships_of([state.id])
            for m in members:
                if m["userId"] != msg["senderId"] and m.get("lastReadSeq", 0) < msg["seq"]:
                    await self._fresh_unread([m], {state.id: state.last_seq})
                    self.publish("unread:update", {"conversationId": state.id, "unread": m.get("unread", 0),
                                                   "lastReadSeq": m.get("lastReadSeq", 0)}, [m["userId"]])
        return result

    async def react(self, ident: Identity, message_id: str, emoji: str, on: bool) -> Dict[str, List[str]]:
        """Add or remove the caller's reaction; returns the message's reactions."""
        emoji = valid_emoji(emoji)
        msg, state = await self._message_for(ident, message_id)
        if msg.get("deletedAt") is not None:
            raise Conflict("the message was deleted")
        now = now_ms()
        if on:
            outcome, after = await self.store.add_reaction(message_id, state.id, ident.user_id, emoji, now,
                                                           self.settings.max_reaction_emojis)
            if outcome == "too_many":
                raise BadRequest("at most %d different reactions per message" % self.settings.max_reaction_emojis)
            changed = outcome == "added"
        else:
            changed, after = await self.store.remove_reaction(message_id, ident.user_id, emoji, now)
        view = render.message(after or msg)
        if changed:
            self.publish("message:updated", view, state.member_ids)
        return view["reactions"]

    async def mark(self, ident: Identity, conversation_id: str, seq: int, kind: str) -> Dict[str, Any]:
        """Move the caller's read or delivered marker forward (never back, never past lastSeq)."""
        state, before = await self._conversation_for(ident, conversation_id)
        seq = min(seq, state.last_seq)
        after = await self.store.advance_marker(conversation_id, ident.user_id, kind, seq, state.last_seq, now_ms())
        if after is None:
            raise Forbidden("not a participant of this conversation")
        field = "lastReadSeq" if kind == "read" else "lastDeliveredSeq"
        moved = after.get(field, 0) > before.get(field, 0)
        if moved:
            at = after.get("lastReadAt" if kind == "read" else "lastDeliveredAt")
            self.publish("message:status", {"conversationId": conversation_id, "seq": after[field],
                                            "userId": ident.user_id, "status": kind, "at": iso(at)},
                         state.member_ids)
        result = {"conversationId": conversation_id, "unread": after.get("unread", 0),
                  "lastReadSeq": after.get("lastReadSeq", 0), "lastDeliveredSeq": after.get("lastDeliveredSeq", 0)}
        if kind == "read" and (moved or after.get("unread") != before.get("unread")):
            self.publish("unread:update", {"conversationId": conversation_id, "unread": result["unread"],
                                           "lastReadSeq": result["lastReadSeq"]}, [ident.user_id])
        return result

    async def receipts(self, ident: Identity, message_id: str) -> Dict[str, Any]:
        """Per other participant: delivered/read with the time its marker last moved."""
        msg, state = await self._message_for(ident, message_id)
        members = await self.store.memberships_of([state.id])
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
        return {"messageId": message_id, "conversationId": state.id, "seq": msg["seq"], "receipts": rows}

    async def search(self, ident: Identity, q: str, conversation_id: Optional[str], limit: int
                     ) -> List[Dict[str, Any]]:
        q = q.strip()
        if len(q) < 2:
            raise BadRequest("q must be at least 2 characters")
        if len(q) > 200:
            raise BadRequest("q must be at most 200 characters")
        if conversation_id:
            convs = [(await self._participant(ident, conversation_id)).as_doc()]
        else:
            ids = [m["conversationId"] for m in await self.store.memberships_of_user(ident.user_id)]
            convs = await self._docs_with_live_state(ids)
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
