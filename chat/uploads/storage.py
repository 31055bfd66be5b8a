"""Where upload bytes live, behind one small interface, content-addressed by SHA-256.

Both backends take a finished temporary file and keep its bytes once per hash, and hand back a
local file to serve (Tornado's static-file machinery does ranges and conditional requests from
a path). The metadata lives in the ``uploads`` collection (see ``repository.py``).
"""
from __future__ import annotations

import datetime
import os
import re
import tempfile
from typing import Any, Optional, Protocol

from chat.store import new_id
from chat.uploads.seam import StoreSeam

#: GridFS chunk size (the driver's default, 255 KiB)
GRIDFS_CHUNK = 255 * 1024

_SHA = re.compile(r"^[0-9a-f]{64}$")


def _check(sha256: str) -> str:
    if not _SHA.match(sha256):  # never a path component from anywhere else
        raise ValueError("not a sha256 hex digest")
    return sha256


class BlobStorage(Protocol):
    """What the upload service needs from a backend."""

    label: str
    #: the directory every path of :meth:`local_path` is under (for the download handler)
    serve_root: str

    async def put(self, sha256: str, src_path: str) -> None:
        """Take ownership of ``src_path`` (a finished temporary file) as the bytes of ``sha256``;
        when those bytes are already stored, the file is simply removed."""

    async def local_path(self, sha256: str) -> Optional[str]:
        """A local file with the bytes of ``sha256``, or None when they are not stored."""

    async def delete(self, sha256: str) -> None:
        """Forget the bytes of ``sha256`` (no error when absent)."""

    async def drop_copy(self, sha256: str) -> None:
        """Remove this process's local copy of ``sha256`` when it is only a cache of bytes
        stored elsewhere (the stored bytes stay)."""


def fan_out(root: str, sha256: str) -> str:
    """``root/ab/cd/abcd…``: two levels keep directories small."""
    return os.path.join(root, sha256[:2], sha256[2:4], sha256)


class FilesystemStorage:
    """Files under ``<data-dir>/uploads/blobs``, written elsewhere first and renamed in, so a
    reader never sees a partial file and the same bytes are stored once."""

    def __init__(self, root: str, run: Any) -> None:
        """``run(fn, *args)`` awaits blocking file work off the event loop."""
        self.root = os.path.abspath(root)
        self.serve_root = self.root
        self.label = "filesystem (%s)" % self.root
        self._run = run
        os.makedirs(self.root, exist_ok=True)

    async def put(self, sha256: str, src_path: str) -> None:
        await self._run(self._put, _check(sha256), src_path)

    def _put(self, sha256: str, src_path: str) -> None:
        dst = fan_out(self.root, sha256)
        if os.path.exists(dst):
            os.unlink(src_path)
            return
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(src_path, "rb") as fh:
            os.fsync(fh.fileno())  # the rename must not publish bytes still only in the page cache
        os.chmod(src_path, 0o640)
        os.replace(src_path, dst)

    async def local_path(self, sha256: str) -> Optional[str]:
        path = fan_out(self.root, _check(sha256))
        return path if os.path.isfile(path) else None

    async def delete(self, sha256: str) -> None:
        path = fan_out(self.root, _check(sha256))
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    async def drop_copy(self, sha256: str) -> None:
        """The local file is the stored bytes: nothing to drop."""


class GridFSStorage:
    """GridFS on the configured MongoDB (bucket ``uploads``: ``uploads.files``/``uploads.chunks``,
    laid out as the GridFS spec says, so standard tools read it), for deployments of several
    processes sharing one database. A file's GridFS name is its SHA-256. Served from a local
    cache under the data dir, filled on first download.

    Written and read chunk by chunk here rather than with pymongo's GridFS classes: its writer
    buffers up to 48 MB of chunks before inserting them (the whole file, for most uploads), and
    only the store's seam may import pymongo."""

    def __init__(self, seam: StoreSeam, cache_dir: str, bucket: str = "uploads") -> None:
        self._io = seam.io
        self._files = seam.collection(bucket + ".files")
        self._chunks = seam.collection(bucket + ".chunks")
        self._indexed = False
        self.cache_dir = os.path.abspath(cache_dir)
        self.serve_root = self.cache_dir
        self.label = "gridfs (%s.files)" % bucket
        os.makedirs(self.cache_dir, exist_ok=True)

    def _ensure_indexes(self) -> None:
        if not self._indexed:
            self._chunks.create_index([("files_id", 1), ("n", 1)], unique=True)
            self._chunks.create_index("files_id")  # nx-27017's planner ignores the compound one
            self._files.create_index("filename")
            self._indexed = True

    async def put(self, sha256: str, src_path: str) -> None:
        await self._io(self._put, _check(sha256), src_path)

    def _put(self, sha256: str, src_path: str) -> None:
        # the chunks first, the files document last: a reader never finds a file whose chunks
        # are missing (a crash leaves only unreferenced chunks)
        self._ensure_indexes()
        if self._files.find_one({"filename": sha256}, {"_id": 1}) is None:
            file_id = new_id()
            length = 0
            with open(src_path, "rb") as fh:
                for n, block in enumerate(iter(lambda: fh.read(GRIDFS_CHUNK), b"")):
                    self._chunks.insert_one({"files_id": file_id, "n": n, "data": block})
                    length += len(block)
            self._files.insert_one({"_id": file_id, "length": length, "chunkSize": GRIDFS_CHUNK,
                                    "uploadDate": datetime.datetime.now(datetime.timezone.utc),
                                    "filename": sha256, "metadata": {}})
        os.unlink(src_path)

    async def local_path(self, sha256: str) -> Optional[str]:
        path = fan_out(self.cache_dir, _check(sha256))
        if os.path.isfile(path):
            return path
        return await self._io(self._fetch, sha256, path)

    def _fetch(self, sha256: str, path: str) -> Optional[str]:
        doc = self._files.find_one({"filename": sha256})
        if doc is None:
            return None
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".dl-")
        try:
            with os.fdopen(fd, "wb") as out:
                expected = 0
                # a few chunks per batch: the default batch would hold ~16 MB of them
                for chunk in self._chunks.find({"files_id": doc["_id"]}).sort("n", 1).batch_size(4):
                    if chunk["n"] != expected:
                        raise OSError("GridFS file %s is missing chunk %d" % (sha256, expected))
                    out.write(chunk["data"])
                    expected += 1
                if out.tell() != doc["length"]:
                    raise OSError("GridFS file %s is truncated" % sha256)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return path

    async def drop_copy(self, sha256: str) -> None:
        path = fan_out(self.cache_dir, _check(sha256))
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    async def delete(self, sha256: str) -> None:
        _check(sha256)

        def work() -> None:
            for doc in list(self._files.find({"filename": sha256}, {"_id": 1})):
                self._files.delete_one({"_id": doc["_id"]})  # the file first: no reader sees a half
                self._chunks.delete_many({"files_id": doc["_id"]})
            try:
                os.unlink(fan_out(self.cache_dir, sha256))
            except FileNotFoundError:
                pass
        await self._io(work)
