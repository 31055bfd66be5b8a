"""Quiet hours as a value (chat/rules/quiet_hours.py): parsing, is_open, opens_at, closes_at,
table-driven, across daylight-saving changes, holidays and midnight."""
from __future__ import annotations

import datetime
from typing import Any, Dict, Optional

import pytest

from chat.errors import BadRequest
from chat.rules.quiet_hours import (
    Schedule,
    closes_at,
    epoch_ms,
    is_open,
    iso_local,
    local_instant,
    opens_at,
    parse_zone,
    status,
)

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
SCHOOL_DAY = {"student": [{"days": WEEKDAYS, "from": "07:30", "to": "16:00"}]}
WINTER = [{"from": "2026-12-21", "to": "2027-01-03", "name": "Winter break"}]


def schedule(zone: str, quiet: Any = None, holidays: Any = None) -> Schedule:
    body: Dict[str, Any] = {"timeZone": zone, "quietHours": SCHOOL_DAY if quiet is None else quiet}
    if holidays is not None:
        body["holidays"] = holidays
    return Schedule().changed(body)


def utc(text: str) -> datetime.datetime:
    """An instant written in UTC (``2026-03-30T06:30``)."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc)


LONDON = schedule("Europe/London")
NEW_YORK = schedule("America/New_York")
PHNOM_PENH = schedule("Asia/Phnom_Penh")
HOLIDAYS = schedule("Europe/London", holidays=WINTER)
OVERNIGHT = schedule("UTC", {"student": [{"days": ["fri", "sat"], "from": "22:00", "to": "02:00"},
                                         {"days": ["sun"], "from": "23:00", "to": "01:00"}]})
SPRING_GAP = schedule("Europe/London", {"student": [{"days": ["sun"], "from": "01:30", "to": "03:00"}]})
AUTUMN_REPEAT = schedule("Europe/London", {"student": [{"days": ["sun"], "from": "01:00", "to": "01:30"}]})
TO_MIDNIGHT = schedule("UTC", {"student": [{"days": ["mon"], "from": "20:00", "to": "24:00"}]})

# (why, schedule, instant in UTC, open?, opensAt in the school's zone or None when open)
CASES = [
    ("London winter: before the window", LONDON, "2026-03-23T07:29", False, "2026-03-23T07:30:00+00:00"),
    ("London winter: the window's first minute", LONDON, "2026-03-23T07:30", True, None),
    ("London winter: its last minute", LONDON, "2026-03-23T15:59:59", True, None),
    ("London winter: the end is closed", LONDON, "2026-03-23T16:00", False, "2026-03-24T07:30:00+00:00"),
    ("London: the weekend", LONDON, "2026-03-28T12:00", False, "2026-03-30T07:30:00+01:00"),
    ("London: Friday evening before the spring change opens in summer time", LONDON, "2026-03-27T16:30", False,
     "2026-03-30T07:30:00+01:00"),
    ("London summer: 07:00 local is 06:00 UTC, closed", LONDON, "2026-03-30T06:00", False,
     "2026-03-30T07:30:00+01:00"),
    ("London summer: 07:30 local is 06:30 UTC", LONDON, "2026-03-30T06:30", True, None),
    ("London summer: 16:00 local is 15:00 UTC, closed", LONDON, "2026-03-30T15:00", False,
     "2026-03-31T07:30:00+01:00"),
    ("London: Friday before the autumn change opens in winter time", LONDON, "2026-10-23T16:00", False,
     "2026-10-26T07:30:00+00:00"),
    ("London: the autumn change's Sunday", LONDON, "2026-10-25T01:30", False, "2026-10-26T07:30:00+00:00"),
    ("London after the autumn change: 07:30 UTC is 07:30 local", LONDON, "2026-10-26T07:30", True, None),
    ("New York before its spring change (8 March)", NEW_YORK, "2026-03-06T21:00", False,
     "2026-03-09T07:30:00-04:00"),
    ("New York summer: 07:30 EDT is 11:30 UTC", NEW_YORK, "2026-03-09T11:30", True, None),
    ("New York summer: 11:29 UTC is closed", NEW_YORK, "2026-03-09T11:29", False, "2026-03-09T07:30:00-04:00"),
    ("New York after its autumn change (1 November)", NEW_YORK, "2026-10-30T21:00", False,
     "2026-11-02T07:30:00-05:00"),
    ("New York winter: 07:30 EST is 12:30 UTC", NEW_YORK, "2026-11-02T12:30", True, None),
    ("Phnom Penh (UTC+7, no summer time): 07:00 local", PHNOM_PENH, "2026-03-23T00:00", False,
     "2026-03-23T07:30:00+07:00"),
    ("Phnom Penh: 07:30 local is 00:30 UTC", PHNOM_PENH, "2026-03-23T00:30", True, None),
    ("Phnom Penh: Friday 16:00 local opens Monday", PHNOM_PENH, "2026-03-27T09:00", False,
     "2026-03-30T07:30:00+07:00"),
    ("a holiday is closed all day", HOLIDAYS, "2026-12-22T10:00", False, "2027-01-04T07:30:00+00:00"),
    ("the holiday's last day too", HOLIDAYS, "2027-01-03T10:00", False, "2027-01-04T07:30:00+00:00"),
    ("before the holiday, the next opening is after it", HOLIDAYS, "2026-12-18T16:30", False,
     "2027-01-04T07:30:00+00:00"),
    ("the day before the holiday is open", HOLIDAYS, "2026-12-18T10:00", True, None),
    ("overnight: Friday night", OVERNIGHT, "2026-03-27T23:00", True, None),
    ("overnight: Saturday 01:00 belongs to Friday's window", OVERNIGHT, "2026-03-28T01:00", True, None),
    ("overnight: Saturday 02:00 is closed", OVERNIGHT, "2026-03-28T02:00", False, "2026-03-28T22:00:00+00:00"),
    ("overnight: Sunday 01:59 belongs to Saturday's window", OVERNIGHT, "2026-03-29T01:59", True, None),
    ("overnight: Sunday's window runs into Monday (across the week's end)", OVERNIGHT, "2026-03-30T00:30",
     True, None),
    ("overnight: Monday 01:00 is closed until Friday", OVERNIGHT, "2026-03-30T01:00", False,
     "2026-04-03T22:00:00+00:00"),
    ("a start the spring change skips opens at the change (02:00 BST)", SPRING_GAP, "2026-03-29T00:30", False,
     "2026-03-29T02:00:00+01:00"),
    ("inside that window after the change", SPRING_GAP, "2026-03-29T01:30", True, None),
    ("it closes at 03:00 BST", SPRING_GAP, "2026-03-29T02:00", False, "2026-04-05T01:30:00+01:00"),
    ("a repeated hour: 01:00-01:30 BST is open", AUTUMN_REPEAT, "2026-10-25T00:10", True, None),
    ("a repeated hour: open again at 01:00 GMT", AUTUMN_REPEAT, "2026-10-25T00:40", False,
     "2026-10-25T01:00:00+00:00"),
    ("a repeated hour: 01:10 GMT is open too", AUTUMN_REPEAT, "2026-10-25T01:10", True, None),
    ("to 24:00: 23:59 is open", TO_MIDNIGHT, "2026-03-23T23:59", True, None),
    ("to 24:00: Tuesday 00:00 is closed", TO_MIDNIGHT, "2026-03-24T00:00", False, "2026-03-30T20:00:00+00:00"),
]


@pytest.mark.parametrize("why,sched,at,open_now,opens", CASES, ids=[c[0] for c in CASES])
def test_is_open_and_opens_at(why: str, sched: Schedule, at: str, open_now: bool, opens: Optional[str]) -> None:
    instant = utc(at)
    assert is_open(sched, "student", instant) is open_now
    got = opens_at(sched, "student", instant)
    assert got is not None
    # (aware datetimes of different zones compare oddly in a repeated hour: compare timestamps,
    # and step back in UTC, not in wall-clock time)
    if open_now:
        assert got.timestamp() == instant.timestamp()
    else:
        assert iso_local(got) == opens
        assert is_open(sched, "student", got), "the answer must be open"
        before = got.astimezone(datetime.timezone.utc) - datetime.timedelta(seconds=1)
        assert not is_open(sched, "student", before), "and the first such instant"


CLOSES = [
    ("London: today's end", LONDON, "2026-03-23T10:00", "2026-03-23T16:00:00+00:00"),
    ("London summer: today's end", LONDON, "2026-03-30T10:00", "2026-03-30T16:00:00+01:00"),
    ("overnight: Friday's window closes Saturday 02:00", OVERNIGHT, "2026-03-27T23:00", "2026-03-28T02:00:00+00:00"),
    ("to 24:00 closes at midnight", TO_MIDNIGHT, "2026-03-23T21:00", "2026-03-24T00:00:00+00:00"),
    ("an overnight window is cut by a holiday at midnight",
     schedule("UTC", {"student": [{"days": ["sun"], "from": "22:00", "to": "02:00"}]},
              [{"from": "2026-03-30", "to": "2026-03-30"}]), "2026-03-29T23:00", "2026-03-30T00:00:00+00:00"),
]


@pytest.mark.parametrize("why,sched,at,closes", CLOSES, ids=[c[0] for c in CLOSES])
def test_closes_at(why: str, sched: Schedule, at: str, closes: str) -> None:
    got = closes_at(sched, "student", utc(at))
    assert iso_local(got) == closes
    assert got is not None and not is_open(sched, "student", got)
    assert is_open(sched, "student", got.astimezone(datetime.timezone.utc) - datetime.timedelta(seconds=1))


def test_unrestricted_roles() -> None:
    night = utc("2026-03-23T02:00")
    for role in ("teacher", "admin"):
        assert is_open(LONDON, role, night)
        assert opens_at(LONDON, role, night).timestamp() == night.timestamp()  # type: ignore[union-attr]
        assert closes_at(LONDON, role, night) is None
    assert is_open(Schedule(), "student", night), "no windows: no one is restricted"
    teachers = schedule("UTC", {"teacher": [{"days": ["mon"], "from": "06:00", "to": "20:00"}]})
    assert not is_open(teachers, "teacher", night) and is_open(teachers, "student", night)


def test_never_opens_within_the_horizon() -> None:
    closed = schedule("UTC", holidays=[{"from": "2026-01-01", "to": "2026-12-31"},
                                       {"from": "2027-01-01", "to": "2027-12-31"},
                                       {"from": "2028-01-01", "to": "2028-12-31"}])
    assert opens_at(closed, "student", utc("2026-03-23T10:00")) is None


def test_status_view() -> None:
    closed = status(HOLIDAYS, "student", utc("2026-12-22T10:00"))
    assert closed == {"open": False, "opensAt": "2027-01-04T07:30:00+00:00",
                      "opensAtMs": epoch_ms(utc("2027-01-04T07:30")), "closesAt": None, "closesAtMs": None,
                      "holiday": "Winter break"}
    opened = status(LONDON, "student", utc("2026-03-30T10:00"))
    assert opened["open"] is True and opened["closesAt"] == "2026-03-30T16:00:00+01:00"
    assert opened["closesAtMs"] == epoch_ms(utc("2026-03-30T15:00")) and opened["holiday"] is None
    assert status(LONDON, "teacher", utc("2026-03-30T02:00"))["open"] is True


def test_local_instant_gap_and_repeat() -> None:
    tz = LONDON.tz
    # 01:30 on 29 March 2026 does not exist in London: the first instant showing it or later is 01:00 UTC
    assert local_instant(tz, datetime.datetime(2026, 3, 29, 1, 30)) == utc("2026-03-29T01:00")
    # 01:30 on 25 October 2026 happens twice: the first time (BST)
    assert local_instant(tz, datetime.datetime(2026, 10, 25, 1, 30)) == utc("2026-10-25T00:30")


def test_view_round_trips() -> None:
    body = {"timeZone": "Europe/London",
            "quietHours": {"student": [{"days": ["mon", "tue"], "from": "07:30", "to": "16:00"},
                                       {"days": ["fri"], "from": "22:00", "to": "24:00"}]},
            "holidays": [{"from": "2026-12-21", "to": "2027-01-03", "name": "Winter break"}]}
    sched = Schedule().changed(body)
    assert sched.view() == body
    assert Schedule().changed(sched.view()) == sched
    assert Schedule.from_stored(sched.view(), Schedule()) == sched
    # a stored field that no longer parses keeps the default, the others apply
    assert Schedule.from_stored(dict(sched.view(), timeZone="Nowhere/Atlantis"), Schedule()).zone == "UTC"


def window(**fields: Any) -> Dict[str, Any]:
    return {"quietHours": {"student": [dict({"days": ["mon"], "from": "07:30", "to": "16:00"}, **fields)]}}


BAD = [
    ("unknown zone", {"timeZone": "Mars/Olympus_Mons"}, "not a known IANA time zone"),
    ("a zone's folder", {"timeZone": "America"}, "not a known IANA time zone"),
    ("the host's zone", {"timeZone": "localtime"}, "IANA time zone name"),
    ("a path", {"timeZone": "../etc/passwd"}, "IANA time zone name"),
    ("a number", {"timeZone": 7}, "IANA time zone name"),
    ("quietHours not an object", {"quietHours": []}, "quietHours must be an object"),
    ("admins are never restricted", {"quietHours": {"admin": []}}, "admins may always send"),
    ("an unknown role", {"quietHours": {"parent": []}}, "not a role"),
    ("an empty list", {"quietHours": {"student": []}}, "1 to 50 windows"),
    ("a window with an extra key", window(note="x"), "exactly days, from and to"),
    ("a time without leading zero", window(**{"from": "7:30"}), "quietHours.student[0].from must be a time"),
    ("hour 24 as a start", window(**{"from": "24:00"}), "from must be a time"),
    ("minute 60", window(to="16:60"), "quietHours.student[0].to must be a time"),
    ("hour 25", window(to="25:00"), "to must be a time"),
    ("seconds", window(to="16:00:00"), "to must be a time"),
    ("a number as time", window(to=1600), "to must be a time"),
    ("an empty window", window(to="07:30"), "is empty"),
    ("no days", window(days=[]), "days must be a non-empty list"),
    ("a day's full name", window(days=["monday"]), "days must be a non-empty list"),
    ("a day twice", window(days=["mon", "mon"]), "names a day twice"),
    ("overlapping windows",
     {"quietHours": {"student": [{"days": ["mon"], "from": "07:30", "to": "12:00"},
                                 {"days": ["mon", "tue"], "from": "11:00", "to": "16:00"}]}},
     "quietHours.student[0] and quietHours.student[1] overlap"),
    ("an overnight window overlapping the next morning",
     {"quietHours": {"student": [{"days": ["sun"], "from": "22:00", "to": "08:00"},
                                 {"days": ["mon"], "from": "07:30", "to": "16:00"}]}}, "overlap"),
    ("holidays not a list", {"holidays": {}}, "holidays must be a list"),
    ("a holiday without to", {"holidays": [{"from": "2026-12-21"}]}, "holidays[0] must be an object"),
    ("a holiday ending before it starts", {"holidays": [{"from": "2026-12-21", "to": "2026-12-20"}]},
     "ends before it starts"),
    ("a date that does not exist", {"holidays": [{"from": "2026-02-30", "to": "2026-03-01"}]},
     "holidays[0].from must be a date"),
    ("a date with a time", {"holidays": [{"from": "2026-02-03T00:00", "to": "2026-03-01"}]}, "must be a date"),
    ("a holiday over a year", {"holidays": [{"from": "2026-01-01", "to": "2027-06-01"}]}, "longer than 366 days"),
    ("a holiday name not text", {"holidays": [{"from": "2026-12-21", "to": "2026-12-22", "name": 3}]},
     "name must be text"),
]


@pytest.mark.parametrize("why,body,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused(why: str, body: Dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        Schedule().changed(body)
    assert message in caught.value.message


def test_touching_windows_and_zones_accepted() -> None:
    sched = Schedule().changed({"quietHours": {"student": [
        {"days": ["mon"], "from": "07:30", "to": "12:00"}, {"days": ["mon"], "from": "12:00", "to": "16:00"},
        {"days": ["sun"], "from": "22:00", "to": "07:30"}]}})
    assert is_open(sched, "student", utc("2026-03-23T12:00"))
    assert is_open(sched, "student", utc("2026-03-23T07:00"))
    for zone in ("UTC", "Europe/London", "America/New_York", "Asia/Phnom_Penh", "America/Argentina/Buenos_Aires",
                 "Etc/GMT+5"):
        assert parse_zone(zone) == zone


def test_zones_come_from_the_tzdata_package_without_a_system_database() -> None:
    """requirements.txt pins tzdata: with no system zone folder the zones still load."""
    import zoneinfo
    saved = zoneinfo.TZPATH
    zoneinfo.reset_tzpath(to=[])
    try:
        zone = zoneinfo.ZoneInfo.no_cache("Europe/London")
        assert datetime.datetime(2026, 7, 1, tzinfo=zone).utcoffset() == datetime.timedelta(hours=1)
    finally:
        zoneinfo.reset_tzpath(to=saved)
