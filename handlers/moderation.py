"""Reports and the moderation queue (README "Reports and moderation"). Each method: parse,
authorize, one service call, render."""
from __future__ import annotations

import re

from chat.errors import BadRequest
from chat.ratelimit import Limit
from chat.rules import moderation_input as mi, validation as v
from chat.rules.moderation_input import CURSOR_PATTERN
from handlers.base import ApiHandler


class ReportMessageHandler(ApiHandler):
    """``POST /api/messages/{id}/report`` ``{reason, note}``."""

    async def post(self, message_id: str) -> None:
        ident = await self.identity()
        self.runtime.limiter.check(ident.user_id, Limit.REPORT)  # before parsing: a refused report costs too
        reason, note = mi.parse_report(self.body())
        data, created = await self.runtime.service.moderation.report_message(ident, message_id, reason, note)
        self.send(data, 201 if created else 200)


class ReportUserHandler(ApiHandler):
    """``POST /api/users/{id}/report`` ``{reason, note}``."""

    async def post(self, user_id: str) -> None:
        ident = await self.identity()
        self.runtime.limiter.check(ident.user_id, Limit.REPORT)
        reason, note = mi.parse_report(self.body())
        data, created = await self.runtime.service.moderation.report_user(ident, user_id, reason, note)
        self.send(data, 201 if created else 200)


class CasesHandler(ApiHandler):
    """``GET /api/moderation/cases?status=&limit=&next=``."""

    async def get(self) -> None:
        ident = await self.identity()
        status = self.arg("status") or None
        if status is not None and status not in mi.STATUSES:
            raise BadRequest("status must be one of %s" % ", ".join(mi.STATUSES))
        cursor = self.arg("next") or None
        if cursor is not None and not re.fullmatch(CURSOR_PATTERN, cursor):
            raise BadRequest("next must be a case id")
        limit = v.query_int(self.arg("limit"), "limit", 50, 1, mi.MAX_CASES_PAGE)
        page, has_more, next_cursor = await self.runtime.service.moderation.list(ident, status, cursor, limit)
        self.send_list(page, has_more, next_cursor)


class CaseHandler(ApiHandler):
    """``GET`` / ``PATCH /api/moderation/cases/{id}``."""

    async def get(self, case_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.moderation.detail(ident, case_id))

    async def patch(self, case_id: str) -> None:
        ident = await self.identity()
        change = mi.parse_case_change(self.body())
        self.send(await self.runtime.service.moderation.change(ident, case_id, change))


class SummaryHandler(ApiHandler):
    """``GET /api/moderation/summary``."""

    async def get(self) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.moderation.summary(ident))
