"""The audit log (README "Audit log"): ``GET /api/audit`` for a school's admins. The route has
no other method: no API edits or deletes an entry (PUT, PATCH, DELETE, POST answer 405)."""
from __future__ import annotations

from chat.domain.oversight.audit_query import parse_query
from handlers.base import ApiHandler


class AuditHandler(ApiHandler):
    """``GET /api/audit?actor=&action=&since=&until=&limit=&next=``."""

    async def get(self) -> None:
        ident = await self.identity()
        query = parse_query(self.arg("actor"), self.arg("action"), self.arg("since"), self.arg("until"),
                            self.arg("limit"), self.arg("next"))
        page, has_more, next_cursor = await self.runtime.service.audit.list(ident, query)
        self.send_list(page, has_more, next_cursor)
