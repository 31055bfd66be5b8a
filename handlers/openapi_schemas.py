"""The schemas of the OpenAPI document (handlers/openapi.py): the objects the REST API reads
and writes, and the error shape, built from the running settings so the limits they state are
the limits the server enforces."""
from __future__ import annotations

from typing import Any, Dict, List

from chat import vocab
from chat.errors import STATUS
from chat.ops.demo import demo_users
from chat.rules.validation import (
    CONVERSATION_TYPES,
    HAS_TEXT,
    MAX_CLIENT_MSG_ID,
    MAX_ID,
    MAX_MENTIONS,
    MAX_URL,
    MESSAGE_TYPES,
    URL_PATTERN,
    trimmed_pattern,
)
from chat.settings import Settings

Schema = Dict[str, Any]

ROLES = list(vocab.ROLES)
MEMBER_ROLES = list(vocab.MEMBER_ROLES)
# Statuses whose meaning is the same on every route; route-specific ones are listed per operation.
ERROR_TEXT = {
    400: "Bad input: a malformed parameter or body (nothing changed).",
    401: "Missing, malformed, expired or wrongly signed bearer token.",
    403: "The caller may not do this (not a participant, not the owner, read-only announcement...; "
         "quiet_hours: not now, with opensAt).",
    404: "No such conversation, message, user or route (ids that are not ObjectIds are 404 too).",
    409: "Conflicts with the current state (the message was deleted; a clientMsgId reused elsewhere).",
    410: "The message named is deleted (by its author, a moderator or the school's retention): "
         "it cannot be forwarded (message_gone).",
    413: "Request body over the configured limit.",
    422: "Refused by the school's word filter: the message was not sent (content_blocked).",
    429: "Too many sends: the caller's send bucket (shared with the socket) is empty; retry after "
         "the Retry-After header's seconds.",
    503: "Storage is not answering; retry later.",
}


EXAMPLES = {400: "limit must be an integer", 401: "token expired", 403: "not a participant",
             404: "not found", 409: "the message was deleted",
             410: "the message was deleted and cannot be forwarded", 413: "request body over %d bytes",
             422: "the message was not sent: it contains words the school does not allow", 429: "slow down",
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


def trimmed(min_len: int, max_len: int, *types: str) -> Schema:
    """A string the server trims: min_len..max_len characters once leading and trailing
    whitespace is gone (``types`` adds e.g. "null")."""
    return {"type": ["string", *types] if types else "string", "pattern": trimmed_pattern(min_len, max_len),
            "description": "%d..%d characters after trimming" % (min_len, max_len)}


# an id in a list: something besides whitespace, at most MAX_ID characters as sent
ID_ITEM = {"type": "string", "maxLength": MAX_ID, "pattern": HAS_TEXT}


def new_attachment(uploads: bool) -> Schema:
    """An attachment in a new message: a link, or (with uploads) one of the sender's uploads.
    An object with an uploadId is always read as an upload."""
    link = obj(["name", "size", "mimeType", "url"], {
        "name": trimmed(1, 255), "size": {"type": "integer", "minimum": 0, "maximum": 2 ** 40},
        "mimeType": trimmed(1, 255),
        "url": {"type": "string", "maxLength": MAX_URL, "pattern": URL_PATTERN, "description": "http(s)"}},
        **{"not": {"required": ["uploadId"]}})
    if not uploads:
        return link
    return {"oneOf": [link, obj(["uploadId"], {"uploadId": trimmed(1, 64)})]}


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
        "MyClass": obj(["id", "name", "role", "teacherIds", "studentCount", "mayOpen", "conversations"], {
            "id": STR, "name": STR, "role": {"enum": ["teacher", "student", "admin"]},
            "teacherIds": {"type": "array", "items": STR}, "studentCount": INT,
            "mayOpen": {"type": "boolean", "description": "the caller may open the class's conversations"},
            "conversations": {"type": "array", "items": obj(["id", "type", "title"], {
                "id": STR, "type": {"enum": ["class", "announcement"]}, "title": NSTR})}}),
        "DemoUser": obj(["id", "name", "role", "school"], {
            "id": STR, "name": STR, "role": {"enum": ROLES}, "school": STR}),
        # request bodies
        "NewConversation": obj(["type"], {
            "type": {"enum": list(CONVERSATION_TYPES)},
            "participantIds": {"type": ["array", "null"], "maxItems": settings.max_participants, "items": ID_ITEM,
                               "description": "required for direct (exactly one other user, 409 otherwise) "
                                              "and group"},
            "title": dict(trimmed(1, settings.max_title, "null"), description="required for group"),
            "classId": dict(trimmed(1, MAX_ID, "null"), description="required for class and announcement"),
            "separate": {"type": ["boolean", "null"],
                         "description": "class and announcement only: true makes another conversation beside "
                                        "the class's existing one; otherwise asking again answers 200 with it"}},
            allOf=[_when_type(["direct", "group"], [], {"separate": {"enum": [False, None]}}),
                   _when_type(["direct"], ["participantIds"],
                              {"participantIds": {"type": "array", "minItems": 1, "maxItems": 2}}),
                   _when_type(["group"], ["participantIds", "title"],
                              {"participantIds": {"type": "array"}, "title": {"type": "string"}}),
                   _when_type(["class", "announcement"], ["classId"], {"classId": {"type": "string"}})]),
        "ConversationPatch": obj([], {
            "title": dict(trimmed(1, settings.max_title, "null"),
                          description="owner/admin only, not for direct conversations (409)"),
            "muted": {"type": ["boolean", "null"]}, "pinned": {"type": ["boolean", "null"]},
            "archived": {"type": ["boolean", "null"]}},
            additionalProperties=False, description="at least one field that is not null",
            anyOf=[{"required": [key], "properties": {key: {"type": kind}}}
                   for key, kind in (("title", "string"), ("muted", "boolean"), ("pinned", "boolean"),
                                     ("archived", "boolean"))]),
        "UserIds": obj(["userIds"], {"userIds": {
            "type": "array", "minItems": 1, "maxItems": settings.max_participants, "items": ID_ITEM}}),
        "NewMessage": obj([], {
            "text": dict(trimmed(0, settings.max_text, "null"), description=(
                "1..%d characters after trimming, unless attachments are given" % settings.max_text)),
            "type": {"enum": list(MESSAGE_TYPES), "default": "text"},
            "attachments": {"type": ["array", "null"], "maxItems": settings.max_attachments,
                            "items": new_attachment(False)},
            "clientMsgId": trimmed(1, MAX_CLIENT_MSG_ID, "null"),
            "replyTo": dict(trimmed(1, 64, "null"), description="a message of this conversation (409 otherwise)"),
            "mentions": {"type": ["array", "null"], "maxItems": MAX_MENTIONS, "items": ID_ITEM,
                         "description": "ids of participants the message mentions (409 for others)"}},
            # text with something in it, or at least one attachment
            anyOf=[{"required": ["text"], "properties": {"text": {"type": "string", "pattern": HAS_TEXT}}},
                   {"required": ["attachments"], "properties": {"attachments": {"type": "array", "minItems": 1}}}]),
        "Edit": obj(["text"], {"text": trimmed(1, settings.max_text)}),
        "Seq": obj(["seq"], {"seq": {"type": "integer", "minimum": 0, "maximum": 2 ** 53}}),
        "DemoTokenRequest": obj(["userId"], {"userId": {"enum": [u["id"] for u in demo_users()]}}),
    }
