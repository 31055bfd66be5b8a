"""The schemas of the OpenAPI document (handlers/openapi.py): the objects the REST API reads
and writes, and the error shape, built from the running settings so the limits they state are
the limits the server enforces."""
from __future__ import annotations

from typing import Any, Dict, List

from chat import vocab
from chat.errors import STATUS
from chat.rules.validation import CONVERSATION_TYPES, MAX_CLIENT_MSG_ID, MAX_ID, MAX_MENTIONS, MESSAGE_TYPES
from chat.settings import Settings

Schema = Dict[str, Any]

ROLES = list(vocab.ROLES)
MEMBER_ROLES = list(vocab.MEMBER_ROLES)
# Statuses whose meaning is the same on every route; route-specific ones are listed per operation.
ERROR_TEXT = {
    400: "Bad input: a malformed parameter or body (nothing changed).",
    401: "Missing, malformed, expired or wrongly signed bearer token.",
    403: "The caller may not do this (not a participant, not the owner, read-only announcement...).",
    404: "No such conversation, message, user or route (ids that are not ObjectIds are 404 too).",
    409: "Conflicts with the current state (the message was deleted; a clientMsgId reused elsewhere).",
    413: "Request body over the configured limit.",
    429: "Too many sends: the caller's send bucket (shared with the socket) is empty; retry after "
         "the Retry-After header's seconds.",
    503: "Storage is not answering; retry later.",
}


EXAMPLES = {400: "limit must be an integer", 401: "token expired", 403: "not a participant",
             404: "not found", 409: "the message was deleted", 413: "request body over %d bytes", 429: "slow down",
             503: "storage unavailable, try again"}


def ref(name: str) -> Schema:
    return {"$ref": "#/components/schemas/%s" % name}


def nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


def obj(required: List[str], props: Schema, **extra: Any) -> Schema:
    return dict({"type": "object", "required": required, "properties": props}, **extra)


STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}
INT = {"type": "integer", "minimum": 0}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
NTIME = {"type": ["string", "null"], "format": "date-time"}


def _when_type(types: List[str], required: List[str], props: Schema) -> Schema:
    """What a new conversation of these types needs besides its type."""
    return {"if": {"required": ["type"], "properties": {"type": {"enum": types}}},
            "then": {"required": required, "properties": props}}


def schemas(settings: Settings) -> Dict[str, Schema]:
    attachment = obj(["name", "size", "mimeType", "url"], {
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "size": {"type": "integer", "minimum": 0, "maximum": 2 ** 40},
        "mimeType": {"type": "string", "minLength": 1, "maxLength": 255},
        "url": {"type": "string", "maxLength": 2048, "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/$.?#][^\\s]*$"},
    }, example={"name": "worksheet.pdf", "size": 48213, "mimeType": "application/pdf",
                "url": "https://files.example.org/worksheet.pdf"})
    return {
        "Error": obj(["error"], {"error": obj(["code", "message"], {
            "code": {"type": "string", "enum": sorted(STATUS) + ["method_not_allowed"]},
            "message": {"type": "string"},
        })}),
        "Me": obj(["id", "name", "role", "school"], {
            "id": STR, "name": STR, "role": {"enum": ROLES}, "school": STR}),
        "DirectoryUser": obj(["id", "name", "role", "online"], {
            "id": STR, "name": STR, "role": {"enum": ROLES}, "online": BOOL}),
        "Participant": obj(["userId", "name", "role", "lastReadSeq", "lastDeliveredSeq"], {
            "userId": STR, "name": STR, "role": {"enum": MEMBER_ROLES},
            "userRole": {"type": ["string", "null"], "description": "the user's school role"},
            "lastReadSeq": INT, "lastDeliveredSeq": INT, "online": BOOL}),
        "LastMessage": obj(["id", "seq", "senderId", "preview", "createdAt"], {
            "id": STR, "seq": INT, "senderId": STR, "senderName": NSTR, "preview": NSTR,
            "deleted": BOOL, "type": STR, "createdAt": NTIME}),
        "Conversation": obj(
            ["id", "type", "title", "classId", "participants", "createdBy", "createdAt", "lastMessage",
             "lastSeq", "unread", "lastReadSeq", "muted", "pinned", "archived"], {
                "id": STR, "type": {"enum": list(CONVERSATION_TYPES)}, "title": NSTR, "classId": NSTR,
                "participants": {"type": "array", "items": ref("Participant")},
                "createdBy": NSTR, "createdAt": NTIME, "lastMessage": nullable(ref("LastMessage")),
                "lastSeq": INT, "lastActivityAt": NTIME, "unread": INT,
                "mentions": dict(INT, description="unread messages that mention the caller"), "lastReadSeq": INT,
                "lastDeliveredSeq": INT, "muted": BOOL, "pinned": BOOL, "archived": BOOL,
                "role": {"type": ["string", "null"], "description": "the caller's role in it"}}),
        "Attachment": attachment,
        "Reactions": {"type": "object", "additionalProperties": {"type": "array", "items": STR},
                      "description": "emoji -> ids of the users who reacted with it",
                      "example": {"\U0001F44D": ["st1", "t1"]}},
        "Message": obj(
            ["id", "conversationId", "seq", "senderId", "senderName", "type", "text", "attachments",
             "replyTo", "reactions", "createdAt", "editedAt", "deleted", "clientMsgId"], {
                "id": STR, "conversationId": STR, "seq": {"type": "integer", "minimum": 1},
                "senderId": STR, "senderName": STR, "type": {"enum": list(MESSAGE_TYPES) + ["system"]},
                "text": NSTR, "attachments": {"type": "array", "items": ref("Attachment")},
                "replyTo": NSTR, "reactions": ref("Reactions"), "createdAt": TIME, "editedAt": NTIME,
                "deleted": BOOL, "clientMsgId": NSTR,
                "mentions": {"type": "array", "items": STR, "description": "ids of the participants it mentions"},
                "meta": {"type": "object", "description": "system messages: {action, userIds}"}}),
        "Markers": obj(["conversationId", "unread", "lastReadSeq", "lastDeliveredSeq"], {
            "conversationId": STR, "unread": INT, "mentions": INT, "lastReadSeq": INT, "lastDeliveredSeq": INT}),
        "Removed": obj(["conversationId", "userId"], {"conversationId": STR, "userId": STR}),
        "Deleted": obj(["messageId", "conversationId", "seq"], {
            "messageId": STR, "conversationId": STR, "seq": INT}),
        "Receipts": obj(["messageId", "conversationId", "seq", "receipts"], {
            "messageId": STR, "conversationId": STR, "seq": INT,
            "receipts": {"type": "array", "items": obj(
                ["userId", "name", "status", "delivered", "deliveredAt", "read", "readAt"], {
                    "userId": STR, "name": STR, "status": {"enum": ["sent", "delivered", "read"]},
                    "delivered": BOOL, "deliveredAt": NTIME, "read": BOOL, "readAt": NTIME})}}),
        "Unread": obj(["total", "mentionsTotal", "conversations"], {
            "total": dict(INT, description="unread, muted and archived conversations left out"),
            "mentionsTotal": dict(INT, description="unread mentions of the caller, muted conversations included"),
            "conversations": {"type": "array", "items": obj(
                ["conversationId", "unread", "mentions", "lastReadSeq", "muted"], {
                    "conversationId": STR, "unread": INT, "mentions": INT, "lastReadSeq": INT,
                    "muted": BOOL})}}),
        "OnlineUser": obj(["userId", "name", "role", "since"], {
            "userId": STR, "name": STR, "role": {"enum": ROLES}, "since": NTIME}),
        "Health": obj(["status", "storage", "storageUp", "uptimeSeconds", "connections", "usersOnline"], {
            "status": {"enum": ["ok", "degraded"]}, "storage": STR, "storageUp": BOOL,
            "uptimeSeconds": {"type": "number", "minimum": 0}, "connections": INT, "usersOnline": INT,
            "embeddedRestarts": INT}),
        "DemoUser": obj(["id", "name", "role", "school"], {
            "id": STR, "name": STR, "role": {"enum": ROLES}, "school": STR}),
        # request bodies
        "NewConversation": obj(["type"], {
            "type": {"enum": list(CONVERSATION_TYPES)},
            "participantIds": {"type": "array", "maxItems": settings.max_participants,
                               "items": {"type": "string", "minLength": 1, "maxLength": MAX_ID},
                               "description": "required for direct (exactly one other user) and group"},
            "title": {"type": ["string", "null"], "maxLength": settings.max_title,
                      "description": "required for group"},
            "classId": {"type": ["string", "null"], "maxLength": MAX_ID,
                        "description": "required for class and announcement"}},
            allOf=[_when_type(["direct"], ["participantIds"],
                              {"participantIds": {"minItems": 1, "maxItems": 2}}),
                   _when_type(["group"], ["participantIds", "title"], {"title": {"type": "string", "minLength": 1}}),
                   _when_type(["class", "announcement"], ["classId"],
                              {"classId": {"type": "string", "minLength": 1}})]),
        "ConversationPatch": obj([], {
            "title": {"type": ["string", "null"], "minLength": 1, "maxLength": settings.max_title,
                      "description": "owner/admin only, not for direct conversations"},
            "muted": {"type": ["boolean", "null"]}, "pinned": {"type": ["boolean", "null"]},
            "archived": {"type": ["boolean", "null"]}},
            additionalProperties=False, description="at least one field that is not null",
            anyOf=[{"required": [key], "properties": {key: {"type": kind}}}
                   for key, kind in (("title", "string"), ("muted", "boolean"), ("pinned", "boolean"),
                                     ("archived", "boolean"))]),
        "UserIds": obj(["userIds"], {"userIds": {
            "type": "array", "maxItems": settings.max_participants,
            "items": {"type": "string", "minLength": 1, "maxLength": MAX_ID}}}),
        "NewMessage": obj([], {
            "text": {"type": ["string", "null"], "maxLength": settings.max_text,
                     "description": "1..max characters after trimming, unless attachments are given"},
            "type": {"enum": list(MESSAGE_TYPES)},
            "attachments": {"type": ["array", "null"], "maxItems": settings.max_attachments,
                            "items": attachment},
            "clientMsgId": {"type": ["string", "null"], "maxLength": MAX_CLIENT_MSG_ID},
            "replyTo": {"type": ["string", "null"], "maxLength": 64},
            "mentions": {"type": ["array", "null"], "maxItems": MAX_MENTIONS, "items": {"type": "string"},
                         "description": "ids of participants the message mentions"}}),
        "Edit": obj(["text"], {"text": {"type": "string", "minLength": 1, "maxLength": settings.max_text}}),
        "Seq": obj(["seq"], {"seq": {"type": "integer", "minimum": 0, "maximum": 2 ** 53}}),
        "DemoTokenRequest": obj(["userId"], {"userId": {"type": "string", "minLength": 1, "maxLength": MAX_ID}}),
    }
