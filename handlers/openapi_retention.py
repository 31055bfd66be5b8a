"""The OpenAPI part of retention and legal holds (README "Retention and legal holds"), added
to the document by :func:`handlers.openapi.build_document`."""
from __future__ import annotations

from typing import Dict

from chat.domain.oversight.holds import MAX_REASON
from chat.domain.oversight.retention import CONVERSATION_TYPES, MAX_DAYS
from handlers.openapi_schemas import BOOL, NSTR, NTIME, STR, Schema, obj, ref


def add_retention_docs(paths: Dict[str, Dict[str, Schema]], components: Dict[str, Schema]) -> None:
    """Add the routes, their schemas and the tombstone fields of a deleted ``Message``."""
    from handlers.openapi import _data, _json, _op, _path  # the document's own helpers (it imports this module)
    days = {"type": "integer", "minimum": 0, "maximum": MAX_DAYS}
    type_days = {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_DAYS}
    by_type = {t: dict(type_days, description="days for %s conversations (null: the school's value)" % t)
               for t in CONVERSATION_TYPES}
    upload_days = {"type": "integer", "minimum": 1, "maximum": MAX_DAYS}
    components["Retention"] = obj(["messages", "uploads", "caseRetentionDays"], {
        "messages": obj(["retentionDays", "byType"], {
            "retentionDays": dict(days, description="days a message's content is kept, then a tombstone "
                                                    "(0: forever)"),
            "byType": obj(list(CONVERSATION_TYPES), by_type, additionalProperties=False)},
            additionalProperties=False),
        "uploads": obj(["retentionDays"], {"retentionDays": dict(
            upload_days, description="days the files of deleted messages are kept (at most the server's "
                                     "upload_retention_days applies)")}, additionalProperties=False),
        "caseRetentionDays": dict(days, description="days a moderation case's evidence is kept after the case "
                                                    "is resolved")}, additionalProperties=False)
    components["RetentionChange"] = {
        "type": "object", "minProperties": 1, "additionalProperties": False,
        "description": "the fields to change; the others keep their value",
        "properties": {
            "messages": {"type": "object", "additionalProperties": False, "properties": {
                "retentionDays": days,
                "byType": {"type": "object", "additionalProperties": False, "properties": by_type}}},
            "uploads": {"type": "object", "additionalProperties": False,
                        "properties": {"retentionDays": upload_days}},
            "caseRetentionDays": days}}
    components["RetentionView"] = obj(["schoolId", "retention"], {"schoolId": STR, "retention": ref("Retention")},
                                      additionalProperties=False)
    components["Hold"] = obj(["kind", "targetId", "reason", "setBy", "setAt"], {
        "kind": {"enum": ["user", "conversation"]}, "targetId": STR, "reason": STR, "setBy": NSTR,
        "setAt": NTIME}, additionalProperties=False)
    components["HoldRequest"] = obj(["reason"], {"reason": {
        "type": "string", "minLength": 1, "maxLength": MAX_REASON, "pattern": r"\S",
        "description": "why the hold is set (recorded in the audit)"}}, additionalProperties=False)
    components["HoldReleased"] = obj(["kind", "targetId", "released"], {
        "kind": {"enum": ["user", "conversation"]}, "targetId": STR,
        "released": dict(BOOL, description="false: there was no such hold")}, additionalProperties=False)
    message = components["Message"]["properties"]
    message["deletedAt"] = dict(NTIME, description="deleted messages: when")
    message["reason"] = {"type": "string", "description": "deleted messages: why (deleted: by a member or a "
                                                          "moderator; retention: the school's retention)"}
    school = _path("schoolId", "the caller's school id (another school's is 404)")
    holds_list = obj(["data", "hasMore", "next"], {"data": {"type": "array", "items": ref("Hold")},
                                                   "hasMore": BOOL, "next": {"type": "null"}})
    ok = {200: _json(_data(ref("RetentionView")), "the school's retention")}
    paths["/api/schools/{schoolId}/retention"] = {
        "get": _op("The school's retention (its admins only)", ok, [403, 404], params=[school]),
        "put": _op("Change the school's retention (its admins only; recorded in the audit)", ok, [403, 404],
                   params=[school], body="RetentionChange")}
    paths["/api/holds"] = {"get": _op("The school's legal holds, oldest first (admins only)", {
        200: _json(holds_list, "the holds")}, [403])}
    for kind, name, what in (("users", "userId", "a user of the caller's school"),
                             ("conversations", "conversationId", "a conversation of the caller's school")):
        target = _path(name, what)
        paths["/api/holds/%s/{%s}" % (kind, name)] = {
            "put": _op("Set (or re-set) a legal hold on %s: retention, erasure and own deletes keep what it "
                       "covers (admins only; audited)" % what, {200: _json(_data(ref("Hold")), "held")},
                       [403, 404], params=[target], body="HoldRequest"),
            "delete": _op("Release the legal hold (idempotent; admins only; audited): what it kept is deleted "
                          "by the next sweep when due", {200: _json(_data(ref("HoldReleased")), "released")},
                          [403, 404], params=[target])}
