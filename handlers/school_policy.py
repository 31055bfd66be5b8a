"""``GET``/``PUT /api/schools/{schoolId}/policy``: the school's safeguarding policy (README "School policy")."""
from __future__ import annotations

from handlers.base import ApiHandler


class SchoolPolicyHandler(ApiHandler):
    """Any member of the school reads it; the school's admins change it."""

    async def get(self, school_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.school_policy.get(ident, school_id))

    async def put(self, school_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.school_policy.put(ident, school_id, self.body()))
