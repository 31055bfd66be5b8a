"""Conversations: create, list, view, rename and flags, participants."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.directory import DirectoryActions
from chat.domain.markers import MarkerActions
from chat.domain.messages import MessageActions
from chat.domain.oversight.audit import AuditAction
from chat.domain.safety.gate import Start
from chat.domain.safety.policy_doc import REVIEW_NOTICE
from chat.domain.safety.school_policy import policy_rule
from chat.errors import BadRequest, Conflict, Forbidden, NotFound
from chat.events import Audience
from chat.live.convcache import ConvState
from chat.rules import policy, render
from chat.rules.validation import ConversationPatch, NewConversation
from chat.store import new_id
from chat.store.docs import class_conversation_key
from chat.timeutil import now_ms
from chat.vocab import is_staff

MUTE_FOREVER = 2 ** 62


class ConversationActions:
    def __init__(self, core: Core, directory: DirectoryActions, messages: MessageActions,
                 markers: MarkerActions) -> None:
        self.core = core
        self.directory = directory
        self.messages = messages
        self.markers = markers
        self._policies = policy_rule(core).policies  # oversight: the review notice

    async def _notice(self, school: str) -> Optional[str]:
        """The review notice every conversation view carries while the school's policy asks
        for it (oversight: its moderators may read any conversation under a grant)."""
        return REVIEW_NOTICE if (await self._policies.get(school)).review_notice else None

    # ------------------------------------------------------------------ views
    async def view(self, ident: Identity, state: ConvState) -> Dict[str, Any]:
        """The conversation as the caller sees it."""
        members = await self.core.store.conversations.memberships_of([state.id])
        mine = [m for m in members if m["userId"] == ident.user_id]
        await self.markers.catch_up(mine, {state.id: state.last_seq})
        users = await self.directory.users(m["userId"] for m in members)
        view = render.conversation(state.as_doc(), mine[0] if mine else None, members, users, self.core.online)
        view["reviewNotice"] = await self._notice(state.school)
        return view

    async def _tell(self, state: ConvState, user_ids: Iterable[str], joined: bool) -> None:
        """Push the conversation to each receiver as that receiver sees it."""
        targets = set(user_ids)
        if not targets:
            return
        members = await self.core.store.conversations.memberships_of([state.id])
        users = await self.directory.users(m["userId"] for m in members)
        by_user = {m["userId"]: m for m in members}
        doc = state.as_doc()
        notice = await self._notice(state.school)
        for uid in targets:
            view = dict(render.conversation(doc, by_user.get(uid), members, users), reviewNotice=notice)
            if joined:
                self.core.events.conversation_joined(view, Audience.one(state.school, uid))
            else:
                self.core.events.conversation_changed(view, Audience.one(state.school, uid))

    # ------------------------------------------------------------------ create
    async def create(self, ident: Identity, req: NewConversation) -> Tuple[Dict[str, Any], bool]:
        """Create (or, for a direct pair, find) a conversation. Returns (view, created)."""
        now = now_ms()
        conv_id = new_id()
        settings = self.core.settings
        members: List[Tuple[str, str]]
        class_id: Optional[str] = None
        title: Optional[str] = None
        if req.type == "direct":
            others = [u for u in req.participant_ids if u != ident.user_id]
            if len(others) != 1 or len(req.participant_ids) > 2:
                raise Conflict("a direct conversation needs exactly one other user")
            await self.directory.same_school(ident, others)
            pair = sorted([ident.user_id, others[0]])
            key = "direct:%s:%s:%s" % (ident.school, pair[0], pair[1])
            members = [(ident.user_id, "member"), (others[0], "member")]
        elif req.type == "group":
            others = [u for u in req.participant_ids if u != ident.user_id]
            if len(others) + 1 > settings.max_participants:
                raise Conflict("at most %d participants" % settings.max_participants)
            await self.directory.same_school(ident, others)
            key = "conv:" + conv_id
            members = [(ident.user_id, "owner")] + [(u, "member") for u in others]
            title = req.title
        else:
            klass = await self.core.store.directory.get_class(req.class_id or "")
            if klass is None or klass.get("school") != ident.school:
                raise NotFound("no such class")
            if not policy.may_open_class_conversation(ident.user_id, ident.role, klass.get("teacherIds", [])):
                raise Forbidden("only a teacher of the class or a school admin may do that")
            key = ("conv:" + conv_id if req.separate
                   else class_conversation_key(ident.school, req.type, str(klass["id"])))
            # only users of the class's school: a member id of another school (or none) is left out
            listed = list(klass.get("teacherIds", [])) + list(klass.get("studentIds", []))
            users = await self.directory.users(listed)
            ours = {u for u in listed if u != ident.user_id and users.get(u, {}).get("school") == ident.school}
            members = [(ident.user_id, "owner")]
            members += [(t, "admin") for t in klass.get("teacherIds", []) if t in ours]
            members += [(s, "member") for s in klass.get("studentIds", []) if s in ours]
            if len(members) > settings.max_participants:
                raise Conflict("the class has more than %d members" % settings.max_participants)
            title, class_id = req.title or klass.get("name"), klass["id"]
        await self.core.safety.check_start(ident, Start(req.type, [m[0] for m in members if m[0] != ident.user_id],
                                                        title, class_id))
        doc: Dict[str, Any] = {
            "id": conv_id, "key": key, "type": req.type, "title": title, "classId": class_id,
            "school": ident.school, "createdBy": ident.user_id, "createdAt": now, "lastSeq": 0,
            "lastActivityAt": now, "lastMessage": None, "memberIds": []}
        conv, created = await self.core.store.conversations.insert(doc)
        if created:
            await self.core.store.conversations.add_members(conv["id"], members, now)
        state = await self.core.cache.get(conv["id"])
        if created:
            await self._tell(state, [m[0] for m in members if m[0] != ident.user_id], joined=True)
            # notifications: webhooks (conversation.created)
            self.core.events.conversation_created(render.conversation(state.as_doc(), None, [], {}),
                                                  state.audience())
        elif ident.user_id not in state.roles:
            if req.type not in ("class", "announcement"):
                raise Forbidden("not a participant of this conversation")
            await self._join_class_conversation(ident, state)
        return await self.view(ident, state), created

    async def _join_class_conversation(self, ident: Identity, state: ConvState) -> None:
        """A teacher of the class or a school admin asked for the class's conversation, which
        someone else started: they join it as one of its admins (not a second, empty copy).
        Only someone of the conversation's school joins it."""
        if state.school != ident.school:
            raise NotFound("no such class")
        added = await self.core.store.conversations.add_members(state.id, [(ident.user_id, "admin")], now_ms(),
                                                                read_upto=state.last_seq)
        if added:
            others = [u for u in state.roles if u != ident.user_id]
            state.roles[ident.user_id] = "admin"
            await self._tell(state, [ident.user_id], joined=True)
            await self._tell(state, others, joined=False)

    # ------------------------------------------------------------------ read
    async def list(self, ident: Identity, type_: Optional[str], archived: Optional[bool], q: Optional[str],
                   limit: int, offset: int) -> Tuple[List[Dict[str, Any]], bool]:
        """The caller's conversations of its token school: pinned first, then newest activity."""
        memberships, docs = await self.core.my_memberships(ident)
        want_archived = bool(archived)
        convs = [c for c in docs if (type_ is None or c["type"] == type_)
                 and (memberships[c["id"]].get("archivedAt") is not None) == want_archived]
        store = self.core.store
        members: List[Dict[str, Any]] = []
        users: Dict[str, Dict[str, Any]] = {}
        if q:
            members = await store.conversations.memberships_of(c["id"] for c in convs)
            users = await self.directory.users(m["userId"] for m in members)
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
        await self.markers.catch_up([memberships[c["id"]] for c in page], {c["id"]: c.get("lastSeq", 0) for c in page})
        if not q:
            members = await store.conversations.memberships_of(c["id"] for c in page)
            users = await self.directory.users(m["userId"] for m in members)
        by_conv: Dict[str, List[Dict[str, Any]]] = {}
        for m in members:
            if m["userId"] == ident.user_id:
                m = memberships.get(m["conversationId"], m)  # the caught-up one
            by_conv.setdefault(m["conversationId"], []).append(m)
        notice = await self._notice(ident.school)
        views = [dict(render.conversation(c, memberships[c["id"]], by_conv.get(c["id"], []), users,
                                          self.core.online), reviewNotice=notice) for c in page]
        return views, len(convs) > offset + limit

    async def get(self, ident: Identity, conversation_id: str) -> Dict[str, Any]:
        return await self.view(ident, await self.core.reader(ident, conversation_id, "view"))

    async def member_ids(self, ident: Identity, conversation_id: str) -> List[str]:
        """The participants of a conversation the caller is in (403/404 otherwise)."""
        return (await self.core.participant(ident, conversation_id)).member_ids

    # ------------------------------------------------------------------ change
    async def update(self, ident: Identity, conversation_id: str, patch: ConversationPatch) -> Dict[str, Any]:
        """Title and slow mode (owner/admin, not direct) and the caller's own muted/pinned/archived."""
        state, membership = await self.core.membership(ident, conversation_id)
        store = self.core.store.conversations
        now = now_ms()
        if patch.title is not None and patch.title != state.doc.get("title"):
            policy.check_rename(state.type, membership.get("role"))
            await self.core.safety.check_title(ident, state, patch.title)
            await store.set_fields(conversation_id, {"title": patch.title})
            state.doc["title"] = patch.title
            await self.messages.post_system(ident, state, "renamed", "%s renamed the conversation to \u201c%s\u201d"
                                            % (ident.name, patch.title), [])
            await self._tell(state, [u for u in state.roles if u != ident.user_id], joined=False)
        slow = patch.slow_mode_seconds
        if slow is not None and slow != int(state.doc.get("slowModeSeconds") or 0):
            policy.check_slow_mode(state.type, membership.get("role"))
            await store.set_fields(conversation_id, {"slowModeSeconds": slow})
            state.doc["slowModeSeconds"] = slow
            await self._tell(state, [u for u in state.roles if u != ident.user_id], joined=False)
        mine: Dict[str, Any] = {}
        for flag, field, value in (("muted", "mutedUntil", MUTE_FOREVER), ("pinned", "pinnedAt", now),
                                   ("archived", "archivedAt", now)):
            wanted = getattr(patch, flag)
            if wanted is not None and (membership.get(field) is not None) != wanted:
                mine[field] = value if wanted else None
        if mine:
            await store.set_membership_fields(conversation_id, ident.user_id, mine)
        view = await self.view(ident, state)
        if mine:
            self.core.events.conversation_changed(view, Audience.one(state.school, ident.user_id))  # other devices
        return view

    async def add_participants(self, ident: Identity, conversation_id: str, user_ids: List[str]) -> Dict[str, Any]:
        state, membership = await self.core.membership(ident, conversation_id)
        policy.check_add(state.type, membership.get("role"))
        if not user_ids:
            raise BadRequest("userIds must not be empty")
        users = await self.directory.same_school(ident, user_ids)
        if len(set(state.roles) | set(user_ids)) > self.core.settings.max_participants:
            raise Conflict("at most %d participants" % self.core.settings.max_participants)
        await self.core.safety.check_join(ident, state, user_ids)
        joining = sorted(set(user_ids) - set(state.roles))
        if joining and is_staff(ident.role):  # staff changing who is in: recorded first (oversight/audit.py)
            await self.core.audit.record(ident.user_id, AuditAction.PARTICIPANT_ADD, state.school,
                                         {"conversationId": state.id},
                                         {"userIds": joining, "role": ident.role, "conversationType": state.type})
        added = await self.core.store.conversations.add_members(conversation_id, [(u, "member") for u in user_ids],
                                                                now_ms(), read_upto=state.last_seq)
        if added:
            before = list(state.roles)
            for uid in added:
                state.roles[uid] = "member"
            names = ", ".join(render.display_name(u, users) for u in added)
            await self.messages.post_system(ident, state, "added", "%s added %s" % (ident.name, names), added)
            await self._tell(state, added, joined=True)
            await self._tell(state, [u for u in before if u != ident.user_id], joined=False)
        return await self.view(ident, state)

    async def remove_participant(self, ident: Identity, conversation_id: str, user_id: str) -> Dict[str, Any]:
        """Owner/admin removes anyone; a member removes only itself (leaves)."""
        state, membership = await self.core.membership(ident, conversation_id)
        leaving = user_id == ident.user_id
        policy.check_remove(state.type, membership.get("role"), leaving)
        if user_id not in state.roles:
            raise NotFound("not a participant")
        await self.core.safety.check_leave(ident, state, user_id)
        users = await self.core.store.directory.get_users([user_id])
        if not leaving and is_staff(ident.role):  # recorded before anything changes (oversight/audit.py)
            await self.core.audit.record(ident.user_id, AuditAction.PARTICIPANT_REMOVE, state.school,
                                         {"conversationId": state.id, "userId": user_id},
                                         {"role": ident.role, "conversationType": state.type})
        if leaving:
            text = "%s left" % ident.name
        else:
            text = "%s removed %s" % (ident.name, render.display_name(user_id, users))
        # the system message is written while the leaver is still a member, so it reaches them too
        await self.messages.post_system(ident, state, "left" if leaving else "removed", text, [user_id])
        await self.core.store.conversations.remove_member(conversation_id, user_id)
        state.roles.pop(user_id, None)
        self.core.events.conversation_left(conversation_id, Audience.one(state.school, user_id))
        await self._tell(state, state.member_ids, joined=False)
        return {"conversationId": conversation_id, "userId": user_id}
