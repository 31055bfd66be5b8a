"""Export of one person's data (a parent's data request): a job that writes a zip to disk,
and a signed, expiring link through which the admin downloads it.

``POST /api/exports {userId}`` (the school's admins; another school's user 404) records
``export.create`` and stores a job ``{status: queued}``; this process then writes the archive
(:class:`chat.domain.oversight.export_zip.ExportWriter`) under ``<data-dir>/exports/``,
storing its progress after each page (``running``, ``progress {messages, files, bytes}``),
and ends ``done`` (``size``) or ``failed`` (``error``). ``GET /api/exports`` and
``GET /api/exports/{id}`` show the jobs; a done job's view carries ``downloadUrl``, signed for
the caller and valid ``export_link_ttl`` seconds (on the injected clock).
``GET /api/exports/{id}/download?u=&r=&s=&e=&sig=`` finds the job (an unknown id: 404), checks
the signature (a forged, altered or expired link: 403), that its signer is still an admin of the job's school, records
``export.download`` and streams the file.

The archive is on the disk of the process that wrote it (``node`` in the job): in a cluster
the download is served by that node (another answers 404 until it is).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set
from urllib.parse import urlencode

from chat.auth import Identity, resolve_secret
from chat.domain.oversight.audit import AuditAction
from chat.domain.oversight.export_zip import ExportWriter
from chat.errors import BadRequest, ChatError, Forbidden, NotFound, Unauthorized
from chat.rules.validation import obj, string
from chat.timeutil import iso
from chat.uploads.signing import UrlSigner
from chat.vocab import Role

if TYPE_CHECKING:
    from chat.domain.core import Core
    from chat.uploads import UploadsService

log = logging.getLogger("chat.exports")

VARIANT = "export"
#: jobs ``GET /api/exports`` lists (newest first)
LIST_LIMIT = 100


def export_key(secret: str) -> bytes:
    """A key for export links only, derived from the server's secret."""
    return hmac.new(secret.encode("utf-8"), b"chat export download links v1", hashlib.sha256).digest()


def export_dir(data_dir: str) -> str:
    return os.path.join(os.path.abspath(data_dir), "exports")


def download_path(job_id: str) -> str:
    return "/api/exports/%s/download" % job_id


def job_view(doc: Dict[str, Any]) -> Dict[str, Any]:
    progress = doc.get("progress") or {}
    return {"id": doc["id"], "userId": doc.get("userId"), "requestedBy": doc.get("requestedBy"),
            "status": doc.get("status"),
            "progress": {k: int(progress.get(k) or 0) for k in ("messages", "files", "bytes")},
            "size": doc.get("size"), "error": doc.get("error"), "createdAt": iso(doc.get("createdAt")),
            "finishedAt": iso(doc.get("finishedAt")), "downloadUrl": None, "downloadExpiresAt": None}


def check_admin(ident: Identity) -> None:
    if ident.role != Role.ADMIN:
        raise Forbidden("only the school's admins export a user's data")


def parse_body(body: Any) -> str:
    value = obj(body)
    unknown = sorted(set(value) - {"userId"})
    if unknown:
        raise BadRequest("unknown field: %s" % unknown[0])
    user_id = string(value, "userId", max_len=200)
    assert user_id is not None
    return user_id


class ExportActions:
    """Create, list, show and download exports (see the module doc)."""

    def __init__(self, core: "Core", uploads: Optional["UploadsService"]) -> None:
        self.core = core
        self.uploads = uploads
        self.signer = UrlSigner(export_key(resolve_secret(core.settings)), core.settings.export_link_ttl)
        self.node = os.urandom(8).hex()
        self.dir = export_dir(core.settings.data_dir)
        self._tasks: Set["asyncio.Task[None]"] = set()

    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    # ------------------------------------------------------------------ jobs
    async def create(self, ident: Identity, body: Any) -> Dict[str, Any]:
        """Start an export of a user of the caller's school."""
        check_admin(ident)
        user_id = parse_body(body)
        user = await self.core.store.directory.get_user(user_id)
        if user is None or user.get("school") != ident.school:
            raise NotFound("no such user")
        await self.core.audit.record(ident.user_id, AuditAction.EXPORT, ident.school, {"userId": user_id}, {})
        now = self._now()
        job = await self.core.store.personal.insert_job({
            "school": ident.school, "userId": user_id, "requestedBy": ident.user_id, "status": "queued",
            "progress": {"messages": 0, "files": 0, "bytes": 0}, "size": None, "error": None, "file": None,
            "node": self.node, "createdAt": now, "startedAt": None, "finishedAt": None})
        task = asyncio.ensure_future(self._run(job, user))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job_view(job)

    async def _run(self, job: Dict[str, Any], user: Dict[str, Any]) -> None:
        repo = self.core.store.personal
        path = os.path.join(self.dir, job["id"] + ".zip")
        try:
            await repo.update_job(job["id"], {"status": "running", "startedAt": self._now()})

            async def progress(counts: Dict[str, int]) -> None:
                await repo.update_job(job["id"], {"progress": counts})
            await asyncio.get_running_loop().run_in_executor(None, lambda: os.makedirs(self.dir, exist_ok=True))
            writer = ExportWriter(self.core.store, self.uploads.storage if self.uploads else None,
                                  self.core.settings.export_batch, progress)
            counts = await writer.write(user, path, self._now())
            await repo.update_job(job["id"], {"status": "done", "progress": counts, "size": os.path.getsize(path),
                                              "file": os.path.basename(path), "finishedAt": self._now()})
        except asyncio.CancelledError:  # the server stops: the job says so
            await self._failed(job["id"], "the server stopped while writing the export", path)
            raise
        except Exception as exc:  # storage or disk: the job says so, the admin may start another
            log.warning("export %s failed: %s", job["id"], exc if isinstance(exc, ChatError) else type(exc).__name__)
            await self._failed(job["id"], "the export could not be written", path)

    async def _failed(self, job_id: str, error: str, path: str) -> None:
        for leftover in (path, path + ".part"):
            try:
                os.unlink(leftover)
            except OSError:
                pass
        try:
            await self.core.store.personal.update_job(job_id, {"status": "failed", "error": error,
                                                               "finishedAt": self._now()})
        except ChatError:
            pass

    async def settled(self) -> None:
        """Wait for the exports this process is writing (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """At shutdown: the exports under way stop (each job marked failed)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _job(self, ident: Identity, job_id: str) -> Dict[str, Any]:
        job = await self.core.store.personal.get_job(job_id)
        if job is None or job.get("school") != ident.school:
            raise NotFound("no such export")
        return job

    def _with_link(self, ident: Identity, job: Dict[str, Any]) -> Dict[str, Any]:
        view = job_view(job)
        if job.get("status") == "done":
            exp = int(self.core.clock.time()) + self.signer.ttl
            view["downloadUrl"] = download_path(job["id"]) + "?" + urlencode(
                self.signer.query(job["id"], VARIANT, ident, exp))
            view["downloadExpiresAt"] = iso(exp * 1000)
        return view

    async def list(self, ident: Identity) -> List[Dict[str, Any]]:
        """The school's exports, newest first."""
        check_admin(ident)
        return [self._with_link(ident, j) for j in await self.core.store.personal.jobs_of_school(ident.school,
                                                                                                  LIST_LIMIT)]

    async def get(self, ident: Identity, job_id: str) -> Dict[str, Any]:
        """One export's status (and, once done, a fresh download link)."""
        check_admin(ident)
        return self._with_link(ident, await self._job(ident, job_id))

    # ------------------------------------------------------------------ download
    async def download(self, job_id: str, args: Dict[str, str]) -> Dict[str, Any]:
        """What a signed link serves: ``{path, name}``; 403 for a forged, altered or expired
        link or a signer who is no longer an admin; 404 for an unknown export, or when there is
        nothing to serve here."""
        if await self.core.store.personal.get_job(job_id) is None:
            raise NotFound("no such export")
        try:
            ident = self.signer.verify(job_id, VARIANT, args, now=self.core.clock.time())
        except Unauthorized as exc:
            raise Forbidden(exc.message) from None
        check_admin(ident)
        user = await self.core.store.directory.get_user(ident.user_id)
        if user is not None and (user.get("role") != Role.ADMIN or user.get("school") != ident.school):
            raise Forbidden("the link's signer is no longer an admin of this school")
        job = await self._job(ident, job_id)
        path = os.path.join(self.dir, str(job.get("file") or ""))
        if job.get("status") != "done" or not job.get("file") or not os.path.isfile(path):
            raise NotFound("the export is not stored here")
        await self.core.audit.record(ident.user_id, AuditAction.EXPORT_DOWNLOAD, ident.school,
                                     {"userId": job.get("userId"), "exportId": job["id"]}, {})
        return {"path": path, "root": self.dir, "name": "export-%s-%s.zip" % (job.get("userId"), job["id"])}
