"""Writing one person's export: a zip streamed to disk, memory bounded.

The archive holds ``data.json`` and ``files/<uploadId>/<name>`` (the bytes of each upload the
user made). ``data.json`` is one object::

    {"format": "school-chat export 1", "exportedAt", "user": {id, name, role, school, createdAt,
     lastSeenAt}, "conversations": [{id, type, title, role, joinedAt, createdAt}],
     "messages": [{id, conversationId, seq, type, text, attachments, replyTo, mentions,
                   createdAt, editedAt, deletedAt, deletedReason, edits: [{text, editedAt}]}],
     "reactions": [{messageId, conversationId, emoji, createdAt}],
     "receipts": [{conversationId, lastReadSeq, lastReadAt, lastDeliveredSeq, lastDeliveredAt}],
     "reports": [{caseId, kind, subjectId, messageId, conversationId, reason, note, createdAt}],
     "files": [{id, name, size, mimeType, sha256, conversationId, createdAt, path}],
     "scheduled": [{id, conversationId, text, sendAt, status, messageId, sentAt, createdAt}]}

Every list is read from storage a page (``batch`` documents) at a time and written out before
the next page is read; a file's bytes are copied in 1 MiB chunks from the storage backend's
local file. Blocking file work runs in a thread, one piece at a time, so the event loop and
memory stay free whatever the size (measured: ``bench/export.py``). Times are ISO 8601.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import zipfile
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional

from chat.store import Store
from chat.timeutil import iso

FORMAT = "school-chat export 1"
CHUNK = 1 << 20

#: told after each page: (messages, files, bytes written so far)
Progress = Callable[[Dict[str, int]], Awaitable[None]]

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def entry_name(upload_id: str, name: str) -> str:
    """Where an upload's bytes go in the archive (no path from the name survives)."""
    safe = _UNSAFE.sub("_", os.path.basename(name or "")).strip(" .") or "file"
    return "files/%s/%s" % (upload_id, safe[:120])


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _message(doc: Dict[str, Any], edits: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {"id": doc["id"], "conversationId": doc.get("conversationId"), "seq": doc.get("seq"),
            "type": doc.get("type", "text"), "text": doc.get("text"),
            "attachments": [{"id": a.get("id"), "name": a.get("name")} for a in doc.get("attachments") or []
                            if isinstance(a, dict)],
            "replyTo": doc.get("replyTo"), "mentions": list(doc.get("mentions") or []),
            "createdAt": iso(doc.get("createdAt")), "editedAt": iso(doc.get("editedAt")),
            "deletedAt": iso(doc.get("deletedAt")), "deletedReason": doc.get("deletedReason"),
            "edits": [{"text": e.get("text"), "editedAt": iso(e.get("editedAt"))} for e in edits]}


class _Out:
    """The archive being written, every blocking call in a thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.zip: Optional[zipfile.ZipFile] = None
        self.member: Any = None
        self.bytes = 0

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def open(self) -> None:
        self.zip = await self._run(lambda: zipfile.ZipFile(self.path, "w", allowZip64=True))

    async def begin(self, name: str, compress: bool) -> None:
        assert self.zip is not None
        zf = self.zip
        kind = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
        info.compress_type = kind
        self.member = await self._run(lambda: zf.open(info, "w", force_zip64=True))

    async def write(self, data: bytes) -> None:
        self.bytes += len(data)
        await self._run(self.member.write, data)

    async def copy(self, src: str) -> int:
        """A local file into the open member, chunk by chunk (in one thread call)."""
        member = self.member

        def work() -> int:
            size = 0
            with open(src, "rb") as fh:
                for block in iter(lambda: fh.read(CHUNK), b""):
                    member.write(block)
                    size += len(block)
            return size
        size = int(await self._run(work))
        self.bytes += size
        return size

    async def end(self) -> None:
        await self._run(self.member.close)
        self.member = None

    async def close(self) -> None:
        if self.zip is not None:
            zf, self.zip = self.zip, None
            await self._run(zf.close)


class ExportWriter:
    """Writes the export of ``user_id`` into ``path`` (see the module doc)."""

    def __init__(self, store: Store, storage: Any, batch: int, progress: Optional[Progress] = None) -> None:
        """``storage``: the uploads' :class:`chat.uploads.storage.BlobStorage` (None: no file bytes)."""
        self.store = store
        self.storage = storage
        self.batch = batch
        self.progress = progress
        self.counts = {"messages": 0, "files": 0, "bytes": 0}

    async def _tell(self, out: _Out) -> None:
        self.counts["bytes"] = out.bytes
        if self.progress is not None:
            await self.progress(dict(self.counts))

    async def write(self, user: Dict[str, Any], path: str, exported_at: int) -> Dict[str, int]:
        """The whole archive; returns the counts. ``path`` is written as ``path.part`` and
        renamed once complete."""
        part = path + ".part"
        out = _Out(part)
        await out.open()
        try:
            await out.begin("data.json", compress=True)
            profile = {k: user.get(k) for k in ("id", "name", "role", "school")}
            profile.update(createdAt=iso(user.get("createdAt")), lastSeenAt=iso(user.get("lastSeenAt")))
            await out.write(b'{"format":' + _dump(FORMAT) + b',"exportedAt":' + _dump(iso(exported_at))
                            + b',"user":' + _dump(profile))
            memberships = await self.store.conversations.memberships_of_user(user["id"])
            await self._conversations(out, memberships)
            await self._messages(out, user["id"])
            await self._list(out, "reactions", self.store.personal.reactions_of, user["id"], lambda r: {
                "messageId": r.get("messageId"), "conversationId": r.get("conversationId"),
                "emoji": r.get("emoji"), "createdAt": iso(r.get("createdAt"))})
            await self._items(out, "receipts", ({
                "conversationId": m.get("conversationId"), "lastReadSeq": m.get("lastReadSeq"),
                "lastReadAt": iso(m.get("lastReadAt")), "lastDeliveredSeq": m.get("lastDeliveredSeq"),
                "lastDeliveredAt": iso(m.get("lastDeliveredAt"))} for m in memberships))
            await self._list(out, "reports", self.store.personal.reports_of, user["id"], lambda r: {
                "caseId": r.get("caseId"), "kind": r.get("kind"), "subjectId": r.get("subjectId"),
                "messageId": r.get("messageId"), "conversationId": r.get("conversationId"),
                "reason": r.get("reason"), "note": r.get("note"), "createdAt": iso(r.get("createdAt"))})
            await self._list(out, "files", self.store.personal.uploads_of, user["id"], lambda u: {
                "id": u["id"], "name": u.get("name"), "size": u.get("size"), "mimeType": u.get("mimeType"),
                "sha256": u.get("sha256"), "conversationId": u.get("conversationId"),
                "createdAt": iso(u.get("createdAt")), "path": entry_name(u["id"], u.get("name") or "")})
            await self._list(out, "scheduled", self.store.scheduled.all_of_sender, user["id"], lambda d: {
                "id": d["id"], "conversationId": d.get("conversationId"), "text": d.get("text"),
                "sendAt": iso(d.get("sendAt")), "status": d.get("status"), "messageId": d.get("messageId"),
                "sentAt": iso(d.get("sentAt")), "createdAt": iso(d.get("createdAt"))})
            await out.write(b"}")
            await out.end()
            await self._files(out, user["id"])
        finally:
            await out.close()
        await self._tell(out)
        await asyncio.get_running_loop().run_in_executor(None, os.replace, part, path)
        return dict(self.counts)

    async def _items(self, out: _Out, key: str, items: Iterable[Dict[str, Any]]) -> None:
        await out.write(b',"' + key.encode() + b'":[')
        first = True
        for item in items:
            await out.write((b"" if first else b",") + _dump(item))
            first = False
        await out.write(b"]")

    async def _list(self, out: _Out, key: str, read: Callable[[str, str, int], Awaitable[List[Dict[str, Any]]]],
                    user_id: str, render: Callable[[Dict[str, Any]], Dict[str, Any]]) -> None:
        """A list read page by page: each page is written before the next is read."""
        await out.write(b',"' + key.encode() + b'":[')
        after, first = "", True
        while True:
            page = await read(user_id, after, self.batch)
            if page:
                await out.write((b"" if first else b",") + b",".join(_dump(render(d)) for d in page))
                first = False
            if len(page) < self.batch:
                break
            after = page[-1]["id"]
        await out.write(b"]")

    async def _conversations(self, out: _Out, memberships: List[Dict[str, Any]]) -> None:
        await out.write(b',"conversations":[')
        first = True
        for i in range(0, len(memberships), self.batch):
            chunk = memberships[i:i + self.batch]
            docs = {d["id"]: d for d in await self.store.conversations.get_many(m["conversationId"] for m in chunk)}
            rows = []
            for m in chunk:
                conv = docs.get(m["conversationId"]) or {}
                rows.append(_dump({"id": m["conversationId"], "type": conv.get("type"), "title": conv.get("title"),
                                   "role": m.get("role"), "joinedAt": iso(m.get("joinedAt")),
                                   "createdAt": iso(conv.get("createdAt"))}))
            if rows:
                await out.write((b"" if first else b",") + b",".join(rows))
                first = False
        await out.write(b"]")

    async def _messages(self, out: _Out, user_id: str) -> None:
        await out.write(b',"messages":[')
        after, first = "", True
        while True:
            page = await self.store.personal.messages_of(user_id, after, self.batch)
            rows = []
            for doc in page:
                edits = await self.store.personal.edits_of(doc["id"]) if doc.get("editedAt") is not None else []
                rows.append(_dump(_message(doc, edits)))
            if rows:
                await out.write((b"" if first else b",") + b",".join(rows))
                first = False
            self.counts["messages"] += len(page)
            await self._tell(out)
            if len(page) < self.batch:
                break
            after = page[-1]["id"]
        await out.write(b"]")

    async def _files(self, out: _Out, user_id: str) -> None:
        if self.storage is None:
            return
        after = ""
        while True:
            page = await self.store.personal.uploads_of(user_id, after, self.batch)
            for meta in page:
                src = await self.storage.local_path(meta["sha256"]) if meta.get("sha256") else None
                if src is None:
                    continue  # gone meanwhile: listed in data.json, no bytes
                await out.begin(entry_name(meta["id"], meta.get("name") or ""), compress=False)
                await out.copy(src)
                await out.end()
                self.counts["files"] += 1
                await self._tell(out)
            if len(page) < self.batch:
                return
            after = page[-1]["id"]
