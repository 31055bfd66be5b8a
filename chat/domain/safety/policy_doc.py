"""A school's safeguarding policy as a value: its words, its defaults, how a client's change is
read, and which conversations it governs (pure: no storage, no I/O).

``studentDirect`` is whom a student may start a direct conversation with, ``studentGroups``
whether (and how) students take part in groups, ``studentsMayMessageAdmins`` whether a student
may open a direct conversation with an admin or add one to a group. Staff may always message
anyone of their school. ``reviewNotice`` (oversight): every conversation view carries
:data:`REVIEW_NOTICE` (the school's moderators may read any conversation under a grant).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Set, Tuple

from chat.errors import BadRequest
from chat.rules import quiet_hours
from chat.settings import Settings
from chat.vocab import ConversationType, Role, is_staff

STUDENT_DIRECT = ("any", "classmates", "staff_only", "none")
STUDENT_GROUPS = ("allowed", "supervised", "staff_only")
FIELDS: Tuple[str, ...] = ("studentDirect", "studentGroups", "studentsMayMessageAdmins", "reviewNotice")
FIELDS += quiet_hours.FIELDS  # oversight: quiet hours (timeZone, quietHours, holidays)

NO_ADMINS = "students may not message the school's admins directly"
NO_DIRECT = "students may not start direct conversations"
STAFF_ONLY_DIRECT = "students may start direct conversations with staff only"
CLASSMATES_DIRECT = "students may start direct conversations only with their classmates and staff"
STAFF_ONLY_GROUPS = "only staff may create groups"
SUPERVISED_GROUPS = "every group with students must keep a member of staff"
REVIEW_NOTICE = "This school may review conversations."


@dataclasses.dataclass(frozen=True)
class SchoolPolicy:
    student_direct: str = "any"
    student_groups: str = "allowed"
    students_may_message_admins: bool = True
    review_notice: bool = True  # oversight: the notice every conversation view carries
    #: oversight: quiet hours (the school's time zone, its windows per role, its holidays)
    quiet: quiet_hours.Schedule = quiet_hours.Schedule()

    @classmethod
    def defaults(cls, settings: Settings) -> "SchoolPolicy":
        """The policy of a school that never set one (settings, config file)."""
        return cls(settings.policy_student_direct, settings.policy_student_groups,
                   settings.policy_students_may_message_admins,
                   quiet=quiet_hours.Schedule(zone=settings.policy_time_zone))

    @classmethod
    def from_stored(cls, doc: Optional[Mapping[str, Any]], default: "SchoolPolicy") -> "SchoolPolicy":
        """A stored document over the defaults (a field never stored keeps its default)."""
        if not doc:
            return default
        direct = doc.get("studentDirect")
        groups = doc.get("studentGroups")
        admins = doc.get("studentsMayMessageAdmins")
        notice = doc.get("reviewNotice")
        return cls(direct if direct in STUDENT_DIRECT else default.student_direct,
                   groups if groups in STUDENT_GROUPS else default.student_groups,
                   bool(admins) if admins is not None else default.students_may_message_admins,
                   review_notice=bool(notice) if notice is not None else default.review_notice,
                   quiet=quiet_hours.Schedule.from_stored(doc, default.quiet))

    def stored(self) -> Dict[str, Any]:
        """The fields as stored (the boolean as 0/1: storage writes no booleans by update)."""
        return {"studentDirect": self.student_direct, "studentGroups": self.student_groups,
                "studentsMayMessageAdmins": int(self.students_may_message_admins),
                "reviewNotice": int(self.review_notice), **self.quiet.stored()}

    def view(self) -> Dict[str, Any]:
        """The policy as clients see it."""
        return {"studentDirect": self.student_direct, "studentGroups": self.student_groups,
                "studentsMayMessageAdmins": self.students_may_message_admins, "reviewNotice": self.review_notice,
                **self.quiet.view()}

    @property
    def lenient(self) -> bool:
        """Governs no existing conversation (every post may skip the membership look-up)."""
        return self.student_direct == "any" and self.student_groups == "allowed" and self.students_may_message_admins

    def changed(self, body: Any) -> "SchoolPolicy":
        """This policy with a client's change applied: an object of some of :data:`FIELDS`
        (the others keep their value); 400 for anything else, naming what is wrong."""
        if not isinstance(body, dict) or not body:
            raise BadRequest("the body must be an object with some of %s" % ", ".join(FIELDS))
        unknown = sorted(set(body) - set(FIELDS))
        if unknown:
            raise BadRequest("unknown policy field %s (known: %s)" % (unknown[0], ", ".join(FIELDS)))
        out = self
        if "studentDirect" in body:
            if body["studentDirect"] not in STUDENT_DIRECT:
                raise BadRequest("studentDirect must be one of %s" % ", ".join(STUDENT_DIRECT))
            out = dataclasses.replace(out, student_direct=body["studentDirect"])
        if "studentGroups" in body:
            if body["studentGroups"] not in STUDENT_GROUPS:
                raise BadRequest("studentGroups must be one of %s" % ", ".join(STUDENT_GROUPS))
            out = dataclasses.replace(out, student_groups=body["studentGroups"])
        if "studentsMayMessageAdmins" in body:
            if not isinstance(body["studentsMayMessageAdmins"], bool):
                raise BadRequest("studentsMayMessageAdmins must be true or false")
            out = dataclasses.replace(out, students_may_message_admins=body["studentsMayMessageAdmins"])
        if "reviewNotice" in body:
            if not isinstance(body["reviewNotice"], bool):
                raise BadRequest("reviewNotice must be true or false")
            out = dataclasses.replace(out, review_notice=body["reviewNotice"])
        out = dataclasses.replace(out, quiet=out.quiet.changed(body))  # oversight: quiet hours
        return out

    # ------------------------------------------------------------------ what it allows
    def direct_refusal(self, other_role: str, classmates: Optional[bool]) -> Optional[str]:
        """Why a student may not start a direct conversation with a user of ``other_role``
        (None: it may). ``classmates``: whether the two share a class (None: not looked up,
        which :meth:`needs_classes` says when it matters)."""
        if other_role == Role.ADMIN and not self.students_may_message_admins:
            return NO_ADMINS
        if self.student_direct == "none":
            return NO_DIRECT
        if is_staff(other_role) or self.student_direct == "any":
            return None
        if self.student_direct == "staff_only":
            return STAFF_ONLY_DIRECT
        return None if classmates else CLASSMATES_DIRECT

    def needs_classes(self, other_role: str) -> bool:
        return self.student_direct == "classmates" and other_role == Role.STUDENT

    def breaks(self, conv_type: str, created_by: Optional[str], roles: Mapping[str, str],
               classes: Mapping[str, Set[str]]) -> Optional[str]:
        """Why a conversation (its type, creator and members' school roles) now breaks this
        policy, making it read-only for its students (None: it does not). A direct conversation
        a member of staff started never does; class conversations and announcements never do.
        ``classes``: the class ids of the members (needed for ``classmates``)."""
        students = [u for u, r in roles.items() if r == Role.STUDENT]
        if not students:
            return None
        creator_role = roles.get(created_by or "", "")
        if conv_type == ConversationType.DIRECT:
            if is_staff(creator_role) or len(roles) != 2:
                return None
            starter = created_by if creator_role == Role.STUDENT else students[0]
            other = next(u for u in roles if u != starter)
            shared = bool(classes.get(starter or "", set()) & classes.get(other, set()))
            return self.direct_refusal(roles[other], shared)
        if conv_type == ConversationType.GROUP:
            if self.student_groups == "staff_only" and not is_staff(creator_role):
                return STAFF_ONLY_GROUPS
            if self.student_groups == "supervised" and not any(is_staff(r) for r in roles.values()):
                return SUPERVISED_GROUPS
        return None
