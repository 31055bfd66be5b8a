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
MAX_URL = 2048
MAX_EMOJI = 4  # code points: every accepted emoji fits 16 bytes of UTF-8


# ---------------------------------------------------------------------- patterns
# The rules below are regular expressions so that the OpenAPI document can state them exactly
# (handlers/openapi_schemas.py publishes these strings): a request the document calls valid is
# one the server accepts, and the other way round. They are written in the subset that ECMA-262
# (with the u flag), Python and Rust regexes read alike: explicit classes, never \s or \d, BMP
# characters as \uHHHH, supplementary ones literally.
def _char(code: int) -> str:
    char = chr(code)
    if char in "\\]^-[":
        return "\\" + char
    if 0x20 < code < 0x7F:
        return char
    return char if code > 0xFFFF else "\\u%04x" % code


def char_class(codes: List[int], negate: bool = False) -> str:
    """A regex character class of these code points (ranges folded)."""
    ranges: List[List[int]] = []
    for code in sorted(set(codes)):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    body = "".join(_char(a) if a == b else "%s-%s" % (_char(a), _char(b)) for a, b in ranges)
    return "[%s%s]" % ("^" if negate else "", body)


#: the code points scanned for whitespace and symbols: planes 0 and 1 (Unicode's White_Space
#: characters all lie below U+3001, and no plane past 1 has a character of category So or Sk).
#: Scanning every plane took a quarter of a second of each process's start;
#: tests/unit/test_pure_modules.py checks the two scans agree on this Python's Unicode tables.
SCANNED = 0x20000

# What str.strip() removes (Python's idea of whitespace, which neither \s of ECMA nor of Rust is).
SPACE_CODES = [c for c in range(SCANNED) if chr(c).isspace()]
_SPACE = char_class(SPACE_CODES)
_NOT_SPACE = char_class(SPACE_CODES, negate=True)
_ANY = "[\\s\\S]"
CONTROL_CODES = list(range(0x20)) + list(range(0x7F, 0xA0))  # Unicode category Cc
NO_CONTROLS = "^%s*$" % char_class(CONTROL_CODES, negate=True)
HAS_TEXT = _NOT_SPACE  # unanchored: the string holds something besides whitespace


def trimmed_pattern(min_len: int, max_len: int) -> str:
    """Strings whose str.strip() is min_len..max_len characters (min_len <= 2)."""
    if max_len < 1:
        core = ""
    elif max_len == 1:
        core = _NOT_SPACE
    else:
        core = "%s(?:%s{%d,%d}%s)%s" % (_NOT_SPACE, _ANY, max(0, min_len - 2), max_len - 2, _NOT_SPACE,
                                        "" if min_len >= 2 else "?")
    if min_len == 0 and core:
        core = "(?:%s)?" % core
    return "^%s*%s%s*$" % (_SPACE, core, _SPACE)


def url_pattern() -> str:
    """An http(s) URL with no whitespace inside, maybe surrounded by some (which is trimmed)."""
    host = "[^%s/$.?#]" % char_class(SPACE_CODES)[1:-1]
    return "^%s*[Hh][Tt][Tt][Pp][Ss]?://%s%s*%s*$" % (_SPACE, host, _NOT_SPACE, _SPACE)


def symbol_codes(top: int = SCANNED) -> List[int]:
    """The code points an emoji may be built on (symbols, arrows, pictographs; no regional
    indicators, which only pair up as flags)."""
    return [c for c in range(top) if (unicodedata.category(chr(c)) in ("So", "Sk") or 0x1F000 <= c <= 0x1FAFF
                                   or 0x2190 <= c <= 0x2BFF) and not 0x1F1E6 <= c <= 0x1F1FF]


def _emoji_pattern() -> str:
    base = symbol_codes()
    # variation selectors, skin tones, tag characters (subdivision flags)
    modifier = char_class([0xFE0E, 0xFE0F] + list(range(0x1F3FB, 0x1F400)) + list(range(0xE0020, 0xE0080)))
    symbol = "%s%s*" % (char_class(base), modifier)
    flag = char_class(list(range(0x1F1E6, 0x1F200))) + "{2}"
    keycap = "[#*0-9]\\ufe0f?\\u20e3"
    return "^(?:%s|%s|%s(?:\\u200d%s)*)$" % (flag, keycap, symbol, symbol)


EMOJI_PATTERN = _emoji_pattern()
_EMOJI = re.compile(EMOJI_PATTERN)
URL_PATTERN = url_pattern()
_URL = re.compile(URL_PATTERN)
_INTEGER = re.compile("-?[0-9]+")
BOOL_PATTERN = "^(?:[Tt][Rr][Uu][Ee]|[Yy][Ee][Ss]|1|[Ff][Aa][Ll][Ss][Ee]|[Nn][Oo]|0)?$"
_TRUE = ("1", "true", "yes")


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
    if isinstance(value, float) and value.is_integer() and minimum <= value <= maximum:
        value = int(value)  # JSON Schema's integer: 5.0 is the number 5, as every JSON parser may read it
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
    """An optional integer query parameter: decimal digits with an optional minus sign, nothing
    else (no spaces, signs, underscores or other scripts' digits, which int() would take)."""
    if raw is None or raw == "":
        return None
    if not _INTEGER.fullmatch(raw):
        raise BadRequest("%s must be an integer" % key)
    value = int(raw)
    if value < minimum or value > maximum:
        raise BadRequest("%s must be between %d and %d" % (key, minimum, maximum))
    return value


def query_bool(raw: Optional[str], key: str) -> Optional[bool]:
    """An optional boolean query parameter: true/yes/1 or false/no/0 (any case)."""
    if raw is None or raw == "":
        return None
    if not re.fullmatch(BOOL_PATTERN, raw):
        raise BadRequest("%s must be true or false" % key)
    return raw.lower() in _TRUE


def query_text(raw: str, key: str) -> str:
    """A query value as sent (not trimmed); control characters are refused rather than
    silently turned into spaces, so ``?limit=%04`` is an error and not "no limit"."""
    if not re.fullmatch(NO_CONTROLS, raw):
        raise BadRequest("%s must not contain control characters" % key)
    return raw


def choice(body: Mapping[str, Any], key: str, allowed: Any, default: Optional[str] = None) -> str:
    """One of ``allowed``, exactly as given (not trimmed: the document's enum is exact)."""
    value = body.get(key, default)
    if value is None:
        raise BadRequest("%s is required" % key)
    if not isinstance(value, str) or value not in allowed:
        raise BadRequest("%s must be one of %s" % (key, ", ".join(allowed)))
    return value


# ---------------------------------------------------------------------- conversations
@dataclasses.dataclass
class NewConversation:
    type: str
    participant_ids: List[str]
    title: Optional[str]
    class_id: Optional[str]
    #: a class or announcement conversation beside the class's existing one (asked explicitly)
    separate: bool = False


def parse_new_conversation(body: Any, settings: Settings) -> NewConversation:
    body = obj(body)
    kind = choice(body, "type", CONVERSATION_TYPES)
    participants = id_list(body, "participantIds", settings.max_participants, required=kind in ("direct", "group"))
    if kind == "direct" and not participants:
        raise BadRequest("participantIds must name the other user of a direct conversation")
    title = string(body, "title", required=kind == "group", max_len=settings.max_title)
    class_id = string(body, "classId", required=kind in ("class", "announcement"))
    separate = boolean(body, "separate")
    if separate and kind not in ("class", "announcement"):
        raise BadRequest("separate applies to class and announcement conversations only")
    return NewConversation(kind, participants, title, class_id, bool(separate))  # type: ignore[arg-type]


@dataclasses.dataclass
class ConversationPatch:
    title: Optional[str]
    muted: Optional[bool]
    pinned: Optional[bool]
    archived: Optional[bool]
    #: owner/admin: one message per this many seconds per member (0: off)
    slow_mode_seconds: Optional[int] = None


MAX_SLOW_MODE_SECONDS = 3600


def parse_conversation_patch(body: Any, settings: Settings) -> ConversationPatch:
    body = obj(body)
    unknown = set(body) - {"title", "muted", "pinned", "archived", "slowModeSeconds"}
    if unknown:
        raise BadRequest("unknown field %s" % sorted(unknown)[0])
    patch = ConversationPatch(string(body, "title", required=False, max_len=settings.max_title),
                              boolean(body, "muted"), boolean(body, "pinned"), boolean(body, "archived"),
                              integer(body, "slowModeSeconds", required=False, maximum=MAX_SLOW_MODE_SECONDS))
    if patch == ConversationPatch(None, None, None, None):
        raise BadRequest("nothing to change: give title, muted, pinned, archived or slowModeSeconds")
    return patch


MAX_MUTE_MINUTES = 7 * 24 * 60


def parse_mute(body: Any) -> int:
    """``{minutes}`` of a conversation mute: 1..MAX_MUTE_MINUTES, nothing else."""
    body = obj(body)
    unknown = set(body) - {"minutes"}
    if unknown:
        raise BadRequest("unknown field %s" % sorted(unknown)[0])
    return integer(body, "minutes", minimum=1, maximum=MAX_MUTE_MINUTES)  # type: ignore[return-value]


# ---------------------------------------------------------------------- messages
@dataclasses.dataclass
class NewMessage:
    text: str
    type: str
    attachments: List[Dict[str, Any]]
    client_msg_id: Optional[str]
    reply_to: Optional[str]
    mentions: List[str] = dataclasses.field(default_factory=list)
    #: a forward's attribution (chat.domain.notify.forwarding), stored with the message as is
    forwarded: Optional[Dict[str, Any]] = None


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
        raw_url = item.get("url")
        if not isinstance(raw_url, str) or len(raw_url) > MAX_URL or not _URL.fullmatch(raw_url):
            raise BadRequest("attachment url must be an http(s) URL of at most %d characters" % MAX_URL)
        out.append({"name": name, "size": size, "mimeType": mime, "url": raw_url.strip()})
    return out


def parse_new_message(body: Any, settings: Settings) -> NewMessage:
    body = obj(body)
    kind = choice(body, "type", MESSAGE_TYPES, "text")
    attachments = parse_attachments(body, settings)
    text = parse_text(body, settings, required=not attachments)
    client_msg_id = string(body, "clientMsgId", required=False, max_len=MAX_CLIENT_MSG_ID)
    reply_to = string(body, "replyTo", required=False, max_len=64)
    mentions = id_list(body, "mentions", MAX_MENTIONS, required=False)
    return NewMessage(text, kind, attachments, client_msg_id, reply_to, mentions)


def parse_edit(body: Any, settings: Settings) -> str:
    return parse_text(obj(body), settings, required=True)


def valid_emoji(value: Any) -> str:
    """One emoji: a symbol with its variation selector, skin tone or tags, symbols joined by
    zero-width joiners, a flag (two regional indicators) or a keycap; at most MAX_EMOJI code
    points. The rule is EMOJI_PATTERN, which the OpenAPI document states as it is."""
    if not isinstance(value, str) or not value or len(value) > MAX_EMOJI:
        raise BadRequest("emoji must be one emoji of at most %d code points" % MAX_EMOJI)
    if not _EMOJI.fullmatch(value):
        raise BadRequest("emoji must be a single emoji")
    return value


def parse_seq(body: Any) -> int:
    return integer(obj(body), "seq", minimum=0)  # type: ignore[return-value]
