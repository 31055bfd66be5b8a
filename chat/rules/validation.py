"""Pure input validation shared by the REST handlers and the WebSocket protocol.

Every function takes decoded JSON (dicts from a request body or a frame's ``data``) and
returns typed values or raises :class:`BadRequest` with a message naming the field.
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Any, Dict, List, Mapping, Optional

from chat import vocab
from chat.errors import BadRequest
from chat.settings import Settings

CONVERSATION_TYPES = vocab.CONVERSATION_TYPES
MESSAGE_TYPES = ("text", "image", "file")
MAX_ID = 128
MAX_CLIENT_MSG_ID = 64
MAX_MENTIONS = 50
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def storable(text: str) -> bool:
    """True when the string can be stored and sent as UTF-8: no lone surrogates (valid JSON
    escapes like ``"\\ud800"`` decode to them)."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def check_storable(value: Any, where: str = "body") -> Any:
    """Reject any string (object keys included) the database cannot store, anywhere in a
    decoded JSON value; returns the value. One bad string fails the request that carries it,
    never a batch of other people's messages."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not storable(item):
                raise BadRequest("%s contains a character that cannot be stored (a lone UTF-16 surrogate)" % where)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


def obj(value: Any, what: str = "body") -> Dict[str, Any]:
    """The value as a JSON object, or 400."""
    if not isinstance(value, dict):
        raise BadRequest("%s must be a JSON object" % what)
    return value


def string(body: Mapping[str, Any], key: str, *, required: bool = True, max_len: int = MAX_ID,
           min_len: int = 1, strip: bool = True) -> Optional[str]:
    """A string field (stripped) within length limits; None when optional and absent/null."""
    value = body.get(key)
    if value is None:
        if required:
            raise BadRequest("%s is required" % key)
        return None
    if not isinstance(value, str):
        raise BadRequest("%s must be a string" % key)
    if strip:
        value = value.strip()
    if len(value) < min_len:
        raise BadRequest("%s must be at least %d characters" % (key, min_len))
    if len(value) > max_len:
        raise BadRequest("%s must be at most %d characters" % (key, max_len))
    return value


def integer(body: Mapping[str, Any], key: str, *, required: bool = True, minimum: int = 0,
            maximum: int = 2 ** 53) -> Optional[int]:
    """An integer field (bools are not integers) within bounds."""
    value = body.get(key)
    if value is None:
        if required:
            raise BadRequest("%s is required" % key)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("%s must be an integer" % key)
    if value < minimum or value > maximum:
        raise BadRequest("%s must be between %d and %d" % (key, minimum, maximum))
    return value


def boolean(body: Mapping[str, Any], key: str) -> Optional[bool]:
    """An optional boolean field."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise BadRequest("%s must be true or false" % key)
    return value


def id_list(body: Mapping[str, Any], key: str, max_items: int, *, required: bool = True) -> List[str]:
    """A list of distinct id strings, order kept."""
    value = body.get(key)
    if value is None:
        if required:
            raise BadRequest("%s is required" % key)
        return []
    if not isinstance(value, list):
        raise BadRequest("%s must be a list of ids" % key)
    if len(value) > max_items:
        raise BadRequest("%s has more than %d entries" % (key, max_items))
    out: List[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or len(item) > MAX_ID:
            raise BadRequest("%s must hold non-empty id strings" % key)
        if item.strip() not in out:
            out.append(item.strip())
    return out


def query_int(raw: Optional[str], key: str, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter (strings from the URL) with a default."""
    value = query_int_opt(raw, key, minimum, maximum)
    return default if value is None else value


def query_int_opt(raw: Optional[str], key: str, minimum: int, maximum: int) -> Optional[int]:
    """An optional integer query parameter."""
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("%s must be an integer" % key) from None
    if value < minimum or value > maximum:
        raise BadRequest("%s must be between %d and %d" % (key, minimum, maximum))
    return value


def query_bool(raw: Optional[str], key: str) -> Optional[bool]:
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise BadRequest("%s must be true or false" % key)


# ---------------------------------------------------------------------- conversations
@dataclasses.dataclass
class NewConversation:
    type: str
    participant_ids: List[str]
    title: Optional[str]
    class_id: Optional[str]


def parse_new_conversation(body: Any, settings: Settings) -> NewConversation:
    body = obj(body)
    kind = string(body, "type", max_len=32)
    if kind not in CONVERSATION_TYPES:
        raise BadRequest("type must be one of %s" % ", ".join(CONVERSATION_TYPES))
    participants = id_list(body, "participantIds", settings.max_participants, required=kind in ("direct", "group"))
    title = string(body, "title", required=kind == "group", max_len=settings.max_title)
    class_id = string(body, "classId", required=kind in ("class", "announcement"))
    return NewConversation(kind, participants, title, class_id)  # type: ignore[arg-type]


@dataclasses.dataclass
class ConversationPatch:
    title: Optional[str]
    muted: Optional[bool]
    pinned: Optional[bool]
    archived: Optional[bool]


def parse_conversation_patch(body: Any, settings: Settings) -> ConversationPatch:
    body = obj(body)
    unknown = set(body) - {"title", "muted", "pinned", "archived"}
    if unknown:
        raise BadRequest("unknown field %s" % sorted(unknown)[0])
    patch = ConversationPatch(string(body, "title", required=False, max_len=settings.max_title),
                              boolean(body, "muted"), boolean(body, "pinned"), boolean(body, "archived"))
    if patch == ConversationPatch(None, None, None, None):
        raise BadRequest("nothing to change: give title, muted, pinned or archived")
    return patch


# ---------------------------------------------------------------------- messages
@dataclasses.dataclass
class NewMessage:
    text: str
    type: str
    attachments: List[Dict[str, Any]]
    client_msg_id: Optional[str]
    reply_to: Optional[str]
    mentions: List[str] = dataclasses.field(default_factory=list)


def parse_text(body: Mapping[str, Any], settings: Settings, required: bool) -> str:
    value = body.get("text")
    if value is None:
        if required:
            raise BadRequest("text is required")
        return ""
    if not isinstance(value, str):
        raise BadRequest("text must be a string")
    value = value.strip()
    if required and not value:
        raise BadRequest("text must not be empty")
    if len(value) > settings.max_text:
        raise BadRequest("text must be at most %d characters" % settings.max_text)
    return value


def parse_attachments(body: Mapping[str, Any], settings: Settings) -> List[Dict[str, Any]]:
    value = body.get("attachments")
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest("attachments must be a list")
    if len(value) > settings.max_attachments:
        raise BadRequest("at most %d attachments" % settings.max_attachments)
    out: List[Dict[str, Any]] = []
    for item in value:
        item = obj(item, "an attachment")
        if "uploadId" in item:  # one of the sender's uploads: chat.uploads resolves it at send time
            out.append({"uploadId": string(item, "uploadId", max_len=64)})
            continue
        name = string(item, "name", max_len=255)
        size = integer(item, "size", minimum=0, maximum=2 ** 40)
        mime = string(item, "mimeType", max_len=255)
        url = string(item, "url", max_len=2048)
        if not _URL.match(url or ""):
            raise BadRequest("attachment url must be http(s)")
        out.append({"name": name, "size": size, "mimeType": mime, "url": url})
    return out


def parse_new_message(body: Any, settings: Settings) -> NewMessage:
    body = obj(body)
    kind = body.get("type", "text")
    if kind not in MESSAGE_TYPES:
        raise BadRequest("type must be one of %s" % ", ".join(MESSAGE_TYPES))
    attachments = parse_attachments(body, settings)
    text = parse_text(body, settings, required=not attachments)
    client_msg_id = string(body, "clientMsgId", required=False, max_len=MAX_CLIENT_MSG_ID)
    reply_to = string(body, "replyTo", required=False, max_len=64)
    mentions = id_list(body, "mentions", MAX_MENTIONS, required=False)
    return NewMessage(text, kind, attachments, client_msg_id, reply_to, mentions)


def parse_edit(body: Any, settings: Settings) -> str:
    return parse_text(obj(body), settings, required=True)


def valid_emoji(value: Any) -> str:
    """One grapheme cluster of at most 16 UTF-8 bytes that is an emoji-like symbol."""
    if not isinstance(value, str) or not value or len(value.encode("utf-8")) > 16:
        raise BadRequest("emoji must be one emoji of at most 16 bytes")
    if graphemes(value) != 1:
        raise BadRequest("emoji must be a single grapheme")
    base = value[0]
    if 0x1F1E6 <= ord(base) <= 0x1F1FF and not (len(value) == 2 and 0x1F1E6 <= ord(value[1]) <= 0x1F1FF):
        raise BadRequest("a flag is a pair of regional indicators")
    category = unicodedata.category(base)
    if not (category == "So" or category == "Sk" or 0x1F000 <= ord(base) <= 0x1FAFF or
            0x2190 <= ord(base) <= 0x2BFF or base in "#*0123456789" and "\u20e3" in value):
        raise BadRequest("emoji must be an emoji symbol")
    return value


def graphemes(text: str) -> int:
    """Count extended grapheme clusters (enough of UAX #29 for emoji: ZWJ sequences,
    variation selectors, skin tones, keycaps, regional-indicator flags, tags)."""
    count = 0
    i = 0
    n = len(text)
    while i < n:
        count += 1
        cp = ord(text[i])
        i += 1
        if 0x1F1E6 <= cp <= 0x1F1FF and i < n and 0x1F1E6 <= ord(text[i]) <= 0x1F1FF:
            i += 1  # a flag: two regional indicators
        while i < n:
            c = ord(text[i])
            if (c in (0xFE0E, 0xFE0F, 0x20E3) or 0x1F3FB <= c <= 0x1F3FF or 0xE0020 <= c <= 0xE007F
                    or unicodedata.combining(text[i])):
                i += 1
            elif c == 0x200D and i + 1 < n:
                i += 2  # zero-width joiner glues the next symbol in
            else:
                break
    return count


def parse_seq(body: Any) -> int:
    return integer(obj(body), "seq", minimum=0)  # type: ignore[return-value]
