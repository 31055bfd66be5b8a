"""The OpenAPI part of forwarding (README "Forwarding"), added to the document by
:func:`handlers.openapi.build_document`."""
from __future__ import annotations

from typing import Dict

from chat.rules.validation import MAX_CLIENT_MSG_ID
from handlers.openapi_schemas import NSTR, STR, TIME, Schema, obj, ref, trimmed


def add_forward_docs(paths: Dict[str, Dict[str, Schema]], components: Dict[str, Schema]) -> None:
    """Add the route, its body and the ``forwarded`` attribution of a ``Message``."""
    from handlers.openapi import MSG, _data, _json, _op  # the document's own helpers (it imports this module)
    components["Forwarded"] = obj(
        ["conversationId", "conversationTitle", "authorId", "authorName", "at", "messageId"], {
            "conversationId": STR, "conversationTitle": NSTR, "conversationType": STR, "authorId": STR,
            "authorName": STR, "at": TIME, "messageId": STR}, description=(
                "where a forwarded message comes from: the original's conversation, author and time"))
    components["Message"]["properties"]["forwarded"] = ref("Forwarded")
    components["ForwardRequest"] = obj(["conversationId"], {
        "conversationId": dict(trimmed(1, 64), description="a conversation the caller may post in"),
        "clientMsgId": trimmed(1, MAX_CLIENT_MSG_ID, "null")})
    paths["/api/messages/{messageId}/forward"] = {"post": _op(
        "Forward a message the caller can read into another conversation (the ordinary send path: the "
        "target's policy, filters, quiet hours apply; attachments by reference)", {
            200: _json(_data(ref("Message")), "a retry of a known clientMsgId: the stored message"),
            201: _json(_data(ref("Message")), "stored")},
        [403, 404, 409, 410, 422, 429], params=[MSG], body="ForwardRequest")}
