"""Legal holds: what a hold covers is kept whatever else would delete it (retention, erasure,
a member's own delete) until the hold is released. Every deleting path asks
:meth:`HoldBook.covers` first."""
from __future__ import annotations

from typing import Optional


class HoldBook:
    """Which users and conversations are under a legal hold. This base keeps no holds; the
    retention-and-holds section builds the stored one."""

    async def covers(self, school: str, user_id: Optional[str] = None,
                     conversation_id: Optional[str] = None) -> bool:
        """True when a hold on ``user_id`` (the author of what is to be deleted) or on
        ``conversation_id`` (where it is) is in force in ``school``."""
        return False
