"""REST handlers of retention and legal holds (README "Retention and legal holds"): the
school's admins only. Each method: parse, authorize, one service call, render."""
from __future__ import annotations

from typing import Any

from handlers.base import ApiHandler


class SchoolRetentionHandler(ApiHandler):
    """``GET``/``PUT /api/schools/{schoolId}/retention``."""

    async def get(self, school_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.retention.get(ident, school_id))

    async def put(self, school_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.retention.put(ident, school_id, self.body()))


class HoldsHandler(ApiHandler):
    """``GET /api/holds``: the school's legal holds."""

    async def get(self) -> None:
        ident = await self.identity()
        self.send_list(await self.runtime.service.holds.list(ident), False, None)


class HoldHandler(ApiHandler):
    """``PUT``/``DELETE /api/holds/users/{userId}`` and ``/api/holds/conversations/{id}``."""

    kind: str

    def initialize(self, runtime: Any, kind: str) -> None:  # type: ignore[override]
        super().initialize(runtime)
        self.kind = kind

    async def put(self, target_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.holds.set(ident, self.kind, target_id, self.body()))

    async def delete(self, target_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.holds.release(ident, self.kind, target_id))
