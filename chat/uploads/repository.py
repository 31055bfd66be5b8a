"""The ``uploads`` collection: one document per upload, through the store's executor seam.

Fields: ``_id`` (a 24-hex string id), ``school, ownerId, name, size, mimeType, sha256, width, height,
thumbSha256, thumbMime, thumbSize, createdAt`` and, once a send claims it, ``attachedAt,
conversationId, clientMsgId``; ``deletedAt`` when its message was deleted. Times are epoch ms;
unset fields are stored as null (matched with ``{"$in": [None]}``, see the storage rules).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from chat.store import new_id
from chat.uploads.seam import StoreSeam

#: matches a field that is null or missing (``None`` equality matches nothing in nx-27017 counts)
UNSET: Dict[str, Any] = {"$in": [None]}
_HEX = frozenset("0123456789abcdef")


def valid_id(value: Any) -> bool:
    """Upload ids look like every other id of the API (24 hex digits)."""
    return isinstance(value, str) and len(value) == 24 and set(value) <= _HEX


def _after(query: Dict[str, Any], after: str) -> Dict[str, Any]:
    return dict(query, _id={"$gt": after}) if after else query


def _out(doc: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if doc is not None:
        doc["id"] = str(doc.pop("_id"))
    return doc


class UploadsRepository:
    """Metadata of uploads. Every call crosses the store's executor seam."""

    def __init__(self, seam: StoreSeam) -> None:
        self.seam = seam
        self._io = seam.io
        self._col = seam.collection("uploads")

    async def ensure_indexes(self) -> None:
        """Single-field indexes (the planner ignores compound ones)."""
        def work() -> None:
            self._col.create_index("ownerId")
            self._col.create_index("sha256")
            self._col.create_index("thumbSha256")
            self._col.create_index("createdAt")
            self._col.create_index("deletedAt")
        await self._io(work)

    async def insert(self, fields: Dict[str, Any]) -> Dict[str, Any]:
        """Store a new upload; returns it with its ``id``."""
        doc = dict(fields, _id=new_id(), attachedAt=None, conversationId=None, clientMsgId=None,
                   deletedAt=None)
        await self._io(self._col.insert_one, doc)
        return _out(dict(doc))  # type: ignore[return-value]

    async def get(self, upload_id: str) -> Optional[Dict[str, Any]]:
        """One upload, or None (also for ids of another shape)."""
        if not valid_id(upload_id):
            return None
        return _out(await self._io(self._col.find_one, {"_id": upload_id}))

    async def bytes_since(self, owner_id: str, since: int) -> int:
        """What a user uploaded from ``since`` on (for the daily quota)."""
        def work() -> int:
            docs = self._col.find({"ownerId": owner_id, "createdAt": {"$gte": since}}, {"size": 1})
            return sum(int(d.get("size") or 0) for d in docs)
        return await self._io(work)

    async def claim(self, upload_id: str, conversation_id: str, client_msg_id: str, now: int
                    ) -> Optional[Dict[str, Any]]:
        """Mark an upload as carried by the message ``(conversation_id, client_msg_id)`` of its
        owner. A second claim by the same message (a retried send) succeeds again; returns the
        upload after, or None when another message has it."""
        key = upload_id if valid_id(upload_id) else None

        def work() -> Optional[Dict[str, Any]]:
            if key is None:
                return None
            self._col.update_one({"_id": key, "clientMsgId": UNSET},
                                 {"$set": {"attachedAt": now, "conversationId": conversation_id,
                                           "clientMsgId": client_msg_id}})
            # claimed now or before: either way it is ours only if it names this message
            doc: Optional[Dict[str, Any]] = self._col.find_one({"_id": key})
            if doc is not None and doc.get("clientMsgId") == client_msg_id \
                    and doc.get("conversationId") == conversation_id:
                return doc
            return None
        return _out(await self._io(work))

    async def mark_deleted(self, upload_ids: List[str], now: int) -> None:
        """The message carrying these was deleted: start their retention clock."""
        keys = [u for u in upload_ids if valid_id(u)]
        if keys:
            await self._io(lambda: self._col.update_many(
                {"_id": {"$in": keys}, "deletedAt": UNSET}, {"$set": {"deletedAt": now}}))

    async def orphans(self, created_before: int, limit: int = 500, after: str = "") -> List[Dict[str, Any]]:
        """Uploads no send claimed, created before the cut-off (ids after ``after``, in order:
        the sweep pages past those a legal hold keeps)."""
        def work() -> List[Dict[str, Any]]:
            docs = self._col.find(_after({"createdAt": {"$lt": created_before}, "attachedAt": UNSET}, after)
                                  ).sort("_id", 1).limit(limit)
            return [_out(d) for d in docs]  # type: ignore[misc]
        return await self._io(work)

    async def expired(self, deleted_before: int, limit: int = 500, after: str = "") -> List[Dict[str, Any]]:
        """Uploads whose message was deleted before the cut-off (ids after ``after``, in order)."""
        def work() -> List[Dict[str, Any]]:
            docs = self._col.find(_after({"deletedAt": {"$gte": 0, "$lt": deleted_before}}, after)
                                  ).sort("_id", 1).limit(limit)
            return [_out(d) for d in docs]  # type: ignore[misc]
        return await self._io(work)

    async def remove(self, upload_id: str) -> None:
        """Delete one upload's document."""
        await self._io(self._col.delete_one, {"_id": upload_id})

    async def blob_in_use(self, sha256: str) -> bool:
        """Whether any upload still points at these bytes (as file or thumbnail)."""
        def work() -> bool:
            return (self._col.find_one({"sha256": sha256}, {"_id": 1}) is not None
                    or self._col.find_one({"thumbSha256": sha256}, {"_id": 1}) is not None)
        return await self._io(work)
