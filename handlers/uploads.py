"""Upload routes: a streamed ``POST /api/uploads``, signed links, and downloads served by
Tornado's static-file machinery (Range, ETag, conditional requests)."""
from __future__ import annotations

import os
from typing import Any, Optional

import tornado.iostream
import tornado.web

from chat.auth import Identity
from chat.errors import BadRequest, ChatError
from chat.rules import validation as v
from chat.uploads import UploadsService
from chat.uploads.service import Download, UploadSink
from handlers.base import ApiHandler, JsonErrors, bearer

# Tornado stops reading a chunked body this far past the limit by itself; below it the
# handler answers 413 at the first byte over the limit.
_SLACK = 1 << 20
MAX_LINK_IDS = 100


@tornado.web.stream_request_body
class UploadHandler(ApiHandler):
    """``POST /api/uploads?name=worksheet.pdf``: the raw body is the file (curl
    ``--data-binary @file``, a browser ``xhr.send(file)``). The client's Content-Type is ignored."""

    uploads: UploadsService
    sink: Optional[UploadSink] = None

    def initialize(self, runtime: Any, uploads: UploadsService) -> None:  # type: ignore[override]
        super().initialize(runtime)
        self.uploads = uploads

    async def prepare(self) -> None:  # type: ignore[override]
        if self.request.method != "POST":
            return
        ident = await self.identity()
        length = self.request.headers.get("Content-Length")
        declared = int(length) if length and length.isdigit() else None
        self.request.connection.set_max_body_size(self.uploads.settings.max_upload_bytes + _SLACK)
        # the raw argument: Tornado's accessors turn control characters into spaces, and the
        # name policy removes them instead
        raw_name = self.request.query_arguments.get("name", [None])[-1]
        name = raw_name.decode("utf-8", "replace") if raw_name is not None else None
        sink = await self.uploads.begin(ident, name, declared)
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None and stream.closed():
            self.uploads.abort(sink)  # the client left while the upload was being opened
            return
        self.sink = sink

    async def data_received(self, chunk: bytes) -> None:  # type: ignore[override]
        # Tornado reads no more of the body until this returns (a quota reservation may wait)
        if self.sink is None or self._finished:
            return  # refused already: what is still in flight is dropped with the connection
        try:
            await self.uploads.receive(self.sink, chunk)
        except ChatError as exc:
            self._drop()
            if self._finished or self.request.connection.stream.closed():  # type: ignore[attr-defined]
                return
            # finishing while the body is unread makes Tornado close the connection after the
            # answer, so the rest of the file is never read
            self.send_error(exc.status, exc_info=(type(exc), exc, None))

    async def post(self) -> None:
        sink, self.sink = self.sink, None
        if sink is None:
            raise BadRequest("no upload in progress")
        try:
            view = await self.uploads.finish(sink)
        except BaseException:
            self.uploads.abort(sink)
            raise
        self.send(view, 201)

    def _drop(self) -> None:
        if self.sink is not None:
            self.uploads.abort(self.sink)
            self.sink = None

    def on_connection_close(self) -> None:
        self._drop()
        super().on_connection_close()

    def on_finish(self) -> None:
        self._drop()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, tornado.iostream.StreamClosedError):
            return  # the client went away mid-upload (or after a refusal): nothing to report
        super().log_exception(typ, value, tb)


class UploadLinksHandler(ApiHandler):
    """``POST /api/uploads/links {"ids": [...]}``: short-lived signed URLs (for ``<img>`` and
    plain links, which cannot send an Authorization header) of the uploads the caller may open;
    others are left out."""

    def initialize(self, runtime: Any, uploads: UploadsService) -> None:  # type: ignore[override]
        super().initialize(runtime)
        self.uploads = uploads

    async def post(self) -> None:
        ident = await self.identity()
        body = v.obj(self.body())
        ids = body.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > MAX_LINK_IDS:
            raise BadRequest("ids must be a list of at most %d upload ids" % MAX_LINK_IDS)
        self.send(await self.uploads.links(ident, ids))


class UploadFileHandler(JsonErrors, tornado.web.StaticFileHandler):
    """``GET``/``HEAD /api/uploads/{id}`` and ``…/{id}/thumbnail``, with ``Authorization:
    Bearer`` or a signed link's ``u, r, s, e, sig``; a JWT in the URL is never accepted."""

    def initialize(self, runtime: Any, uploads: UploadsService, variant: str) -> None:  # type: ignore[override]
        self.runtime = runtime
        self.uploads = uploads
        self.variant = variant
        self.root = ""
        self.default_filename = None
        self.download: Optional[Download] = None

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")  # error answers too

    async def _caller(self, upload_id: str) -> Identity:
        if self.get_query_argument("sig", None) is not None:
            args = {k: self.get_query_argument(k, "") or "" for k in ("u", "r", "s", "e", "sig")}
            return self.uploads.signer.verify(upload_id, self.variant, args)
        ident = self.runtime.verifier.verify(bearer(self.request))
        return await self.runtime.service.directory.touch_identity(ident)

    async def get(self, upload_id: str, include_body: bool = True) -> None:  # type: ignore[override]
        ident = await self._caller(upload_id)
        self.download = await self.uploads.download(ident, upload_id, self.variant)
        self.root = self.download.root
        await super().get(os.path.relpath(self.download.path, self.download.root), include_body)

    def compute_etag(self) -> Optional[str]:
        return self.download.etag if self.download is not None else None

    def get_content_type(self) -> str:
        assert self.download is not None
        mime = self.download.mime
        return mime + "; charset=utf-8" if mime == "text/plain" else mime

    def set_extra_headers(self, path: str) -> None:
        assert self.download is not None
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Disposition", self.download.disposition)
        # a file opened directly must not run anything, whatever a browser makes of it
        self.set_header("Content-Security-Policy", "default-src 'none'; img-src 'self'; media-src 'self'; sandbox")
        self.set_header("Cache-Control", "private, max-age=%d" % max(0, self.uploads.signer.ttl))
