"""Forwarded attachments: ``forwarded_uploads``, one document per upload carried by a
forwarded message (:mod:`chat.domain.notify.forwarding`). The upload keeps its one owner and
its one claim (the original message); this is how the download rule finds the forwards that
also carry it: ``{uploadId, conversationId, senderId, clientMsgId, messageId, createdAt}``,
``_id`` = ``<uploadId>:<conversationId>:<clientMsgId>``."""
from __future__ import annotations

from typing import Any, Dict, List

from chat.store.db import Database
from chat.store.docs import outs

#: most forwards of one upload the download rule reads
MAX_FORWARDS = 500


class ForwardedUploads:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.forwards = db.collection("forwarded_uploads", durable=True)

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.forwards.create_index("uploadId")

    async def add(self, upload_ids: List[str], conversation_id: str, sender_id: str, client_msg_id: str,
                  now: int) -> None:
        """Record that the forward ``(sender_id, client_msg_id)`` in ``conversation_id`` carries these
        uploads (idempotent: a retried forward writes the same documents)."""
        def work() -> None:
            for upload_id in upload_ids:
                key = "%s:%s:%s" % (upload_id, conversation_id, client_msg_id)
                self.forwards.update_one({"_id": key}, {"$set": {
                    "uploadId": upload_id, "conversationId": conversation_id, "senderId": sender_id,
                    "clientMsgId": client_msg_id, "createdAt": now}}, upsert=True)
        await self._db.io(work)

    async def remove(self, upload_ids: List[str], conversation_id: str, client_msg_id: str) -> None:
        """Forget the rows of a forward the send refused (it stored no message)."""
        def work() -> None:  # one delete by _id each (a forward carries a few)
            for upload_id in upload_ids:
                self.forwards.delete_one({"_id": "%s:%s:%s" % (upload_id, conversation_id, client_msg_id)})
        await self._db.io(work)

    async def of_upload(self, upload_id: str) -> List[Dict[str, Any]]:
        return outs(await self._db.io(lambda: list(self.forwards.find({"uploadId": upload_id}).limit(MAX_FORWARDS))))
