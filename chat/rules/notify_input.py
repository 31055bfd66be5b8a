"""Webhooks and bots: the words a request may use and the parsing of their bodies (the
OpenAPI document states the same rules, from the same constants)."""
from __future__ import annotations

import dataclasses
import ipaddress
import re
import socket
from typing import Any, List, Optional
from urllib.parse import urlsplit

from chat.errors import BadRequest, Forbidden
from chat.rules import validation as v

#: what a webhook may subscribe to
EVENTS = ("message.created", "message.deleted", "conversation.created", "case.created")
MAX_URL = 2048
MAX_DESCRIPTION = 200
MAX_NAME = 64
MAX_SCOPE_IDS = 100
MAX_DEAD_PAGE = 100
#: a webhook URL: http or https, a host name or IPv4 address and an optional port, then printable ASCII
#: (no spaces, no user:password)
WEBHOOK_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][!-~]*)?$"
_URL = re.compile(WEBHOOK_URL_PATTERN)
#: a delivery id (ObjectId)
DELIVERY_ID_PATTERN = "^[0-9a-fA-F]{24}$"
_DELIVERY_ID = re.compile(DELIVERY_ID_PATTERN)
#: most webhooks one school may have
MAX_HOOKS_PER_SCHOOL = 20


@dataclasses.dataclass
class WebhookSpec:
    url: Optional[str]
    events: Optional[List[str]]
    include_text: Optional[bool]
    enabled: Optional[bool]
    description: Optional[str]
    rotate_secret: bool = False


def _url(body: Any, required: bool) -> Optional[str]:
    value = body.get("url")
    if value is None:
        if required:
            raise BadRequest("url is required")
        return None
    if not isinstance(value, str) or len(value) > MAX_URL or not _URL.match(value):
        raise BadRequest("url must be an http(s) URL of at most %d characters" % MAX_URL)
    return value


def _events(body: Any, required: bool) -> Optional[List[str]]:
    value = body.get("events")
    if value is None:
        if required:
            raise BadRequest("events is required")
        return None
    if not isinstance(value, list) or not value or len(value) > len(EVENTS):
        raise BadRequest("events must be a non-empty list of: %s" % ", ".join(EVENTS))
    out: List[str] = []
    for item in value:
        if item not in EVENTS:
            raise BadRequest("events must be a non-empty list of: %s" % ", ".join(EVENTS))
        if item not in out:
            out.append(item)
    return out


def parse_webhook(body: Any, creating: bool) -> WebhookSpec:
    """``{url, events, includeText, enabled, description}`` (create: url and events required;
    update: at least one field, ``rotateSecret: true`` asks for a new secret)."""
    body = v.obj(body)
    known = {"url", "events", "includeText", "enabled", "description"} | (set() if creating else {"rotateSecret"})
    unknown = sorted(set(body) - known)
    if unknown:
        raise BadRequest("unknown field: %s" % unknown[0])
    spec = WebhookSpec(url=_url(body, creating), events=_events(body, creating),
                       include_text=v.boolean(body, "includeText"), enabled=v.boolean(body, "enabled"),
                       description=v.string(body, "description", required=False, max_len=MAX_DESCRIPTION,
                                            min_len=0))
    if not creating:
        spec.rotate_secret = bool(v.boolean(body, "rotateSecret"))
        if all(getattr(spec, f) is None for f in ("url", "events", "include_text", "enabled", "description")) \
                and not spec.rotate_secret:
            raise BadRequest("nothing to change")
    return spec


def blocked_address(address: "ipaddress.IPv4Address | ipaddress.IPv6Address") -> bool:
    """This machine, a private network, link-local, multicast, reserved or unspecified."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return bool(address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
                or address.is_multicast or address.is_unspecified)


def check_target(url: str, allow_private: bool) -> None:
    """A webhook may not point at this machine or a private network (the server would post
    into it on a school admin's word), unless the server allows it (``webhook_allow_private``).
    Host names are checked as written (``localhost`` and IP literals; a numeric host that is not
    a canonical dotted quad, such as ``127.1`` or ``0x7f000001``, is refused); the address a name
    resolves to is checked again when a delivery connects (:mod:`chat.domain.notify.http_post`)."""
    if allow_private:
        return
    host = (urlsplit(url).hostname or "").strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        raise Forbidden("webhook URLs may not point at this server or a private network")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            socket.inet_aton(host)  # the resolver's shortened, decimal, octal and hex forms of IPv4
        except OSError:
            return
        raise Forbidden("webhook URLs may name an IPv4 address only as a canonical dotted quad") from None
    if blocked_address(address):
        raise Forbidden("webhook URLs may not point at this server or a private network")


def parse_replay(body: Any) -> Optional[List[str]]:
    """``{ids}`` of dead letters to replay (absent or null: the newest of the webhook's, up to
    a page)."""
    body = v.obj(body)
    unknown = sorted(set(body) - {"ids"})
    if unknown:
        raise BadRequest("unknown field: %s" % unknown[0])
    ids = body.get("ids")
    if ids is None:
        return None
    if (not isinstance(ids, list) or len(ids) > MAX_DEAD_PAGE
            or any(not isinstance(i, str) or not _DELIVERY_ID.match(i) for i in ids)):
        raise BadRequest("ids must be a list of at most %d delivery ids" % MAX_DEAD_PAGE)
    return list(dict.fromkeys(ids))


@dataclasses.dataclass
class BotSpec:
    name: str
    conversation_ids: List[str]
    class_ids: List[str]


def parse_bot(body: Any) -> BotSpec:
    """``{name, scopes: {conversations, classes}}``: at least one conversation or class."""
    body = v.obj(body)
    unknown = sorted(set(body) - {"name", "scopes"})
    if unknown:
        raise BadRequest("unknown field: %s" % unknown[0])
    name = v.string(body, "name", max_len=MAX_NAME)
    assert name is not None
    scopes = v.obj(body.get("scopes"), "scopes")
    unknown = sorted(set(scopes) - {"conversations", "classes"})
    if unknown:
        raise BadRequest("unknown scope: %s" % unknown[0])
    conversations = v.id_list(scopes, "conversations", MAX_SCOPE_IDS, required=False)
    classes = v.id_list(scopes, "classes", MAX_SCOPE_IDS, required=False)
    if not conversations and not classes:
        raise BadRequest("scopes must name at least one conversation or class")
    return BotSpec(name, conversations, classes)
