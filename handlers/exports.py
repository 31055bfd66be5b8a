"""REST handlers of export and erasure (README "Export and erasure"): the school's admins.
Each method: parse, authorize, one service call, render."""
from __future__ import annotations

import os
from typing import Any, Dict, Optional

import tornado.ioloop
import tornado.web

from handlers.base import ApiHandler, JsonErrors


class ExportsHandler(ApiHandler):
    """``GET /api/exports`` (the school's exports) and ``POST /api/exports {userId}``."""

    async def get(self) -> None:
        ident = await self.identity()
        self.send_list(await self.runtime.service.exports.list(ident), False, None)

    async def post(self) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.exports.create(ident, self.body()), 202)


class ExportHandler(ApiHandler):
    """``GET /api/exports/{id}``: status, progress and (once done) a signed download link."""

    async def get(self, job_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.exports.get(ident, job_id))


class ExportFileHandler(JsonErrors, tornado.web.StaticFileHandler):
    """``GET /api/exports/{id}/download?u=&r=&s=&e=&sig=``: the archive, streamed from disk in
    chunks by Tornado's static-file machinery (ranges too); the signed link is the only
    credential."""

    def initialize(self, runtime: Any) -> None:  # type: ignore[override]
        self.runtime = runtime
        self.root = ""
        self.default_filename = None
        self.found: Optional[Dict[str, Any]] = None

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")

    async def get(self, job_id: str, include_body: bool = True) -> None:  # type: ignore[override]
        args = {k: self.get_query_argument(k, "") or "" for k in ("u", "r", "s", "e", "sig")}
        self.found = await self.runtime.service.exports.download(job_id, args)
        self.root = self.found["root"]
        await super().get(os.path.relpath(self.found["path"], self.root), include_body)

    def on_finish(self) -> None:
        if self.found is not None:  # a node's cached copy of the archive goes once served
            found = self.found
            tornado.ioloop.IOLoop.current().add_callback(self.runtime.service.exports.served, found)

    def get_content_type(self) -> str:
        return "application/zip"

    def set_extra_headers(self, path: str) -> None:
        assert self.found is not None
        self.set_header("Content-Disposition", 'attachment; filename="%s"' % self.found["name"])
        self.set_header("Cache-Control", "private, no-store")


class EraseHandler(ApiHandler):
    """``POST /api/users/{id}/erase``."""

    async def post(self, user_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.erasure.erase(ident, user_id))
