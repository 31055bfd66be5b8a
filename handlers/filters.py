"""Word filters (safeguarding §5): ``GET``/``PUT /api/schools/{schoolId}/filters``."""
from __future__ import annotations

from chat.rules.filterlists import parse_filter_lists
from handlers.base import ApiHandler


class SchoolFiltersHandler(ApiHandler):
    """A school's word lists: its admins read and replace them."""

    async def get(self, school_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.filters.get(ident, school_id))

    async def put(self, school_id: str) -> None:
        ident = await self.identity()
        lists = parse_filter_lists(self.body(), self.runtime.settings)
        self.send(await self.runtime.service.filters.put(ident, school_id, lists))
