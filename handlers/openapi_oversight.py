"""The OpenAPI paths and schemas of oversight access grants (README "Oversight access"),
added to the document by :func:`handlers.openapi.build_document`."""
from __future__ import annotations

from typing import Dict

from chat.domain.oversight.grants import MAX_REASON, MIN_REASON
from chat.domain.safety.policy_doc import REVIEW_NOTICE
from chat.rules.validation import MAX_ID
from handlers.openapi_schemas import BOOL, STR, TIME, Schema, obj, ref, trimmed


def add_grant_docs(paths: Dict[str, Dict[str, Schema]], components: Dict[str, Schema]) -> None:
    """``POST``/``GET /api/oversight/grants``, their bodies, and the conversation's
    ``reviewNotice``."""
    from handlers.openapi import _json, _op  # the document's own helpers (it imports this module)
    components["NewGrant"] = obj(["conversationId", "reason"], {
        "conversationId": dict(trimmed(1, MAX_ID), description="a conversation of the caller's school"),
        "reason": dict(trimmed(MIN_REASON, MAX_REASON),
                       description="why (%d..%d characters after trimming; recorded in the audit log)"
                                   % (MIN_REASON, MAX_REASON))})
    components["Grant"] = obj(["id", "conversationId", "userId", "reason", "createdAt", "expiresAt"], {
        "id": STR, "conversationId": STR, "userId": dict(STR, description="who may read under it"),
        "reason": STR, "createdAt": TIME, "expiresAt": dict(TIME, description="after this, 403 again")})
    components["GrantList"] = obj(["data", "hasMore", "next"], {
        "data": {"type": "array", "items": ref("Grant")}, "hasMore": BOOL, "next": {"type": "null"}})
    components["Conversation"]["properties"]["reviewNotice"] = {
        "type": ["string", "null"], "enum": [REVIEW_NOTICE, None],
        "description": "shown in every conversation while the school's policy has reviewNotice on (null: off)"}
    paths["/api/oversight/grants"] = {
        "post": _op("Open a conversation of the caller's school read-only for a while, stating why (the school's "
                    "admins and safeguarding leads; recorded, the participants are not told)", {
                        201: _json(obj(["data"], {"data": ref("Grant")}), "the grant")},
                    [403, 404], body="NewGrant", tag="oversight"),
        "get": _op("The caller's oversight grants in force, newest first (admins and safeguarding leads)", {
            200: _json(ref("GrantList"), "the grants")}, [403], tag="oversight")}
