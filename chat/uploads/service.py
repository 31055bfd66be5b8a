"""Upload rules: receiving a streamed body, accepting or refusing it, storing it once, and
finding it again for an authorized download. Transport-free (the handlers stream into an
:class:`UploadSink`)."""
from __future__ import annotations

import asyncio
import calendar
import dataclasses
import hashlib
import os
import tempfile
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional

from chat.auth import Identity
from chat.errors import NotFound, RateLimited, TooLarge
from chat.settings import Settings
from chat.timeutil import iso, now_ms
from chat.uploads import policy
from chat.uploads.imageworker import ImageWorker
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


async def may_download(meta: Optional[Dict[str, Any]], ident: Identity, carried: Carried) -> bool:
    """The download rule. The uploader, and a school admin (the school's audit), always; anyone
    else of the school while a live message in a conversation they take part in carries it
    (never after that message was deleted); other schools never."""
    if meta is None or meta.get("school") != ident.school:
        return False
    if meta.get("ownerId") == ident.user_id or ident.role == "admin":
        return True
    if meta.get("deletedAt") is not None or meta.get("attachedAt") is None:
        return False
    return await carried(meta, ident)


async def _never(meta: Dict[str, Any], ident: Identity) -> bool:
    return False


class _Bucket:
    """Token bucket: ``rate`` per second up to ``burst`` (the per-user send limits)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclasses.dataclass
class UploadSink:
    """One upload being received: a temporary file, its running SHA-256 and size."""

    ident: Identity
    name: str
    path: str
    limit: int
    quota_left: Optional[int]
    fh: Any
    reserved: int = 0
    size: int = 0
    digest: Any = dataclasses.field(default_factory=hashlib.sha256)
    closed: bool = False

    def write(self, chunk: bytes) -> None:
        """Append a chunk; ``TooLarge``/``RateLimited`` the moment a limit is passed."""
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge("uploads are limited to %d bytes" % self.limit)
        if self.quota_left is not None and self.size > self.quota_left:
            raise RateLimited("daily upload quota reached")
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
                 take_send_token: Optional[Callable[[str], bool]] = None) -> None:
        """``run(fn, *args)`` awaits blocking work (sniffing, Pillow, hashing) off the loop;
        ``carried`` is the message side of the download rule (see :func:`may_download`);
        ``take_send_token(user_id)`` takes from the user's send bucket (default: a bucket of
        the same settings kept here)."""
        self.settings = settings
        self.repo = repo
        self.storage = storage
        self.signer = signer
        self.work_dir = work_dir
        self.images = ImageWorker.from_settings(settings, work_dir)  # decodes in worker processes
        self.carried: Carried = carried or _never
        self._run = run
        self._allowed = policy.allowed_types(settings.upload_types)
        self._buckets: Dict[str, _Bucket] = {}
        self._take_send_token = take_send_token or self._own_bucket
        self._inflight: Dict[str, int] = {}
        self._indexed = False
        # put+insert and check+delete of a blob must not interleave (same bytes, two uploads)
        self.blob_lock = asyncio.Lock()
        os.makedirs(work_dir, exist_ok=True)

    # ------------------------------------------------------------------ receiving
    async def begin(self, ident: Identity, raw_name: Optional[str], declared: Optional[int]) -> UploadSink:
        """Open an upload for ``ident``: counts against the send rate limit and the daily
        quota (the declared length is refused up front)."""
        if not self._indexed:
            await self.repo.ensure_indexes()
            self._indexed = True
        limit = self.settings.max_upload_bytes
        if declared is not None and declared > limit:
            raise TooLarge("uploads are limited to %d bytes" % limit)
        if not self._take_send_token(ident.user_id):
            raise RateLimited("rate limit exceeded for uploads")
        quota_left = None
        if self.settings.upload_quota_bytes > 0:
            used = await self.repo.bytes_since(ident.user_id, _day_start_ms())
            quota_left = self.settings.upload_quota_bytes - used - self._inflight.get(ident.user_id, 0)
            if quota_left <= 0 or (declared is not None and declared > quota_left):
                raise RateLimited("daily upload quota of %d bytes reached" % self.settings.upload_quota_bytes)
        fd, path = tempfile.mkstemp(dir=self.work_dir, prefix="up-")
        sink = UploadSink(ident, policy.sanitize_name(raw_name, self.settings.upload_max_name), path, limit,
                          quota_left, os.fdopen(fd, "wb"), reserved=declared or 0)
        self._inflight[ident.user_id] = self._inflight.get(ident.user_id, 0) + sink.reserved
        return sink

    def _own_bucket(self, user_id: str) -> bool:
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = _Bucket(self.settings.rate_messages, self.settings.rate_messages_burst)
        return bucket.take()

    def _release(self, sink: UploadSink) -> None:
        if sink.closed:
            return
        sink.closed = True
        sink.fh.close()
        left = self._inflight.get(sink.ident.user_id, 0) - sink.reserved
        if left > 0:
            self._inflight[sink.ident.user_id] = left
        else:
            self._inflight.pop(sink.ident.user_id, None)

    def abort(self, sink: UploadSink) -> None:
        """Drop an upload that will not be finished (refused, or the client went away)."""
        self._release(sink)
        _unlink(sink.path)

    async def finish(self, sink: UploadSink) -> Dict[str, Any]:
        """Accept a fully received upload: sniff, check, clean images, store once, record."""
        self._release(sink)
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
        return render(doc)

    def _inspect(self, sink: UploadSink, made: List[str]) -> Dict[str, Any]:
        """Blocking part of :meth:`finish` (in a thread)."""
        mime = policy.sniff(sink.path, sink.name) if sink.size else "application/x-empty"
        policy.check_type(mime, self._allowed)
        fields: Dict[str, Any] = {"school": sink.ident.school, "ownerId": sink.ident.user_id, "name": sink.name,
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

    # ------------------------------------------------------------------ finding
    async def get_authorized(self, ident: Identity, upload_id: str) -> Dict[str, Any]:
        """The upload if ``ident`` may download it; ``NotFound`` otherwise (existence is not
        revealed to anyone else)."""
        meta = await self.repo.get(upload_id)
        if not await may_download(meta, ident, self.carried):
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
            sha, mime, name = meta["sha256"], meta["mimeType"], meta["name"]
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


def _day_start_ms() -> int:
    now = time.gmtime()
    return calendar.timegm((now.tm_year, now.tm_mon, now.tm_mday, 0, 0, 0)) * 1000


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
