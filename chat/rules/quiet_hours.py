"""Quiet hours as a value: a school's time zone, the weekly windows during which a restricted
role may send, and its holidays (pure: no storage, no clock; README "Quiet hours").

A role with windows may send only inside one of them, in the school's local wall-clock time,
and never on a holiday (a local date inside a holiday's range). A role without windows is not
restricted; admins never are. A window whose ``to`` is not after its ``from`` runs across
midnight into the next day (``22:00``-``02:00``); ``to`` may be ``24:00``.

Wall-clock times follow daylight-saving changes: ``07:30`` is 07:30 local time on both sides
of a change. A window starting at a local time a spring-forward change skips (``01:30`` in
Europe/London on the last Sunday of March) opens at the change itself; one starting at a time
an autumn change repeats opens at its first occurrence.

:func:`is_open` answers whether a role may send at an instant, :func:`opens_at` and
:func:`closes_at` when that next changes. Instants are aware datetimes; what is returned is in
the school's zone (its ``isoformat()`` carries the school's offset).
"""
from __future__ import annotations

import dataclasses
import datetime
import functools
import re
import zoneinfo
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from chat.errors import BadRequest

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: the roles quiet hours may restrict (admins always may send: announcements, emergencies)
RESTRICTABLE = ("student", "teacher")
#: the policy document's fields this module reads and writes
FIELDS = ("timeZone", "quietHours", "holidays")

MAX_WINDOWS = 50          # per role
MAX_HOLIDAYS = 100
MAX_HOLIDAY_DAYS = 366    # one holiday's length
MAX_NAME = 100            # a holiday's name
MAX_ZONE = 64
#: how far ahead the next opening is looked for (past the longest run of holidays this allows
#: in practice); beyond it a role is taken never to open
HORIZON_DAYS = 800

_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
# names ZoneInfo loads that are no place: the host's own zone and a placeholder
_NOT_ZONES = ("localtime", "Factory")
UTC = datetime.timezone.utc
_DAY = datetime.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Window:
    """Days of the week (0 = Monday) and local minutes of the day: ``start`` in 0..1439,
    ``end`` in 1..1440; ``end <= start`` runs across midnight."""

    days: Tuple[int, ...]
    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def view(self) -> Dict[str, Any]:
        return {"days": [DAYS[d] for d in self.days], "from": _hhmm(self.start), "to": _hhmm(self.end)}


@dataclasses.dataclass(frozen=True)
class Holiday:
    """Local dates ``first`` to ``last``, both included."""

    first: datetime.date
    last: datetime.date
    name: str = ""

    def view(self) -> Dict[str, Any]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(), "name": self.name}


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A school's time zone, its windows per restricted role and its holidays."""

    zone: str = "UTC"
    windows: Tuple[Tuple[str, Tuple[Window, ...]], ...] = ()
    holidays: Tuple[Holiday, ...] = ()
    #: the school chose its zone (False: the server's default applies, and follows it)
    zone_chosen: bool = False

    def restricts(self, role: str) -> bool:
        """Whether quiet hours apply to this role at all (it has windows)."""
        return any(r == role for r, _ in self.windows)

    def windows_of(self, role: str) -> Tuple[Window, ...]:
        for r, windows in self.windows:
            if r == role:
                return windows
        return ()

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return _zone(self.zone)

    def view(self) -> Dict[str, Any]:
        """The fields as clients see them (and as stored)."""
        return {"timeZone": self.zone,
                "quietHours": {role: [w.view() for w in windows] for role, windows in self.windows},
                "holidays": [h.view() for h in self.holidays]}

    def stored(self) -> Dict[str, Any]:
        """The fields as stored: the zone only when the school chose one."""
        out = self.view()
        if not self.zone_chosen:
            del out["timeZone"]
        return out

    def changed(self, body: Mapping[str, Any]) -> "Schedule":
        """This schedule with those of :data:`FIELDS` that ``body`` has replaced (each
        validated; 400 naming what is wrong)."""
        out = self
        if "timeZone" in body:
            out = dataclasses.replace(out, zone=parse_zone(body["timeZone"]), zone_chosen=True)
        if "quietHours" in body:
            out = dataclasses.replace(out, windows=parse_windows(body["quietHours"]))
        if "holidays" in body:
            out = dataclasses.replace(out, holidays=parse_holidays(body["holidays"]))
        return out

    @classmethod
    def from_stored(cls, doc: Mapping[str, Any], default: "Schedule") -> "Schedule":
        """The stored fields over ``default`` (one that no longer parses keeps the default)."""
        out = default
        for field in FIELDS:
            if field in doc:
                try:
                    out = out.changed({field: doc[field]})
                except BadRequest:
                    pass
        return out


# ---------------------------------------------------------------------- parsing
def parse_zone(value: Any) -> str:
    """An IANA time zone name this machine knows (``Europe/London``, ``UTC``)."""
    if (not isinstance(value, str) or len(value) > MAX_ZONE or not _ZONE.match(value)
            or value in _NOT_ZONES):
        raise BadRequest("timeZone must be an IANA time zone name such as Europe/London")
    try:
        _zone(value)
    except (ValueError, KeyError, OSError, UnicodeError):
        raise BadRequest("timeZone %r is not a known IANA time zone" % value) from None
    return value


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _minutes(value: Any, where: str, end: bool) -> int:
    if end and value == "24:00":
        return 1440
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise BadRequest("%s must be a time HH:MM from 00:00 to 23:59%s, not %s"
                         % (where, " (or 24:00)" if end else "", _show(value)))
    return int(match.group(1)) * 60 + int(match.group(2))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_window(value: Any, where: str) -> Window:
    """``{"days": ["mon", ...], "from": "07:30", "to": "16:00"}``."""
    if not isinstance(value, dict) or set(value) != {"days", "from", "to"}:
        raise BadRequest("%s must be an object with exactly days, from and to" % where)
    days = value["days"]
    if (not isinstance(days, list) or not days or len(days) > 7
            or not all(isinstance(d, str) and d in DAYS for d in days)):
        raise BadRequest("%s.days must be a non-empty list of %s" % (where, ", ".join(DAYS)))
    if len(set(days)) != len(days):
        raise BadRequest("%s.days names a day twice" % where)
    start = _minutes(value["from"], where + ".from", False)
    end = _minutes(value["to"], where + ".to", True)
    if start == end:
        raise BadRequest("%s is empty: from and to are the same time" % where)
    return Window(tuple(sorted(DAYS.index(d) for d in days)), start, end)


def _week_spans(window: Window) -> List[Tuple[int, int]]:
    """The window's minutes of the week (Monday 00:00 = 0), a span past Sunday wrapped."""
    week = 7 * 1440
    spans: List[Tuple[int, int]] = []
    for day in window.days:
        a = day * 1440 + window.start
        b = day * 1440 + window.end + (1440 if window.overnight else 0)
        if b > week:
            spans += [(a, week), (0, b - week)]
        else:
            spans.append((a, b))
    return spans


def parse_windows(value: Any) -> Tuple[Tuple[str, Tuple[Window, ...]], ...]:
    """``{"student": [window, ...], ...}``: per restricted role, windows that do not overlap
    (they may touch). An empty object restricts no one."""
    if not isinstance(value, dict):
        raise BadRequest("quietHours must be an object of roles (%s) to lists of windows" % ", ".join(RESTRICTABLE))
    out: List[Tuple[str, Tuple[Window, ...]]] = []
    for role in sorted(value):
        if role not in RESTRICTABLE:
            raise BadRequest("quietHours: %s is not a role quiet hours restrict (%s; admins may always send)"
                             % (_show(role), ", ".join(RESTRICTABLE)))
        items = value[role]
        if not isinstance(items, list) or not items or len(items) > MAX_WINDOWS:
            raise BadRequest("quietHours.%s must be a list of 1 to %d windows (leave the role out to not "
                             "restrict it)" % (role, MAX_WINDOWS))
        windows = [parse_window(item, "quietHours.%s[%d]" % (role, i)) for i, item in enumerate(items)]
        spans = sorted((span, i) for i, w in enumerate(windows) for span in _week_spans(w))
        for (first, i), (second, j) in zip(spans, spans[1:], strict=False):
            if second[0] < first[1]:
                raise BadRequest("quietHours.%s[%d] and quietHours.%s[%d] overlap" % (role, min(i, j), role, max(i, j)))
        out.append((role, tuple(windows)))
    return tuple(out)


def _date(value: Any, where: str) -> datetime.date:
    if isinstance(value, str) and _DATE.match(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise BadRequest("%s must be a date YYYY-MM-DD, not %s" % (where, _show(value)))


def parse_holidays(value: Any) -> Tuple[Holiday, ...]:
    """``[{"from": "2026-12-21", "to": "2027-01-03", "name": "Winter break"}, ...]`` (name
    optional; holidays may overlap: they close the union of their dates)."""
    if not isinstance(value, list) or len(value) > MAX_HOLIDAYS:
        raise BadRequest("holidays must be a list of at most %d date ranges" % MAX_HOLIDAYS)
    out: List[Holiday] = []
    for i, item in enumerate(value):
        where = "holidays[%d]" % i
        if not isinstance(item, dict) or not {"from", "to"} <= set(item) <= {"from", "to", "name"}:
            raise BadRequest("%s must be an object with from, to and optionally name" % where)
        first, last = _date(item["from"], where + ".from"), _date(item["to"], where + ".to")
        if last < first:
            raise BadRequest("%s ends before it starts" % where)
        if (last - first).days + 1 > MAX_HOLIDAY_DAYS:
            raise BadRequest("%s is longer than %d days" % (where, MAX_HOLIDAY_DAYS))
        name = item.get("name", "")
        if not isinstance(name, str) or len(name.strip()) > MAX_NAME or any(ord(c) < 32 for c in name):
            raise BadRequest("%s.name must be text of at most %d characters" % (where, MAX_NAME))
        out.append(Holiday(first, last, name.strip()))
    return tuple(sorted(out, key=lambda h: (h.first, h.last, h.name)))


def _hhmm(minutes: int) -> str:
    return "%02d:%02d" % divmod(minutes, 60)


# ---------------------------------------------------------------------- asking
def holiday_on(schedule: Schedule, day: datetime.date) -> Optional[Holiday]:
    """The holiday covering this local date, if any."""
    for holiday in schedule.holidays:
        if holiday.first <= day <= holiday.last:
            return holiday
    return None


def _open_at_wall(schedule: Schedule, windows: Sequence[Window], wall: datetime.datetime) -> bool:
    if holiday_on(schedule, wall.date()) is not None:
        return False
    day = wall.weekday()
    minute = wall.hour * 60 + wall.minute + (wall.second + wall.microsecond / 1e6) / 60.0
    for w in windows:
        if w.overnight:
            if (day in w.days and minute >= w.start) or ((day - 1) % 7 in w.days and minute < w.end):
                return True
        elif day in w.days and w.start <= minute < w.end:
            return True
    return False


def is_open(schedule: Schedule, role: str, instant: datetime.datetime) -> bool:
    """Whether ``role`` may send at ``instant`` (an aware datetime)."""
    if not schedule.restricts(role):
        return True
    wall = instant.astimezone(schedule.tz).replace(tzinfo=None)
    return _open_at_wall(schedule, schedule.windows_of(role), wall)


def local_instant(tz: zoneinfo.ZoneInfo, wall: datetime.datetime) -> datetime.datetime:
    """The first instant (UTC) at which the local clock shows ``wall`` or later: ``wall`` itself
    (its first occurrence when a change repeats it), or the change that skips over it."""
    candidates = [wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
    shown = [c for c in candidates if c.astimezone(tz).replace(tzinfo=None) == wall]
    if shown:
        return min(shown)
    # in a gap: the change lies between the two readings; find its minute
    lo, hi = min(candidates), max(candidates)
    while hi - lo > datetime.timedelta(minutes=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(second=0, microsecond=0)
        if mid <= lo:
            break
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def _changes_on(schedule: Schedule, windows: Sequence[Window], day: datetime.date) -> List[datetime.datetime]:
    """Every instant of local date ``day`` at which the answer may change: the day's start
    (a holiday ends), window starts and ends, and an offset change (a repeated hour)."""
    tz = schedule.tz
    midnight = datetime.datetime.combine(day, datetime.time())
    out = [local_instant(tz, midnight)]
    weekday = day.weekday()
    for w in windows:
        if weekday in w.days:
            for minute in (w.start, w.end):
                if minute < 1440:
                    out.append(local_instant(tz, midnight + datetime.timedelta(minutes=minute)))
        if w.overnight and (weekday - 1) % 7 in w.days and 0 < w.end < 1440:
            out.append(local_instant(tz, midnight + datetime.timedelta(minutes=w.end)))
    start, end = out[0], local_instant(tz, midnight + _DAY)
    if start.astimezone(tz).utcoffset() != (end - datetime.timedelta(seconds=1)).astimezone(tz).utcoffset():
        lo, hi = start, end
        before = start.astimezone(tz).utcoffset()
        while hi - lo > datetime.timedelta(minutes=1):
            mid = (lo + (hi - lo) / 2).replace(second=0, microsecond=0)
            if mid <= lo:
                break
            if mid.astimezone(tz).utcoffset() == before:
                lo = mid
            else:
                hi = mid
        out.append(hi)
    return sorted(out)


def _next_change(schedule: Schedule, role: str, instant: datetime.datetime, to_open: bool
                 ) -> Optional[datetime.datetime]:
    windows = schedule.windows_of(role)
    tz = schedule.tz
    instant = instant.astimezone(UTC)  # compared with UTC instants (never across zones: PEP 495)
    day = instant.astimezone(tz).date() - _DAY
    for _ in range(HORIZON_DAYS):
        for moment in _changes_on(schedule, windows, day):
            if moment > instant and _open_at_wall(schedule, windows,
                                                  moment.astimezone(tz).replace(tzinfo=None)) == to_open:
                return moment.astimezone(tz)
        day += _DAY
    return None


def opens_at(schedule: Schedule, role: str, instant: datetime.datetime) -> Optional[datetime.datetime]:
    """When ``role`` may next send, in the school's zone: ``instant`` itself when it may now,
    None when it never does within :data:`HORIZON_DAYS` (holidays cover them all)."""
    if is_open(schedule, role, instant):
        return instant.astimezone(schedule.tz)
    return _next_change(schedule, role, instant, True)


def closes_at(schedule: Schedule, role: str, instant: datetime.datetime) -> Optional[datetime.datetime]:
    """When ``role`` next stops being able to send, in the school's zone: ``instant`` itself
    when it may not now, None when it is not restricted."""
    if not schedule.restricts(role):
        return None
    if not is_open(schedule, role, instant):
        return instant.astimezone(schedule.tz)
    return _next_change(schedule, role, instant, False)


def status(schedule: Schedule, role: str, instant: datetime.datetime) -> Dict[str, Any]:
    """Whether ``role`` may send now and when that changes (ISO 8601 with the school's offset,
    and epoch ms): ``{open, opensAt, opensAtMs, closesAt, closesAtMs, holiday}``."""
    now_open = is_open(schedule, role, instant)
    opens = None if now_open else opens_at(schedule, role, instant)
    closes = closes_at(schedule, role, instant) if now_open else None
    holiday = None
    if schedule.restricts(role):
        found = holiday_on(schedule, instant.astimezone(schedule.tz).date())
        holiday = found.name if found is not None else None
    return {"open": now_open, "opensAt": iso_local(opens), "opensAtMs": epoch_ms(opens),
            "closesAt": iso_local(closes), "closesAtMs": epoch_ms(closes), "holiday": holiday}


def iso_local(moment: Optional[datetime.datetime]) -> Optional[str]:
    """``2026-03-30T07:30:00+01:00`` (seconds kept, no fraction)."""
    return None if moment is None else moment.replace(microsecond=0).isoformat()


def epoch_ms(moment: Optional[datetime.datetime]) -> Optional[int]:
    return None if moment is None else int(round(moment.timestamp() * 1000))


def instant_of(epoch_seconds: float) -> datetime.datetime:
    """An epoch time (a clock's ``time()``) as an aware datetime."""
    return datetime.datetime.fromtimestamp(epoch_seconds, UTC)
