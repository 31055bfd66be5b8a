"""The OpenAPI description of the school policy routes (README "School policy")."""
from __future__ import annotations

from typing import Dict

from chat.domain.safety.policy_doc import STUDENT_DIRECT, STUDENT_GROUPS
from chat.rules import quiet_hours
from handlers.openapi_schemas import BOOL, STR, Schema, nullable, obj, ref


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
    props.update(quiet_hours_props())  # oversight: quiet hours
    return {
        "SchoolPolicy": obj(list(props), props, additionalProperties=False),
        "SchoolPolicyChange": {"type": "object", "minProperties": 1, "additionalProperties": False,
                               "properties": props,
                               "description": "the fields to change; the others keep their value"},
        "SchoolPolicyView": obj(["schoolId", "policy"], {"schoolId": STR, "policy": ref("SchoolPolicy"),
                                                          "sending": ref("Sending")},
                                additionalProperties=False),
        "Sending": sending_schema(),
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


# ---------------------------------------------------------------------- oversight: quiet hours
_TIME = "^([01][0-9]|2[0-3]):[0-5][0-9]$"
_DATE = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_AT = {"type": ["string", "null"], "format": "date-time",
       "description": "ISO 8601 with the school's offset (2026-03-30T07:30:00+01:00)"}
_MS = {"type": ["integer", "null"], "description": "the same instant in epoch milliseconds"}


def quiet_hours_props() -> Dict[str, Schema]:
    """``timeZone``, ``quietHours`` and ``holidays`` of the policy (README "Quiet hours")."""
    window = obj(["days", "from", "to"], {
        "days": {"type": "array", "minItems": 1, "maxItems": 7, "uniqueItems": True,
                 "items": {"enum": list(quiet_hours.DAYS)}},
        "from": {"type": "string", "pattern": _TIME, "description": "local time HH:MM"},
        "to": {"type": "string", "pattern": "%s|^24:00$" % _TIME,
               "description": "local time HH:MM (24:00: midnight); not after from: the window runs "
                              "across midnight"}},
        additionalProperties=False)
    holiday = obj(["from", "to"], {
        "from": _DATE, "to": dict(_DATE, description="the last closed day (included), not before from"),
        "name": {"type": "string", "maxLength": quiet_hours.MAX_NAME}}, additionalProperties=False)
    return {
        "timeZone": {"type": "string", "maxLength": quiet_hours.MAX_ZONE,
                     "pattern": "^[A-Za-z][A-Za-z0-9_+\\-]*(/[A-Za-z0-9_+\\-]+)*$",
                     "description": "the school's IANA time zone (Europe/London); quiet hours and holidays "
                                    "are read in it. An unknown name is a 400", "example": "Europe/London"},
        "quietHours": {"type": "object", "propertyNames": {"enum": list(quiet_hours.RESTRICTABLE)},
                       "additionalProperties": {"type": "array", "minItems": 1,
                                                "maxItems": quiet_hours.MAX_WINDOWS, "items": window},
                       "description": "per role, the weekly windows during which it may send (local wall-clock "
                                      "time); a role left out is not restricted, admins never are. Windows of a "
                                      "role must not overlap (a 400)",
                       "example": {"student": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "07:30",
                                                "to": "16:00"}]}},
        "holidays": {"type": "array", "maxItems": quiet_hours.MAX_HOLIDAYS, "items": holiday,
                     "description": "date ranges (local dates, both included, at most %d days each) closed all "
                                    "day for every restricted role" % quiet_hours.MAX_HOLIDAY_DAYS},
    }


def sending_schema() -> Schema:
    """Whether the caller may send now (``GET`` only: it depends on the caller's role)."""
    return obj(["open", "opensAt", "opensAtMs", "closesAt", "closesAtMs", "holiday"], {
        "open": dict(BOOL, description="the caller's role may send now"),
        "opensAt": dict(_AT, description="when it may send again (null: it may now, or no opening is in sight)"),
        "opensAtMs": _MS,
        "closesAt": dict(_AT, description="when its current window ends (null: closed now, or not restricted)"),
        "closesAtMs": _MS,
        "holiday": dict(nullable(STR), description="the name of today's holiday for a restricted role")},
        additionalProperties=False)


#: the fields a ``quiet_hours`` refusal adds to its error object
QUIET_ERROR_FIELDS: Dict[str, Schema] = {
    "opensAt": dict(_AT, description="quiet_hours only: when the sender may send again"),
    "opensAtMs": dict(_MS, description="quiet_hours only: opensAt in epoch milliseconds"),
}
