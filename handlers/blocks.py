"""REST handlers of blocks and conversation mutes (README "Blocks, mutes and slow mode").
Each method: parse, authorize, one service call, render."""
from __future__ import annotations

from chat.rules import validation as v
from handlers.base import ApiHandler


class BlocksHandler(ApiHandler):
    """``GET /api/blocks``: the users the caller blocks."""

    async def get(self) -> None:
        ident = await self.identity()
        self.send_list(await self.runtime.service.blocks.list(ident), False, None)


class BlockHandler(ApiHandler):
    """``PUT``/``DELETE /api/blocks/{userId}``."""

    async def put(self, user_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.blocks.block(ident, user_id))

    async def delete(self, user_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.blocks.unblock(ident, user_id))


class MutesHandler(ApiHandler):
    """``GET /api/conversations/{id}/mutes``: the mutes that have not ended."""

    async def get(self, conversation_id: str) -> None:
        ident = await self.identity()
        self.send_list(await self.runtime.service.blocks.mutes(ident, conversation_id), False, None)


class MuteHandler(ApiHandler):
    """``PUT /api/conversations/{id}/mutes/{userId}`` ``{minutes}`` and ``DELETE``."""

    async def put(self, conversation_id: str, user_id: str) -> None:
        ident = await self.identity()
        minutes = v.parse_mute(self.body())
        self.send(await self.runtime.service.blocks.mute(ident, conversation_id, user_id, minutes))

    async def delete(self, conversation_id: str, user_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.blocks.unmute(ident, conversation_id, user_id))
