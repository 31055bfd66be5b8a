"""The audit log API's query (``GET /api/audit?actor=&action=&since=&until=&limit=&next=``),
parsed and checked; pure."""
from __future__ import annotations

import dataclasses
import re
from typing import Optional

from chat.domain.oversight.audit import ACTION_WORDS
from chat.errors import BadRequest
from chat.rules.validation import query_int, query_int_opt

MAX_PAGE = 100
MAX_ACTOR = 200

#: RFC 3339 date-time (what OpenAPI's ``format: date-time`` means)
DATE_TIME_PATTERN = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                     r"([Zz]|[+-][0-9]{2}:[0-9]{2})$")
_DATE_TIME = re.compile(DATE_TIME_PATTERN)
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclasses.dataclass(frozen=True)
class AuditQuery:
    """Which entries a page holds: all conditions must hold; ``before`` is the ``next`` of the
    page before (entries with a lower seq)."""

    actor: Optional[str] = None
    action: Optional[str] = None
    since: Optional[int] = None  # epoch ms, inclusive
    until: Optional[int] = None  # epoch ms, inclusive
    limit: int = 50
    before: Optional[int] = None


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year, 0 included)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_time(raw: str, key: str) -> int:
    """An RFC 3339 date-time (``2026-12-02T08:00:00Z``, an offset, a fraction) to epoch ms.
    Every value the format allows is taken, year 0000 and a leap second (:60) included."""
    if not _DATE_TIME.match(raw):
        raise BadRequest("%s must be a date-time like 2026-12-02T08:00:00Z" % key)
    year, month, day = int(raw[0:4]), int(raw[5:7]), int(raw[8:10])
    hour, minute, second = int(raw[11:13]), int(raw[14:16]), int(raw[17:19])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS[month - 1] + (month == 2 and leap):
        raise BadRequest("%s: no such date" % key)
    if hour > 23 or minute > 59 or second > 60:
        raise BadRequest("%s: no such time" % key)
    rest = raw[19:]
    millis = 0
    if rest.startswith("."):
        digits = re.match(r"\.([0-9]+)", rest)
        assert digits is not None
        millis = int((digits.group(1) + "00")[:3])
        rest = rest[len(digits.group(0)):]
    offset = 0
    if rest not in ("Z", "z"):
        sign = -1 if rest[0] == "-" else 1
        off_h, off_m = int(rest[1:3]), int(rest[4:6])
        if off_h > 23 or off_m > 59:
            raise BadRequest("%s: no such time offset" % key)
        offset = sign * (off_h * 60 + off_m) * 60
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    return seconds * 1000 + millis


def parse_query(actor: Optional[str], action: Optional[str], since: Optional[str], until: Optional[str],
                limit: Optional[str], next_: Optional[str]) -> AuditQuery:
    """The query from the raw query values (None or empty: not given); 400 when malformed."""
    if actor is not None and actor != "" and len(actor) > MAX_ACTOR:
        raise BadRequest("actor must be at most %d characters" % MAX_ACTOR)
    if action and action not in ACTION_WORDS:
        raise BadRequest("action must be one of %s" % ", ".join(ACTION_WORDS))
    return AuditQuery(actor=actor or None, action=action or None,
                      since=parse_time(since, "since") if since else None,
                      until=parse_time(until, "until") if until else None,
                      limit=query_int(limit, "limit", 50, 1, MAX_PAGE),
                      before=query_int_opt(next_, "next", 1, 10 ** 12))
