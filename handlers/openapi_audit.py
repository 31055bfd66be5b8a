"""The OpenAPI path and schemas of the audit log (README "Audit log"), added to the document by
:func:`handlers.openapi.build_document`."""
from __future__ import annotations

from typing import Dict

from chat.domain.oversight.audit import ACTION_WORDS
from chat.domain.oversight.audit_query import DATE_TIME_PATTERN, MAX_ACTOR, MAX_PAGE
from handlers.openapi import _json, _limit, _op, _query
from handlers.openapi_schemas import BOOL, STR, TIME, Schema, obj, ref

HASH = {"type": "string", "description": "64 hex digits (SHA-256)"}


def audit_schemas() -> Dict[str, Schema]:
    """An entry and a page of entries."""
    entry_props: Schema = {
        "seq": {"type": "integer", "minimum": 1, "description": "its position in the school's chain"},
        "at": TIME, "actor": dict(STR, description="who acted (a user id, or roster for an import)"),
        "action": {"type": "string", "description": "what was done: %s" % ", ".join(ACTION_WORDS)},
        "school": STR,
        "target": {"type": "object", "description": "what was acted on: conversationId, userId, messageId, ..."},
        "detail": {"type": "object", "description": "the rest: a reason, counts, values before and after"},
        "prev": dict(HASH, description="the hash of the entry before it (64 zeros for the first)"),
        "hash": dict(HASH, description="SHA-256 of the entry's canonical form (README \"Audit log\")")}
    return {
        "AuditEntry": obj(list(entry_props), entry_props),
        "AuditPage": obj(["data", "hasMore", "next"], {
            "data": {"type": "array", "items": ref("AuditEntry")}, "hasMore": BOOL,
            "next": {"type": ["integer", "null"], "minimum": 1,
                     "description": "pass as next= for the older entries (a filtered page may hold fewer than "
                                    "limit: follow next while hasMore)"}}),
    }


def audit_paths() -> Dict[str, Dict[str, Schema]]:
    """``GET /api/audit``."""
    # a date-time, or empty (as if absent): not a string schema, so _query adds the empty case
    time_text = {"anyOf": [{"type": "string", "format": "date-time", "pattern": DATE_TIME_PATTERN}]}
    return {"/api/audit": {"get": _op(
        "The school's audit log, newest first (the school's admins only; entries of the token's school)",
        {200: _json(ref("AuditPage"), "a page of entries")}, [400, 403], params=[
            _query("actor", {"type": "string", "maxLength": MAX_ACTOR}, "only entries by this actor"),
            _query("action", {"enum": list(ACTION_WORDS)}, "only entries of this action"),
            _query("since", time_text, "only entries at or after this time (RFC 3339)"),
            _query("until", time_text, "only entries at or before this time (RFC 3339)"),
            _limit(50, MAX_PAGE),
            _query("next", {"type": "integer", "minimum": 1, "maximum": 10 ** 12}, "the next of the page before")],
        tag="chat")}}
