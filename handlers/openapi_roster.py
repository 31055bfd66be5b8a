"""The OpenAPI part of the roster import from the web client (README "Roster format",
``POST /api/roster/import``), added to the document by :func:`handlers.openapi.build_document`."""
from __future__ import annotations

from typing import Dict

from chat.auth import ROLES
from chat.ops.roster_admin import PREVIEW_ITEMS
from chat.rules.validation import BOOL_PATTERN, HAS_TEXT, SPACE_CODES, char_class
from handlers.openapi_schemas import BOOL, INT, STR, Schema, obj, ref

_SPACE = char_class(SPACE_CODES)
# what chat/ops/roster.py reads: a non-empty string (once trimmed) of at most 200 characters
_TEXT = {"type": "string", "maxLength": 200, "pattern": HAS_TEXT}
_ROLE = {"type": "string", "maxLength": 200, "pattern": "^%s*(?:%s)%s*$" % (_SPACE, "|".join(ROLES), _SPACE),
         "description": "one of %s (surrounding spaces are trimmed)" % ", ".join(ROLES)}
_WORD = "(?:[Tt][Rr][Uu][Ee]|1|[Yy][Ee][Ss]|[Ff][Aa][Ll][Ss][Ee]|0|[Nn][Oo])?"
_FLAG = {"anyOf": [{"type": ["boolean", "null"]},
                   {"type": "string", "pattern": "^%s*%s%s*$" % (_SPACE, _WORD, _SPACE)}],
         "description": "a member of the school's safeguarding team: true/false, or a CSV word (true, false, 1, "
                        "0, yes, no, empty)"}
_CSV = ("one CSV file: users (header id,name,role,school[,safeguarding]) or classes (header id,school,name,"
        "teacherIds,studentIds; ids separated by ;); a body that starts with { is refused (send JSON as "
        "application/json)")
_IDS = {"anyOf": [{"type": "array", "items": STR}, {"type": "string"}],
        "description": "member ids: a list, or one string separated by ; or , (blank ids are dropped)"}


def add_roster_docs(paths: Dict[str, Dict[str, Schema]], components: Dict[str, Schema]) -> None:
    """Add ``POST /api/roster/import``, its body (the roster JSON, or CSV text) and its answer."""
    from handlers.openapi import _data, _json, _op, _query  # the document's own helpers (it imports this module)
    components["RosterUser"] = obj(["id", "name", "role", "school"], {
        "id": _TEXT, "name": _TEXT, "role": _ROLE,
        "school": dict(_TEXT, description="the caller's school (another school: 403)"), "safeguarding": _FLAG})
    components["RosterClass"] = obj(["id", "school", "name"], {
        "id": _TEXT, "school": dict(_TEXT, description="the caller's school (another school: 403)"),
        "name": _TEXT, "teacherIds": _IDS, "studentIds": _IDS})
    components["Roster"] = {
        "type": "object", "description": "README \"Roster format\" (other keys are ignored; an id given twice "
                                         "counts once, as its last entry)",
        "properties": {"users": {"type": "array", "items": ref("RosterUser")},
                       "classes": {"type": "array", "items": ref("RosterClass")}}}
    listed = {"type": "array", "maxItems": PREVIEW_ITEMS}
    person = {"id": STR, "name": STR, "role": {"enum": list(ROLES)}, "safeguarding": BOOL}
    klass = {"id": STR, "name": STR, "teachers": INT, "students": INT}
    change = {"type": "object", "description": "field: [before, after]; for classes also teachersAdded, "
                                               "teachersRemoved, studentsAdded, studentsRemoved (id lists)"}
    components["RosterPreview"] = obj(["school", "users", "classes", "unknownMembers", "dryRun", "imported"], {
        "school": STR,
        "users": obj(["total", "added", "changed", "unchanged", "addedUsers", "changedUsers"], {
            "total": INT, "added": INT, "changed": INT, "unchanged": INT,
            "addedUsers": dict(listed, items=obj(list(person), person, additionalProperties=False)),
            "changedUsers": dict(listed, items=obj(list(person) + ["changes"], dict(person, changes=change),
                                                   additionalProperties=False))}, additionalProperties=False),
        "classes": obj(["total", "added", "changed", "unchanged", "addedClasses", "changedClasses",
                        "membersRemoved"], {
            "total": INT, "added": INT, "changed": INT, "unchanged": INT,
            "addedClasses": dict(listed, items=obj(list(klass), klass, additionalProperties=False)),
            "changedClasses": dict(listed, items=obj(list(klass) + ["changes"], dict(klass, changes=change),
                                                     additionalProperties=False)),
            "membersRemoved": dict(INT, description="class memberships the import takes away")},
            additionalProperties=False),
        "unknownMembers": dict(listed, items=STR, description="class members neither in the file nor users of "
                                                              "the school (yet)"),
        "dryRun": BOOL,
        "imported": {"oneOf": [{"type": "null"}, obj(["users", "newUsers", "classes", "newClasses"], {
            "users": INT, "newUsers": INT, "classes": INT, "newClasses": INT}, additionalProperties=False)],
            "description": "null for a dry run; what was written otherwise"}}, additionalProperties=False)
    op = _op("Import the caller's school's roster, JSON or CSV as the `import-roster` command reads it (the "
             "school's admins only; every user and class of the file must be of the caller's school, and no id "
             "another school's: 403). `dryRun=true` answers only the preview: users added and changed, classes "
             "added and changed, the class memberships it removes (an import never deletes a user). Audited as "
             "roster.import. The body is bounded like every other (CHAT_MAX_BODY_BYTES)",
             {200: _json(_data(ref("RosterPreview")), "the preview (and, unless dryRun, what was imported)")},
             [400, 403, 413],
             params=[_query("dryRun", {"type": "string", "pattern": BOOL_PATTERN},
                            "true: only the preview, nothing is written")])
    op["requestBody"] = {"required": True, "content": {
        "application/json": {"schema": ref("Roster")},
        "text/csv": {"schema": {"type": "string", "description": _CSV}}}}
    paths["/api/roster/import"] = {"post": op}
