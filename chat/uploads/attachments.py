"""Uploads in messages: ``attachments: [{uploadId}]`` of a send resolved into stored metadata,
and the message side of the download rule.

How the message service uses this (``tests/test_uploads_attach.py`` checks it end to end):

- validation keeps ``[{"uploadId": id}, ...]`` items as they are (they have no url);
- a send decides its ``clientMsgId`` first (the client's, or a new id), then replaces those
  items with ``await resolve_attachments(uploads, ident, items, conversation_id, client_msg_id)``
  before storing; a retry of a known clientMsgId resolves to the same claims;
- a delete calls ``await chat.uploads.lifecycle.message_deleted(uploads, message_doc)``;
- one ``UploadsService`` (``chat.uploads.build_uploads(settings, store)``) serves both: give the
  Runtime an ``uploads`` field and ``handlers/routes.py`` uses it (else it builds its own, which
  is ``app.settings["uploads"]``); its ``carried`` check defaults to :class:`MessageCarried`.
"""
from __future__ import annotations

from typing import Any, Dict, List

from chat.auth import Identity
from chat.errors import BadRequest, Conflict
from chat.timeutil import now_ms
from chat.uploads.seam import StoreSeam
from chat.uploads.service import UploadsService, render


async def resolve_attachments(uploads: UploadsService, ident: Identity, items: Any, conversation_id: str,
                              client_msg_id: str) -> List[Dict[str, Any]]:
    """The attachment dicts to store for a send of ``ident`` whose ``attachments`` are
    ``[{"uploadId": id}, ...]``: each must be the sender's own upload of the same school, not
    yet carried by another message. Claims each for the message ``(conversation_id,
    client_msg_id)`` (a retried send with the same clientMsgId claims them again). Unknown,
    foreign and other users' uploads are one ``bad_request`` (nothing about them is revealed)."""
    if not isinstance(items, list):
        raise BadRequest("attachments must be a list")
    if len(items) > uploads.settings.max_attachments:
        raise BadRequest("at most %d attachments" % uploads.settings.max_attachments)
    ids: List[str] = []
    for item in items:
        upload_id = item.get("uploadId") if isinstance(item, dict) else None
        if not isinstance(upload_id, str) or not upload_id:
            raise BadRequest("each attachment must be {\"uploadId\": id}")
        if upload_id not in ids:
            ids.append(upload_id)
    metas = []
    for upload_id in ids:  # check them all before claiming any
        meta = await uploads.repo.get(upload_id)
        if (meta is None or meta["school"] != ident.school or meta["ownerId"] != ident.user_id
                or meta.get("deletedAt") is not None):
            raise BadRequest("unknown upload %s" % upload_id[:64])
        metas.append(meta)
    out = []
    now = now_ms()
    for meta in metas:
        claimed = await uploads.repo.claim(meta["id"], conversation_id, client_msg_id, now)
        if claimed is None:
            raise Conflict("upload %s is already attached to another message" % meta["id"])
        out.append(attachment_of(claimed))
    return out


def attachment_of(meta: Dict[str, Any]) -> Dict[str, Any]:
    """What a message stores for an upload: ``id, name, size, mimeType, url, thumbnail, width,
    height`` (urls are the stable, unsigned routes; clients ask ``/api/uploads/links``)."""
    view = render(meta)
    return {k: view[k] for k in ("id", "name", "size", "mimeType", "url", "thumbnail", "width", "height")}


class MessageCarried:
    """The default ``carried`` check from the message store: the message that claimed the
    upload (found by its sender and clientMsgId) is live, is in the conversation it was claimed
    for, still lists the upload, and the caller is a participant of that conversation."""

    def __init__(self, seam: StoreSeam) -> None:
        self._seam = seam

    async def __call__(self, meta: Dict[str, Any], ident: Identity) -> bool:
        if not meta.get("clientMsgId") or not meta.get("conversationId"):
            return False
        message = await self._seam.find_message(meta["ownerId"], meta["clientMsgId"])
        if (message is None or message.get("deletedAt") is not None
                or message.get("conversationId") != meta["conversationId"]
                or not any(isinstance(a, dict) and a.get("id") == meta["id"]
                           for a in message.get("attachments") or [])):
            return False
        return await self._seam.is_member(meta["conversationId"], ident.user_id)
