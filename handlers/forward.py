"""REST handler of forwarding (README "Forwarding"): parse, authorize, one service call, render."""
from __future__ import annotations

from chat.ratelimit import Limit
from chat.rules.forwarding import parse_forward
from handlers.base import ApiHandler


class ForwardHandler(ApiHandler):
    """``POST /api/messages/{id}/forward {conversationId, clientMsgId?}``."""

    async def post(self, message_id: str) -> None:
        ident = await self.identity()
        self.runtime.limiter.check(ident.user_id, Limit.SEND)  # a forward is a send
        fwd = parse_forward(self.body())
        message, created = await self.runtime.service.forwarding.forward(ident, message_id, fwd)
        self.send(message, 201 if created else 200)
