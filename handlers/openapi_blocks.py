"""The OpenAPI part of blocks, conversation mutes and slow mode (README "Blocks, mutes and
slow mode"), added to the document by :func:`handlers.openapi.build_document`."""
from __future__ import annotations

from typing import Dict

from chat.rules.validation import MAX_MUTE_MINUTES, MAX_SLOW_MODE_SECONDS
from handlers.openapi import CONV, _data, _json, _op, _path
from handlers.openapi_schemas import NSTR, NTIME, STR, TIME, Schema, obj, ref


def _list(item: str) -> Schema:
    return obj(["data", "hasMore", "next"], {
        "data": {"type": "array", "items": ref(item)}, "hasMore": {"type": "boolean"}, "next": {"type": "null"}})


def add_block_docs(paths: Dict[str, Dict[str, Schema]], components: Dict[str, Schema]) -> None:
    """Add the routes, their schemas and the conversation's ``slowModeSeconds``."""
    user = _path("userId", "a user of the caller's school")
    member = _path("userId", "a participant of the conversation")
    components["Block"] = obj(["userId", "name", "role", "createdAt"], {
        "userId": STR, "name": STR, "role": {"type": ["string", "null"], "description": "the user's school role"},
        "createdAt": NTIME})
    components["Mute"] = obj(["conversationId", "userId", "name", "until", "mutedBy", "reason", "createdAt"], {
        "conversationId": STR, "userId": STR, "name": STR,
        "until": dict(TIME, description="when the mute ends"), "mutedBy": NSTR,
        "reason": dict(NSTR, description="a moderator's mute (mute_author): the case id; null for a manager's"),
        "createdAt": NTIME})
    components["MuteRequest"] = obj(["minutes"], {
        "minutes": {"type": "integer", "minimum": 1, "maximum": MAX_MUTE_MINUTES,
                    "description": "how long, from now (at most 7 days)"}}, additionalProperties=False)
    slow = {"type": "integer", "minimum": 0, "maximum": MAX_SLOW_MODE_SECONDS}
    conversation = components["Conversation"]
    conversation["properties"]["slowModeSeconds"] = dict(
        slow, description="slow mode: a member may post once per this many seconds (0: off; staff and "
                          "owner/admins exempt)")
    conversation["required"].append("slowModeSeconds")
    patch = components["ConversationPatch"]
    patch["properties"]["slowModeSeconds"] = dict(slow, type=["integer", "null"],
                                                  description="owner/admin only, not for direct conversations (409)")
    patch["anyOf"].append({"required": ["slowModeSeconds"], "properties": {"slowModeSeconds": {"type": "integer"}}})
    paths["/api/conversations/{conversationId}"]["patch"]["summary"] = (
        "Rename or set slow mode (owner/admin), or set the caller's muted, pinned, archived")
    paths.update({
        "/api/blocks": {"get": _op("The users the caller blocks, newest first", {
            200: _json(_list("Block"), "the caller's blocks")}, [])},
        "/api/blocks/{userId}": {
            "put": _op("Block a user of the caller's school (idempotent; yourself: 409; students cannot block "
                       "staff: 403 policy_forbidden)", {200: _json(_data(ref("Block")), "blocked")},
                       [403, 404, 409], params=[user]),
            "delete": _op("Lift the caller's block of a user (idempotent)", {
                200: _json(_data(obj(["userId"], {"userId": STR})), "not blocked")}, [404], params=[user])},
        "/api/conversations/{conversationId}/mutes": {
            "get": _op("The conversation's mutes that have not ended (owner/admins; staff in class "
                       "conversations)", {200: _json(_list("Mute"), "mutes, soonest end first")},
                       [403, 404], params=[CONV])},
        "/api/conversations/{conversationId}/mutes/{userId}": {
            "put": _op("Mute a member for some minutes: its sends answer muted until then (owner/admins; "
                       "staff in class conversations; never staff by a student)", {
                200: _json(_data(ref("Mute")), "muted")}, [403, 404, 409], params=[CONV, member],
                body="MuteRequest"),
            "delete": _op("Lift a member's mute (idempotent)", {
                200: _json(_data(obj(["conversationId", "userId"], {"conversationId": STR, "userId": STR})),
                           "not muted")}, [403, 404], params=[CONV, member])},
    })
