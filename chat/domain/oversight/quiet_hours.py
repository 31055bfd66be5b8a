"""Quiet hours as a safeguarding rule (README "Quiet hours").

A school's policy may give a role (students, say) weekly windows in the school's time zone
during which it may send, and holidays when it may not at all (the value and its arithmetic:
:mod:`chat.rules.quiet_hours`). Outside them :meth:`QuietHoursRule.check_post` refuses that
role's messages and edits with ``quiet_hours`` and when chat opens again, on every path that
stores a message (REST, socket, any later sender), and :meth:`QuietHoursRule.may_type` drops its
typing. Staff without windows of their own, and admins always, still post.

The time is the injected clock's; the policy is the school policy rule's, from its memory (a
change applies here at once, another node's within ``policy_refresh``).
"""
from __future__ import annotations

import datetime
from typing import Dict, List, Optional, Tuple

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.safety.gate import Post, SafetyRule
from chat.domain.safety.school_policy import SchoolPolicies, policy_rule
from chat.errors import QuietHours
from chat.live.convcache import ConvState
from chat.rules import quiet_hours
from chat.rules.quiet_hours import Schedule

MAX_REMEMBERED = 10000


class QuietHoursRule(SafetyRule):
    """Refuses sends and drops typing of a restricted role outside its windows."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self._policies: Optional[SchoolPolicies] = None
        # (schedule, role) -> (asked at, opens at): the next opening holds for every instant
        # from the one it was computed for until it (a student retrying at 3 a.m. costs a look-up)
        self._opens: Dict[Tuple[Schedule, str], Tuple[datetime.datetime, Optional[datetime.datetime]]] = {}

    @property
    def policies(self) -> SchoolPolicies:
        # the school policy rule's memory (built before this rule; found once it is registered)
        if self._policies is None:
            self._policies = policy_rule(self.core).policies
        return self._policies

    def now(self) -> datetime.datetime:
        return quiet_hours.instant_of(self.core.clock.time())

    async def closed(self, ident: Identity, school: str) -> Optional[QuietHours]:
        """The refusal ``ident`` gets now (None: it may send)."""
        schedule = (await self.policies.get(school)).quiet
        if not schedule.restricts(ident.role):
            return None
        now = self.now()
        if quiet_hours.is_open(schedule, ident.role, now):
            return None
        opens = self._opens_at(schedule, ident.role, now)
        return QuietHours(_message(schedule, ident.role, now, opens), quiet_hours.iso_local(opens),
                          quiet_hours.epoch_ms(opens))

    def _opens_at(self, schedule: Schedule, role: str, now: datetime.datetime) -> Optional[datetime.datetime]:
        key = (schedule, role)
        held = self._opens.get(key)
        if held is not None and held[0] <= now and (held[1] is None or now < held[1]):
            return held[1]
        opens = quiet_hours.opens_at(schedule, role, now)
        if len(self._opens) >= MAX_REMEMBERED:
            self._opens.clear()
        self._opens[key] = (now, opens)
        return opens

    # ------------------------------------------------------------------ hooks
    async def check_post(self, ident: Identity, state: ConvState, post: Post) -> None:
        refusal = await self.closed(ident, state.school)
        if refusal is not None:
            raise refusal

    async def may_type(self, ident: Identity, state: ConvState) -> bool:
        return await self.closed(ident, state.school) is None


def _message(schedule: Schedule, role: str, now: datetime.datetime, opens: Optional[datetime.datetime]) -> str:
    who = {"student": "students", "teacher": "teachers"}.get(role, role + "s")
    holiday = quiet_hours.holiday_on(schedule, now.astimezone(schedule.tz).date())
    why = ("it is %s" % holiday.name) if holiday is not None and holiday.name else (
        "a holiday" if holiday is not None else "outside the school's chat hours")
    if opens is None:
        return "Quiet hours: %s cannot send messages now (%s)." % (who, why)
    return "Quiet hours: %s cannot send messages now (%s); chat opens at %s (%s)." % (
        who, why, opens.strftime("%H:%M on %a %d %b %Y"), schedule.zone)


class QuietHoursActions:
    """What the socket tier asks of the safety gate besides sends: whether a typist is heard.
    (Whether the caller may send now is in ``GET`` of the school policy: ``sending``.)"""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def typing_audience(self, ident: Identity, conversation_id: str) -> Optional[List[str]]:
        """The participants a ``typing:start`` of the caller goes to; None when the safety gate
        drops it (quiet hours). 403/404 as for any conversation the caller is not in."""
        state = await self.core.participant(ident, conversation_id)
        if not await self.core.safety.may_type(ident, state):
            return None
        return state.member_ids
