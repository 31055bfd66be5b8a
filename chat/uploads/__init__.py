"""File uploads: policy (sniffing, names, limits), storage backends (filesystem, GridFS),
image cleaning, metadata, signed download links, attachment resolution and lifecycle.

:func:`build_uploads` wires the pieces from settings and the store; nothing here imports
tornado.web or pymongo (the store's executor seam and collection handles are used, see
``seam.py``)."""
from __future__ import annotations

import asyncio
import os
from typing import Any, Callable, Optional

from chat.auth import resolve_secret
from chat.settings import Settings
from chat.uploads.attachments import MessageCarried, attachment_of, resolve_attachments
from chat.uploads.quota import Quota, UsedSince
from chat.uploads.repository import UploadsRepository
from chat.uploads.seam import StoreSeam
from chat.uploads.service import Carried, UploadsService, may_download, render
from chat.uploads.signing import UrlSigner, derive_key
from chat.uploads.storage import BlobStorage, FilesystemStorage, GridFSStorage

__all__ = ["build_uploads", "UploadsService", "resolve_attachments", "attachment_of", "may_download", "render",
           "MessageCarried", "BlobStorage", "FilesystemStorage", "GridFSStorage", "UploadsRepository", "UrlSigner"]

BACKENDS = ("fs", "gridfs")


def build_uploads(settings: Settings, store: Any, carried: Optional[Carried] = None,
                  take_send_token: Optional[Callable[[str], bool]] = None,
                  quota: Optional[Callable[[UsedSince], Quota]] = None) -> UploadsService:
    """The upload service for a server: storage chosen by ``upload_backend``, work files under
    ``<data-dir>/uploads/tmp``, links signed with ``upload_url_secret`` (or a key derived from
    the JWT secret), ``carried`` defaulting to :class:`MessageCarried` over the store, and
    ``take_send_token(user_id)`` (the per-user send bucket) defaulting to one kept by the service,
    and ``quota(used_since)`` making the daily quota's ledger (default: the process's own; a
    cluster node passes one shared in Redis)."""
    root = os.path.join(os.path.abspath(settings.data_dir), "uploads")
    work_dir = os.path.join(root, "tmp")
    os.makedirs(work_dir, exist_ok=True)
    seam = StoreSeam(store)
    if settings.upload_backend == "gridfs":
        storage: BlobStorage = GridFSStorage(seam, os.path.join(root, "cache"))
    elif settings.upload_backend == "fs":
        storage = FilesystemStorage(os.path.join(root, "blobs"), _in_thread)
    else:
        raise ValueError("upload_backend must be one of %s" % ", ".join(BACKENDS))
    signer = UrlSigner(derive_key(settings.upload_url_secret or resolve_secret(settings)), settings.upload_url_ttl)
    repo = UploadsRepository(seam)
    return UploadsService(settings, repo, storage, signer, work_dir, _in_thread,
                          carried if carried is not None else MessageCarried(seam), take_send_token,
                          quota(repo.bytes_since) if quota is not None else None)


async def _in_thread(fn: Any, *args: Any) -> Any:
    # file and image work, not storage: the default executor, not the store's bounded one
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
