"""Document shapes shared by the repositories (no pymongo here)."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional


def out(doc: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """A stored document as the rest of the code sees it: ``_id`` rendered as the string
    ``id``, storage-only fields removed."""
    if doc is None:
        return None
    if "_id" in doc:
        doc["id"] = str(doc.pop("_id"))
    doc.pop("textLower", None)
    return doc


def outs(docs: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [d for d in (out(d) for d in docs) if d is not None]


def seq_key(conversation_id: str, seq: int) -> str:
    """Sortable single-field key for (conversation, seq): the planner ignores compound indexes."""
    return "%s:%012d" % (conversation_id, seq)


def class_conversation_key(school: str, kind: str, class_id: str) -> str:
    """The unique ``key`` of a class's one class (or announcement) conversation: asking for it
    again finds it, as a direct pair's key does."""
    return "class:%s:%s:%s" % (school, kind, class_id)


def reaction_key(emoji: str, user_id: str) -> str:
    """How a reaction is kept in a message's ``reactionKeys`` (emojis never contain ``|``)."""
    return emoji + "|" + user_id


def search_text(text: Optional[str]) -> str:
    """The stored search form of a text: lowercased, so search needs no case-insensitive
    regex (nx-27017 evaluates those outside SQL, ~100x slower)."""
    return (text or "").lower()


def membership_id(conversation_id: str, user_id: str) -> str:
    return conversation_id + ":" + user_id
