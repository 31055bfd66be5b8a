"""Export of one person's data (a parent's data request): a job that writes a zip to disk,
and a signed, expiring link through which the admin downloads it.

``POST /api/exports {userId}`` (the school's admins; another school's user 404) records
``export.create`` and stores a job ``{status: queued}`` (while one of that user is still queued
or running, that job is the answer instead: one at a time per user); this process then writes
the archive, at most ``export_max_running`` at once (the others wait ``queued``)
(:class:`chat.domain.oversight.export_zip.ExportWriter`) under ``<data-dir>/exports/``,
storing its progress after each page (``running``, ``progress {messages, files, bytes}``),
and ends ``done`` (``size``) or ``failed`` (``error``). ``GET /api/exports`` and
``GET /api/exports/{id}`` show the jobs; a done job's view carries ``downloadUrl``, signed for
the caller and valid ``export_link_ttl`` seconds (on the injected clock).
``GET /api/exports/{id}/download?u=&r=&s=&e=&sig=`` finds the job (an unknown id: 404), checks
the signature (a forged, altered or expired link: 403), that its signer is still an admin of the job's school
(one the directory does not hold: 403), records
``export.download`` and streams the file.

The archive is written as ``<data-dir>/exports/<id>.zip.part``, then stored through the upload
storage (``sha256`` in the job: ``fs`` keeps it under the data dir, ``gridfs`` in the shared
database, so every node of a cluster serves the link; a node's cached copy is dropped after it
is served). :class:`chat.domain.oversight.export_sweep.ExportSweeper` removes it after
``export_keep_hours`` (the job becomes ``expired``, its link answers 410 ``export_expired``) and
fails the jobs of a killed process.
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
from chat.domain.oversight.export_sweep import STOPPED, ExportSweeper
from chat.domain.oversight.export_zip import ExportWriter
from chat.errors import BadRequest, ChatError, ExportExpired, Forbidden, NotFound, Unauthorized
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
        self._writing: Set[str] = set()  # the ids of the jobs this process is writing
        self._serving: Dict[str, int] = {}  # archive sha256 -> downloads of it under way here
        self._creating = asyncio.Lock()  # one check-then-insert at a time: one unfinished job per user
        self._slots = asyncio.Semaphore(core.settings.export_max_running)  # jobs written here at once
        self.sweeper = ExportSweeper(core, uploads, self.dir, lambda: set(self._writing))

    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    # ------------------------------------------------------------------ jobs
    async def create(self, ident: Identity, body: Any) -> Dict[str, Any]:
        """Start an export of a user of the caller's school; while one of that user is still
        ``queued`` or ``running``, that job is the answer (nothing new is started or recorded)."""
        check_admin(ident)
        user_id = parse_body(body)
        user = await self.core.store.directory.get_user(user_id)
        if user is None or user.get("school") != ident.school:
            raise NotFound("no such user")
        async with self._creating:
            unfinished = await self.core.store.personal.unfinished_job_of(user_id)
            if unfinished is not None and unfinished.get("school") == ident.school:
                return job_view(unfinished)
            await self.core.audit.record(ident.user_id, AuditAction.EXPORT, ident.school, {"userId": user_id}, {})
            now = self._now()
            job = await self.core.store.personal.insert_job({
                "school": ident.school, "userId": user_id, "requestedBy": ident.user_id, "status": "queued",
                "progress": {"messages": 0, "files": 0, "bytes": 0}, "size": None, "error": None, "file": None,
                "node": self.node, "createdAt": now, "startedAt": None, "heartbeatAt": now, "finishedAt": None})
        self._writing.add(job["id"])
        task = asyncio.ensure_future(self._run(job, user))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._writing.discard(job["id"]))
        return job_view(job)

    async def _pause(self) -> None:
        """``export_page_pause_ms`` between pages (on the injected clock): a big export leaves
        the database to the chat."""
        delay = self.core.settings.export_page_pause_ms / 1000.0
        if delay > 0:
            waiter: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()

            def wake() -> None:
                if not waiter.done():
                    waiter.set_result(None)
            timer = self.core.clock.call_later(delay, wake)
            try:
                await waiter
            finally:
                timer.cancel()

    async def _run(self, job: Dict[str, Any], user: Dict[str, Any]) -> None:
        repo = self.core.store.personal
        path = os.path.join(self.dir, job["id"] + ".zip")
        acquired = False
        try:
            await self._slots.acquire()  # at most export_max_running at once; the others stay queued
            acquired = True
            await repo.update_job(job["id"], {"status": "running", "startedAt": self._now(),
                                              "heartbeatAt": self._now()})

            async def progress(counts: Dict[str, int]) -> None:
                await repo.update_job(job["id"], {"progress": counts, "heartbeatAt": self._now()})
                await self._pause()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: os.makedirs(self.dir, exist_ok=True))
            writer = ExportWriter(self.core.store, self.uploads.storage if self.uploads else None,
                                  self.core.settings.export_batch, progress)
            counts = await writer.write(user, path, self._now())
            size = os.path.getsize(path)
            sha: Optional[str] = None
            if self.uploads is not None:  # stored where every node finds it
                sha = await loop.run_in_executor(None, _sha256, path)
                job["sha256"] = sha  # first: a job that fails from here on removes what was stored
                await repo.update_job(job["id"], {"sha256": sha, "heartbeatAt": self._now()})
                await self.uploads.storage.put(sha, path)
            await repo.update_job(job["id"], {"status": "done", "progress": counts, "size": size, "sha256": sha,
                                              "file": os.path.basename(path), "finishedAt": self._now()})
        except asyncio.CancelledError:  # the server stops: the job says so
            await self._failed(job, STOPPED, path)
            raise
        except Exception as exc:  # storage or disk: the job says so, the admin may start another
            log.warning("export %s failed: %s", job["id"], exc if isinstance(exc, ChatError) else type(exc).__name__)
            await self._failed(job, "the export could not be written", path)
        finally:
            if acquired:
                self._slots.release()

    async def _failed(self, job: Dict[str, Any], error: str, path: str) -> None:
        for leftover in (path, path + ".part"):
            try:
                os.unlink(leftover)
            except OSError:
                pass
        try:
            if job.get("sha256"):  # stored (or being stored) already: removed
                await self.sweeper.remove_archive(job)
            await self.core.store.personal.update_job(job["id"], {"status": "failed", "error": error,
                                                                  "finishedAt": self._now()})
        except (ChatError, OSError):
            pass

    async def settled(self) -> None:
        """Wait for the exports this process is writing (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def start(self, alone: bool) -> None:
        """At start-up: the sweep (``alone``: not a cluster node, see
        :meth:`chat.domain.oversight.export_sweep.ExportSweeper.start`)."""
        await self.sweeper.start(alone)

    async def stop(self) -> None:
        """At shutdown: the sweep stops, and the exports under way (each job marked failed)."""
        await self.sweeper.stop()
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
        """What a signed link serves: ``{path, root, name, sha256}``; 403 for a forged, altered
        or expired link or a signer who is no longer an admin; 410 for an export whose archive
        the sweep removed; 404 for an unknown export, or when there is nothing to serve."""
        if await self.core.store.personal.get_job(job_id) is None:
            raise NotFound("no such export")
        try:
            ident = self.signer.verify(job_id, VARIANT, args, now=self.core.clock.time())
        except Unauthorized as exc:
            raise Forbidden(exc.message) from None
        check_admin(ident)
        user = await self.core.store.directory.get_user(ident.user_id)
        if user is None or user.get("role") != Role.ADMIN or user.get("school") != ident.school:
            raise Forbidden("the link's signer is no longer an admin of this school")
        job = await self._job(ident, job_id)
        if job.get("status") == "expired":
            raise ExportExpired()
        sha = job.get("sha256")
        root = self.dir
        path: Optional[str] = os.path.join(self.dir, str(job.get("file") or ""))
        if sha and self.uploads is not None:
            root = self.uploads.storage.serve_root
            path = await self.uploads.storage.local_path(sha)
        elif sha or not os.path.isfile(str(path)):
            path = None
        if job.get("status") != "done" or not job.get("file") or path is None:
            raise NotFound("the export's archive is not stored")
        await self.core.audit.record(ident.user_id, AuditAction.EXPORT_DOWNLOAD, ident.school,
                                     {"userId": job.get("userId"), "exportId": job["id"]}, {})
        if sha:
            self._serving[sha] = self._serving.get(sha, 0) + 1
        return {"path": path, "root": root, "sha256": sha,
                "name": "export-%s-%s.zip" % (job.get("userId"), job["id"])}

    async def served(self, found: Dict[str, Any]) -> None:
        """A download ended: once no other download of it is under way here, a local copy that
        only caches the stored archive (``gridfs``) is dropped, so personal data is not left on
        every node that served it."""
        sha = found.get("sha256")
        if not sha:
            return
        left = self._serving.get(sha, 1) - 1
        if left > 0:  # another download of it is still reading the copy
            self._serving[sha] = left
            return
        self._serving.pop(sha, None)
        if self.uploads is not None:
            try:
                await self.uploads.storage.drop_copy(sha)
            except OSError:
                pass


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
