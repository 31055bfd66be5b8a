"""A user's classes from the roster, each with its conversations: "My classes" (a teacher
opens a class's chat in one step, whether or not it exists yet)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

from chat.auth import Identity
from chat.domain.core import Core
from chat.rules import policy
from chat.vocab import Role

#: an admin sees the school's classes, at most this many (a roster's classes of one school)
MAX_SCHOOL_CLASSES = 1000


class ClassActions:
    """What the roster says about the caller's classes."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def mine(self, ident: Identity) -> Dict[str, Any]:
        """The classes the caller teaches or is enrolled in (an admin: every class of the
        school), by name, each with the conversations of the class the caller takes part in
        and whether the caller may open the class's conversations."""
        directory = self.core.store.directory
        if ident.role == Role.ADMIN:
            classes = await directory.classes_of_school(ident.school, MAX_SCHOOL_CLASSES)
        else:
            classes = [c for c in await directory.classes_of_user(ident.user_id) if c.get("school") == ident.school]
        convs = await asyncio.gather(*(self.core.store.conversations.of_class(c["id"]) for c in classes))
        mine = {m["conversationId"] for m in await self.core.store.conversations.memberships_of_user(ident.user_id)}
        out: List[Dict[str, Any]] = []
        for klass, of_class in zip(classes, convs, strict=True):
            teachers = klass.get("teacherIds", [])
            out.append({
                "id": klass["id"], "name": klass.get("name") or klass["id"],
                "role": "teacher" if ident.user_id in teachers else
                        ("student" if ident.user_id in klass.get("studentIds", []) else "admin"),
                "teacherIds": list(teachers), "studentCount": len(klass.get("studentIds", [])),
                "mayOpen": policy.may_open_class_conversation(ident.user_id, ident.role, teachers),
                "conversations": sorted(
                    ({"id": c["id"], "type": c["type"], "title": c.get("title")} for c in of_class
                     if c["id"] in mine and c.get("school") == ident.school),
                    key=lambda c: (c["type"], c["id"]))})
        out.sort(key=lambda c: (str(c["name"]).lower(), c["id"]))
        return {"classes": out}
