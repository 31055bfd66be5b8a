"""The export sweep: archives do not lie on disk forever, and a killed job does not stay ``running``.

Every ``export_sweep_interval`` seconds (on the injected clock), in every process (each of its
steps is a conditional update, so two nodes doing it at once do no harm):

1. the heartbeat: ``heartbeatAt`` of the jobs this process is writing becomes now;
2. a job ``queued`` or ``running`` whose heartbeat is older than ``export_stale_seconds`` (its
   process was killed, or its node is gone) becomes ``failed`` with a reason (what it had
   stored of its archive removed): the admin starts another;
3. a ``done`` job finished more than ``export_keep_hours`` ago loses its archive (from the
   upload storage, unless an upload has the same bytes) and becomes ``expired``: it stays
   listed, and its link answers 410 ``export_expired``;
4. the files under ``<data-dir>/exports/`` that no export of this process is writing (a
   ``.zip.part`` a crash left) are removed: the directory belongs to this process (one
   server per data dir).

At start-up, one pass runs at once; a server that is not a cluster node (no Redis: nothing else
shares its database) first fails every job still ``queued`` or ``running``, since none is.
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Set

from chat.domain.periodic import Periodic
from chat.errors import ChatError

if TYPE_CHECKING:
    from chat.domain.core import Core
    from chat.uploads import UploadsService

log = logging.getLogger("chat.exports")

#: jobs one pass reads per storage call
PAGE = 100
STOPPED = "the server stopped while writing the export"
STALE = "the server writing the export stopped answering (killed or gone)"


class ExportSweeper:
    """Runs the export sweep on the clock (see the module doc)."""

    def __init__(self, core: "Core", uploads: Optional["UploadsService"], directory: str,
                 writing: Callable[[], Set[str]]) -> None:
        """``writing()``: the ids of the jobs this process is writing now."""
        self.core = core
        self.uploads = uploads
        self.dir = directory
        self.writing = writing
        self.passes = 0
        self._periodic = Periodic(core.clock, lambda: self.interval, self.run_once, "export sweep")

    @property
    def interval(self) -> float:
        return float(self.core.settings.export_sweep_interval)

    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    # ------------------------------------------------------------------ scheduling
    async def start(self, alone: bool) -> None:
        """At start-up: ``alone`` (not a cluster node): fail every unfinished job; one pass;
        then a pass every interval (0: only this one)."""
        try:
            if alone:
                for job in await self.core.store.personal.unfinished_jobs(10 * PAGE):
                    if job["id"] not in self.writing() and await self.core.store.personal.fail_job(
                            job["id"], STOPPED, self._now()):
                        await self.remove_archive(job)
            await self.run_once()
        except ChatError as exc:  # storage down: the next pass does it
            log.warning("export sweep at start-up failed: %s", exc.message)
        self._periodic.start()

    async def settled(self) -> None:
        """Wait for the pass under way, if any (tests, after advancing the clock)."""
        await self._periodic.settled()

    async def stop(self) -> None:
        await self._periodic.stop()

    # ------------------------------------------------------------------ one pass
    async def run_once(self) -> None:
        repo = self.core.store.personal
        settings = self.core.settings
        now = self._now()
        live = self.writing()
        await repo.touch_jobs(sorted(live), now)
        stale_before = now - settings.export_stale_seconds * 1000
        for job in await repo.unfinished_jobs(10 * PAGE):
            if job["id"] not in live and int(job.get("heartbeatAt") or job.get("createdAt") or 0) < stale_before:
                if await repo.fail_job(job["id"], STALE, now, stale_before=stale_before):
                    log.warning("export %s failed: no heartbeat since %s", job["id"], job.get("heartbeatAt"))
                    await self.remove_archive(job)
        while True:
            due = await repo.due_jobs(now - settings.export_keep_hours * 3_600_000, PAGE)
            for job in due:
                await self.remove_archive(job)
                await repo.expire_job(job["id"], now)
            if len(due) < PAGE:
                break
        await self._leftovers()
        self.passes += 1

    async def remove_archive(self, job: Any) -> None:
        """The archive's bytes (of an expired job, or of one that failed while or after they
        were stored): from the upload storage (unless an upload has the same bytes), or the
        local file of a server without one."""
        sha = job.get("sha256")
        if sha and self.uploads is not None:
            if not await self.core.store.personal.sha_in_uploads(sha):
                await self.uploads.storage.delete(sha)
            return
        if job.get("file"):
            await _in_thread(_unlink, [os.path.join(self.dir, os.path.basename(str(job["file"])))])

    async def _leftovers(self) -> None:
        """Files of the exports directory no export of this process is writing: a ``.part``
        left by a crash (a finished archive is in the upload storage, not here)."""
        def names() -> List[str]:
            try:
                return os.listdir(self.dir)
            except FileNotFoundError:
                return []
        found = await _in_thread(names)
        live = self.writing()  # after the listing: a job writing a file listed was already live
        stray = [n for n in found if n.endswith(".part") and n.split(".", 1)[0] not in live]
        if stray:
            await _in_thread(_unlink, [os.path.join(self.dir, n) for n in stray])
            log.info("removed %d partial export file(s) left by a stopped server", len(stray))


def _unlink(paths: List[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass


async def _in_thread(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
