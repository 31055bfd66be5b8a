"""The OpenAPI part of scheduled messages (README "Scheduled messages"), added to the document
by :func:`handlers.openapi.build_document`."""
from __future__ import annotations

from typing import Dict

from chat.domain.notify.scheduled import MAX_TIME_TEXT, SEND_AT_PATTERN
from chat.settings import Settings
from handlers.openapi_schemas import INT, NSTR, NTIME, STR, TIME, Schema, obj, ref, trimmed

STATUSES = ["scheduled", "sending", "sent", "failed"]


def add_scheduled_docs(paths: Dict[str, Dict[str, Schema]], components: Dict[str, Schema],
                       settings: Settings) -> None:
    """Add ``sendAt`` to a send, the scheduled message's schemas and the ``/api/scheduled`` routes."""
    from handlers.openapi import _data, _json, _op, _path  # the document's own helpers (it imports this module)
    send_at = {"oneOf": [dict(TIME, maxLength=MAX_TIME_TEXT, pattern=SEND_AT_PATTERN), {"type": "integer"}],
               "description": "send later: a time after now and at most %d days ahead (409 otherwise), an "
                              "RFC 3339 date-time (Z or an offset) or epoch milliseconds; the answer is then "
                              "a ScheduledMessage (201). Text only (no attachments, no clientMsgId)"
                              % settings.scheduled_max_days}
    components["NewMessage"]["properties"]["sendAt"] = send_at
    # a scheduled message is text only: with sendAt, no attachments and no clientMsgId
    components["NewMessage"]["dependentSchemas"] = {"sendAt": {"properties": {
        "attachments": {"type": ["array", "null"], "maxItems": 0}, "clientMsgId": {"type": "null"}}}}
    components["ScheduledMessage"] = obj(
        ["id", "conversationId", "text", "mentions", "replyTo", "sendAt", "sendAtMs", "status", "attempts",
         "messageId", "sentAt", "error", "createdAt", "updatedAt"], {
            "id": STR, "conversationId": STR, "text": NSTR, "mentions": {"type": "array", "items": STR},
            "replyTo": NSTR, "sendAt": TIME, "sendAtMs": INT,
            "status": {"enum": STATUSES, "description": "scheduled: waiting; sending: a node is sending it; "
                                                        "sent: see messageId; failed: refused, see error"},
            "attempts": INT, "messageId": NSTR, "sentAt": NTIME,
            "error": {"type": ["object", "null"], "description": "failed: the refusal as a send would have "
                                                                 "answered it ({code, message, ...})"},
            "createdAt": NTIME, "updatedAt": NTIME}, additionalProperties=False)
    components["ScheduledChange"] = {
        "type": "object", "minProperties": 1, "additionalProperties": False,
        "properties": {"text": trimmed(1, settings.max_text), "sendAt": send_at}}
    components["ScheduledCancelled"] = obj(["id", "status"], {"id": STR, "status": {"enum": ["cancelled"]}},
                                           additionalProperties=False)
    send = paths["/api/conversations/{conversationId}/messages"]["post"]
    send["responses"]["201"] = _json(_data({"oneOf": [ref("Message"), ref("ScheduledMessage")]}),
                                     "stored (with sendAt: scheduled)")
    one = _path("scheduledId", "a scheduled message of the caller")
    listed = obj(["data", "hasMore", "next"], {"data": {"type": "array", "items": ref("ScheduledMessage")},
                                               "hasMore": {"type": "boolean"}, "next": {"type": "null"}})
    ok = {200: _json(_data(ref("ScheduledMessage")), "the scheduled message")}
    paths["/api/scheduled"] = {"get": _op("The caller's scheduled messages not sent yet (waiting, being sent, "
                                          "refused), soonest first", {200: _json(listed, "the list")}, [])}
    paths["/api/scheduled/{scheduledId}"] = {
        "get": _op("One of the caller's scheduled messages (sent ones too)", ok, [404], params=[one]),
        "patch": _op("Change the text or time of a message still waiting (409 once it is being sent)", ok,
                     [404, 409], params=[one], body="ScheduledChange"),
        "delete": _op("Cancel a waiting message, or dismiss a refused one (409 once it is being sent)", {
            200: _json(_data(ref("ScheduledCancelled")), "cancelled")}, [404, 409], params=[one])}
