"""Who may do what: pure functions of roles and documents, no storage (unit-tested alone).

Conversation roles are ``owner``, ``admin`` (managers) and ``member``; user roles come from
the token (``student``, ``teacher``, ``admin``).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from chat.errors import Conflict, Forbidden
from chat.vocab import ConversationType, MemberRole, Role, is_staff

MANAGERS = (MemberRole.OWNER.value, MemberRole.ADMIN.value)
#: conversations a school's staff moderate whether or not they take part
MODERATED = (ConversationType.CLASS.value, ConversationType.ANNOUNCEMENT.value)


def is_manager(conv_role: Optional[str]) -> bool:
    """Owners and admins of a conversation manage it."""
    return conv_role in MANAGERS


def check_post(conv_type: str, conv_role: Optional[str]) -> None:
    """Members may post anywhere but in announcements, which are read-only for members."""
    if conv_type == ConversationType.ANNOUNCEMENT and not is_manager(conv_role):
        raise Forbidden("announcements are read-only for members")


def check_edit(message: Mapping[str, Any], user_id: str) -> None:
    """Only the sender edits, never a system message, never a deleted one."""
    if message["senderId"] != user_id or message.get("type") == "system":
        raise Forbidden("only the sender may edit a message")
    if message.get("deletedAt") is not None:
        raise Conflict("the message was deleted")


def moderates(user_role: str, conv_type: str, same_school: bool) -> bool:
    """In class and announcement conversations any teacher or admin of the conversation's
    school moderates (participant or not: a school admin moderates its classes)."""
    return same_school and conv_type in MODERATED and is_staff(user_role)


def may_delete(message: Mapping[str, Any], user_id: str, user_role: str, conv_type: str,
               conv_role: Optional[str], same_school: bool) -> bool:
    """The sender; an owner/admin of the conversation; a moderator (:func:`moderates`)."""
    if message["senderId"] == user_id or is_manager(conv_role):
        return True
    return moderates(user_role, conv_type, same_school)


def check_rename(conv_type: str, conv_role: Optional[str]) -> None:
    if conv_type == ConversationType.DIRECT:
        raise Conflict("a direct conversation has no title")
    if not is_manager(conv_role):
        raise Forbidden("only the owner or an admin may rename")


def check_add(conv_type: str, conv_role: Optional[str]) -> None:
    if conv_type == ConversationType.DIRECT:
        raise Conflict("a direct conversation takes no participant changes")
    if not is_manager(conv_role):
        raise Forbidden("only the owner or an admin may add participants")


def check_remove(conv_type: str, conv_role: Optional[str], leaving: bool) -> None:
    """Owner/admin removes anyone; a member removes only itself (leaves)."""
    if conv_type == ConversationType.DIRECT:
        raise Conflict("a direct conversation takes no participant changes")
    if not leaving and not is_manager(conv_role):
        raise Forbidden("only the owner or an admin may remove others")


def may_open_class_conversation(user_id: str, user_role: str, teacher_ids: Any) -> bool:
    """A teacher of the class or a school admin."""
    return user_id in teacher_ids or user_role == Role.ADMIN


def counts_as_unread(message: Mapping[str, Any], user_id: str) -> bool:
    """What unread counters count: live, non-system messages of someone else."""
    return (message.get("senderId") != user_id and message.get("deletedAt") is None
            and message.get("type") != "system")


def reaction_allowed(existing_emojis: "set[str]", emoji: str, cap: int) -> bool:
    """A new distinct emoji is refused once a message has ``cap`` distinct ones."""
    return emoji in existing_emojis or len(existing_emojis) < cap


def may_mute(user_role: str, conv_type: str, conv_role: Optional[str], same_school: bool) -> bool:
    """Who mutes a conversation's members: its owner/admins, and a moderator
    (:func:`moderates`: the school's staff in class and announcement conversations)."""
    return (same_school and is_manager(conv_role)) or moderates(user_role, conv_type, same_school)


def check_slow_mode(conv_type: str, conv_role: Optional[str]) -> None:
    """Slow mode is set by the owner/admins, never on a direct conversation."""
    if conv_type == ConversationType.DIRECT:
        raise Conflict("a direct conversation has no slow mode")
    if not is_manager(conv_role):
        raise Forbidden("only the owner or an admin may set slow mode")
