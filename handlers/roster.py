"""``POST /api/roster/import`` (README "Roster format"): a school's admin imports its roster from
the web client, JSON or CSV as the body, ``?dryRun=true`` for the preview only. Parse,
authorize, one call (chat/ops/roster_admin.py), render."""
from __future__ import annotations

from chat.errors import BadRequest
from chat.ops.roster_admin import import_upload
from chat.rules.validation import query_bool
from handlers.base import ApiHandler


class RosterImportHandler(ApiHandler):
    """``POST /api/roster/import?dryRun=``: the body bounded by ``CHAT_MAX_BODY_BYTES`` like any other."""

    async def post(self) -> None:
        ident = await self.identity()
        dry_run = bool(query_bool(self.arg("dryRun"), "dryRun"))
        try:
            text = (self.request.body or b"").decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the roster is not UTF-8 text") from None
        result = await import_upload(self.runtime.store, ident, text, self.request.headers.get("Content-Type", ""),
                                     dry_run)
        self.send(result)
