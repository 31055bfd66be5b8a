"""The OpenAPI part of webhooks and bots (README "Webhooks", "Bots"), added to the document
by :func:`handlers.openapi.build_document`."""
from __future__ import annotations

from typing import Dict, List

from chat.rules import notify_input as ni
from handlers.openapi_schemas import BOOL, ID_ITEM, INT, NSTR, NTIME, STR, TIME, Schema, obj, ref, trimmed

_HOOK_FIELDS = ("url", "events", "includeText", "enabled", "description")


def _not_null(field: str) -> Schema:
    return {"required": [field], "properties": {field: {"not": {"type": "null"}}}}


def add_webhook_docs(paths: Dict[str, Dict[str, Schema]], components: Dict[str, Schema]) -> None:
    """Add the webhook routes and their schemas."""
    from handlers.openapi import _data, _json, _limit, _op, _path  # the document's own helpers
    url = {"type": "string", "maxLength": ni.MAX_URL, "pattern": ni.WEBHOOK_URL_PATTERN,
           "description": "http(s) URL the events are POSTed to (not this machine or a private network "
                          "unless the server allows it: 403)"}
    events = {"type": "array", "minItems": 1, "maxItems": len(ni.EVENTS), "items": {"enum": list(ni.EVENTS)},
              "description": "the events to receive"}
    include_text = {"type": ["boolean", "null"],
                    "description": "message text in message.created (and group titles in conversation.created); "
                                   "403 unless the server allows it (webhook_allow_text)"}
    description = dict(trimmed(0, ni.MAX_DESCRIPTION, "null"), description="a note for the school's admins")
    components["Webhook"] = obj(
        ["id", "url", "events", "includeText", "enabled", "description", "createdBy", "createdAt", "updatedAt"], {
            "id": STR, "url": STR, "events": {"type": "array", "items": {"enum": list(ni.EVENTS)}},
            "includeText": BOOL, "enabled": BOOL, "description": NSTR, "createdBy": NSTR, "createdAt": TIME,
            "updatedAt": TIME,
            "secret": dict(STR, description="the signing secret: in the answer of a create or a rotateSecret "
                                            "only (X-Chat-Signature is HMAC-SHA256 of <X-Chat-Timestamp>.<body>)")},
        additionalProperties=False)
    components["WebhookCreate"] = obj(["url", "events"], {
        "url": url, "events": events, "includeText": include_text,
        "enabled": {"type": ["boolean", "null"], "description": "false: no events are queued (default true)"},
        "description": description}, additionalProperties=False)
    components["WebhookChange"] = {
        "type": "object", "additionalProperties": False,
        "description": "the fields to change (at least one), or rotateSecret: true",
        "properties": {"url": dict(url, type=["string", "null"]), "events": dict(events, type=["array", "null"]),
                       "includeText": include_text, "enabled": {"type": ["boolean", "null"]},
                       "description": description,
                       "rotateSecret": {"type": ["boolean", "null"],
                                        "description": "true: a new secret (in the answer, once)"}},
        "anyOf": [_not_null(f) for f in _HOOK_FIELDS]
        + [{"required": ["rotateSecret"], "properties": {"rotateSecret": {"const": True}}}]}
    components["WebhookDeleted"] = obj(["id", "deleted"], {"id": STR, "deleted": BOOL}, additionalProperties=False)
    components["DeadLetter"] = obj(
        ["id", "event", "attempts", "lastStatus", "lastError", "createdAt", "deadAt", "payload"], {
            "id": dict(STR, description="the delivery id (X-Chat-Delivery)"), "event": {"enum": list(ni.EVENTS)},
            "attempts": INT, "lastStatus": {"type": ["integer", "null"], "description": "null: no answer"},
            "lastError": NSTR, "createdAt": TIME, "deadAt": NTIME,
            "payload": {"description": "the body that was POSTed"}}, additionalProperties=False)
    components["ReplayRequest"] = {
        "type": "object", "additionalProperties": False, "properties": {"ids": {
            "type": ["array", "null"], "maxItems": ni.MAX_DEAD_PAGE,
            "items": {"type": "string", "pattern": ni.DELIVERY_ID_PATTERN},
            "description": "the dead letters to replay (absent: the newest %d)" % ni.MAX_DEAD_PAGE}}}
    components["Replayed"] = obj(["webhookId", "replayed"], {"webhookId": STR, "replayed": INT},
                                 additionalProperties=False)

    def listing(item: str) -> Schema:
        return obj(["data", "hasMore", "next"], {"data": {"type": "array", "items": ref(item)}, "hasMore": BOOL,
                                                 "next": {"type": "null"}})
    hook = _path("webhookId", "a webhook of the caller's school (another school's is 404)")
    one = {200: _json(_data(ref("Webhook")), "the webhook")}
    paths["/api/webhooks"] = {
        "get": _op("The school's webhooks, oldest first (its admins only; no secrets)",
                   {200: _json(listing("Webhook"), "the webhooks")}, [403]),
        "post": _op("Create a webhook (admins only; audited): the answer holds its secret, the only time it is "
                    "shown; at most %d per school (409)" % ni.MAX_HOOKS_PER_SCHOOL,
                    {201: _json(_data(ref("Webhook")), "created, with its secret")}, [403, 409],
                    body="WebhookCreate")}
    paths["/api/webhooks/{webhookId}"] = {
        "get": _op("One webhook (admins only)", one, [403, 404], params=[hook]),
        "patch": _op("Change a webhook (admins only; audited)", one, [403, 404], params=[hook],
                     body="WebhookChange"),
        "delete": _op("Delete a webhook and its queued and dead deliveries (admins only; audited)",
                      {200: _json(_data(ref("WebhookDeleted")), "deleted")}, [403, 404], params=[hook],
                      )}
    paths["/api/webhooks/{webhookId}/dead-letters"] = {
        "get": _op("Deliveries given up after webhook_max_attempts, newest first (admins only)",
                   {200: _json(listing("DeadLetter"), "the dead letters")}, [400, 403, 404],
                   params=[hook, _limit(50, ni.MAX_DEAD_PAGE)])}
    paths["/api/webhooks/{webhookId}/dead-letters/replay"] = {
        "post": _op("Queue dead letters again, attempts starting over (admins only; audited)",
                    {200: _json(_data(ref("Replayed")), "how many were queued")}, [403, 404], params=[hook],
                    body="ReplayRequest")}
    # no body at all means the same as {}: the newest dead letters
    paths["/api/webhooks/{webhookId}/dead-letters/replay"]["post"]["requestBody"]["required"] = False


def add_bot_docs(paths: Dict[str, Dict[str, Schema]], components: Dict[str, Schema]) -> None:
    """Add the bot routes, their schemas, and the bot mark of a ``Message``."""
    from handlers.openapi import _data, _json, _op, _path
    ids: Schema = {"type": ["array", "null"], "maxItems": ni.MAX_SCOPE_IDS, "items": ID_ITEM}
    scope_kinds: List[str] = ["conversations", "classes"]
    components["BotScopes"] = {
        "type": "object", "additionalProperties": False,
        "description": "where the bot may post: these conversations, and the class and announcement "
                       "conversations of these classes (at least one id; unknown or another school's: 403)",
        "properties": {k: ids for k in scope_kinds},
        "anyOf": [{"required": [k], "properties": {k: {"type": "array", "minItems": 1}}} for k in scope_kinds]}
    components["BotCreate"] = obj(["name", "scopes"], {
        "name": trimmed(1, ni.MAX_NAME), "scopes": ref("BotScopes")}, additionalProperties=False)
    components["Bot"] = obj(["id", "userId", "name", "scopes", "createdBy", "createdAt", "revoked", "revokedAt"], {
        "id": STR, "userId": dict(STR, description="the senderId of its messages (bot:<id>)"), "name": STR,
        "scopes": obj(scope_kinds, {k: {"type": "array", "items": STR} for k in scope_kinds}),
        "createdBy": NSTR, "createdAt": TIME, "revoked": BOOL, "revokedAt": NTIME,
        "token": dict(STR, description="Authorization: Bearer <token> for POST /api/conversations/{id}/messages; "
                                       "in the answer of the create only (the server keeps a hash)")},
        additionalProperties=False)
    bot = _path("botId", "a bot of the caller's school (another school's is 404)")
    paths["/api/bots"] = {
        "get": _op("The school's bots, oldest first, revoked ones too (admins only; no tokens)",
                   {200: _json(obj(["data", "hasMore", "next"], {"data": {"type": "array", "items": ref("Bot")},
                                                                  "hasMore": BOOL, "next": {"type": "null"}}),
                               "the bots")}, [403]),
        "post": _op("Create a bot (admins only; audited): the answer holds its token, the only time it is shown; "
                    "409 past bot_max_per_school", {201: _json(_data(ref("Bot")), "created, with its token")},
                    [403, 409], body="BotCreate")}
    paths["/api/bots/{botId}"] = {
        "delete": _op("Revoke the bot: its token is refused (401) at once (admins only; audited; idempotent)",
                      {200: _json(_data(ref("Bot")), "revoked")}, [403, 404], params=[bot])}
    components["Message"]["properties"]["bot"] = dict(BOOL, const=True,
                                                      description="present (true) when a bot sent it")
    send = paths["/api/conversations/{conversationId}/messages"]["post"]
    send["description"] = (send.get("description", "") + " A bot (service account) posts here with its own token "
                           "(Authorization: Bearer chatbot_...), to the conversations of its scopes only (403 "
                           "elsewhere; every other route answers a bot 403).").strip()
