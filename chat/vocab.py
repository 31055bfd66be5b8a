"""The server's vocabulary, in one place: school roles, conversation types and roles, markers,
and WebSocket close codes.

String enums: a member equals (and hashes like) its wire value, so stored documents, tokens
and JSON keep plain strings while the code names each value once.
"""
from __future__ import annotations

import enum
from typing import Tuple


class Role(enum.StrEnum):
    """A user's role in its school (the token's ``role`` claim, the roster's ``role``)."""

    STUDENT = "student"
    TEACHER = "teacher"
    ADMIN = "admin"


#: every school role, in the order messages list them
ROLES: Tuple[str, ...] = tuple(r.value for r in Role)


def is_staff(role: str) -> bool:
    """Teachers and admins: the adults of a school."""
    return role in (Role.TEACHER, Role.ADMIN)


class ConversationType(enum.StrEnum):
    DIRECT = "direct"
    GROUP = "group"
    CLASS = "class"
    ANNOUNCEMENT = "announcement"


CONVERSATION_TYPES: Tuple[str, ...] = tuple(t.value for t in ConversationType)
#: conversations whose members are each other's contacts for presence
CONTACT_TYPES: Tuple[str, ...] = (ConversationType.DIRECT.value, ConversationType.GROUP.value)


class MemberRole(enum.StrEnum):
    """A participant's role in one conversation (managers are owner and admin)."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


MEMBER_ROLES: Tuple[str, ...] = tuple(r.value for r in MemberRole)


class Marker(enum.StrEnum):
    """The per-participant markers a client moves forward."""

    DELIVERED = "delivered"
    READ = "read"


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server sends (RFC 6455 §7.4 and the 4000s of PROTOCOL)."""

    GOING_AWAY = 1001            # shutting down, or no pong in time: reconnect
    PROTOCOL_ERROR = 1002        # a frame breaks RFC 6455 (an unmasked client frame)
    INVALID_PAYLOAD = 1007       # a text frame that is not UTF-8
    POLICY = 1008                # rate limits exceeded, or a slow consumer
    TOKEN_EXPIRED = 4001
    TOO_MANY_SOCKETS = 4029
