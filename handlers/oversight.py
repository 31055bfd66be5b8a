"""Oversight access grants (README "Oversight access"). Each method: parse, authorize, one
service call, render."""
from __future__ import annotations

from chat.domain.oversight.grants import parse_grant
from handlers.base import ApiHandler


class GrantsHandler(ApiHandler):
    """``POST /api/oversight/grants {conversationId, reason}`` opens a grant;
    ``GET /api/oversight/grants`` lists the caller's grants in force."""

    async def post(self) -> None:
        ident = await self.identity()
        conversation_id, reason = parse_grant(self.body())
        self.send(await self.runtime.service.grants.open(ident, conversation_id, reason), 201)

    async def get(self) -> None:
        ident = await self.identity()
        self.send_list(await self.runtime.service.grants.list(ident), False, None)
