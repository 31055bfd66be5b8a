"""Quiet hours (README "Quiet hours"): the school policy's timeZone, quietHours and holidays,
their validation and audit, and their enforcement on REST and socket sends, edits and typing,
driven by the injected clock across a daylight-saving change (real server, real nx-27017)."""
from __future__ import annotations

import datetime
from typing import Any, Dict

import pytest

from chat.clock import ManualClock

pytestmark = [pytest.mark.usefixtures("school"), pytest.mark.manual_clock]

POLICY = "/api/schools/s1/policy"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
SCHOOL_DAY = {"student": [{"days": WEEKDAYS, "from": "07:30", "to": "16:00"}]}
LONDON = {"timeZone": "Europe/London", "quietHours": SCHOOL_DAY}
# Monday 23 March 2026, 06:00 in London (GMT): before school; the clocks go forward on the 29th
MONDAY_EARLY = "2026-03-23T06:00:00Z"


def epoch(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture
def clock() -> ManualClock:
    """The server's clock, starting on a Monday of March 2026 (in the past, so the real tokens
    of the tests stay valid); tests move it forward with :func:`at`."""
    return ManualClock(epoch=epoch(MONDAY_EARLY))


def at(clock: ManualClock, when: str) -> None:
    """Move the clock forward to ``when`` (ISO 8601 UTC)."""
    step = epoch(when) - clock.time()
    assert step >= 0, "the clock only moves forward"
    clock.advance(step)


async def set_policy(api: Any, body: Dict[str, Any]) -> Dict[str, Any]:
    status, data = await api.put(POLICY, "a1", body)
    assert status == 200, (status, data)
    return data["data"]["policy"]


async def send(api: Any, user: str, conversation_id: str, text: str) -> Any:
    return await api.post("/api/conversations/%s/messages" % conversation_id, user, {"text": text})


def quiet(result: Any, opens_at: Any) -> bool:
    """A REST refusal with quiet_hours, saying when chat opens (ISO with offset and epoch ms)."""
    status, data = result
    error = data.get("error", {})
    ok = status == 403 and error.get("code") == "quiet_hours" and error.get("opensAt") == opens_at
    if ok and opens_at is not None:
        ok = error["opensAtMs"] == int(epoch(opens_at) * 1000) and "Quiet hours" in error["message"]
    return ok


async def history_texts(api: Any, user: str, conversation_id: str) -> Any:
    status, data = await api.get("/api/conversations/%s/messages" % conversation_id, user)
    assert status == 200, data
    return [m["text"] for m in data["data"] if m.get("type") != "system"]


# ------------------------------------------------------------------ REST
@pytest.mark.gen_test
async def test_rest_sends_of_a_student_outside_the_window_are_refused_staff_still_post(api, clock):
    conv = await api.conversation("st1", "group", ["st2", "t1"], title="Homework")
    await set_policy(api, LONDON)
    assert quiet(await send(api, "st1", conv["id"], "anyone up?"), "2026-03-23T07:30:00+00:00")
    # staff may still post (and admins always)
    assert (await send(api, "t1", conv["id"], "school starts at 07:30"))[0] == 201
    klass = await api.conversation("a1", "class", [], classId="c1")
    assert (await send(api, "a1", klass["id"], "snow day tomorrow"))[0] == 201
    assert quiet(await send(api, "st2", klass["id"], "yay"), "2026-03-23T07:30:00+00:00")
    assert await history_texts(api, "st1", conv["id"]) == ["school starts at 07:30"]  # nothing stored
    at(clock, "2026-03-23T07:29:59Z")
    assert quiet(await send(api, "st1", conv["id"], "now?"), "2026-03-23T07:30:00+00:00")
    at(clock, "2026-03-23T07:30:00Z")
    sent = await api.send("st1", conv["id"], "good morning")
    at(clock, "2026-03-23T16:00:00Z")
    # an edit is a send: closed again until Tuesday 07:30
    status, data = await api.patch("/api/messages/%s" % sent["id"], "st1", {"text": "good evening"})
    assert quiet((status, data), "2026-03-24T07:30:00+00:00")
    assert await history_texts(api, "st2", conv["id"]) == ["school starts at 07:30", "good morning"]


@pytest.mark.gen_test
async def test_get_policy_tells_the_caller_whether_it_may_send_now(api, clock):
    await set_policy(api, LONDON)
    status, data = await api.get(POLICY, "st1")
    assert status == 200 and data["data"]["policy"]["quietHours"] == SCHOOL_DAY
    assert data["data"]["policy"]["timeZone"] == "Europe/London"
    assert data["data"]["sending"] == {
        "open": False, "opensAt": "2026-03-23T07:30:00+00:00", "opensAtMs": int(epoch("2026-03-23T07:30:00Z") * 1000),
        "closesAt": None, "closesAtMs": None, "holiday": None}
    assert (await api.get(POLICY, "t1"))[1]["data"]["sending"]["open"] is True
    at(clock, "2026-03-23T09:00:00Z")
    sending = (await api.get(POLICY, "st1"))[1]["data"]["sending"]
    assert sending["open"] is True and sending["closesAt"] == "2026-03-23T16:00:00+00:00"


# ------------------------------------------------------------------ sockets
@pytest.mark.gen_test
async def test_socket_sends_and_edits_are_refused_with_opens_at(api, ws, clock):
    conv = await api.conversation("st1", "group", ["st2", "t1"], title="Homework")
    at(clock, "2026-03-23T08:00:00Z")
    student, other, teacher = await ws("st1"), await ws("st2"), await ws("t1")
    sent = await student.ok("message:send", {"conversationId": conv["id"], "text": "before the policy"})
    await other.expect("message:new")
    await set_policy(api, dict(LONDON, quietHours={"student": [{"days": WEEKDAYS, "from": "07:30",
                                                                "to": "08:00"}]}))
    reply = await student.request("message:send", {"conversationId": conv["id"], "text": "late"})
    assert reply["ok"] is False and reply["error"]["code"] == "quiet_hours"
    assert reply["error"]["opensAt"] == "2026-03-24T07:30:00+00:00"
    assert reply["error"]["opensAtMs"] == int(epoch("2026-03-24T07:30:00Z") * 1000)
    reply = await student.request("message:edit", {"messageId": sent["id"], "text": "edited late"})
    assert reply["error"]["code"] == "quiet_hours"
    await teacher.ok("message:send", {"conversationId": conv["id"], "text": "teachers may"})
    new = await other.expect("message:new")
    assert new["data"]["text"] == "teachers may"  # the student's refused send never reached anyone
    await other.none("message:new")
    await other.none("message:updated")
    # without a ref the refusal is an error push carrying the same fields
    student.send("message:send", {"conversationId": conv["id"], "text": "no ref"})
    pushed = await student.expect("error")
    assert pushed["error"]["code"] == "quiet_hours" and pushed["error"]["opensAt"] == "2026-03-24T07:30:00+00:00"


@pytest.mark.gen_test
async def test_typing_of_a_student_outside_the_window_is_dropped(api, ws, clock):
    conv = await api.conversation("st1", "group", ["st2", "t1"], title="Homework")
    await set_policy(api, LONDON)
    student, other, teacher = await ws("st1"), await ws("st2"), await ws("t1")
    assert await student.ok("typing:start", {"conversationId": conv["id"]}) == {}  # dropped, still ok
    await teacher.ok("typing:start", {"conversationId": conv["id"]})
    # the teacher's typing arrives after the student's would have: the student's never came
    assert (await other.expect("typing:start"))["data"]["userId"] == "t1"
    await other.none("typing:start", lambda f: f["data"]["userId"] == "st1")
    at(clock, "2026-03-23T07:30:00Z")
    await student.ok("typing:start", {"conversationId": conv["id"]})
    assert (await other.expect("typing:start", lambda f: f["data"]["userId"] == "st1"))["data"]["name"] == "Sam Student"
    # a conversation the student is not in is still refused as before
    reply = await student.request("typing:start", {"conversationId": "0" * 24})
    assert reply["error"]["code"] == "not_found"


# ------------------------------------------------------------------ holidays, teachers
@pytest.mark.gen_test
async def test_a_holiday_is_closed_all_day(api, clock):
    conv = await api.conversation("st1", "group", ["st2"], title="Revision")
    await set_policy(api, dict(LONDON, holidays=[{"from": "2026-03-24", "to": "2026-03-26", "name": "Spring break"}]))
    at(clock, "2026-03-23T10:00:00Z")
    assert (await send(api, "st1", conv["id"], "see you after the break"))[0] == 201
    at(clock, "2026-03-24T10:00:00Z")  # a Tuesday, inside the window, but a holiday
    result = await send(api, "st1", conv["id"], "bored")
    assert quiet(result, "2026-03-27T07:30:00+00:00") and "Spring break" in result[1]["error"]["message"]
    assert (await api.get(POLICY, "st2"))[1]["data"]["sending"]["holiday"] == "Spring break"
    at(clock, "2026-03-27T07:30:00Z")
    assert (await send(api, "st1", conv["id"], "back"))[0] == 201


@pytest.mark.gen_test
async def test_teachers_are_restricted_only_with_windows_of_their_own(api, clock):
    conv = await api.conversation("t1", "group", ["t2", "st1"], title="Staff and one")
    await set_policy(api, {"quietHours": {"teacher": [{"days": WEEKDAYS, "from": "07:00", "to": "18:00"}]}})
    assert quiet(await send(api, "t1", conv["id"], "early"), "2026-03-23T07:00:00+00:00")  # UTC: the default zone
    assert (await send(api, "st1", conv["id"], "students are not restricted"))[0] == 201


# ------------------------------------------------------------------ the policy document
@pytest.mark.gen_test
@pytest.mark.parametrize("body,words", [
    ({"timeZone": "Mars/Olympus_Mons"}, "not a known IANA time zone"),
    ({"timeZone": "../../etc/passwd"}, "IANA time zone name"),
    ({"timeZone": None}, "IANA time zone name"),
    ({"quietHours": {"student": [{"days": ["mon"], "from": "7:30", "to": "16:00"}]}}, "must be a time HH:MM"),
    ({"quietHours": {"student": [{"days": ["mon"], "from": "07:30", "to": "25:00"}]}}, "must be a time HH:MM"),
    ({"quietHours": {"student": [{"days": ["mon"], "from": "07:30", "to": "12:00"},
                                 {"days": ["mon"], "from": "11:00", "to": "16:00"}]}}, "overlap"),
    ({"quietHours": {"student": [{"days": ["someday"], "from": "07:30", "to": "16:00"}]}}, "days must be"),
    ({"quietHours": {"admin": [{"days": ["mon"], "from": "07:30", "to": "16:00"}]}}, "admins may always send"),
    ({"quietHours": "always"}, "quietHours must be an object"),
    ({"holidays": [{"from": "2026-12-21", "to": "2026-12-01"}]}, "ends before it starts"),
    ({"holidays": [{"from": "2026-13-01", "to": "2026-12-01"}]}, "must be a date"),
    ({"holidays": "christmas"}, "holidays must be a list"),
    # one bad field refuses the whole change, the good ones included
    ({"timeZone": "Europe/London", "studentDirect": "none", "holidays": [{"from": "x", "to": "y"}]}, "must be a date"),
])
async def test_a_bad_quiet_hours_change_is_400_and_changes_nothing(api, runtime, body, words):
    before = (await api.get(POLICY, "a1"))[1]["data"]["policy"]
    status, data = await api.put(POLICY, "a1", body)
    assert status == 400 and data["error"]["code"] == "bad_request" and words in data["error"]["message"], data
    assert (await api.get(POLICY, "a1"))[1]["data"]["policy"] == before
    assert await runtime.store.policies.changes_of("s1") == []
    assert (await runtime.store.audit.last("s1") or {}).get("action") in (None, "roster.import")


@pytest.mark.gen_test
async def test_a_change_is_stored_audited_and_pushed(api, ws, runtime):
    student = await ws("st1")
    holidays = [{"from": "2026-12-21", "to": "2027-01-03", "name": "Winter break"}]
    policy = await set_policy(api, dict(LONDON, holidays=holidays))
    assert policy["timeZone"] == "Europe/London" and policy["quietHours"] == SCHOOL_DAY
    assert policy["holidays"] == holidays and policy["studentDirect"] == "any"
    pushed = await student.expect("school:policy")
    assert pushed["data"]["policy"] == policy
    entry = await runtime.store.audit.last("s1")
    assert entry["action"] == "quiet_hours.change" and entry["actor"] == "a1"
    assert entry["detail"]["before"] == {"timeZone": "UTC", "quietHours": {}, "holidays": []}
    assert entry["detail"]["after"] == {"timeZone": "Europe/London", "quietHours": SCHOOL_DAY, "holidays": holidays}
    [change] = await runtime.store.policies.changes_of("s1")
    assert change["policy"]["quietHours"] == SCHOOL_DAY and "timeZone" not in change["previous"]
    # a change of another field only is not a quiet-hours change
    await set_policy(api, {"studentGroups": "supervised"})
    later = await runtime.store.audit.last("s1")
    assert later["action"] == "policy.change" and later["seq"] == entry["seq"] + 1
    # what was stored is what a fresh process reads
    runtime.service.school_policy.rule.policies._by_school.clear()
    assert (await api.get(POLICY, "st1"))[1]["data"]["policy"] == dict(policy, studentGroups="supervised")


@pytest.mark.gen_test
@pytest.mark.settings(policy_time_zone="Asia/Phnom_Penh")
async def test_the_default_zone_comes_from_settings(api, clock):
    conv = await api.conversation("st1", "group", ["st2"], title="G")
    await set_policy(api, {"quietHours": SCHOOL_DAY})
    # 06:00 UTC is 13:00 in Phnom Penh (UTC+7, no summer time)
    assert (await api.get(POLICY, "st1"))[1]["data"]["policy"]["timeZone"] == "Asia/Phnom_Penh"
    assert (await send(api, "st1", conv["id"], "afternoon"))[0] == 201
    at(clock, "2026-03-23T09:00:00Z")  # 16:00 there
    assert quiet(await send(api, "st1", conv["id"], "evening"), "2026-03-24T07:30:00+07:00")


# ------------------------------------------------------------------ daylight saving
@pytest.mark.gen_test
async def test_across_the_spring_change_chat_opens_at_0730_summer_time(api, ws, clock):
    conv = await api.conversation("st1", "group", ["st2"], title="Weekend")
    await set_policy(api, LONDON)
    at(clock, "2026-03-27T16:30:00Z")  # Friday 16:30 GMT: closed for the weekend
    assert quiet(await send(api, "st1", conv["id"], "weekend!"), "2026-03-30T07:30:00+01:00")
    at(clock, "2026-03-30T06:29:00Z")  # Monday 07:29 BST (06:29 UTC): still closed
    student = await ws("st1")
    reply = await student.request("message:send", {"conversationId": conv["id"], "text": "almost"})
    assert reply["error"]["code"] == "quiet_hours" and reply["error"]["opensAt"] == "2026-03-30T07:30:00+01:00"
    at(clock, "2026-03-30T06:30:00Z")  # 07:30 BST: open, an hour earlier in UTC than the week before
    await student.ok("message:send", {"conversationId": conv["id"], "text": "morning"})
    at(clock, "2026-03-30T15:00:00Z")  # 16:00 BST
    assert quiet(await send(api, "st1", conv["id"], "after school"), "2026-03-31T07:30:00+01:00")


@pytest.mark.gen_test
async def test_new_york_across_its_autumn_change(api, clock):
    conv = await api.conversation("st1", "group", ["st2"], title="NY")
    await set_policy(api, {"timeZone": "America/New_York", "quietHours": SCHOOL_DAY})
    at(clock, "2026-10-30T21:00:00Z")  # Friday 17:00 EDT; the clocks go back on Sunday 1 November
    assert quiet(await send(api, "st1", conv["id"], "fri"), "2026-11-02T07:30:00-05:00")
    at(clock, "2026-11-02T12:29:00Z")
    assert quiet(await send(api, "st1", conv["id"], "mon early"), "2026-11-02T07:30:00-05:00")
    at(clock, "2026-11-02T12:30:00Z")  # 07:30 EST
    assert (await send(api, "st1", conv["id"], "mon"))[0] == 201


@pytest.mark.gen_test
async def test_a_refused_send_does_not_count_for_slow_mode(api, clock):
    conv = await api.conversation("t1", "group", ["st1", "st2"], title="Slow")
    status, data = await api.patch("/api/conversations/%s" % conv["id"], "t1", {"slowModeSeconds": 60})
    assert status == 200, data
    await set_policy(api, LONDON)
    at(clock, "2026-03-23T07:29:59Z")
    assert quiet(await send(api, "st1", conv["id"], "first"), "2026-03-23T07:30:00+00:00")
    at(clock, "2026-03-23T07:30:00Z")  # a second later: quiet hours asked first, so slow mode saw no send
    assert (await send(api, "st1", conv["id"], "first, at 07:30"))[0] == 201
    status, data = await send(api, "st1", conv["id"], "too soon")
    assert status == 403 and data["error"]["code"] == "muted"  # slow mode itself still applies
