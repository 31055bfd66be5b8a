"""Documents to the JSON objects of PROTOCOL §4 (pure functions)."""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional

import ujson

from chat.timeutil import iso


def dumps(value: Any) -> str:
    """JSON as the wire carries it (UTF-8 text, slashes unescaped): REST bodies and socket
    frames alike, and what sync measures its replies with."""
    return ujson.dumps(value, ensure_ascii=False, escape_forward_slashes=False)


PREVIEW_CHARS = 120


def display_name(user_id: str, users: Dict[str, Dict[str, Any]]) -> str:
    user = users.get(user_id)
    return (user or {}).get("name") or user_id


def reactions(doc: Dict[str, Any]) -> Dict[str, List[str]]:
    """``{emoji: [userId, ...]}`` from a message's ``reactionKeys`` (``emoji|userId``), in order."""
    out: Dict[str, List[str]] = {}
    for key in doc.get("reactionKeys") or ():
        emoji, _, user_id = key.partition("|")
        out.setdefault(emoji, []).append(user_id)
    return out


def message(doc: Dict[str, Any]) -> Dict[str, Any]:
    """A message as clients see it; a deleted one keeps its seq but shows no content."""
    deleted = doc.get("deletedAt") is not None
    out = {
        "id": doc["id"],
        "conversationId": doc["conversationId"],
        "seq": doc["seq"],
        "senderId": doc["senderId"],
        "senderName": doc.get("senderName") or doc["senderId"],
        "type": doc.get("type", "text"),
        "text": None if deleted else doc.get("text"),
        "attachments": [] if deleted else list(doc.get("attachments") or []),
        "replyTo": doc.get("replyTo"),
        "reactions": {} if deleted else reactions(doc),
        "createdAt": iso(doc["createdAt"]),
        "editedAt": iso(doc.get("editedAt")),
        "deleted": deleted,
        "clientMsgId": doc.get("clientMsgId"),
        "mentions": [] if deleted else list(doc.get("mentions") or []),
    }
    if doc.get("meta"):
        out["meta"] = doc["meta"]
    if doc.get("forwarded") and not deleted:  # notifications: forwarding
        out["forwarded"] = doc["forwarded"]
    if deleted:  # why it is a tombstone: deleted (by a member or moderator), retention, ...
        out["deletedAt"] = iso(doc["deletedAt"])
        out["reason"] = doc.get("deletedReason") or "deleted"
    return out


def preview(doc: Dict[str, Any]) -> Optional[str]:
    text = doc.get("text") or ""
    if not text and doc.get("attachments"):
        text = "[%s] %s" % (doc.get("type", "file"), doc["attachments"][0].get("name", ""))
    return text[:PREVIEW_CHARS]


def last_message(summary: Optional[Dict[str, Any]], last_seq: int) -> Optional[Dict[str, Any]]:
    if not summary:
        return None
    return {"id": summary["id"], "seq": last_seq, "senderId": summary["senderId"],
            "senderName": summary.get("senderName"), "preview": summary.get("preview"),
            "deleted": bool(summary.get("deleted")), "type": summary.get("type", "text"),
            "createdAt": iso(summary.get("createdAt"))}


def conversation(conv: Dict[str, Any], membership: Optional[Dict[str, Any]],
                 members: Iterable[Dict[str, Any]], users: Dict[str, Dict[str, Any]],
                 online: Optional[Callable[[str], bool]] = None) -> Dict[str, Any]:
    """A conversation as ``membership``'s user sees it."""
    participants = []
    for m in sorted(members, key=lambda m: (m.get("joinedAt", 0), m["userId"])):
        entry = {"userId": m["userId"], "name": display_name(m["userId"], users), "role": m.get("role", "member"),
                 "userRole": (users.get(m["userId"]) or {}).get("role"),
                 "lastReadSeq": m.get("lastReadSeq", 0), "lastDeliveredSeq": m.get("lastDeliveredSeq", 0)}
        if online is not None:
            entry["online"] = online(m["userId"])
        participants.append(entry)
    mine = membership or {}
    now_muted = mine.get("mutedUntil")
    return {
        "id": conv["id"],
        "type": conv["type"],
        "title": conv.get("title"),
        "classId": conv.get("classId"),
        "participants": participants,
        "createdBy": conv.get("createdBy"),
        "createdAt": iso(conv.get("createdAt")),
        "lastMessage": last_message(conv.get("lastMessage"), conv.get("lastSeq", 0)),
        "lastSeq": conv.get("lastSeq", 0),
        "lastActivityAt": iso(conv.get("lastActivityAt")),
        "unread": mine.get("unread", 0),
        "mentions": mine.get("unreadMentions", 0),
        "lastReadSeq": mine.get("lastReadSeq", 0),
        "lastDeliveredSeq": mine.get("lastDeliveredSeq", 0),
        "muted": now_muted is not None,
        "pinned": mine.get("pinnedAt") is not None,
        "archived": mine.get("archivedAt") is not None,
        "role": mine.get("role"),
        "slowModeSeconds": int(conv.get("slowModeSeconds") or 0),
    }
