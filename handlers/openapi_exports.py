"""The OpenAPI part of export and erasure (README "Export and erasure"), added to the
document by :func:`handlers.openapi.build_document`."""
from __future__ import annotations

from typing import Dict

from handlers.openapi_schemas import BOOL, INT, NSTR, NTIME, STR, Schema, obj, ref


def add_export_docs(paths: Dict[str, Dict[str, Schema]], components: Dict[str, Schema]) -> None:
    """Add the export and erasure routes and their schemas."""
    from handlers.openapi import _data, _json, _op, _path, _query  # the document's own helpers
    components["ExportRequest"] = obj(["userId"], {"userId": {
        "type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S",
        "description": "a user of the caller's school"}}, additionalProperties=False)
    components["Export"] = obj(
        ["id", "userId", "requestedBy", "status", "progress", "size", "error", "createdAt", "finishedAt",
         "downloadUrl", "downloadExpiresAt"], {
            "id": STR, "userId": STR, "requestedBy": STR,
            "status": {"enum": ["queued", "running", "done", "failed", "expired"],
                       "description": "expired: the archive was deleted CHAT_EXPORT_KEEP_HOURS after it was done; "
                                      "failed: also a job whose server was killed (error says so)"},
            "progress": obj(["messages", "files", "bytes"], {
                "messages": dict(INT, description="messages written so far"),
                "files": dict(INT, description="files written so far"),
                "bytes": dict(INT, description="bytes written so far (before compression)")},
                additionalProperties=False),
            "size": {"type": ["integer", "null"], "minimum": 0, "description": "the zip's size once done"},
            "error": NSTR, "createdAt": NTIME, "finishedAt": NTIME,
            "downloadUrl": dict(NSTR, description="once done: a link signed for the caller (no header needed)"),
            "downloadExpiresAt": NTIME}, additionalProperties=False)
    components["Erasure"] = obj(
        ["userId", "name", "erasedAt", "already", "messages", "messagesKept", "reactions", "reactionsKept", "files",
         "filesKept"], {
            "userId": STR, "name": {"const": "Former user"}, "erasedAt": NTIME,
            "already": dict(BOOL, description="the user was erased before (nothing recorded again)"),
            "messages": dict(INT, description="messages turned into tombstones now"),
            "messagesKept": dict(INT, description="messages a legal hold keeps (hidden, content stored)"),
            "reactions": dict(INT, description="the user's reactions to others' messages removed now"),
            "reactionsKept": dict(INT, description="reactions in conversations a legal hold covers"),
            "files": dict(INT, description="uploads deleted now"),
            "filesKept": dict(INT, description="uploads a legal hold keeps")}, additionalProperties=False)
    reason = components.get("Message", {}).get("properties", {}).get("reason")
    if isinstance(reason, dict) and "description" in reason:
        reason["description"] = reason["description"].rstrip(")") + "; erased: the sender's data was erased)"
    export_id = _path("exportId", "an export id")
    user_id = _path("userId", "a user of the caller's school")
    listed = obj(["data", "hasMore", "next"], {"data": {"type": "array", "items": ref("Export")},
                                               "hasMore": BOOL, "next": {"type": "null"}})
    paths["/api/exports"] = {
        "get": _op("The school's exports, newest first (admins only)", {200: _json(listed, "the exports")}, [403]),
        "post": _op("Export one user's data into a zip, as a job (admins only; audited). One per user at a "
                    "time: while one of that user is queued or running, the answer is that job (nothing new is "
                    "started or recorded); a server writes at most CHAT_EXPORT_MAX_RUNNING at once, the rest "
                    "wait queued",
                    {202: _json(_data(ref("Export")), "the job, queued (or the user's unfinished one)")}, [403, 404],
                    body="ExportRequest")}
    paths["/api/exports/{exportId}"] = {"get": _op(
        "An export's status and progress; once done, a signed download link (admins only)",
        {200: _json(_data(ref("Export")), "the export")}, [403, 404], params=[export_id])}
    signed = [_query(name, STR, "signed link: %s" % what, any_text=True) for name, what in (
        ("u", "user"), ("r", "role"), ("s", "school"), ("e", "expiry"), ("sig", "signature"))]
    download = _op("Download a done export through its signed link (a forged, altered or expired link: 403; "
                   "an export whose archive was deleted after the keep window: 410 export_expired; audited)",
                   {200: {"description": "the zip (Range supported)", "content": {
                       "application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                                206: {"description": "the requested range", "content": {
                                    "application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                                304: {"description": "not modified"}},
                   [400, 403, 404], params=[export_id] + signed, auth=False, tag="chat")
    download["responses"]["410"] = _json(obj(["error"], {"error": obj(["code", "message"], {
        "code": {"type": "string", "enum": ["export_expired"]}, "message": STR})}),
        "The export's archive was deleted after CHAT_EXPORT_KEEP_HOURS (the job is listed expired): "
        "start a new export.")
    head = dict(download, summary="The headers of a done export's download (checked and audited as a download)",
                responses=dict(download["responses"], **{"200": {"description": "the zip's headers"}}))
    paths["/api/exports/{exportId}/download"] = {"get": download, "head": head}
    paths["/api/users/{userId}/erase"] = {"post": _op(
        "Erase one user's data: messages become tombstones, uploads are deleted, the name becomes "
        "\"Former user\"; what a legal hold covers is kept (admins only; audited once; idempotent)",
        {200: _json(_data(ref("Erasure")), "erased")}, [403, 404], params=[user_id])}
