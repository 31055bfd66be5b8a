"""Roster import: users and classes from JSON or CSV into the directory, idempotently.

JSON: ``{"users": [{"id", "name", "role", "school", "safeguarding"?}], "classes": [{"id", "school",
"name", "teacherIds": [...], "studentIds": [...]}]}``.
CSV: a users file with the header ``id,name,role,school`` (and optionally ``safeguarding``), or a
classes file with the header ``id,school,name,teacherIds,studentIds`` where the id lists are
separated by ``;``. ``safeguarding`` (JSON ``true``/``false``; CSV ``true``/``false``/``1``/``0``/
``yes``/``no`` or empty) marks a member of the school's safeguarding team: a moderator. An
optional ``email`` (JSON and CSV) is where missed-message email goes.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Dict, List, Tuple

from chat.auth import ROLES
from chat.domain.oversight.audit import AuditAction, AuditLog
from chat.rules.email_digest import valid_address
from chat.store import Store
from chat.timeutil import now_ms


class RosterError(ValueError):
    """The roster file is malformed; the message says where."""


def _text(entry: Dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise RosterError("%s: %s must be a non-empty string" % (where, key))
    return value.strip()


def _ids(entry: Dict[str, Any], key: str, where: str) -> List[str]:
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [p for p in value.replace(",", ";").split(";")]
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise RosterError("%s: %s must be a list of ids" % (where, key))
    return sorted({x.strip() for x in value if x.strip()})


_YES = ("true", "1", "yes")
_NO = ("false", "0", "no", "")


def _flag(entry: Dict[str, Any], key: str, where: str) -> bool:
    """An optional boolean: JSON true/false, or a CSV cell's word for one."""
    value = entry.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _YES + _NO:
        return value.strip().lower() in _YES
    raise RosterError("%s: %s must be true or false" % (where, key))


def parse_roster(content: str, filename: str = "") -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Validated (users, classes) from JSON or CSV text."""
    stripped = content.lstrip()
    if filename.lower().endswith(".json") or stripped.startswith("{"):
        try:
            data = json.loads(content)
        except ValueError as exc:
            raise RosterError("not valid JSON: %s" % exc) from None
        if not isinstance(data, dict):
            raise RosterError("the roster must be a JSON object with users and classes")
        raw_users, raw_classes = data.get("users", []), data.get("classes", [])
    else:
        rows = list(csv.DictReader(io.StringIO(content)))
        header = set(rows[0]) if rows else set()
        if {"teacherIds", "studentIds"} <= header:
            raw_users, raw_classes = [], rows
        elif {"id", "role", "school"} <= header:
            raw_users, raw_classes = rows, []
        else:
            raise RosterError("CSV header must be id,name,role,school or id,school,name,teacherIds,studentIds")
    if not isinstance(raw_users, list) or not isinstance(raw_classes, list):
        raise RosterError("users and classes must be lists")
    users = []
    for i, entry in enumerate(raw_users):
        where = "users[%d]" % i
        if not isinstance(entry, dict):
            raise RosterError("%s must be an object" % where)
        role = _text(entry, "role", where)
        if role not in ROLES:
            raise RosterError("%s: role must be one of %s" % (where, ", ".join(ROLES)))
        user: Dict[str, Any] = {"id": _text(entry, "id", where), "name": _text(entry, "name", where),
                                "role": role, "school": _text(entry, "school", where)}
        if _flag(entry, "safeguarding", where):
            user["safeguarding"] = True
        email = entry.get("email")  # notifications: missed-message email (optional)
        if email not in (None, ""):
            if not valid_address(email.strip() if isinstance(email, str) else email):
                raise RosterError("%s: email must be an address like name@school.example" % where)
            user["email"] = email.strip()
        users.append(user)
    classes = []
    for i, entry in enumerate(raw_classes):
        where = "classes[%d]" % i
        if not isinstance(entry, dict):
            raise RosterError("%s must be an object" % where)
        classes.append({"id": _text(entry, "id", where), "school": _text(entry, "school", where),
                        "name": _text(entry, "name", where), "teacherIds": _ids(entry, "teacherIds", where),
                        "studentIds": _ids(entry, "studentIds", where)})
    return users, classes


async def import_roster(store: Store, users: List[Dict[str, Any]], classes: List[Dict[str, Any]],
                        actor: str = "roster") -> Dict[str, int]:
    """Upsert users and classes; re-importing updates and never duplicates. Each school it
    touches gets an audit entry (counts, by ``actor``) first: an import that cannot be recorded
    does not happen (chat/domain/oversight/audit.py)."""
    audit = AuditLog(store.audit)
    for school, counts in sorted(_per_school(users, classes).items()):
        await audit.record(actor, AuditAction.ROSTER_IMPORT, school, {"school": school}, counts)
    now = now_ms()
    new_users = await store.directory.upsert_users(users, now)
    new_classes = await store.directory.upsert_classes(classes, now)
    await store.directory.bump_roster_version()  # running servers reload their class index
    return {"users": len(users), "newUsers": new_users, "classes": len(classes), "newClasses": new_classes}


def _per_school(users: List[Dict[str, Any]], classes: List[Dict[str, Any]]) -> Dict[str, Dict[str, int]]:
    """What an import brings to each school: users, safeguarding-team members, classes (counts only)."""
    counts: Dict[str, Dict[str, int]] = {}
    for user in users:
        row = counts.setdefault(user["school"], {"users": 0, "safeguarding": 0, "classes": 0})
        row["users"] += 1
        row["safeguarding"] += 1 if user.get("safeguarding") else 0
    for klass in classes:
        counts.setdefault(klass["school"], {"users": 0, "safeguarding": 0, "classes": 0})["classes"] += 1
    return counts
