"""The school policy as a safeguarding rule (README "School policy").

Whom a student may start a direct conversation with, whether students may create groups (and
whether a group with students must keep a member of staff), and whether students may message
admins. Staff may always message anyone of their school. A tightened policy deletes nothing: a
direct or group conversation that now breaks it is read-only for the students in it
(:meth:`SchoolPolicyRule.check_post`) until the policy is loosened again.

Each school's policy is read once and kept in memory; a change made here replaces it at once.
In a cluster another node may change it: that node announces the change and every node drops
its copy at once (:mod:`chat.domain.safety.changes`); as a fallback (an announcement lost in a
Redis outage) a node serves it from memory for at most ``policy_refresh`` seconds before
reading it again (storage is the truth).
"""
from __future__ import annotations

import logging
from typing import Dict, Iterable, Optional, Sequence, Set, Tuple

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.safety.gate import Post, SafetyRule, Start
from chat.domain.safety.policy_doc import STAFF_ONLY_GROUPS, SUPERVISED_GROUPS, SchoolPolicy
from chat.errors import ChatError, PolicyForbidden
from chat.live.convcache import ConvState
from chat.vocab import ConversationType, Role, is_staff

log = logging.getLogger("chat.safety.policy")

# how long a conversation's read-only verdict is kept (a roster import may change who shares a
# class); a policy change or a change of members decides again at once
VERDICT_SECONDS = 60.0
MAX_VERDICTS = 20000


class SchoolPolicies:
    """Every school's policy, from memory (see the module doc)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self._by_school: Dict[str, Tuple[SchoolPolicy, float]] = {}
        self._generation = 0  # moved by forget: a read begun before it does not fill the copy

    def default(self) -> SchoolPolicy:
        return SchoolPolicy.defaults(self.core.settings)

    async def get(self, school: str) -> SchoolPolicy:
        """The school's policy (its defaults when it never set one)."""
        held = self._by_school.get(school)
        now = self.core.clock.monotonic()
        if held is not None and (not self.core.settings.redis_url
                                 or now - held[1] < self.core.settings.policy_refresh):
            return held[0]
        generation = self._generation
        try:
            policy = SchoolPolicy.from_stored(await self.core.store.policies.get(school), self.default())
        except ChatError:
            if held is None:
                raise
            log.warning("could not re-read a school policy; the one read before applies")
            return held[0]
        if generation == self._generation:
            self._by_school[school] = (policy, now)
        return policy

    def forget(self, school: str) -> None:
        """Another process changed the school's policy: read it again on next use."""
        self._generation += 1
        self._by_school.pop(school, None)

    def remember(self, school: str, policy: SchoolPolicy) -> None:
        """A change this process stored: it applies here at once."""
        self._by_school[school] = (policy, self.core.clock.monotonic())


class SchoolPolicyRule(SafetyRule):
    """Refuses what the school's policy does not allow (see the module doc)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.policies = SchoolPolicies(core)
        # conversation -> (policy, members, decided at, why it is read-only for students or None)
        self._verdicts: Dict[str, Tuple[SchoolPolicy, frozenset, float, Optional[str]]] = {}

    async def _roles(self, user_ids: Sequence[str]) -> Dict[str, str]:
        users = await self.core.store.directory.get_users(user_ids)
        return {u: str((users.get(u) or {}).get("role") or "") for u in user_ids}

    async def _shares_class(self, a: str, b: str) -> bool:
        for klass in await self.core.store.directory.classes_of_user(a):
            if b in klass.get("studentIds", []) or b in klass.get("teacherIds", []):
                return True
        return False

    # ------------------------------------------------------------------ hooks
    async def check_start(self, ident: Identity, start: Start) -> None:
        if ident.role != Role.STUDENT or start.type not in (ConversationType.DIRECT, ConversationType.GROUP):
            return
        policy = await self.policies.get(ident.school)
        if policy.lenient:
            return
        roles = await self._roles(list(start.others))
        if start.type == ConversationType.DIRECT:
            other = start.others[0]
            classmates = (await self._shares_class(ident.user_id, other)
                          if policy.needs_classes(roles[other]) else None)
            why = policy.direct_refusal(roles[other], classmates)
            if why:
                raise PolicyForbidden("The school's policy does not allow this: %s." % why)
            return
        if policy.student_groups == "staff_only":
            raise PolicyForbidden("The school's policy does not allow this: %s." % STAFF_ONLY_GROUPS)
        if policy.student_groups == "supervised" and not any(is_staff(r) for r in roles.values()):
            raise PolicyForbidden("The school's policy does not allow this: %s; add a teacher to the group."
                                  % SUPERVISED_GROUPS)
        self._no_admins(policy, roles.values())

    @staticmethod
    def _no_admins(policy: SchoolPolicy, roles: Iterable[str]) -> None:
        if not policy.students_may_message_admins and Role.ADMIN in set(roles):
            raise PolicyForbidden("The school's policy does not allow this: students may not add the "
                                  "school's admins to a group.")

    async def check_join(self, ident: Identity, state: ConvState, user_ids: Sequence[str]) -> None:
        if ident.role != Role.STUDENT or state.type != ConversationType.GROUP:
            return
        policy = await self.policies.get(state.school)
        if not policy.students_may_message_admins:
            self._no_admins(policy, (await self._roles(list(user_ids))).values())

    async def check_leave(self, ident: Identity, state: ConvState, user_id: str) -> None:
        if state.type != ConversationType.GROUP:
            return
        policy = await self.policies.get(state.school)
        if policy.student_groups != "supervised":
            return
        roles = await self._roles(state.member_ids)
        if not is_staff(roles.get(user_id, "")):
            return
        staff_left = [u for u, r in roles.items() if is_staff(r) and u != user_id]
        if not staff_left and any(r == Role.STUDENT for u, r in roles.items() if u != user_id):
            raise PolicyForbidden("The school's policy does not allow this: %s, so the last member of staff "
                                  "cannot leave or be removed." % SUPERVISED_GROUPS)

    async def check_post(self, ident: Identity, state: ConvState, post: Post) -> None:
        if ident.role != Role.STUDENT or state.type not in (ConversationType.DIRECT, ConversationType.GROUP):
            return
        policy = await self.policies.get(state.school)
        if policy.lenient:
            return
        why = await self.read_only(policy, state)
        if why:
            raise PolicyForbidden("This conversation is read-only for students: %s." % why)

    # ------------------------------------------------------------------ verdicts
    async def read_only(self, policy: SchoolPolicy, state: ConvState) -> Optional[str]:
        """Why the conversation is read-only for its students under ``policy`` (None: it is not)."""
        members = frozenset(state.member_ids)
        now = self.core.clock.monotonic()
        held = self._verdicts.get(state.id)
        if held is not None and held[0] == policy and held[1] == members and now - held[2] < VERDICT_SECONDS:
            return held[3]
        roles = await self._roles(sorted(members))
        classes: Dict[str, Set[str]] = {}
        if state.type == ConversationType.DIRECT and any(policy.needs_classes(r) for r in roles.values()):
            for uid in members:
                classes[uid] = {c["id"] for c in await self.core.store.directory.classes_of_user(uid)}
        why = policy.breaks(state.type, state.doc.get("createdBy"), roles, classes)
        if len(self._verdicts) >= MAX_VERDICTS:
            self._verdicts.clear()
        self._verdicts[state.id] = (policy, members, now, why)
        return why

    def forget_verdicts(self) -> None:
        """A policy changed: decide every conversation again."""
        self._verdicts.clear()


def policy_rule(core: Core) -> SchoolPolicyRule:
    """The service's school-policy rule (the policy actions share its policies in memory)."""
    for rule in core.safety.rules:
        if isinstance(rule, SchoolPolicyRule):
            return rule
    raise LookupError("the school policy rule is not registered")
