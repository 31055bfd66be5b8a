"""Reading and changing a school's policy (``GET``/``PUT /api/schools/{id}/policy``).

A change is stored with a record of it (``policy_changes``: before, after, who, when; and an
audit entry ``policy.change`` with the values before and after), applies
at once in this process, is pushed to the school's online users as ``school:policy``, and
tells each direct or group conversation whose standing it changed why: one that now breaks
the policy becomes read-only for its students, one that no longer does is open again.

The change is stored as pending until every such conversation was told: a crash in between
leaves it pending, and start-up (:meth:`PolicyActions.resume_pending`) or the school's next
``PUT`` completes it. Each system message is keyed by the change and the conversation, so
completing it again posts none twice.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Set

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.messages import MessageActions
from chat.domain.oversight.audit import AuditAction
from chat.domain.safety.changes import POLICY, announce
from chat.domain.safety.policy_doc import SchoolPolicy
from chat.domain.safety.school_policy import policy_rule
from chat.errors import ChatError, Forbidden, NotFound
from chat.events import Audience
from chat.rules import quiet_hours
from chat.timeutil import now_ms
from chat.vocab import Role

log = logging.getLogger("chat.safety.policy")

READ_ONLY = ("The school's policy changed: %s. Students can still read this conversation but can no "
             "longer post in it.")
OPEN_AGAIN = "The school's policy changed: students can post in this conversation again."


class PolicyActions:
    def __init__(self, core: Core, messages: MessageActions) -> None:
        self.core = core
        self.messages = messages
        self.rule = policy_rule(core)

    @staticmethod
    def _same_school(ident: Identity, school_id: str) -> None:
        if school_id != ident.school:
            # one answer whether or not the school exists: another school is never revealed
            raise NotFound("no such school")

    async def get(self, ident: Identity, school_id: str) -> Dict[str, Any]:
        """The policy of the caller's school (any member may read it: clients offer only what it allows)."""
        self._same_school(ident, school_id)
        policy = await self.rule.policies.get(school_id)
        # oversight: quiet hours: whether the caller may send now, and until when
        sending = quiet_hours.status(policy.quiet, ident.role, quiet_hours.instant_of(self.core.clock.time()))
        return {"schoolId": school_id, "policy": policy.view(), "sending": sending}

    async def put(self, ident: Identity, school_id: str, body: Any) -> Dict[str, Any]:
        """Change the policy (the school's admins only); see the module doc."""
        self._same_school(ident, school_id)
        if ident.role != Role.ADMIN:
            raise Forbidden("only the school's admins may change its policy")
        stored = await self.core.store.policies.get(school_id)
        if stored and stored.get("pendingAt"):  # an earlier change's conversations first (a crash)
            await self._complete_pending(stored)
        old = await self.rule.policies.get(school_id)
        new = old.changed(body)
        if new == old:
            return {"schoolId": school_id, "policy": new.view()}
        change_id = await self.core.store.policies.put(school_id, new.stored(), old.stored(), ident.user_id, now_ms())
        self.rule.policies.remember(school_id, new)
        self.rule.forget_verdicts()
        announce(self.core, POLICY, school_id)
        await self.core.audit.record(ident.user_id, AuditAction.POLICY_CHANGE, school_id, {"schoolId": school_id},
                                     {"before": old.view(), "after": new.view()})
        if new.quiet != old.quiet:  # oversight: quiet hours
            await self.core.audit.record(ident.user_id, AuditAction.QUIET_HOURS_CHANGE, school_id,
                                         {"schoolId": school_id},
                                         {"before": old.quiet.view(), "after": new.quiet.view()})
        roles = await self.core.store.policies.school_roles(school_id)
        await self._tell_conversations(ident, old, new, roles, change_id)
        await self.core.store.policies.settle(school_id, change_id)
        data = {"schoolId": school_id, "policy": new.view()}
        self.core.events.school_policy(data, Audience(school_id, sorted(roles)))
        return data

    async def resume_pending(self) -> int:
        """At start-up: complete each change a crash interrupted between storing it and telling
        its conversations (each system message has a key, so one already posted is not posted
        again). Returns how many were completed."""
        done = 0
        try:
            pending = await self.core.store.policies.pending()
        except ChatError:
            log.warning("could not look for interrupted policy changes; the next PUT of each completes it")
            return 0
        for doc in pending:
            try:
                await self._complete_pending(doc)
                done += 1
            except ChatError:  # storage still failing: the next start-up or PUT completes it
                log.warning("could not complete an interrupted policy change of school %s", doc.get("id"))
        return done

    async def _complete_pending(self, doc: Dict[str, Any]) -> None:
        school = str(doc["id"])
        default = self.rule.policies.default()
        old = SchoolPolicy.from_stored(doc.get("pendingPrevious") or {}, default)
        new = SchoolPolicy.from_stored(doc, default)
        actor = str(doc.get("pendingActor") or "")
        user = await self.core.store.directory.get_user(actor) if actor else None
        ident = Identity(actor, Role.ADMIN, school, str((user or {}).get("name") or actor), 0)
        self.rule.policies.remember(school, new)
        self.rule.forget_verdicts()
        roles = await self.core.store.policies.school_roles(school)
        await self._tell_conversations(ident, old, new, roles, str(doc["pendingId"]))
        await self.core.store.policies.settle(school, str(doc["pendingId"]))

    async def _tell_conversations(self, ident: Identity, old: SchoolPolicy, new: SchoolPolicy,
                                  roles: Dict[str, str], change_id: str) -> None:
        """A system message in each conversation the change made read-only or opened again,
        keyed by the change and the conversation (posting it again stores nothing)."""
        if old.lenient and new.lenient:
            return
        classes: Dict[str, Set[str]] = {}
        for klass in await self.core.store.directory.all_classes():
            if klass.get("school") == ident.school:
                for uid in list(klass.get("studentIds", [])) + list(klass.get("teacherIds", [])):
                    classes.setdefault(uid, set()).add(klass["id"])
        for doc in await self.core.store.policies.school_conversations(ident.school):
            members: List[str] = list(doc.get("memberIds") or [])
            mine = {u: roles.get(u, "") for u in members}
            before = old.breaks(doc["type"], doc.get("createdBy"), mine, classes)
            after = new.breaks(doc["type"], doc.get("createdBy"), mine, classes)
            if bool(before) == bool(after):
                continue
            state = await self.core.cache.get(doc["id"])
            text = READ_ONLY % after if after else OPEN_AGAIN
            await self.messages.post_system(ident, state, "policy", text, [],
                                            client_msg_id="policy:%s:%s" % (change_id, doc["id"]))
