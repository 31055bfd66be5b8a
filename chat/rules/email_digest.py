"""Missed-message email, pure: which messages count, when a user's email is due, what it says
and how its unsubscribe link is signed (README "Missed-message email").

Nothing here reads storage or the clock: :mod:`chat.domain.notify.missed_email` gathers the
facts and asks :func:`decide`, :func:`summarise` and :func:`compose`.

Privacy: a student's email (and anyone's, unless the school allows previews for staff and the
staff member asked for them) names the conversations, who wrote and how many messages, never
their text. :func:`compose` only ever writes the ``previews`` a :class:`Group` carries, and
:func:`summarise` fills them only when told to.
"""
from __future__ import annotations

import base64
import dataclasses
import email.utils
import hashlib
import hmac
import re
import urllib.parse
from email.message import EmailMessage
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

#: message kinds an email is about
DIRECT, MENTION, ANNOUNCEMENT = "direct", "mention", "announcement"
#: the most characters of one preview, and previews per conversation (staff, when allowed)
PREVIEW_CHARS = 200
PREVIEWS_PER_GROUP = 3
#: the most conversations one email lists (the rest: "and N more conversations")
MAX_GROUPS = 20
MAX_ADDRESS = 254

_ADDRESS = re.compile(r"^[^\s@<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


def valid_address(value: Any) -> bool:
    """A plain ``local@domain`` address (no display name, no spaces or control characters)."""
    return isinstance(value, str) and len(value) <= MAX_ADDRESS and bool(_ADDRESS.match(value)) \
        and ".." not in value.split("@", 1)[1]


# ------------------------------------------------------------------ what counts
def kind_of(message: Dict[str, Any], conversation_type: str, user_id: str) -> Optional[str]:
    """Why ``message`` would be emailed to ``user_id`` (None: it would not): someone else's live,
    non-system message in a direct conversation, an announcement conversation, or mentioning them."""
    if message.get("senderId") == user_id or message.get("deletedAt") or message.get("type") == "system":
        return None
    if conversation_type == "direct":
        return DIRECT
    if conversation_type == "announcement":
        return ANNOUNCEMENT
    if user_id in (message.get("mentions") or ()):
        return MENTION
    return None


@dataclasses.dataclass
class Group:
    """One conversation's part of an email."""

    conversation_id: str
    title: str
    kind: str  # direct, mention or announcement
    count: int
    senders: List[str]
    top_seq: int
    previews: List[Tuple[str, str]] = dataclasses.field(default_factory=list)  # (sender, text): staff only


def summarise(conversation_id: str, title: str, conversation_type: str, user_id: str,
              messages: Iterable[Dict[str, Any]], blocked: Iterable[str] = (),
              previews: bool = False) -> Optional[Group]:
    """The group of ``messages`` (one conversation, oldest first) that count for ``user_id``,
    leaving out those of users it blocked; None when none does. ``previews``: keep the latest
    few texts (only ever for staff whose school allows it)."""
    blocked_set = set(blocked)
    counted = [m for m in messages if m.get("senderId") not in blocked_set
               and kind_of(m, conversation_type, user_id) is not None]
    if not counted:
        return None
    senders: List[str] = []
    for m in counted:
        name = str(m.get("senderName") or m.get("senderId") or "someone")
        if name not in senders:
            senders.append(name)
    kind = kind_of(counted[0], conversation_type, user_id) or MENTION
    group = Group(conversation_id, title, kind, len(counted), senders, max(int(m.get("seq") or 0) for m in counted))
    if previews:
        for m in counted[-PREVIEWS_PER_GROUP:]:
            text = " ".join(str(m.get("text") or "").split())
            if len(text) > PREVIEW_CHARS:
                text = text[:PREVIEW_CHARS - 1] + "\u2026"
            group.previews.append((str(m.get("senderName") or m.get("senderId")), text or "(an attachment)"))
    return group


# ------------------------------------------------------------------ when
SEND, WAIT, DROP = "send", "wait", "drop"


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the scheduler knows of one user at ``now`` (epoch ms)."""

    now: int
    has_unread: bool
    enabled: bool
    has_address: bool
    online: bool
    last_email_at: Optional[int]
    read_since_email: bool
    quiet_opens_at: Optional[int]  # the school's quiet hours hold the user's role now: when they end
    after_ms: int
    digest_ms: int


def decide(facts: Facts) -> Tuple[str, Optional[int]]:
    """``(SEND, None)``, ``(WAIT, when)`` or ``(DROP, None)`` (nothing to send: forget the user
    until a new message counts)."""
    if not facts.has_unread or not facts.enabled or not facts.has_address:
        return DROP, None
    if facts.online:  # looking now: the unread may be read; look again one delay later
        return WAIT, facts.now + facts.after_ms
    if facts.quiet_opens_at is not None and facts.quiet_opens_at > facts.now:
        return WAIT, facts.quiet_opens_at  # delivered when the school's window opens
    if facts.last_email_at is not None and not facts.read_since_email:
        next_at = facts.last_email_at + facts.digest_ms
        if next_at > facts.now:
            return WAIT, next_at
    return SEND, None


# ------------------------------------------------------------------ the link
def sign(secret: bytes, user_id: str) -> str:
    """The signature of a user's one-click unsubscribe link (HMAC-SHA256, URL-safe)."""
    mac = hmac.new(secret, b"unsubscribe\x00" + user_id.encode("utf-8", "replace"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def verify(secret: bytes, user_id: str, signature: str) -> bool:
    """Whether ``signature`` is the user's (any text: bytes are compared, so non-ASCII is just wrong)."""
    given = str(signature or "").encode("utf-8", "replace")
    return hmac.compare_digest(sign(secret, str(user_id)).encode("ascii"), given)


def unsubscribe_url(base_url: str, secret: bytes, user_id: str) -> str:
    query = urllib.parse.urlencode({"u": user_id, "sig": sign(secret, user_id)})
    return "%s/api/notifications/unsubscribe?%s" % (base_url.rstrip("/"), query)


def conversation_url(base_url: str, conversation_id: str) -> str:
    return "%s/?c=%s" % (base_url.rstrip("/"), urllib.parse.quote(conversation_id, safe=""))


# ------------------------------------------------------------------ what it says
def _plural(count: int, word: str) -> str:
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def headline(group: Group) -> str:
    """``3 new messages from Maths 7A``; ``1 mention of you in Art 7B``."""
    if group.kind == MENTION:
        return "%s of you in %s" % (_plural(group.count, "mention"), group.title)
    return "%s from %s" % (_plural(group.count, "new message"), group.title)


def subject(groups: Sequence[Group]) -> str:
    total = sum(g.count for g in groups)
    if len(groups) == 1:
        return headline(groups[0])
    return "%s in %d conversations" % (_plural(total, "new message"), len(groups))


def body(name: str, groups: Sequence[Group], base_url: str, unsubscribe: str, settings_url: str) -> str:
    lines = ["Hello %s," % name, "", "you have unread messages in school chat:", ""]
    for group in groups[:MAX_GROUPS]:
        lines.append("* " + headline(group))
        if group.kind != DIRECT:
            lines.append("  written by " + ", ".join(group.senders))
        for sender, text in group.previews:
            lines.append("  %s: %s" % (sender, text))
        lines.append("  " + conversation_url(base_url, group.conversation_id))
        lines.append("")
    if len(groups) > MAX_GROUPS:
        lines += ["and %s more." % _plural(len(groups) - MAX_GROUPS, "conversation"), ""]
    lines += ["You get one email until you read them. Change this in the chat's settings:", settings_url,
              "or stop these emails with one click: " + unsubscribe, ""]
    return "\n".join(lines)


def compose(*, to: str, name: str, groups: Sequence[Group], from_addr: str, base_url: str, unsubscribe: str,
            now_ms: int, message_id: str) -> EmailMessage:
    """The email (plain text, UTF-8) with RFC 8058 one-click unsubscribe headers."""
    msg = EmailMessage()
    msg["From"] = email.utils.formataddr(("School chat", from_addr))
    msg["To"] = to
    msg["Subject"] = subject(groups)
    msg["Date"] = email.utils.formatdate(now_ms / 1000.0, usegmt=True)
    domain = from_addr.rsplit("@", 1)[-1]
    msg["Message-ID"] = "<%s@%s>" % (message_id, domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["List-Unsubscribe"] = "<%s>" % unsubscribe
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(body(name, groups, base_url, unsubscribe, base_url.rstrip("/") + "/?settings=notifications"))
    return msg
