"""Erasure of one person's data (``POST /api/users/{id}/erase``, the school's admins).

What it does, in this order, after the checks and the audit entry (``user.erase``):

1. every message the user sent becomes a tombstone like the retention sweep's
   (:meth:`chat.domain.oversight.retention_sweep.RetentionSweeper.purge`, reason ``erased``):
   text, edits, reactions, mentions and attachments (their files too) go, ``seq``, sender id
   and times stay, so history and sync stay contiguous; participants of a message still shown
   get ``message:deleted`` with ``reason: "erased"``. A message a legal hold covers (a hold on
   the user, or on its conversation) is hidden instead, its content kept (``heldAt``) like a
   held own delete, and removed by the retention sweep once the hold is released; so are the
   forwarded copies of the user's messages others sent (``forwarded.authorId``), their
   attribution naming ``Former user``;
2. the user's reactions to others' messages are removed (``reactions`` and the messages'
   ``reactionKeys``; participants get ``message:updated``), but for those in a conversation
   a hold covers;
3. the user's other uploads are deleted, but for those a hold covers;
4. the sender name stored with their messages and the directory entry become ``Former user``
   (``erasedAt`` set), here and, through the cluster-wide change channel, in every other
   node's copy. A token's name claim does not bring the name back; a roster import that
   lists the user again does (the LMS re-rostered them).

Idempotent: erasing an erased user again does what is left (nothing, usually) and records
no second entry. The user's id, role and school stay (so old conversations still name a
participant), and so do tokens: the LMS decides who may sign in. The reports the user made
and the audit log stay: they are safeguarding records (who raised a concern, what staff did),
which the school keeps under its own retention, and they hold no text the user wrote in chat.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set

from chat.auth import Identity
from chat.domain.oversight.audit import AuditAction
from chat.domain.oversight.holds import HeldSet
from chat.domain.oversight.retention_sweep import Pass
from chat.domain.oversight.upload_holds import upload_held
from chat.errors import ChatError, Forbidden, NotFound
from chat.rules import policy, render
from chat.timeutil import iso
from chat.uploads.lifecycle import remove_upload
from chat.vocab import Role

if TYPE_CHECKING:
    from chat.domain.core import Core
    from chat.domain.directory import DirectoryActions
    from chat.domain.oversight.retention_sweep import RetentionSweeper
    from chat.uploads import UploadsService

#: the name an erased user's directory entry and messages carry
ERASED_NAME = "Former user"
#: the kind of the cluster-wide change that tells other nodes a directory entry was erased
DIRECTORY = "directory"
REASON = "erased"


class ErasureActions:
    """Erase one user's data (see the module doc)."""

    name = ERASED_NAME
    #: the change another node announces (:meth:`chat.domain.service.ChatService.safety_changed_elsewhere`)
    kind = DIRECTORY

    def __init__(self, core: "Core", directory: "DirectoryActions", sweeper: "RetentionSweeper",
                 uploads: Optional["UploadsService"]) -> None:
        self.core = core
        self.directory = directory
        self.sweeper = sweeper
        self.uploads = uploads
        self._following: Set["asyncio.Task[None]"] = set()

    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    async def erase(self, ident: Identity, user_id: str) -> Dict[str, Any]:
        """Erase the user (a user of the caller's school, else 404); admins only (403)."""
        if ident.role != Role.ADMIN:
            raise Forbidden("only the school's admins erase a user's data")
        user = await self.core.store.directory.get_user(user_id)
        if user is None or user.get("school") != ident.school:
            raise NotFound("no such user")
        school = ident.school
        held = await self.core.holds.snapshot(school)
        already = user.get("erasedAt") is not None
        if not already:
            await self.core.audit.record(ident.user_id, AuditAction.ERASURE, school, {"userId": user_id},
                                         {"held": held.covers(user_id, None)})
        done = {"messages": 0, "messagesKept": 0, "reactions": 0, "reactionsKept": 0, "files": 0, "filesKept": 0}
        await self._messages(school, user_id, ident.user_id, held, done)
        await self._forwards(school, user_id, ident.user_id, held, done)
        await self._reactions(user_id, held, done)
        await self._uploads(user_id, held, done)
        await self._scheduled(user_id, held)
        now = self._now()
        erased_at = user.get("erasedAt") if already else now
        if not already:
            await self.core.store.personal.anonymise_user(user_id, ERASED_NAME, now)
        self.directory.erased(user_id, ERASED_NAME)
        self.core.events.safety_changed(DIRECTORY, user_id)  # the other nodes' copies
        return dict(done, userId=user_id, name=ERASED_NAME, erasedAt=iso(erased_at), already=already)

    async def _scheduled(self, user_id: str, held: HeldSet) -> None:
        """The user's scheduled messages not sent yet go (a refused one's text too); those a hold
        covers stay, hidden and never sent (README "Scheduled messages")."""
        await self.core.store.scheduled.erase_sender(user_id, lambda conversation_id: held.covers(user_id,
                                                                                                  conversation_id))

    async def _messages(self, school: str, user_id: str, actor: str, held: HeldSet, done: Dict[str, int]) -> None:
        personal = self.core.store.personal
        batch = self.core.settings.export_batch
        after = ""
        while True:
            page = await personal.messages_of(user_id, after, batch, erasing=True)
            if not page:
                return
            live = [m for m in page if m.get("purgedAt") is None]
            keep = [m for m in live if held.covers(m.get("senderId"), m["conversationId"])]
            kept_ids = {m["id"] for m in keep}
            purge = [m for m in live if m["id"] not in kept_ids]
            shown = [m for m in live if policy.counts_as_unread(m, "")]  # counted by others' unread counters
            swept = Pass()
            await self.sweeper.purge(school, purge, REASON, swept)
            done["messages"] += sum(swept.messages.values())
            done["files"] += swept.files
            for msg in keep:
                await self._hide(school, msg, actor)
            done["messagesKept"] += len(keep)
            for msg in shown:  # as a delete does: one fewer unread for whoever had counted it
                await self.core.store.conversations.uncount_deleted(msg["conversationId"], msg["senderId"],
                                                                    msg["seq"], msg.get("mentions") or [])
            await personal.rename_sender(page, ERASED_NAME)
            self._rename_cached(page)
            after = page[-1]["id"]
            await asyncio.sleep(0)
            if len(page) < batch:
                return

    async def _forwards(self, school: str, user_id: str, actor: str, held: HeldSet, done: Dict[str, int]) -> None:
        """Forwarded copies of the user's messages (in others' names, ``forwarded.authorId``): as
        the user's own, tombstoned (members told), or hidden and kept where a hold covers the
        copy, its conversation or the user; their attribution names ``Former user``."""
        personal = self.core.store.personal
        batch = self.core.settings.export_batch
        after = ""
        while True:
            page = await personal.forwards_of(user_id, after, batch)
            live = [m for m in page if m.get("purgedAt") is None]
            keep = [m for m in live
                    if held.covers(m.get("senderId"), m["conversationId"]) or held.covers(user_id, None)]
            kept_ids = {m["id"] for m in keep}
            swept = Pass()
            await self.sweeper.purge(school, [m for m in live if m["id"] not in kept_ids], REASON, swept)
            done["messages"] += sum(swept.messages.values())
            for msg in keep:
                await self._hide(school, msg, actor)
            done["messagesKept"] += len(keep)
            for msg in live:
                if policy.counts_as_unread(msg, ""):
                    await self.core.store.conversations.uncount_deleted(msg["conversationId"], msg["senderId"],
                                                                        msg["seq"], msg.get("mentions") or [])
                state = self.core.cache.cached([msg["conversationId"]]).get(msg["conversationId"])
                last = state.last_message if state is not None else None
                if state is not None and last and last.get("id") == msg["id"]:
                    state.last_message = dict(last, preview=None, deleted=1)
                    state.dirty = True
                    self.core.flusher.schedule()
            await personal.unattribute(page, ERASED_NAME)
            if len(page) < batch:
                return
            after = page[-1]["id"]
            await asyncio.sleep(0)

    async def _hide(self, school: str, msg: Dict[str, Any], actor: str) -> None:
        """A held message: hidden from everyone (shown deleted, reason ``erased``), its content
        kept until the hold is released (then the sweep removes it, as a held own delete)."""
        now = self._now()
        if msg.get("deletedAt") is None and await self.core.store.personal.hide(msg["id"], actor, REASON, now):
            try:
                state = await self.core.cache.get(msg["conversationId"])
            except ChatError:
                state = None
            if state is not None:
                self.core.events.message_deleted({"messageId": msg["id"], "conversationId": msg["conversationId"],
                                                  "seq": msg["seq"], "reason": REASON}, state.audience())
        elif msg.get("heldAt") is None:
            await self.core.store.retention.mark_held(msg["id"], now)
        await self.core.store.retention.add_pending([{
            "messageId": msg["id"], "school": school, "conversationId": msg["conversationId"],
            "senderId": msg.get("senderId"), "type": msg.get("type"), "kind": "delete", "at": now}])

    def _rename_cached(self, page: List[Dict[str, Any]]) -> None:
        """This process's live state of the conversations whose last message is one of these
        (all deleted now): no preview, the new name."""
        ids = {m["id"] for m in page}
        self._scrub(list({m["conversationId"] for m in page}), lambda last: last.get("id") in ids)

    def _scrub(self, conversation_ids: List[str], match: Any) -> None:
        for state in self.core.cache.cached(conversation_ids).values():
            last = state.last_message
            if last and match(last):
                state.last_message = dict(last, senderName=ERASED_NAME, preview=None, deleted=1)
                state.dirty = True  # written behind: storage gets the scrubbed summary too
                self.core.flusher.schedule()

    def erased_elsewhere(self, user_id: str) -> None:
        """Another node erased the user: this node's copies follow (the conversations it keeps
        whose last message is the user's lose its preview, then the directory entry)."""
        task = asyncio.ensure_future(self._follow(user_id))
        self._following.add(task)
        task.add_done_callback(self._following.discard)

    async def _follow(self, user_id: str) -> None:
        try:
            memberships = await self.core.store.conversations.memberships_of_user(user_id)
            self._scrub([m["conversationId"] for m in memberships], lambda last: last.get("senderId") == user_id)
        except ChatError:  # storage down: the cached previews wait for their next reload
            pass
        finally:
            self.directory.erased(user_id, ERASED_NAME)

    async def _reactions(self, user_id: str, held: HeldSet, done: Dict[str, int]) -> None:
        """The user's reactions left (those on their own messages went with them), as a
        removal by the user would: ``message:updated`` to the participants; but those in a
        conversation a hold covers."""
        batch = self.core.settings.export_batch
        after = ""
        while True:
            page = await self.core.store.personal.reactions_of(user_id, after, batch)
            for reaction in page:
                conv_id = reaction.get("conversationId")
                if held.covers(user_id, conv_id):
                    done["reactionsKept"] += 1
                    continue
                changed, msg = await self.core.store.messages.remove_reaction(
                    str(reaction.get("messageId")), user_id, str(reaction.get("emoji")), self._now())
                if not changed:
                    continue
                done["reactions"] += 1
                if msg is None or msg.get("deletedAt") is not None:
                    continue
                try:
                    state = await self.core.cache.get(msg["conversationId"])
                except ChatError:
                    state = None
                if state is not None:
                    self.core.events.message_updated(render.message(msg), state.audience())
            if len(page) < batch:
                return
            after = page[-1]["id"]
            await asyncio.sleep(0)

    async def _uploads(self, user_id: str, held: HeldSet, done: Dict[str, int]) -> None:
        """The user's uploads left (those of purged messages went with them), but held ones."""
        if self.uploads is None:
            return
        batch = self.core.settings.export_batch
        after = ""
        while True:
            page = await self.core.store.personal.uploads_of(user_id, after, batch)
            for meta in page:
                if await upload_held(held, self.core.store.forwards, meta):  # also a held forward's
                    done["filesKept"] += 1
                    continue
                await remove_upload(self.uploads, meta)
                done["files"] += 1
            if len(page) < batch:
                return
            after = page[-1]["id"]
