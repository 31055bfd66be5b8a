"""Demo mode: a small school with history, seeded idempotently, and tokens for its users."""
from __future__ import annotations

import logging
from typing import Any, Dict, List

from chat.auth import Identity
from chat.domain.service import ChatService
from chat.ops.roster import import_roster
from chat.rules.validation import NewConversation, NewMessage

log = logging.getLogger("chat.demo")

SCHOOL = "demo-school"
USERS: List[Dict[str, str]] = [
    {"id": "admin", "name": "Ada Lovelace", "role": "admin"},
    {"id": "t-turing", "name": "Alan Turing", "role": "teacher"},
    {"id": "t-kahlo", "name": "Frida Kahlo", "role": "teacher"},
    {"id": "s-alice", "name": "Alice Martin", "role": "student"},
    {"id": "s-bob", "name": "Bob Chen", "role": "student"},
    {"id": "s-carol", "name": "Carol Singh", "role": "student"},
    {"id": "s-dan", "name": "Dan Okafor", "role": "student"},
    {"id": "s-eve", "name": "Eve Novak", "role": "student"},
    {"id": "s-finn", "name": "Finn Larsen", "role": "student"},
]
CLASSES: List[Dict[str, Any]] = [
    {"id": "maths-7a", "name": "Maths 7A", "teacherIds": ["t-turing"], "studentIds": ["s-alice", "s-bob", "s-carol"]},
    {"id": "art-7b", "name": "Art 7B", "teacherIds": ["t-kahlo"], "studentIds": ["s-dan", "s-eve", "s-finn"]},
    {"id": "science-7c", "name": "Science 7C", "teacherIds": ["t-turing", "t-kahlo"],
     "studentIds": ["s-alice", "s-dan", "s-eve"]},
]


def _ident(user_id: str) -> Identity:
    user = next(u for u in USERS if u["id"] == user_id)
    return Identity(user_id, user["role"], SCHOOL, user["name"], 2 ** 31)


def demo_users() -> List[Dict[str, str]]:
    return [dict(u, school=SCHOOL) for u in USERS]


async def seed_demo(service: ChatService) -> bool:
    """Load the demo school; conversations and history only the first time. True when seeded."""
    store = service.store
    await import_roster(store, demo_users(), [dict(c, school=SCHOOL) for c in CLASSES])
    if await store.conversations.of_user("t-turing"):
        return False

    async def say(user: str, conv: Dict[str, Any], text: str) -> None:
        await service.messages.send(_ident(user), conv["id"], NewMessage(text, "text", [], None, None))

    maths, _ = await service.conversations.create(_ident("t-turing"), NewConversation("class", [], None, "maths-7a"))
    await say("t-turing", maths, "Welcome to Maths 7A! Homework for Friday: exercises 4 to 9 on page 32.")
    await say("s-alice", maths, "Do we need to show our working for exercise 7?")
    await say("t-turing", maths, "Yes please, every step. Partial credit counts.")
    await say("s-bob", maths, "Thanks! \U0001F44D")
    news, _ = await service.conversations.create(
        _ident("admin"), NewConversation("announcement", [], "Art 7B news", "art-7b"))
    await say("admin", news, "The art exhibition opens on Thursday at 4 pm in the main hall.")
    pair, _ = await service.conversations.create(_ident("s-alice"), NewConversation("direct", ["s-bob"], None, None))
    await say("s-alice", pair, "Hey Bob, are you coming to the science club today?")
    await say("s-bob", pair, "Yes! I'll bring the magnets.")
    project, _ = await service.conversations.create(
        _ident("s-dan"), NewConversation("group", ["s-alice", "s-eve"], "Science project", None))
    await say("s-dan", project, "I made a doc for our volcano project, let's split the sections.")
    await say("s-eve", project, "I'll take the chemistry part.")
    log.info("seeded the demo school (%d users, %d classes)", len(USERS), len(CLASSES))
    return True
