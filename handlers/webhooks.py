"""REST handlers of webhooks (README "Webhooks"): the school's admins only. Each method:
parse, authorize, one service call, render."""
from __future__ import annotations

from chat.rules import notify_input as ni, validation as v
from handlers.base import ApiHandler


class WebhooksHandler(ApiHandler):
    """``GET``/``POST /api/webhooks``."""

    async def get(self) -> None:
        ident = await self.identity()
        self.send_list(await self.runtime.service.webhooks.list(ident), False, None)

    async def post(self) -> None:
        ident = await self.identity()
        spec = ni.parse_webhook(self.body(), creating=True)
        self.send(await self.runtime.service.webhooks.create(ident, spec), 201)


class WebhookHandler(ApiHandler):
    """``GET``/``PATCH``/``DELETE /api/webhooks/{id}``."""

    async def get(self, hook_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.webhooks.get(ident, hook_id))

    async def patch(self, hook_id: str) -> None:
        ident = await self.identity()
        spec = ni.parse_webhook(self.body(), creating=False)
        self.send(await self.runtime.service.webhooks.update(ident, hook_id, spec))

    async def delete(self, hook_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.webhooks.delete(ident, hook_id))


class DeadLettersHandler(ApiHandler):
    """``GET /api/webhooks/{id}/dead-letters?limit=``: given-up deliveries, newest first."""

    async def get(self, hook_id: str) -> None:
        ident = await self.identity()
        limit = v.query_int(self.arg("limit"), "limit", 50, 1, ni.MAX_DEAD_PAGE)
        self.send_list(await self.runtime.service.webhooks.dead_letters(ident, hook_id, limit), False, None)


class ReplayHandler(ApiHandler):
    """``POST /api/webhooks/{id}/dead-letters/replay`` ``{ids}``: queue them again."""

    async def post(self, hook_id: str) -> None:
        ident = await self.identity()
        ids = ni.parse_replay(self.body())
        self.send(await self.runtime.service.webhooks.replay(ident, hook_id, ids))
