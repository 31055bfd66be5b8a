"""Upload rules: receiving a streamed body, accepting or refusing it, storing it once, and
finding it again for an authorized download. Transport-free (the handlers stream into an
:class:`UploadSink`)."""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import tempfile
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from chat.auth import Identity
from chat.clock import SystemClock
from chat.errors import NotFound, RateLimited, TooLarge
from chat.ratelimit import Limit, RateLimiter
from chat.settings import Settings
from chat.timeutil import iso, now_ms
from chat.uploads import policy
from chat.uploads.imageworker import ImageWorker
from chat.uploads.quota import Hold, LocalQuota, Quota
from chat.uploads.repository import UploadsRepository
from chat.uploads.signing import UrlSigner
from chat.uploads.storage import BlobStorage

#: "is this upload carried by a live message in a conversation the caller takes part in"
Carried = Callable[[Dict[str, Any], Identity], Awaitable[bool]]

VARIANTS = ("file", "thumbnail")


def upload_path(upload_id: str, variant: str = "file") -> str:
    """The stable (unsigned) route of an upload or its thumbnail."""
    return "/api/uploads/%s%s" % (upload_id, "/thumbnail" if variant == "thumbnail" else "")


def render(doc: Dict[str, Any]) -> Dict[str, Any]:
    """The client view of an upload (also what an attachment carries)."""
    return {"id": doc["id"], "name": doc["name"], "size": doc["size"], "mimeType": doc["mimeType"],
            "sha256": doc["sha256"], "width": doc.get("width"), "height": doc.get("height"),
            "url": upload_path(doc["id"]),
            "thumbnail": upload_path(doc["id"], "thumbnail") if doc.get("thumbSha256") else None,
            "createdAt": iso(doc.get("createdAt"))}


#: told when a school admin opens a file carried into a conversation (the look is recorded)
Look = Callable[[Dict[str, Any], Identity], Awaitable[None]]

#: which of these uploads a legal hold keeps (their ids); the domain's holds answer it
Held = Callable[[List[Dict[str, Any]]], Awaitable[Set[str]]]


async def _none_held(metas: List[Dict[str, Any]]) -> Set[str]:
    return set()


async def may_download(meta: Optional[Dict[str, Any]], ident: Identity, carried: Carried,
                       look: Optional[Look] = None) -> bool:
    """The download rule. The uploader, and a school admin (the school's audit), always; anyone
    else of the school while a live message in a conversation they take part in carries it
    (never after that message was deleted); other schools never. An admin's look at a file
    carried into a conversation is told to ``look`` (the audit log records it)."""
    if meta is None or meta.get("school") != ident.school:
        return False
    if meta.get("ownerId") == ident.user_id:
        return True
    if ident.role == "admin":
        if look is not None and meta.get("conversationId"):
            await look(meta, ident)
        return True
    if meta.get("deletedAt") is not None or meta.get("attachedAt") is None:
        return False
    return await carried(meta, ident)


async def _never(meta: Dict[str, Any], ident: Identity) -> bool:
    return False


@dataclasses.dataclass
class UploadSink:
    """One upload being received: a temporary file, its running SHA-256 and size, and its
    reservation of the daily quota (None without a quota)."""

    ident: Identity
    name: str
    path: str
    limit: int
    hold: Optional[Hold]
    fh: Any
    size: int = 0
    digest: Any = dataclasses.field(default_factory=hashlib.sha256)
    closed: bool = False

    def write(self, chunk: bytes) -> None:
        """Append a chunk already counted (see :meth:`UploadsService.receive`)."""
        self.fh.write(chunk)
        self.digest.update(chunk)


@dataclasses.dataclass
class Download:
    """What the download handler serves."""

    meta: Dict[str, Any]
    path: str
    root: str
    mime: str
    etag: str
    disposition: str


class UploadsService:
    """Receives, stores, finds and authorizes uploads."""

    def __init__(self, settings: Settings, repo: UploadsRepository, storage: BlobStorage, signer: UrlSigner,
                 work_dir: str, run: Callable[..., Awaitable[Any]], carried: Optional[Carried] = None,
                 take_send_token: Optional[Callable[[str], bool]] = None, quota: Optional[Quota] = None) -> None:
        """``run(fn, *args)`` awaits blocking work (sniffing, Pillow, hashing) off the loop;
        ``carried`` is the message side of the download rule (see :func:`may_download`);
        ``take_send_token(user_id)`` takes from the user's send bucket (default: a
        :class:`chat.ratelimit.RateLimiter` of the same settings kept here, on the system
        clock); ``quota`` is the daily quota's ledger (default: one kept
        here, over ``repo``; a cluster shares one in Redis)."""
        self.settings = settings
        self.repo = repo
        self.storage = storage
        self.signer = signer
        self.work_dir = work_dir
        self.images = ImageWorker.from_settings(settings, work_dir)  # decodes in worker processes
        self.carried: Carried = carried or _never
        self._look: Optional[Look] = None
        self.held: Held = _none_held
        self._run = run
        self._allowed = policy.allowed_types(settings.upload_types)
        self._take_send_token = take_send_token or self._own_limiter(settings)
        self.quota: Quota = quota or LocalQuota(settings.upload_quota_bytes, repo.bytes_since)
        self._sinks: Dict[int, UploadSink] = {}
        self._settling: Set["asyncio.Future[None]"] = set()
        self._indexed = False
        # put+insert and check+delete of a blob must not interleave (same bytes, two uploads)
        self.blob_lock = asyncio.Lock()
        os.makedirs(work_dir, exist_ok=True)

    # ------------------------------------------------------------------ receiving
    async def begin(self, ident: Identity, raw_name: Optional[str], declared: Optional[int]) -> UploadSink:
        """Open an upload for ``ident``: counts against the send rate limit, and reserves its
        declared length (or its first byte, for a chunked body) of the daily quota."""
        if not self._indexed:
            await self.repo.ensure_indexes()
            self._indexed = True
        limit = self.settings.max_upload_bytes
        if declared is not None and declared > limit:
            raise TooLarge("uploads are limited to %d bytes" % limit)
        if not self._take_send_token(ident.user_id):
            raise RateLimited("rate limit exceeded for uploads")
        hold = None
        if self.settings.upload_quota_bytes > 0:
            hold = self.quota.open(ident.user_id)
            if not await self.quota.reserve(hold, max(declared or 0, 1)):
                await self.quota.settle(hold, None)
                raise RateLimited("daily upload quota of %d bytes reached" % self.settings.upload_quota_bytes)
        try:
            fd, path = tempfile.mkstemp(dir=self.work_dir, prefix="up-")
        except OSError:
            if hold is not None:
                await self.quota.settle(hold, None)
            raise
        sink = UploadSink(ident, policy.sanitize_name(raw_name, self.settings.upload_max_name), path, limit,
                          hold, os.fdopen(fd, "wb"))
        self._sinks[id(sink)] = sink
        return sink

    async def receive(self, sink: UploadSink, chunk: bytes) -> None:
        """Count and write one piece of the body: ``TooLarge`` past the size limit, and
        ``RateLimited`` when the quota cannot reserve it (before it is written)."""
        size = sink.size + len(chunk)
        if size > sink.limit:
            raise TooLarge("uploads are limited to %d bytes" % sink.limit)
        hold = sink.hold
        if hold is not None and size > hold.held and not await self.quota.reserve(hold, size - hold.held):
            raise RateLimited("daily upload quota of %d bytes reached" % self.settings.upload_quota_bytes)
        if sink.closed:
            return  # dropped while the reservation was made
        sink.size = size
        sink.write(chunk)

    def receiving(self) -> Dict[str, int]:
        """Uploads being received now and their bytes so far."""
        return {"uploads": len(self._sinks), "bytes": sum(s.size for s in self._sinks.values())}

    @staticmethod
    def _own_limiter(settings: Settings) -> Callable[[str], bool]:
        """The send bucket of a service built without one (tools, tests): the same token
        buckets as everywhere else."""
        limiter = RateLimiter(settings, SystemClock())
        return lambda user_id: limiter.take(user_id, Limit.SEND)

    def _close(self, sink: UploadSink) -> bool:
        if sink.closed:
            return False
        sink.closed = True
        sink.fh.close()
        self._sinks.pop(id(sink), None)
        return True

    def abort(self, sink: UploadSink) -> None:
        """Drop an upload that will not be finished (refused, or the client went away): its
        file and its whole reservation."""
        self._close(sink)
        _unlink(sink.path)
        if sink.hold is not None and not sink.hold.settled:
            # called from Tornado's synchronous callbacks; starts at once, in order
            task = asyncio.ensure_future(self.quota.settle(sink.hold, None))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)

    async def finish(self, sink: UploadSink) -> Dict[str, Any]:
        """Accept a fully received upload: sniff, check, clean images, store once, record;
        its stored size then counts against the quota, and the rest of the reservation is
        given back. (On failure the caller aborts the sink, which gives all of it back.)"""
        self._close(sink)
        made: List[str] = [sink.path]
        try:
            fields = await self._run(self._inspect, sink, made)
            async with self.blob_lock:
                await self.storage.put(fields["sha256"], fields.pop("path"))
                thumb = fields.pop("thumbPath", None)
                if thumb:
                    await self.storage.put(fields["thumbSha256"], thumb)
                doc = await self.repo.insert(fields)
        finally:
            for path in made:
                _unlink(path)
        if sink.hold is not None:
            await self.quota.settle(sink.hold, int(doc["size"]))
        return render(doc)

    def _inspect(self, sink: UploadSink, made: List[str]) -> Dict[str, Any]:
        """Blocking part of :meth:`finish` (in a thread)."""
        mime = policy.sniff(sink.path, sink.name) if sink.size else "application/x-empty"
        policy.check_type(mime, self._allowed)
        name = policy.download_name(sink.name, mime, self.settings.upload_max_name)
        fields: Dict[str, Any] = {"school": sink.ident.school, "ownerId": sink.ident.user_id, "name": name,
                                  "mimeType": mime, "createdAt": now_ms(), "width": None, "height": None,
                                  "thumbSha256": None, "thumbMime": None, "thumbSize": None}
        path, digest, size = sink.path, sink.digest.hexdigest(), sink.size
        if policy.is_safe_image(mime):
            image = self.images.process(path, mime)
            made.extend([image.path, image.thumbnail_path])
            if image.path != path:
                path = image.path
                digest, size = _hash_file(path)
            fields.update(width=image.width, height=image.height, thumbMime=image.thumbnail_mime,
                          thumbPath=image.thumbnail_path)
            fields["thumbSha256"], fields["thumbSize"] = _hash_file(image.thumbnail_path)
        fields.update(path=path, sha256=digest, size=size)
        return fields

    def use_holds(self, held: Held) -> None:
        """Ask ``held`` before the lifecycle removes uploads (legal holds keep what they cover)."""
        self.held = held

    def use_admin_look(self, look: Look) -> None:
        """Tell ``look`` of each school admin's look at a file carried into a conversation."""
        self._look = look

    # ------------------------------------------------------------------ finding
    async def get_authorized(self, ident: Identity, upload_id: str) -> Dict[str, Any]:
        """The upload if ``ident`` may download it; ``NotFound`` otherwise (existence is not
        revealed to anyone else)."""
        meta = await self.repo.get(upload_id)
        if not await may_download(meta, ident, self.carried, self._look):
            raise NotFound("no such upload")
        return meta  # type: ignore[return-value]

    async def download(self, ident: Identity, upload_id: str, variant: str) -> Download:
        """What to serve for ``GET /api/uploads/{id}[/thumbnail]``."""
        meta = await self.get_authorized(ident, upload_id)
        if variant == "thumbnail":
            sha, mime, inline = meta.get("thumbSha256"), meta.get("thumbMime"), True
            name = os.path.splitext(meta["name"])[0] + (".png" if mime == "image/png" else ".jpg")
            if not sha:
                raise NotFound("this upload has no thumbnail")
        else:
            # names stored before the rule are made harmless on the way out as well
            sha, mime = meta["sha256"], meta["mimeType"]
            name = policy.download_name(meta["name"], str(mime), self.settings.upload_max_name)
            inline = policy.is_safe_image(mime)
        path = await self.storage.local_path(sha)
        if path is None:
            raise NotFound("the file is no longer stored")
        return Download(meta, path, self.storage.serve_root, str(mime), '"%s"' % sha,
                        policy.content_disposition(name, inline))

    async def links(self, ident: Identity, upload_ids: List[str]) -> Dict[str, Any]:
        """Signed short-lived URLs of the uploads ``ident`` may download (others are left out)."""
        exp = int(time.time()) + self.signer.ttl
        out: Dict[str, Any] = {}
        for upload_id in dict.fromkeys(upload_ids):
            try:
                meta = await self.get_authorized(ident, upload_id)
            except NotFound:
                continue
            out[upload_id] = {"url": self.signer.url(upload_path(upload_id), upload_id, "file", ident, exp),
                              "thumbnailUrl": self.signer.url(upload_path(upload_id, "thumbnail"), upload_id,
                                                              "thumbnail", ident, exp)
                              if meta.get("thumbSha256") else None,
                              "expiresAt": iso(exp * 1000)}
        return out


def _hash_file(path: str) -> "tuple[str, int]":
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
