"""Backup and restore of the embedded database and the JWT secret.

``backup`` works while the server runs and writes: the embedded database is one SQLite file
(in WAL mode), and SQLite's online backup API copies it inside a single read transaction, so
the copy is exactly the database as of one instant, and writers are never blocked (WAL
readers do not block writers). Everything committed before the backup began is in it.

The archive is a gzipped tar with ``chat.db`` (self-contained, rollback-journal mode),
``jwt-secret`` when the data dir has one, the ``uploads/`` tree when files are stored in the
data dir (copied after the snapshot, so every file the snapshot refers to is there), and
``backup.json`` (versions, time, checksums).
It holds the secret that signs tokens: it is written with mode 0600.

``restore`` refuses while any process uses the data dir (see ``chat.ops.embedded.DataDirLock``),
and holds that lock while it writes, so no server can start half-way through. It reads the
whole archive before it writes anything: a truncated or damaged archive, a member that is not a
plain file of a known name (``../``, absolute paths, links, devices), a checksum that does not
match, or a ``chat.db`` that is not a sound SQLite database is refused with one line
(:class:`BackupError`) and the data dir is left as it was.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
import urllib.parse
import zlib
from typing import Any, Dict, List, Optional

from chat.ops.embedded import PID_FILE, STATE_FILE, DataDirLock
from chat.store.search_index import SEARCH_INDEX_FILE
from chat.version import __version__

DB_FILE = "chat.db"
SECRET_FILE = "jwt-secret"
UPLOADS_DIR = "uploads"
MANIFEST = "backup.json"
FORMAT = 1
#: what reading a damaged archive raises (a truncated gzip stream is an EOFError, not an OSError)
_DAMAGED = (OSError, EOFError, zlib.error, tarfile.TarError)


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message says why and what to do."""


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _snapshot(source: str, target: str) -> None:
    """A consistent copy of the SQLite database ``source`` (live or not) into ``target``."""
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # one step: a single read transaction over the whole database
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal to forget
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError("the copy of %s fails its integrity check: %s" % (source, check))
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError("cannot read the database %s: %s" % (source, exc)) from None
    finally:
        src.close()


def _add_tree(tar: tarfile.TarFile, root: str) -> int:
    """Add the regular files under ``root`` as ``uploads/...``; returns how many."""
    count = 0
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            try:
                tar.add(path, arcname=os.path.join(UPLOADS_DIR, os.path.relpath(path, root)), recursive=False)
            except FileNotFoundError:
                continue  # swept away meanwhile: no message of the snapshot refers to it any more
            count += 1
    return count


def backup(data_dir: str, out_path: str) -> Dict[str, Any]:
    """Write a backup archive of ``data_dir`` to ``out_path``; returns its manifest."""
    data_dir = os.path.abspath(data_dir)
    source = os.path.join(data_dir, DB_FILE)
    if not os.path.exists(source):
        raise BackupError("no embedded database in %s (nothing to back up; is --data-dir right?)" % data_dir)
    out_path = os.path.abspath(out_path)
    out_dir = os.path.dirname(out_path)
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".backup-", dir=out_dir)
    try:
        snap = os.path.join(work, DB_FILE)
        started = time.time()
        _snapshot(source, snap)
        files = {DB_FILE: snap}
        secret = os.path.join(data_dir, SECRET_FILE)
        if os.path.exists(secret):
            files[SECRET_FILE] = secret
        manifest = {
            "format": FORMAT,
            "version": __version__,
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "dataDir": data_dir,
            "files": {name: {"bytes": os.path.getsize(path), "sha256": _sha256(path)} for name, path in files.items()},
        }
        tmp_out = os.path.join(work, "archive.tar.gz")
        fd = os.open(tmp_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the token secret
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name, path in files.items():
                tar.add(path, arcname=name, recursive=False)
            uploads = os.path.join(data_dir, UPLOADS_DIR)
            if os.path.isdir(uploads):
                manifest["uploads"] = _add_tree(tar, uploads)
            body = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(body), int(started), 0o600
            tar.addfile(info, io.BytesIO(body))
        with open(tmp_out, "rb") as done:
            os.fsync(done.fileno())
        os.replace(tmp_out, out_path)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_manifest(archive: str) -> Dict[str, Any]:
    """The manifest of a backup archive; BackupError when it is not one."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest: Dict[str, Any] = json.loads(member.read())
    except FileNotFoundError as exc:
        raise BackupError("cannot read %s: %s" % (archive, exc.strerror)) from None
    except (*_DAMAGED, KeyError, ValueError) as exc:
        raise BackupError("%s is not a school-chat backup (or is damaged): %s" % (archive, _one_line(exc))) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict) or not all(
            isinstance(meta, dict) and isinstance(meta.get("sha256"), str) for meta in manifest["files"].values()):
        raise BackupError("%s is not a school-chat backup: its backup.json has no valid file list" % archive)
    if manifest.get("format") != FORMAT:
        raise BackupError("%s has backup format %r; this release reads format %d" % (
            archive, manifest.get("format"), FORMAT))
    return manifest


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _checked_members(tar: tarfile.TarFile, archive: str) -> List[tarfile.TarInfo]:
    """Every member, each a plain file (or folder of uploads/) of a known, relative, clean name;
    reading them all first finds a truncated archive before anything is written."""
    members = tar.getmembers()
    stream: Any = tar.fileobj
    while stream is not None and stream.read(1 << 20):  # to the gzip trailer: its CRC and length are checked
        pass
    for m in members:
        parts = m.name.split("/")
        clean = not m.name.startswith("/") and ".." not in parts and "" not in parts[:-1] and "\\" not in m.name
        known = m.name in (DB_FILE, SECRET_FILE, MANIFEST) or (parts[0] == UPLOADS_DIR and len(parts) > 1)
        if not (clean and known):
            raise BackupError("%s holds an unexpected member %r (not made by backup): nothing was restored"
                              % (archive, m.name))
        if not (m.isfile() or (m.isdir() and parts[0] == UPLOADS_DIR)):
            raise BackupError("%s: member %r is not a plain file (links and devices are refused): nothing was "
                              "restored" % (archive, m.name))
    return members


def verify_database(path: str) -> None:
    """BackupError unless ``path`` is a SQLite database that passes ``PRAGMA quick_check``."""
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(path)), uri=True)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError("%s is not a usable database: %s" % (DB_FILE, _one_line(exc))) from None
    if [row[0] for row in rows] != ["ok"]:
        raise BackupError("%s fails its integrity check: %s" % (
            DB_FILE, "; ".join(" ".join(str(r[0]).replace("*** in database main ***", "").split()) for r in rows[:3])))


def restore(archive: str, data_dir: str, force: bool = False, now: Optional[float] = None) -> Dict[str, Any]:
    """Put a backup into ``data_dir`` (created if missing); returns the archive's manifest.

    Refuses while the data dir is in use. An existing database is replaced only with ``force``,
    and is then kept beside it as ``chat.db.before-restore-<time>``.
    """
    manifest = read_manifest(archive)
    data_dir = os.path.abspath(data_dir)
    os.makedirs(data_dir, exist_ok=True)
    lock = DataDirLock(data_dir)
    if not lock.try_acquire():
        raise BackupError("the data dir %s is in use by a running server or command; stop it first "
                          "(systemctl stop school-chat)" % data_dir)
    try:
        target = os.path.join(data_dir, DB_FILE)
        if os.path.exists(target) and not force:
            raise BackupError("%s already holds a database; restore into an empty data dir, or pass --force "
                              "to replace it (the current one is kept as chat.db.before-restore-<time>)" % data_dir)
        work = tempfile.mkdtemp(prefix=".restore-", dir=data_dir)
        try:
            try:
                _extract(archive, manifest, work)
            except _DAMAGED as exc:
                raise BackupError("%s is damaged (%s): nothing was restored" % (archive, _one_line(exc))) from None
            try:
                verify_database(os.path.join(work, DB_FILE))
            except BackupError as exc:
                raise BackupError("%s: %s: nothing was restored" % (archive, _one_line(exc))) from None
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
            if os.path.exists(target):
                os.replace(target, "%s.before-restore-%s" % (target, stamp))
            index = os.path.join(data_dir, SEARCH_INDEX_FILE)  # derived from the database: rebuilt
            for leftover in (target + "-wal", target + "-shm", os.path.join(data_dir, STATE_FILE),
                             os.path.join(data_dir, PID_FILE), index, index + "-wal", index + "-shm"):
                if os.path.exists(leftover):  # they belong to the database being replaced
                    os.remove(leftover)
            os.replace(os.path.join(work, DB_FILE), target)
            restored_uploads = os.path.join(work, UPLOADS_DIR)
            if os.path.isdir(restored_uploads):
                current = os.path.join(data_dir, UPLOADS_DIR)
                if os.path.exists(current):
                    os.replace(current, "%s.before-restore-%s" % (current, stamp))
                os.replace(restored_uploads, current)
            if SECRET_FILE in manifest["files"]:
                secret = os.path.join(data_dir, SECRET_FILE)
                os.replace(os.path.join(work, SECRET_FILE), secret)
                os.chmod(secret, 0o600)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        lock.release()
    return manifest


def _extract(archive: str, manifest: Dict[str, Any], work: str) -> None:
    """The archive's files into ``work``, checked (names, types, checksums); raises BackupError,
    or one of _DAMAGED for an archive that cannot be read to its end."""
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in _checked_members(tar, archive)}
        if DB_FILE not in manifest["files"]:
            raise BackupError("%s has no %s: nothing was restored" % (archive, DB_FILE))
        for name, meta in manifest["files"].items():
            if name not in (DB_FILE, SECRET_FILE):
                raise BackupError("unexpected file %r in %s" % (name, archive))
            if name not in members:
                raise BackupError("%s lacks %s, which its backup.json lists (damaged archive)" % (archive, name))
            tar.extract(members[name], work, filter="data")
            if _sha256(os.path.join(work, name)) != meta["sha256"]:
                raise BackupError("%s: %s does not match its checksum (damaged archive)" % (archive, name))
        uploads = [m for m in members.values() if m.name.startswith(UPLOADS_DIR + "/") and m.isfile()]
        tar.extractall(work, members=uploads, filter="data")  # "data" refuses paths leaving work/ too
