"""REST handlers of scheduled messages (README "Scheduled messages"): the author's own only.
Scheduling itself is ``POST /api/conversations/{id}/messages`` with ``sendAt``
(:class:`handlers.api.MessagesHandler`). Each method: parse, authorize, one service call, render."""
from __future__ import annotations

from chat.rules.scheduling import parse_schedule_patch
from handlers.base import ApiHandler


class ScheduledListHandler(ApiHandler):
    """``GET /api/scheduled``: the caller's scheduled messages not sent yet."""

    async def get(self) -> None:
        ident = await self.identity()
        self.send_list(await self.runtime.service.scheduled.list(ident), False, None)


class ScheduledHandler(ApiHandler):
    """``GET``/``PATCH``/``DELETE /api/scheduled/{id}``."""

    async def get(self, scheduled_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.scheduled.get(ident, scheduled_id))

    async def patch(self, scheduled_id: str) -> None:
        ident = await self.identity()
        patch = parse_schedule_patch(self.body(), self.runtime.settings)
        self.send(await self.runtime.service.scheduled.edit(ident, scheduled_id, patch))

    async def delete(self, scheduled_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.scheduled.cancel(ident, scheduled_id))
