"""The OpenAPI 3.1 description of every REST route, kept beside the route table in
``handlers/routes.py`` (a test fails when the two disagree), and the handlers serving it:
``GET /api/openapi.json`` and the human-readable page ``GET /api/docs``.

The document is built from the running settings, so the limits it states (text length,
participants, body size) are the limits the server enforces.
"""
from __future__ import annotations

import os
import tomllib
from typing import Any, Dict, List, Optional, Tuple

from chat.errors import STATUS
from chat.rules.validation import BOOL_PATTERN, CONVERSATION_TYPES, EMOJI_PATTERN, MAX_EMOJI, NO_CONTROLS
from chat.settings import Settings
from handlers.base import ApiHandler, dumps
from handlers.openapi_schemas import (
    BOOL,
    ERROR_TEXT,
    EXAMPLES,
    INT,
    NSTR,
    NTIME,
    ROLES,
    STR,
    Schema,
    new_attachment,
    obj,
    ref,
    schemas,
    trimmed,
)


def _data(schema: Schema) -> Schema:
    return obj(["data"], {"data": schema})


def _list(item: str) -> Schema:
    return obj(["data", "hasMore", "next"], {
        "data": {"type": "array", "items": ref(item)}, "hasMore": BOOL,
        "next": {"type": ["integer", "null"], "description": "the cursor of the next page, if any"}})


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, ok: Dict[int, Schema], errors: List[int], *, params: Optional[List[Schema]] = None,
        body: Optional[str] = None, auth: bool = True, tag: str = "chat") -> Schema:
    """One operation: success responses, the error statuses it can answer, its parameters."""
    responses: Dict[str, Any] = {str(status): resp for status, resp in ok.items()}
    statuses = set(errors) | ({401, 503} if auth else set()) | ({400, 413} if body else set())
    for status in sorted(statuses):
        responses[str(status)] = {"$ref": "#/components/responses/E%d" % status}
    op: Schema = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    if not auth:
        op["security"] = []
    return op


def _path(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1}}


TEXT = {"type": "string", "pattern": NO_CONTROLS}  # any query value: control characters are refused


def _query(name: str, schema: Schema, description: str, any_text: bool = False) -> Schema:
    """An optional query parameter; an empty value means the same as leaving it out.
    ``any_text``: the handler reads it itself (not through ApiHandler.arg), control characters too."""
    if schema.get("type") != "string":
        schema = {"anyOf": [schema, {"const": ""}]}
    elif "pattern" not in schema and not any_text:
        schema = dict(schema, pattern=NO_CONTROLS)
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description + " (empty: as if absent)"}


def _limit(default: int, maximum: int) -> Schema:
    return _query("limit", {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
                  "page size")


def _cursor() -> Schema:
    """before/after/around of a history page: one object, so that the document can say that
    around takes neither of the others (OpenAPI has no rule across separate parameters).
    ``style: form, explode: true`` sends each property as its own query parameter."""
    seq = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 2 ** 53}, {"const": ""}]}
    given = {"not": {"const": ""}}
    return {"name": "cursor", "in": "query", "required": False, "style": "form", "explode": True,
            "description": "before: newest messages before this seq; after: oldest messages after it; around: "
                           "the page around this seq (included; about half older), not with before or after "
                           "(empty values: as if absent)",
            "schema": {"type": "object", "additionalProperties": False, "properties": {
                "before": seq, "after": seq,
                "around": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 2 ** 53}, {"const": ""}]}},
                "not": {"anyOf": [{"required": ["around", other], "properties": {"around": given, other: given}}
                                  for other in ("before", "after")]}}}


CONV = _path("conversationId", "a conversation id")
MSG = _path("messageId", "a message id")


def _paths() -> Dict[str, Dict[str, Schema]]:
    """Every REST route, by path template and method: the document's half of the route table."""
    role = _query("role", {"enum": ROLES}, "only users of this school role")
    conv_ok = {200: _json(_data(ref("Conversation")), "the conversation as the caller sees it")}
    return {
        "/api/health": {
            "get": _op("Process and storage status", {
                200: _json(_data(ref("Health")), "storage answers"),
                503: _json(_data(ref("Health")), "storage does not answer")}, [], auth=False, tag="meta"),
            "head": _op("Process and storage status, headers only (for probes)", {
                200: {"description": "storage answers"}, 503: {"description": "storage does not answer"}},
                [], auth=False, tag="meta")},
        "/api/openapi.json": {"get": _op("This document", {
            200: _json({"type": "object"}, "the OpenAPI document")}, [], auth=False, tag="meta")},
        "/api/docs": {"get": _op("This document rendered for people", {
            200: {"description": "an HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}},
            [], auth=False, tag="meta")},
        "/api/me": {"get": _op("The caller as the token says", {
            200: _json(_data(ref("Me")), "the caller")}, [])},
        "/api/users": {"get": _op("Same-school directory search", {
            200: _json(_list("DirectoryUser"), "matching users")}, [400], params=[
                _query("q", TEXT, "name or id substring (first 100 characters)"), role,
                _limit(50, 200)])},
        "/api/conversations": {
            "get": _op("The caller's conversations, pinned first, then newest activity", {
                200: _json(_list("Conversation"), "a page; next is the next offset")}, [400], params=[
                    _query("type", {"enum": list(CONVERSATION_TYPES)}, "only this type"),
                    _query("archived", {"type": "string", "pattern": BOOL_PATTERN},
                           "true/yes/1: only archived; false/no/0 or absent: only the others"),
                    _query("q", TEXT, "title or participant name substring"),
                    _limit(50, 100),
                    _query("offset", {"type": "integer", "minimum": 0, "maximum": 10 ** 6, "default": 0},
                           "skip this many")]),
            "post": _op("Start a conversation (direct ones are deduplicated)", {
                200: _json(_data(ref("Conversation")), "the existing direct conversation"),
                201: _json(_data(ref("Conversation")), "created")}, [403, 404, 409], body="NewConversation")},
        "/api/conversations/{conversationId}": {
            "get": _op("Details; participants carry online and their markers", conv_ok, [403, 404],
                       params=[CONV]),
            "patch": _op("Rename (owner/admin) or set the caller's muted, pinned, archived", conv_ok,
                         [403, 404, 409], params=[CONV], body="ConversationPatch")},
        "/api/conversations/{conversationId}/participants": {
            "post": _op("Add same-school users (owner/admin, not direct)", conv_ok, [403, 404, 409],
                        params=[CONV], body="UserIds")},
        "/api/conversations/{conversationId}/participants/{userId}": {
            "delete": _op("Remove a participant (owner/admin), or leave (yourself)", {
                200: _json(_data(ref("Removed")), "removed")}, [400, 403, 404, 409],
                params=[CONV, _path("userId", "the participant's user id")])},
        "/api/conversations/{conversationId}/messages": {
            "get": _op("History by seq, ascending within the page", {
                200: _json(dict(_list("Message"), properties=dict(_list("Message")["properties"], hasNewer=dict(
                    BOOL, description="with around: newer messages exist"))),
                    "a page; next is the before (or after) of the next page")},
                [400, 403, 404], params=[CONV, _cursor(), _limit(50, 100)]),
            "post": _op("Send a message", {
                200: _json(_data(ref("Message")), "a retry of a known clientMsgId: the stored message"),
                201: _json(_data(ref("Message")), "stored")}, [403, 404, 409, 429], params=[CONV],
                body="NewMessage")},
        "/api/conversations/{conversationId}/read": {
            "post": _op("Move the caller's read marker forward", {
                200: _json(_data(ref("Markers")), "the caller's markers and unread count")},
                [403, 404], params=[CONV], body="Seq")},
        "/api/conversations/{conversationId}/delivered": {
            "post": _op("Move the caller's delivered marker forward", {
                200: _json(_data(ref("Markers")), "the caller's markers and unread count")},
                [403, 404], params=[CONV], body="Seq")},
        "/api/messages/{messageId}": {
            "patch": _op("Edit (sender only, not deleted)", {
                200: _json(_data(ref("Message")), "the edited message")}, [403, 404, 409],
                params=[MSG], body="Edit"),
            "delete": _op("Soft delete (idempotent)", {
                200: _json(_data(ref("Deleted")), "deleted")}, [400, 403, 404], params=[MSG])},
        "/api/messages/{messageId}/reactions/{emoji}": {
            method: _op(summary, {200: _json(_data(ref("Reactions")), "the message's reactions")},
                        [400, 403, 404, 409], params=[MSG, dict(
                            _path("emoji", "one URL-encoded emoji (at most %d code points)" % MAX_EMOJI),
                            schema={"type": "string", "minLength": 1, "maxLength": MAX_EMOJI,
                                    "pattern": EMOJI_PATTERN})])
            for method, summary in (("put", "Add the caller's reaction"),
                                    ("delete", "Remove the caller's reaction"))},
        "/api/messages/{messageId}/receipts": {
            "get": _op("Delivered/read per participant other than the sender", {
                200: _json(_data(ref("Receipts")), "receipts")}, [400, 403, 404], params=[MSG])},
        "/api/search": {"get": _op("Message text search in the caller's conversations", {
            200: _json(_list("Message"), "newest first")}, [400, 403, 404], params=[
                {"name": "q", "in": "query", "required": True, "description": "2..200 characters after trimming",
                 "schema": {"allOf": [TEXT, trimmed(2, 200)]}},
                _query("conversationId", TEXT, "only this conversation"), _limit(20, 100)])},
        "/api/unread": {"get": _op("Unread counts per conversation and in total", {
            200: _json(_data(ref("Unread")), "unread counts")}, [])},
        "/api/presence": {"get": _op("Online users the caller may see", {
            200: _json(_list("OnlineUser"), "online users")}, [400], params=[
                _query("classId", TEXT, "only this class"), role])},
        "/api/classes/mine": {"get": _op("The caller's classes from the roster, each with its conversations", {
            200: _json(_data(obj(["classes"], {"classes": {"type": "array", "items": ref("MyClass")}})),
                       "by name; an admin: every class of the school")}, [])},
        "/api/demo/users": {"get": _op("Demo users (demo mode, loopback clients only)", {
            200: _json(_list("DemoUser"), "the demo school's users")}, [404], auth=False, tag="demo")},
        "/api/demo/token": {"post": _op("A token for a demo user (demo mode, loopback clients only)", {
            200: _json(_data(obj(["token", "user"], {"token": STR, "user": ref("DemoUser")})), "a token")},
            [404], body="DemoTokenRequest", auth=False, tag="demo")},
    }


def _upload_paths() -> Dict[str, Dict[str, Schema]]:
    """The upload routes (README "Uploads")."""
    upload = obj(["id", "name", "size", "mimeType", "sha256", "url", "createdAt"], {
        "id": STR, "name": STR, "size": INT, "mimeType": STR, "sha256": STR,
        "width": {"type": ["integer", "null"]}, "height": {"type": ["integer", "null"]},
        "url": STR, "thumbnail": NSTR, "createdAt": NTIME})
    link = obj(["url", "thumbnailUrl", "expiresAt"], {"url": STR, "thumbnailUrl": NSTR, "expiresAt": NTIME})
    # any string: they are read only with sig, and then a wrong one is a 403, not malformed input
    signed = [_query(name, STR, "signed link: %s" % what, any_text=True) for name, what in (
        ("u", "user"), ("r", "role"), ("s", "school"), ("e", "expiry"), ("sig", "signature"))]
    file_ok: Dict[int, Dict[str, Any]] = {
        200: {"description": "the file (Range, ETag and conditional requests supported)",
                     "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
               206: {"description": "the requested range",
                     "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
               304: {"description": "not modified"}}
    upload_id = _path("uploadId", "an upload id")

    def download(summary: str, method: str) -> Schema:
        op = _op(summary, file_ok, [400, 403, 404], params=[upload_id] + signed, tag="uploads")
        op["security"] = [{"bearer": []}, {}]  # a signed link needs no header
        if method == "head":
            op["responses"]["200"] = {"description": "the file's headers"}
        return op
    return {
        "/api/uploads": {"post": dict(_op("Upload a file: the raw body is the file", {
            201: _json(_data(upload), "stored")}, [400, 403, 413, 429], tag="uploads", params=[
                {"name": "name", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "the file's name"}]),
            requestBody={"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}})},
        "/api/uploads/links": {"post": _op("Short-lived signed URLs of uploads the caller may open", {
            200: _json(_data({"type": "object", "additionalProperties": link}), "upload id -> links")},
            [400], body="UploadIds", tag="uploads")},
        "/api/uploads/{uploadId}": {m: download("Download an upload", m) for m in ("get", "head")},
        "/api/uploads/{uploadId}/thumbnail": {m: download("An image upload's thumbnail", m) for m in ("get", "head")},
    }


def operation_id(method: str, path: str) -> str:
    """``get /api/conversations/{conversationId}/messages`` -> ``getConversationsByConversationIdMessages``."""
    words = []
    for part in path.split("/")[2:]:
        if part.startswith("{"):
            part = "by_" + part.strip("{}")
        words += [w[:1].upper() + w[1:] for w in part.replace(".", "_").split("_")]
    return method + "".join(words)


# What a created object's id leads to, so a stateful client (and a fuzzer) can follow it.
_LINKS: Dict[Tuple[str, str], Tuple[str, List[Tuple[Any, ...]]]] = {
    ("/api/conversations", "post"): ("conversationId", [
        ("/api/conversations/{conversationId}", "get"), ("/api/conversations/{conversationId}", "patch"),
        ("/api/conversations/{conversationId}/messages", "get"),
        ("/api/conversations/{conversationId}/messages", "post"),
        ("/api/conversations/{conversationId}/read", "post"),
        ("/api/conversations/{conversationId}/participants", "post"),
        # the creator leaves: a participant id the response names
        ("/api/conversations/{conversationId}/participants/{userId}", "delete",
         {"userId": "$response.body#/data/createdBy"})]),
    ("/api/conversations/{conversationId}/participants", "post"): ("conversationId", [
        ("/api/conversations/{conversationId}", "get"),
        # the user just added is a participant now
        ("/api/conversations/{conversationId}/participants/{userId}", "delete",
         {"userId": "$request.body#/userIds/0"})]),
    ("/api/conversations/{conversationId}/messages", "post"): ("messageId", [
        ("/api/messages/{messageId}", "patch"), ("/api/messages/{messageId}", "delete"),
        ("/api/messages/{messageId}/reactions/{emoji}", "put"),
        ("/api/messages/{messageId}/receipts", "get")]),
}


def _add_links(paths: Dict[str, Dict[str, Schema]]) -> None:
    for (path, method), (param, targets) in _LINKS.items():
        links = {}
        for target in targets:
            p, m = target[0], target[1]
            extra = target[2] if len(target) > 2 else {}
            links[operation_id(m, p)] = {"operationId": operation_id(m, p),
                                         "parameters": dict({param: "$response.body#/data/id"}, **extra)}
        for status, response in paths[path][method]["responses"].items():
            if status.startswith("2"):
                response["links"] = links



def _filter_schemas(settings: Settings) -> Dict[str, Schema]:
    """Word filters (safeguarding §5): a school's lists as sent and as answered."""
    term = trimmed(1, settings.filter_max_term_chars)
    word_list = obj(["name", "action", "terms"], {
        "name": trimmed(1, 64), "action": {"enum": ["flag", "block"]},
        "terms": {"type": "array", "maxItems": settings.filter_max_terms, "items": term}},
        additionalProperties=False)
    return {
        "FilterLists": obj(["lists"], {"lists": {"type": "array", "maxItems": settings.filter_max_lists,
                                                  "items": word_list}}, additionalProperties=False,
                           description="at most %d terms in all lists together" % settings.filter_max_terms),
        "SchoolFilters": obj(["lists", "version", "updatedAt"], {
            "lists": {"type": "array", "items": obj(["name", "action", "terms"], {
                "name": STR, "action": {"enum": ["flag", "block"]}, "terms": {"type": "array", "items": STR}})},
            "version": {"type": "integer", "minimum": 0, "description": "raised by every change (0: never set)"},
            "updatedAt": {"type": ["integer", "null"], "description": "epoch ms of the last change"}}),
    }


def _filter_paths() -> Dict[str, Dict[str, Schema]]:
    school = _path("schoolId", "the caller's school id (another school: 404)")
    ok = {200: _json(_data(ref("SchoolFilters")), "the school's word lists")}
    return {"/api/schools/{schoolId}/filters": {
        "get": _op("The school's word filter lists (the school's admins only)", ok, [403, 404],
                   params=[school], tag="chat"),
        "put": _op("Replace the school's word filter lists (the school's admins only): block refuses a "
                   "text with content_blocked, flag delivers it and records a flag", ok, [403, 404],
                   params=[school], body="FilterLists", tag="chat")}}

def build_document(settings: Settings, version: str = "", uploads: bool = False) -> Dict[str, Any]:
    """The OpenAPI 3.1 document of the REST API under these settings; ``uploads``: whether the
    application routes the upload endpoints."""
    paths = _paths()
    components = schemas(settings)
    if uploads:
        paths.update(_upload_paths())
        components["UploadIds"] = obj(["ids"], {"ids": {"type": "array", "maxItems": 100, "items": STR}})
        components["NewMessage"]["properties"]["attachments"]["items"] = new_attachment(True)
    # --- web client: roster import (add below)
    from handlers.openapi_roster import add_roster_docs  # it builds on this module's helpers
    add_roster_docs(paths, components)

    # --- safeguarding: school policy (add below)
    from handlers.openapi_policy import policy_paths, policy_schemas
    paths.update(policy_paths())
    components.update(policy_schemas())

    # --- safeguarding: reports and moderation (add below)
    from handlers.openapi_moderation import moderation_paths, moderation_schemas  # it builds on this module
    paths.update(moderation_paths())
    components.update(moderation_schemas())

    # --- safeguarding: blocks, mutes, slow mode (add below)
    from handlers.openapi_blocks import add_block_docs  # it builds on this module's helpers
    add_block_docs(paths, components)

    # --- safeguarding: word filters (add below)
    paths.update(_filter_paths())
    components.update(_filter_schemas(settings))
    for path, method in (("/api/conversations", "post"), ("/api/conversations/{conversationId}", "patch"),
                         ("/api/conversations/{conversationId}/messages", "post"),
                         ("/api/messages/{messageId}", "patch")):
        paths[path][method]["responses"]["422"] = {"$ref": "#/components/responses/E422"}

    # --- oversight: audit log (add below)
    from handlers.openapi_audit import audit_paths, audit_schemas  # it builds on this module's helpers
    paths.update(audit_paths())
    components.update(audit_schemas())

    # --- oversight: access grants (add below)
    from handlers.openapi_oversight import add_grant_docs  # it builds on this module's helpers
    add_grant_docs(paths, components)

    # --- oversight: retention and holds (add below)
    from handlers.openapi_retention import add_retention_docs  # it builds on this module's helpers
    add_retention_docs(paths, components)

    # --- oversight: export and erasure (add below)
    from handlers.openapi_exports import add_export_docs  # it builds on this module's helpers
    add_export_docs(paths, components)

    # --- oversight: quiet hours (add below)

    # --- notifications: missed-message email (add below)
    from handlers.openapi_email import add_email_docs  # it builds on this module's helpers
    add_email_docs(paths, components)

    # --- notifications: webhooks (add below)
    from handlers.openapi_notify import add_webhook_docs  # it builds on this module's helpers
    add_webhook_docs(paths, components)

    # --- notifications: bots (add below)
    from handlers.openapi_notify import add_bot_docs
    add_bot_docs(paths, components)

    # --- notifications: scheduled messages (add below)
    from handlers.openapi_scheduled import add_scheduled_docs  # it builds on this module's helpers
    add_scheduled_docs(paths, components, settings)

    # --- notifications: forwarding (add below)
    from handlers.openapi_forward import add_forward_docs  # it builds on this module's helpers
    add_forward_docs(paths, components)

    for path, item in paths.items():
        for method, op in item.items():
            op["operationId"] = operation_id(method, path)
    _add_links(paths)
    responses = {}
    for status, text in ERROR_TEXT.items():
        # each status pins its code, so a client (and the fuzz test) can rely on the pairing
        codes = sorted(code for code, s in STATUS.items() if s == status)
        schema = obj(["error"], {"error": obj(["code", "message"], {
            "code": {"type": "string", "enum": codes}, "message": {"type": "string"}})})
        response = _json(schema, text)
        message = EXAMPLES[status].replace("%d", str(settings.max_body_bytes))
        response["content"]["application/json"]["example"] = {"error": {"code": codes[0], "message": message}}
        if status == 403:  # oversight: quiet hours (a quiet_hours refusal says when chat opens)
            from handlers.openapi_policy import QUIET_ERROR_FIELDS
            schema["properties"]["error"]["properties"].update(QUIET_ERROR_FIELDS)
        if status == 429:
            response["headers"] = {"Retry-After": {"description": "seconds to wait", "required": True,
                                                   "schema": {"type": "integer", "minimum": 1}}}
        responses["E%d" % status] = response
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "School chat REST API",
            "version": version or "0",
            "description": (
                "JSON under /api. Lists are {data, hasMore, next}, objects {data}, errors "
                "{error: {code, message}}. A method a route does not have answers 405 with an Allow "
                "header; a trailing slash is not part of any route (404 naming the route without it). "
                "The WebSocket protocol at /ws is described in docs/PROTOCOL.md."),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": "chat"}, {"name": "meta"}, {"name": "demo"}] + ([{"name": "uploads"}] if uploads else []),
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                           "description": "a JWT signed by the LMS (PROTOCOL section 1)"}},
            "schemas": components,
            "responses": responses,
        },
    }


class OpenApiHandler(ApiHandler):
    """``GET /api/openapi.json``: the document (no auth: it is public)."""

    def initialize(self, runtime: Any, document: Dict[str, Any]) -> None:  # type: ignore[override]
        super().initialize(runtime)
        self.document = document

    def get(self) -> None:
        self.finish(dumps(self.document))


class DocsHandler(ApiHandler):
    """``GET /api/docs``: the vendored renderer's page, which loads ``/api/openapi.json``."""

    def initialize(self, runtime: Any, page: str) -> None:  # type: ignore[override]
        super().initialize(runtime)
        self.page = page

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Type", "text/html; charset=utf-8")

    def get(self) -> None:
        with open(self.page, "rb") as fh:
            self.finish(fh.read())


def project_version(root: str = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) -> str:
    """The version in ``pyproject.toml`` (empty when it cannot be read)."""
    try:
        with open(os.path.join(root, "pyproject.toml"), "rb") as fh:
            return str(tomllib.load(fh).get("project", {}).get("version", ""))
    except (OSError, ValueError):
        return ""


def docs_page(static_dir: str) -> str:
    """Where the docs page lives inside the static directory."""
    return os.path.join(static_dir, "api-docs", "index.html")
