"""Uploads in messages: ``attachments: [{uploadId}]`` of a send resolved into stored metadata,
and the message side of the download rule.

How the message service uses this (``tests/e2e/test_uploads_attach.py`` checks it end to end):

- ``validation.parse_attachments`` keeps an item with ``uploadId`` as ``{"uploadId": str}``;
- the send decides its ``clientMsgId`` first (the client's or a new id) and, when an item has
  ``uploadId``, stores ``await resolve_attachments(uploads, ident, items, conversation_id,
  client_msg_id)`` instead of the items (a retry with the same clientMsgId claims again);
- the delete calls ``await chat.uploads.lifecycle.message_deleted(uploads, message_doc)``;
- one ``UploadsService`` serves both: ``build_runtime`` builds it with
  ``build_uploads(settings, store, take_send_token=lambda u: limiter.take(u, Limit.SEND))``,
  hands it to the service and keeps it as ``Runtime.uploads`` (``handlers/routes.py`` uses it).
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Optional

from chat.auth import Identity
from chat.errors import BadRequest, Conflict, Forbidden
from chat.timeutil import now_ms
from chat.uploads.seam import StoreSeam
from chat.uploads.service import UploadsService, render


async def resolve_attachments(uploads: UploadsService, ident: Identity, items: Any, conversation_id: str,
                              client_msg_id: str) -> List[Dict[str, Any]]:
    """The attachment dicts to store for a send of ``ident``: each ``{"uploadId": id}`` item
    becomes the stored metadata of that upload, which must be the sender's own, of the same
    school, and not carried by another message; other items (already validated external
    attachments) are kept as they are. Claims each upload for the message ``(conversation_id,
    client_msg_id)`` (a retried send with the same clientMsgId claims them again). Unknown,
    foreign and other users' uploads are one ``bad_request`` (nothing about them is revealed);
    an upload another message has is ``conflict``."""
    if not isinstance(items, list):
        raise BadRequest("attachments must be a list")
    if len(items) > uploads.settings.max_attachments:
        raise BadRequest("at most %d attachments" % uploads.settings.max_attachments)
    metas: Dict[str, Dict[str, Any]] = {}
    for item in items:  # check them all before claiming any
        if not isinstance(item, dict):
            raise BadRequest("each attachment must be an object")
        if "uploadId" not in item:
            continue
        upload_id = item["uploadId"]
        if not isinstance(upload_id, str) or not upload_id:
            raise BadRequest("uploadId must be an upload's id")
        meta = metas.get(upload_id) or await uploads.repo.get(upload_id)
        if (meta is None or meta["school"] != ident.school or meta["ownerId"] != ident.user_id
                or meta.get("deletedAt") is not None):
            raise Forbidden("unknown upload %s" % upload_id[:64])
        metas[upload_id] = meta
    now = now_ms()
    resolved: Dict[str, Dict[str, Any]] = {}
    for upload_id in metas:
        claimed = await uploads.repo.claim(upload_id, conversation_id, client_msg_id, now)
        if claimed is None:
            raise Conflict("upload %s is already attached to another message" % upload_id)
        resolved[upload_id] = attachment_of(claimed)
    out: List[Dict[str, Any]] = []
    for item in items:
        if "uploadId" not in item:
            out.append(item)
        elif all(a.get("id") != item["uploadId"] for a in out):  # the same upload twice: once
            out.append(resolved[item["uploadId"]])
    return out


def attachment_of(meta: Dict[str, Any]) -> Dict[str, Any]:
    """What a message stores for an upload: ``id, name, size, mimeType, url, thumbnail, width,
    height`` (urls are the stable, unsigned routes; clients ask ``/api/uploads/links``)."""
    view = render(meta)
    return {k: view[k] for k in ("id", "name", "size", "mimeType", "url", "thumbnail", "width", "height")}


#: "may this caller read that conversation without taking part in it" (an oversight grant;
#: the domain sets it, see chat.domain.oversight.grants)
Reader = Callable[[str, Identity], Awaitable[bool]]


class MessageCarried:
    """The default ``carried`` check from the message store: the message that claimed the
    upload (found by its sender and clientMsgId) is live, is in the conversation it was claimed
    for, still lists the upload, and the caller is a participant of that conversation (or
    ``reader`` lets it read that conversation)."""

    def __init__(self, seam: StoreSeam) -> None:
        self._seam = seam
        self.reader: Optional[Reader] = None
        self.forwards: Optional[Callable[[Dict[str, Any], Identity], Awaitable[bool]]] = None

    def use_reader(self, reader: Reader) -> None:
        """Let ``reader`` decide for callers who do not take part in the conversation."""
        self.reader = reader

    def use_forwards(self, forwards: Callable[[Dict[str, Any], Identity], Awaitable[bool]]) -> None:
        """Let ``forwards`` answer for the members of conversations a forward carried the upload
        into (notifications: forwarding)."""
        self.forwards = forwards

    async def __call__(self, meta: Dict[str, Any], ident: Identity) -> bool:
        if not meta.get("clientMsgId") or not meta.get("conversationId"):
            return False
        message = await self._seam.find_message(meta["ownerId"], meta["clientMsgId"])
        if (message is None or message.get("deletedAt") is not None
                or message.get("conversationId") != meta["conversationId"]
                or not any(isinstance(a, dict) and a.get("id") == meta["id"]
                           for a in message.get("attachments") or [])):
            return False
        if await self._seam.is_member(meta["conversationId"], ident.user_id):
            return True
        if self.forwards is not None and await self.forwards(meta, ident):
            return True
        return self.reader is not None and await self.reader(meta["conversationId"], ident)
