"""Roster import from the web client (README "Roster format", ``POST /api/roster/import``): a
school's admin uploads the same JSON or CSV the ``import-roster`` command reads, for their own
school only, and first sees what it would change (``dryRun``).

The parsing is :func:`chat.ops.roster.parse_roster` and the import is
:func:`chat.ops.roster.import_roster`, exactly what the command does (one ``roster.import``
audit entry per import, by the admin, before anything is written; the running servers reload
their class index from the roster version it moves). What this module adds is the school rule
(every user and class of the file belongs to the caller's school, and no id of the file, a
class member's included, is another school's user or class: ids are global, so an import could
otherwise move them, or put them in the school's classes) and
the preview: which users and classes are new, which change and how, and which class members
a re-import takes away. An import never deletes a user.
"""
from __future__ import annotations

import csv
from typing import Any, Dict, List, Optional, Sequence, Tuple

from chat.auth import Identity
from chat.errors import BadRequest, Forbidden
from chat.ops.roster import RosterError, import_roster, parse_roster
from chat.rules.validation import check_storable
from chat.store import Store
from chat.vocab import Role

#: the most entries of each list the preview spells out (the counts are always complete)
PREVIEW_ITEMS = 200
_USER_FIELDS = ("name", "role", "safeguarding")


def parse_upload(text: str, content_type: str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Users and classes of an uploaded roster (JSON, or one CSV file of users or of classes);
    400 naming what is wrong. An id given twice counts once, as its last entry."""
    kind = (content_type or "").split(";")[0].strip().lower()
    filename = "roster.csv" if kind.endswith("csv") else "roster.json" if kind.endswith("json") else ""
    text = text.lstrip("\ufeff")
    if filename.endswith(".csv") and text.lstrip().startswith("{"):
        raise BadRequest("roster: a text/csv body must be CSV (send JSON as application/json)")
    try:
        users, classes = parse_roster(text, filename)
    except RosterError as exc:
        raise BadRequest("roster: %s" % exc) from None
    except (csv.Error, RecursionError, ValueError) as exc:  # a NUL byte, a JSON nested too deep
        raise BadRequest("roster: not readable as JSON or CSV (%s)" % type(exc).__name__) from None
    check_storable(users, "roster")
    check_storable(classes, "roster")
    return _last_of_each(users), _last_of_each(classes)


def _last_of_each(entries: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One entry per id, the file's last (what an import of the whole file leaves stored)."""
    by_id = {e["id"]: e for e in entries}
    return list(by_id.values())


def _own_school(ident: Identity, users: Sequence[Dict[str, Any]], classes: Sequence[Dict[str, Any]]) -> None:
    for entry, what in [(u, "user") for u in users] + [(c, "class") for c in classes]:
        if entry["school"] != ident.school:
            raise Forbidden("roster: %s %s is of school %s; you may import your own school (%s) only"
                            % (what, entry["id"], entry["school"], ident.school))


def _diff_user(new: Dict[str, Any], old: Optional[Dict[str, Any]], school: str) -> Dict[str, Any]:
    """The fields of a user that an import changes: {field: [before, after]}."""
    if old is None:
        return {}
    before = {"name": old.get("name"), "role": old.get("role"), "safeguarding": old.get("safeguarding") == school}
    after = {"name": new["name"], "role": new["role"], "safeguarding": bool(new.get("safeguarding"))}
    return {k: [before[k], after[k]] for k in _USER_FIELDS if before[k] != after[k]}


def _diff_class(new: Dict[str, Any], old: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    if old is None:
        return {}
    change: Dict[str, Any] = {}
    if old.get("name") != new["name"]:
        change["name"] = [old.get("name"), new["name"]]
    for key, label in (("teacherIds", "teachers"), ("studentIds", "students")):
        before, after = set(old.get(key) or []), set(new[key])
        if after - before:
            change[label + "Added"] = sorted(after - before)
        if before - after:
            change[label + "Removed"] = sorted(before - after)
    return change


def _page(items: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return items[:PREVIEW_ITEMS]


async def preview(store: Store, ident: Identity, users: Sequence[Dict[str, Any]],
                  classes: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """What importing ``users`` and ``classes`` would change in the caller's school (403 when an
    id of the file is another school's)."""
    _own_school(ident, users, classes)
    members = {m for c in classes for m in c["teacherIds"] + c["studentIds"]}
    known = await store.directory.get_users([u["id"] for u in users] + sorted(members))
    for user in users:
        old = known.get(user["id"])
        if old is not None and old.get("school") != ident.school:
            raise Forbidden("roster: user %s belongs to another school" % user["id"])
    for member in sorted(members):
        old = known.get(member)
        if old is not None and old.get("school") != ident.school:
            raise Forbidden("roster: class member %s belongs to another school" % member)
    old_classes: Dict[str, Dict[str, Any]] = {}
    for klass in classes:
        doc = await store.directory.get_class(klass["id"])
        if doc is not None and doc.get("school") != ident.school:
            raise Forbidden("roster: class %s belongs to another school" % klass["id"])
        if doc is not None:
            old_classes[klass["id"]] = doc
    added_users, changed_users = [], []
    for user in users:
        old = known.get(user["id"])
        row = {"id": user["id"], "name": user["name"], "role": user["role"],
               "safeguarding": bool(user.get("safeguarding"))}
        if old is None:
            added_users.append(row)
        else:
            change = _diff_user(user, old, ident.school)
            if change:
                changed_users.append(dict(row, changes=change))
    added_classes, changed_classes = [], []
    for klass in classes:
        row = {"id": klass["id"], "name": klass["name"], "teachers": len(klass["teacherIds"]),
               "students": len(klass["studentIds"])}
        old = old_classes.get(klass["id"])
        if old is None:
            added_classes.append(row)
        else:
            change = _diff_class(klass, old)
            if change:
                changed_classes.append(dict(row, changes=change))
    in_file = {u["id"] for u in users}
    unknown = sorted(m for m in members if m not in in_file and (
        m not in known or known[m].get("school") != ident.school))
    removed = sum(len(c["changes"].get("teachersRemoved", [])) + len(c["changes"].get("studentsRemoved", []))
                  for c in changed_classes)
    return {
        "school": ident.school,
        "users": {"total": len(users), "added": len(added_users), "changed": len(changed_users),
                  "unchanged": len(users) - len(added_users) - len(changed_users),
                  "addedUsers": _page(added_users), "changedUsers": _page(changed_users)},
        "classes": {"total": len(classes), "added": len(added_classes), "changed": len(changed_classes),
                    "unchanged": len(classes) - len(added_classes) - len(changed_classes),
                    "addedClasses": _page(added_classes), "changedClasses": _page(changed_classes),
                    "membersRemoved": removed},
        "unknownMembers": unknown[:PREVIEW_ITEMS],
    }


async def import_upload(store: Store, ident: Identity, text: str, content_type: str,
                        dry_run: bool) -> Dict[str, Any]:
    """``POST /api/roster/import``: the preview, and unless ``dry_run`` the import itself (the
    command's, audited as ``roster.import`` by the admin). Admins of the school only."""
    if ident.role != Role.ADMIN:
        raise Forbidden("only the school's admins import its roster")
    users, classes = parse_upload(text, content_type)
    result = await preview(store, ident, users, classes)
    result["dryRun"] = dry_run
    result["imported"] = None
    if not dry_run:
        result["imported"] = await import_roster(store, users, classes, actor=ident.user_id)
    return result
