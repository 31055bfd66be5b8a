"""Which oversight access grants are in force (see :mod:`chat.domain.oversight.grants`).

Grants are stored (``oversight_grants``), so one made on one node of a cluster holds on every
other: a node remembers the grants it has found until they expire (a grant is never withdrawn
early) and asks storage about any other, so a grant made elsewhere a moment ago is found.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from chat.clock import Clock
from chat.store.grant_repo import Grants

#: grants a node remembers (past this the memory starts again: storage is the truth)
MAX_REMEMBERED = 10000


class GrantBook:
    """Which oversight grants are in force. This base holds none (domain objects built
    without storage in unit tests)."""

    async def active(self, user_id: str, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The user's grant for the conversation in force now (None: there is none)."""
        return None

    def remember(self, grant: Dict[str, Any]) -> None:
        """A grant this process just stored."""


class StoredGrants(GrantBook):
    """Grants from ``oversight_grants`` (see the module doc)."""

    def __init__(self, repo: Grants, clock: Clock) -> None:
        self._repo = repo
        self._clock = clock
        self._known: Dict[Tuple[str, str], Dict[str, Any]] = {}

    def now_ms(self) -> int:
        return int(self._clock.time() * 1000)

    async def active(self, user_id: str, conversation_id: str) -> Optional[Dict[str, Any]]:
        now = self.now_ms()
        key = (user_id, conversation_id)
        held = self._known.get(key)
        if held is not None:
            if held["expiresAt"] > now:
                return held
            del self._known[key]
        # not known here (or expired): another node may have made one since
        for grant in await self._repo.active_of_user(user_id, now):
            if grant["conversationId"] == conversation_id:
                self.remember(grant)
                return grant
        return None

    def remember(self, grant: Dict[str, Any]) -> None:
        key = (grant["userId"], grant["conversationId"])
        held = self._known.get(key)
        if held is not None and held["expiresAt"] >= grant["expiresAt"]:
            return
        if len(self._known) >= MAX_REMEMBERED:
            self._known.clear()
        self._known[key] = grant

    async def of_user(self, user_id: str) -> List[Dict[str, Any]]:
        """The user's grants in force now, newest first."""
        return await self._repo.active_of_user(user_id, self.now_ms())
