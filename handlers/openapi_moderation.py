"""The OpenAPI paths and schemas of reports and the moderation queue (README "Reports and
moderation"), added to the document by :func:`handlers.openapi.build_document`."""
from __future__ import annotations

from typing import Dict

from chat.rules.moderation_input import (
    ACTIONS,
    CASE_KINDS,
    CASE_REASONS,
    MAX_CASES_PAGE,
    MAX_MUTE_HOURS,
    MAX_NOTE,
    REASONS,
    STATUSES,
)
from handlers.openapi import MSG, _data, _json, _limit, _op, _path, _query
from handlers.openapi_schemas import BOOL, INT, NSTR, NTIME, STR, TIME, Schema, obj, ref

NOTE = {"type": ["string", "null"], "maxLength": MAX_NOTE,
        "description": "at most %d characters (stored trimmed)" % MAX_NOTE}
CASE = _path("caseId", "a case id")


def moderation_schemas() -> Dict[str, Schema]:
    """The bodies the moderation routes read and write."""
    case_props: Schema = {
        "id": STR, "kind": {"enum": list(CASE_KINDS),
                            "description": "repeated_blocks: the word filter blocked the subject's texts repeatedly"},
        "status": {"enum": list(STATUSES)},
        "reasons": {"type": "array", "items": {"enum": list(CASE_REASONS)},
                    "description": "every reason its reports gave; filter: the word filter opened or joined it"},
        "reportCount": INT,
        "lists": {"type": "array", "items": STR, "description": "the word-filter lists that matched (reason filter)"},
        "filterHits": dict(INT, description="how many times the word filter added to the case"),
        "subjectId": dict(STR, description="the reported user (the message's author)"),
        "subjectName": STR, "messageId": NSTR, "conversationId": NSTR, "createdAt": TIME, "updatedAt": TIME,
        "escalatedAt": NTIME}
    return {
        "Report": obj(["reason"], {"reason": {"enum": list(REASONS)}, "note": NOTE}),
        "ReportReceipt": obj(["caseId", "status"], {"caseId": STR, "status": {"enum": list(STATUSES)}}),
        "Case": obj(list(case_props), case_props),
        "CaseList": obj(["data", "hasMore", "next"], {
            "data": {"type": "array", "items": ref("Case")}, "hasMore": BOOL,
            "next": {"type": ["string", "null"], "description": "the next of the older page, if any"}}),
        "ModeratedMessage": {"allOf": [ref("Message"), obj(["edits", "deletedBy"], {
            "deletedBy": NSTR,
            "edits": {"type": "array", "description": "earlier texts, oldest first", "items": obj(
                ["text", "editorId", "editedAt"], {"text": NSTR, "editorId": NSTR, "editedAt": NTIME})}})],
            "description": "a message as a moderator reads it: a deleted one keeps its text"},
        "CaseDetail": obj(["case", "reports", "actions", "message", "context"], {
            "case": ref("Case"),
            "reports": {"type": "array", "items": obj(["reporterId", "reporterName", "reason", "note", "createdAt"], {
                "reporterId": STR, "reporterName": STR, "reason": STR, "note": NSTR, "createdAt": TIME})},
            "actions": {"type": "array", "items": obj(["actorId", "actorName", "action", "status", "note", "hours",
                                                        "at"], {
                "actorId": STR, "actorName": STR, "action": {"enum": list(ACTIONS) + [None]},
                "status": {"enum": list(STATUSES) + [None]}, "note": NSTR,
                "hours": {"type": ["integer", "null"]}, "at": TIME})},
            "message": {"oneOf": [ref("ModeratedMessage"), {"type": "null"}]},
            "context": {"type": "array", "items": ref("ModeratedMessage"),
                        "description": "the reported message with about 10 messages either side, ascending"}}),
        "CaseChange": obj([], {
            "status": {"enum": list(STATUSES) + [None]},
            "action": {"enum": list(ACTIONS) + [None],
                       "description": "remove_message and mute_author: cases about a message only (409)"},
            "note": NOTE,
            "hours": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_MUTE_HOURS, "default": 24,
                      "description": "how long mute_author mutes the author in that conversation"}},
            description="at least one of status, action and note that is not null",
            anyOf=[{"required": [key], "properties": {key: {"type": "string"}}}
                   for key in ("status", "action", "note")]),
        "CaseSummary": obj(["total", "byStatus", "byReason"], {
            "total": INT,
            "byStatus": {"type": "object", "additionalProperties": INT},
            "byReason": {"type": "object", "additionalProperties": INT,
                         "description": "a case counts under each reason its reports gave"}}),
    }


def moderation_paths() -> Dict[str, Dict[str, Schema]]:
    """Reports and the moderation queue, by path template and method."""
    receipt = {200: _json(_data(ref("ReportReceipt")), "the report joined an existing case (or was made before)"),
               201: _json(_data(ref("ReportReceipt")), "a new case")}
    return {
        "/api/messages/{messageId}/report": {"post": _op(
            "Report a message the caller can see", receipt, [400, 403, 404, 409, 429], params=[MSG],
            body="Report", tag="moderation")},
        "/api/users/{userId}/report": {"post": _op(
            "Report a user of the caller's school", receipt, [400, 404, 409, 429],
            params=[_path("userId", "the reported user's id")], body="Report", tag="moderation")},
        "/api/moderation/cases": {"get": _op("The school's cases, newest first (moderators)", {
            200: _json(ref("CaseList"), "a page; next is the next of the older page")}, [400, 403], params=[
                _query("status", {"enum": list(STATUSES)}, "only cases of this status"),
                _limit(50, MAX_CASES_PAGE),
                _query("next", {"type": "string", "pattern": "^([0-9a-fA-F]{24})?$"}, "the next of the page before")],
            tag="moderation")},
        "/api/moderation/cases/{caseId}": {
            "get": _op("A case with its reports, actions and the message's context (the read is recorded)", {
                200: _json(_data(ref("CaseDetail")), "the case")}, [400, 403, 404], params=[CASE],
                tag="moderation"),
            "patch": _op("Set a case's status and/or act on it (keep, remove_message, mute_author, escalate)", {
                200: _json(_data(ref("Case")), "the case after")}, [403, 404, 409], params=[CASE],
                body="CaseChange", tag="moderation")},
        "/api/moderation/summary": {"get": _op("Counts of the school's cases by status and reason (moderators)", {
            200: _json(_data(ref("CaseSummary")), "the counts")}, [403], tag="moderation")},
    }
