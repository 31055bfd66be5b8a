"""Reading and changing a school's policy (``GET``/``PUT /api/schools/{id}/policy``).

A change is stored with a record of it (``policy_changes``: before, after, who, when), applies
at once in this process, is pushed to the school's online users as ``school:policy``, and
tells each direct or group conversation whose standing it changed why: one that now breaks
the policy becomes read-only for its students, one that no longer does is open again.
"""
from __future__ import annotations

from typing import Any, Dict, List, Set

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.messages import MessageActions
from chat.domain.oversight.audit import AuditAction
from chat.domain.safety.policy_doc import SchoolPolicy
from chat.domain.safety.school_policy import policy_rule
from chat.errors import Forbidden, NotFound
from chat.events import Audience
from chat.rules import quiet_hours
from chat.timeutil import now_ms
from chat.vocab import Role

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
        old = await self.rule.policies.get(school_id)
        new = old.changed(body)
        if new == old:
            return {"schoolId": school_id, "policy": new.view()}
        await self.core.store.policies.put(school_id, new.stored(), old.stored(), ident.user_id, now_ms())
        self.rule.policies.remember(school_id, new)
        self.rule.forget_verdicts()
        if new.quiet != old.quiet:  # oversight: quiet hours
            await self.core.audit.record(ident.user_id, AuditAction.QUIET_HOURS_CHANGE, school_id,
                                         {"schoolId": school_id},
                                         {"before": old.quiet.view(), "after": new.quiet.view()})
        roles = await self.core.store.policies.school_roles(school_id)
        await self._tell_conversations(ident, old, new, roles)
        data = {"schoolId": school_id, "policy": new.view()}
        self.core.events.school_policy(data, Audience(school_id, sorted(roles)))
        return data

    async def _tell_conversations(self, ident: Identity, old: SchoolPolicy, new: SchoolPolicy,
                                  roles: Dict[str, str]) -> None:
        """A system message in each conversation the change made read-only or opened again."""
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
            await self.messages.post_system(ident, state, "policy", text, [])
