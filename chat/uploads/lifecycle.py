"""Removing uploads: never attached ones after ``upload_orphan_hours``, those of deleted
messages after ``upload_retention_days`` (kept meanwhile for the school's audit); never one
a legal hold covers (its owner or its conversation held: :meth:`UploadsService.held`, the
same holds the retention sweep asks), which the next sweep after the release removes."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional

from chat.timeutil import now_ms
from chat.uploads.service import UploadsService

log = logging.getLogger("chat.uploads")

#: uploads one storage call reads
PAGE = 500


async def remove_upload(uploads: UploadsService, meta: Dict[str, Any]) -> None:
    """Delete an upload's record, then its bytes unless another upload shares them."""
    async with uploads.blob_lock:
        await uploads.repo.remove(meta["id"])
        for sha in (meta.get("sha256"), meta.get("thumbSha256")):
            if sha and not await uploads.repo.blob_in_use(sha):
                await uploads.storage.delete(sha)


async def sweep(uploads: UploadsService, now: Optional[int] = None) -> Dict[str, int]:
    """One pass; returns how many of each kind were removed."""
    now = now_ms() if now is None else now
    s = uploads.settings
    counts = {"orphans": 0, "expired": 0}
    batches: List[Any] = [("orphans", uploads.repo.orphans, now - int(s.upload_orphan_hours * 3600_000)),
                          ("expired", uploads.repo.expired, now - int(s.upload_retention_days * 86400_000))]
    kept = 0
    for kind, find, cutoff in batches:
        after = ""
        while True:
            found = await find(cutoff, PAGE, after)
            held = await uploads.held(found) if found else set()
            for meta in found:
                if meta["id"] not in held:
                    await remove_upload(uploads, meta)
            counts[kind] += len(found) - len(held)
            kept += len(held)
            if len(found) < PAGE:
                break
            after = found[-1]["id"]
    if counts["orphans"] or counts["expired"] or kept:
        log.info("removed %d never-attached and %d expired uploads; %d kept by legal holds",
                 counts["orphans"], counts["expired"], kept)
    return counts


async def message_deleted(uploads: UploadsService, message: Dict[str, Any], now: Optional[int] = None) -> None:
    """Call when a message is deleted: its uploads are no longer downloadable by participants
    (the message is no longer live) and their retention clock starts."""
    ids = [a["id"] for a in message.get("attachments") or [] if isinstance(a, dict) and isinstance(a.get("id"), str)]
    await uploads.repo.mark_deleted(ids, now_ms() if now is None else now)


class Sweeper:
    """Runs :func:`sweep` every ``upload_sweep_interval`` seconds until stopped."""

    def __init__(self, uploads: UploadsService) -> None:
        self._uploads = uploads
        self._task: Optional["asyncio.Task[None]"] = None

    def start(self) -> None:
        """Begin sweeping (the first pass one interval from now)."""
        if self._task is None and self._uploads.settings.upload_sweep_interval > 0:
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._uploads.settings.upload_sweep_interval)
            try:
                await sweep(self._uploads)
            except Exception:  # storage down: the next pass tries again
                log.exception("upload sweep failed")

    async def stop(self) -> None:
        """Cancel the loop and wait for it."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
