"""The one place safeguarding rules are enforced (see the package doc).

A rule is a :class:`SafetyRule`: every hook is a no-op by default, so a rule implements only
the moments it cares about. A hook refuses by raising a :class:`chat.errors.ChatError`
(``policy_forbidden``, ``muted``, ``content_blocked``, ...), which reaches the caller as the
request's answer and changes nothing. :meth:`SafetyRule.after_post` runs once the message is
stored (to open a moderation case, say) and never refuses.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence

from chat.auth import Identity
from chat.live.convcache import ConvState


@dataclasses.dataclass
class Start:
    """A conversation about to be created: its type, the other participants, its title and
    (for a class conversation) the class."""

    type: str
    others: Sequence[str]
    title: Optional[str] = None
    class_id: Optional[str] = None


@dataclasses.dataclass
class Post:
    """A message about to be stored (or an edit: ``edit_of`` is the message id). Rules may add
    ``flags`` (what the filter matched, say) that :meth:`SafetyRule.after_post` then sees."""

    text: str
    attachment_names: Sequence[str] = ()
    mentions: Sequence[str] = ()
    edit_of: Optional[str] = None
    flags: List[Dict[str, Any]] = dataclasses.field(default_factory=list)


class SafetyRule:
    """One safeguarding rule; override the hooks it needs."""

    async def check_start(self, ident: Identity, start: Start) -> None:
        """Before a conversation is created (direct, group or class)."""

    async def check_join(self, ident: Identity, state: ConvState, user_ids: Sequence[str]) -> None:
        """Before ``ident`` adds these users to the conversation."""

    async def check_leave(self, ident: Identity, state: ConvState, user_id: str) -> None:
        """Before ``ident`` removes ``user_id`` (itself: leaving)."""

    async def check_title(self, ident: Identity, state: Optional[ConvState], title: str) -> None:
        """Before a title is set (``state`` None: at creation)."""

    async def check_post(self, ident: Identity, state: ConvState, post: Post) -> None:
        """Before a message is stored or edited."""

    async def after_post(self, ident: Identity, state: ConvState, post: Post, message: Dict[str, Any]) -> None:
        """After the message (its client view) was stored; must not raise."""

    async def may_type(self, ident: Identity, state: ConvState) -> bool:
        """Whether ``ident``'s ``typing:start`` here reaches the others (False: it is dropped)."""
        return True


class SafetyGate:
    """Every rule, in order; the first refusal wins."""

    def __init__(self, rules: Sequence[SafetyRule] = ()) -> None:
        self.rules: List[SafetyRule] = list(rules)

    def add(self, rule: SafetyRule) -> None:
        self.rules.append(rule)

    async def check_start(self, ident: Identity, start: Start) -> None:
        for rule in self.rules:
            await rule.check_start(ident, start)
        if start.title:
            await self.check_title(ident, None, start.title)

    async def check_join(self, ident: Identity, state: ConvState, user_ids: Sequence[str]) -> None:
        for rule in self.rules:
            await rule.check_join(ident, state, user_ids)

    async def check_leave(self, ident: Identity, state: ConvState, user_id: str) -> None:
        for rule in self.rules:
            await rule.check_leave(ident, state, user_id)

    async def check_title(self, ident: Identity, state: Optional[ConvState], title: str) -> None:
        for rule in self.rules:
            await rule.check_title(ident, state, title)

    async def check_post(self, ident: Identity, state: ConvState, post: Post) -> None:
        for rule in self.rules:
            await rule.check_post(ident, state, post)

    async def after_post(self, ident: Identity, state: ConvState, post: Post, message: Dict[str, Any]) -> None:
        for rule in self.rules:
            await rule.after_post(ident, state, post, message)

    async def may_type(self, ident: Identity, state: ConvState) -> bool:
        for rule in self.rules:
            if not await rule.may_type(ident, state):
                return False
        return True
