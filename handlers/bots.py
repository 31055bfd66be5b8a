"""REST handlers of bot accounts (README "Bots"): the school's admins only. Each method:
parse, authorize, one service call, render. (A bot itself posts through
``POST /api/conversations/{id}/messages``, handlers/api.py.)"""
from __future__ import annotations

from chat.rules import notify_input as ni
from handlers.base import ApiHandler


class BotsHandler(ApiHandler):
    """``GET``/``POST /api/bots``."""

    async def get(self) -> None:
        ident = await self.identity()
        self.send_list(await self.runtime.service.bots.list(ident), False, None)

    async def post(self) -> None:
        ident = await self.identity()
        spec = ni.parse_bot(self.body())
        self.send(await self.runtime.service.bots.create(ident, spec), 201)


class BotHandler(ApiHandler):
    """``DELETE /api/bots/{id}``: revoke the bot's token."""

    async def delete(self, bot_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.bots.revoke(ident, bot_id))
