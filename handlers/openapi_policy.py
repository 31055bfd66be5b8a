"""The OpenAPI description of the school policy routes (README "School policy")."""
from __future__ import annotations

from typing import Dict

from chat.domain.safety.policy_doc import STUDENT_DIRECT, STUDENT_GROUPS
from handlers.openapi_schemas import BOOL, STR, Schema, obj, ref


def policy_schemas() -> Dict[str, Schema]:
    """``SchoolPolicy`` (what applies), ``SchoolPolicyChange`` (a PUT body: some of its fields)."""
    props: Schema = {
        "studentDirect": {"enum": list(STUDENT_DIRECT),
                          "description": "whom a student may start a direct conversation with: anyone of the "
                                         "school, classmates (students sharing a class) and staff, staff only, "
                                         "or no one"},
        "studentGroups": {"enum": list(STUDENT_GROUPS),
                          "description": "allowed; supervised: a group with students keeps a member of staff "
                                         "(students add one when they create it; the last cannot leave or be "
                                         "removed); staff_only: only staff create groups"},
        "studentsMayMessageAdmins": dict(BOOL, description="whether students may start a direct conversation "
                                                           "with an admin or add one to a group"),
        # oversight: the review notice
        "reviewNotice": dict(BOOL, description="whether every conversation view carries reviewNotice: "
                                               "\"This school may review conversations.\" (default true)"),
    }
    return {
        "SchoolPolicy": obj(list(props), props, additionalProperties=False),
        "SchoolPolicyChange": {"type": "object", "minProperties": 1, "additionalProperties": False,
                               "properties": props,
                               "description": "the fields to change; the others keep their value"},
        "SchoolPolicyView": obj(["schoolId", "policy"], {"schoolId": STR, "policy": ref("SchoolPolicy")},
                                additionalProperties=False),
    }


def policy_paths() -> Dict[str, Dict[str, Schema]]:
    """``GET``/``PUT /api/schools/{schoolId}/policy``."""
    from handlers.openapi import _data, _json, _op, _path  # the document's own helpers (it imports this module)
    school = _path("schoolId", "the caller's school id (another school's is 404)")
    ok = {200: _json(_data(ref("SchoolPolicyView")), "the school's policy")}
    return {"/api/schools/{schoolId}/policy": {
        "get": _op("The school's safeguarding policy (any member of the school)", ok, [404], params=[school],
                   tag="chat"),
        "put": _op("Change the school's safeguarding policy (its admins only; recorded and pushed as "
                   "school:policy)", ok, [403, 404], params=[school], body="SchoolPolicyChange",
                   tag="chat")}}
