"""The web client's admin area in a real headless chromium (Debian's) against the real demo
server (the fixtures and helpers of ``test_browser``): the policy's quiet hours saved and a
student seeing "Chat opens at ..." instead of the composer; retention; a legal hold placed and
released; the audit log filtered and downloaded as CSV; exports (a server without the route
says so; the contract's progress and download link against a stand-in answer); oversight access
through the reason dialog to a read-only conversation with its banner and no composer; a new
school's first admin importing its roster (preview, then apply); and no serious or critical
axe-core violation on any admin screen at 1280 and 375 px.

No test waits on the clock: every wait is for a condition on the page (Playwright's ``expect``
polls it). Each test puts back what it changed on the shared demo server."""
from __future__ import annotations

import csv
import datetime
import io
import json
import os
import uuid

import pytest
from playwright.sync_api import Page, expect

from chat.auth import mint_token
from chat.settings import Settings
from tests.e2e import test_browser as tb
from tests.e2e.test_process import http

pytestmark = pytest.mark.browser

demo = tb.demo
browser = tb.browser

SCHOOL = "demo-school"
POLICY = "/api/schools/%s/policy" % SCHOOL
OPEN_POLICY = {"quietHours": {}, "holidays": [], "timeZone": "UTC"}


def admin_page(browser, demo, width: int = 1280, height: int = 800) -> Page:
    page = tb.open_as(browser, demo, "admin", width=width, height=height)
    page.get_by_test_id("admin-open").click()
    expect(page.get_by_test_id("admin")).to_be_visible()
    expect(page.get_by_test_id("chat")).to_be_hidden()
    return page


def tab(page: Page, name: str) -> None:
    page.get_by_test_id("admin-tab-%s" % name).click()
    expect(page.get_by_test_id("admin-tab-%s" % name)).to_have_attribute("aria-selected", "true")


def note(page: Page):
    return page.get_by_test_id("admin-note")


def policy(demo) -> dict:
    status, data = http("GET", demo.url + POLICY, demo.token("admin"))
    assert status == 200, data
    return data["data"]


def put_policy(demo, body) -> None:
    status, data = http("PUT", demo.url + POLICY, demo.token("admin"), body)
    assert status == 200, data


def test_quiet_hours_saved_from_the_policy_screen_and_a_student_sees_when_chat_opens(browser, demo):
    admin = admin_page(browser, demo)
    expect(admin.get_by_test_id("policy-form")).to_be_visible()
    student = tb.open_as(browser, demo, "s-alice")
    tb.conv_item(student, "Maths 7A").click()
    expect(student.get_by_test_id("composer")).to_be_visible()
    expect(student.get_by_test_id("quiet-note")).to_be_hidden()
    try:
        # students may send Monday to Friday 07:30-16:00 (the window's defaults), and a holiday
        # around today closes every day of it: chat opens two days from now at 07:30
        admin.get_by_test_id("pol-tz").fill("UTC")
        admin.get_by_test_id("qh-add-student").click()
        window = admin.get_by_test_id("qh-window-student")
        expect(window).to_have_count(1)
        for day in ("sat", "sun"):
            window.get_by_test_id("qh-day-%s" % day).check()
        today = datetime.datetime.now(datetime.timezone.utc).date()
        admin.get_by_test_id("holiday-add").click()
        holiday = admin.get_by_test_id("holiday")
        holiday.get_by_test_id("holiday-name").fill("Test break")
        holiday.get_by_test_id("holiday-from").fill((today - datetime.timedelta(days=1)).isoformat())
        holiday.get_by_test_id("holiday-to").fill((today + datetime.timedelta(days=1)).isoformat())
        admin.get_by_test_id("policy-save").click()
        expect(note(admin)).to_have_text("Saved. Everyone's chat follows the new policy now.")
        saved = policy(demo)["policy"]
        assert saved["quietHours"] == {"student": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                                    "from": "07:30", "to": "16:00"}]}
        assert saved["holidays"][0]["name"] == "Test break" and saved["timeZone"] == "UTC"
        # the student's open conversation (a school:policy push, then GET for `sending`)
        quiet = student.get_by_test_id("quiet-note")
        expect(quiet).to_be_visible(timeout=30000)
        expect(quiet).to_contain_text("Test break: chat is closed. Chat opens on ")
        expect(quiet).to_contain_text(" at 07:30")
        expect(student.get_by_test_id("composer")).to_be_hidden()
        # the admin takes the limit away from the screen: the student's composer comes back
        admin.get_by_test_id("admin-back").click()
        admin.get_by_test_id("admin-open").click()
        expect(admin.get_by_test_id("qh-on-student")).to_be_checked()
        admin.get_by_test_id("qh-on-student").uncheck()
        admin.get_by_test_id("policy-save").click()
        expect(note(admin)).to_have_text("Saved. Everyone's chat follows the new policy now.")
        assert policy(demo)["policy"]["quietHours"] == {}
        expect(quiet).to_be_hidden()
        expect(student.get_by_test_id("composer")).to_be_visible()
    finally:
        put_policy(demo, OPEN_POLICY)
    for page in (admin, student):
        assert page.errors == []
        page.context.close()


def test_retention_saved_and_a_legal_hold_placed_and_released(browser, demo):
    admin = admin_page(browser, demo)
    tab(admin, "retention")
    admin.get_by_test_id("ret-messages").fill("400")
    admin.get_by_test_id("ret-direct").fill("30")
    admin.get_by_test_id("ret-cases").fill("120")
    admin.get_by_test_id("retention-save").click()
    expect(note(admin)).to_have_text("Saved. The next sweep applies it.")
    status, data = http("GET", demo.url + "/api/schools/%s/retention" % SCHOOL, demo.token("admin"))
    retention = data["data"]["retention"]
    assert retention["messages"]["retentionDays"] == 400 and retention["messages"]["byType"]["direct"] == 30
    assert retention["messages"]["byType"]["group"] is None and retention["caseRetentionDays"] == 120
    admin.get_by_test_id("ret-uploads").fill("0")  # files: at least a day
    admin.get_by_test_id("retention-save").click()
    expect(note(admin)).to_have_text("Days are whole numbers from 1 to 36500.")
    status, _ = http("PUT", demo.url + "/api/schools/%s/retention" % SCHOOL, demo.token("admin"),
                     {"messages": {"retentionDays": 0, "byType": {"direct": None}}, "caseRetentionDays": 90})
    assert status == 200
    # a hold on a person, listed, then released
    tab(admin, "holds")
    admin.get_by_test_id("hold-target").fill("s-bob")
    admin.get_by_test_id("hold-reason").fill("Parent's complaint, case 12")
    admin.get_by_test_id("hold-place").click()
    row = admin.locator("[data-testid=hold][data-target=s-bob]")
    expect(row).to_contain_text("Parent's complaint, case 12")
    status, data = http("GET", demo.url + "/api/holds", demo.token("admin"))
    assert [h["targetId"] for h in data["data"] if h["kind"] == "user"] == ["s-bob"]
    row.get_by_test_id("hold-release").click()
    expect(note(admin)).to_have_text("Hold on s-bob released.")
    expect(row).to_have_count(0)
    status, data = http("GET", demo.url + "/api/holds", demo.token("admin"))
    assert [h for h in data["data"] if h["targetId"] == "s-bob"] == []
    # an unknown id: the server's refusal is said
    admin.get_by_test_id("hold-target").fill("nobody-%s" % uuid.uuid4().hex[:6])
    admin.get_by_test_id("hold-reason").fill("a reason")
    admin.get_by_test_id("hold-place").click()
    expect(note(admin)).to_contain_text("That did not work: no such user")
    assert admin.errors == []
    admin.context.close()


def test_the_audit_log_filtered_and_downloaded_as_csv(browser, demo):
    tag = uuid.uuid4().hex[:6]
    # two staff actions to find: a hold set and released on a person
    for method, body in (("PUT", {"reason": "audit test %s" % tag}), ("DELETE", None)):
        status, _ = http(method, demo.url + "/api/holds/users/s-carol", demo.token("admin"), body)
        assert status == 200
    admin = admin_page(browser, demo)
    tab(admin, "audit")
    expect(admin.get_by_test_id("audit-entry").first).to_be_visible()
    admin.get_by_test_id("audit-action").select_option("hold.set")
    admin.get_by_test_id("audit-actor").fill("admin")
    admin.get_by_test_id("audit-search").click()
    entries = admin.get_by_test_id("audit-entry")
    expect(entries.first).to_have_attribute("data-action", "hold.set")
    expect(admin.locator("[data-testid=audit-entry]:not([data-action='hold.set'])")).to_have_count(0)
    expect(entries.first).to_contain_text("audit test %s" % tag)
    shown = entries.count()
    with admin.expect_download() as info:
        admin.get_by_test_id("audit-csv").click()
    download = info.value
    assert download.suggested_filename == "audit-%s.csv" % SCHOOL
    with open(download.path(), encoding="utf-8") as fh:
        rows = list(csv.DictReader(io.StringIO(fh.read())))
    assert rows and {r["action"] for r in rows} == {"hold.set"} and {r["actor"] for r in rows} == {"admin"}
    assert len(rows) >= shown
    newest = rows[0]
    assert json.loads(newest["detail"]) == {"reason": "audit test %s" % tag}
    assert json.loads(newest["target"]) == {"userId": "s-carol"}
    status, data = http("GET", demo.url + "/api/audit?action=hold.set&actor=admin&limit=1", demo.token("admin"))
    assert int(newest["seq"]) == data["data"][0]["seq"] and newest["hash"] == data["data"][0]["hash"]
    expect(note(admin)).to_have_text("Downloaded %d entries." % len(rows))
    # a filter that matches nothing
    admin.get_by_test_id("audit-actor").fill("nobody-%s" % tag)
    admin.get_by_test_id("audit-search").click()
    expect(admin.get_by_test_id("audit-empty")).to_be_visible()
    assert admin.errors == []
    admin.context.close()


def test_exports_say_when_the_server_has_none_and_follow_an_export_to_its_download(browser, demo):
    status, _ = http("GET", demo.url + "/api/exports", demo.token("admin"))
    admin = admin_page(browser, demo)
    tab(admin, "exports")
    if status == 404:  # this server has no export route: the screen says so and offers none
        expect(admin.get_by_test_id("exports-unavailable")).to_contain_text("Exports are not available on this server yet")
        expect(admin.get_by_test_id("export-start")).to_be_disabled()
    else:  # it has: a real export of a person is followed until its link shows
        admin.get_by_test_id("export-user").fill("s-eve")
        admin.get_by_test_id("export-start").click()
        real = admin.locator("[data-testid=export-job]", has_text="s-eve").first
        expect(real).to_have_attribute("data-status", "done", timeout=60000)
        expect(real.get_by_test_id("export-download")).to_have_count(1)
    admin.context.close()
    # the contract (POST /api/exports, GET /api/exports/{id} until done) against a stand-in answer
    admin = tb.open_as(browser, demo, "admin")
    polls = {"n": 0}

    def job(status: str, messages: int, url=None) -> dict:
        return {"id": "e1", "userId": "s-bob", "requestedBy": "admin", "status": status, "error": None,
                "progress": {"messages": messages, "files": 0, "bytes": messages * 100}, "size": None,
                "createdAt": None, "finishedAt": None, "downloadUrl": url, "downloadExpiresAt": None}

    def exports(route) -> None:
        if route.request.method == "POST":
            assert json.loads(route.request.post_data) == {"userId": "s-bob"}
            return route.fulfill(status=202, content_type="application/json", body=json.dumps({"data": job("queued", 0)}))
        if route.request.url.endswith("/api/exports"):
            return route.fulfill(status=200, content_type="application/json",
                                 body=json.dumps({"data": [], "hasMore": False, "next": None}))
        polls["n"] += 1
        body = job("running", 1204) if polls["n"] < 3 else job("done", 1300, "/api/exports/e1/download?sig=x")
        return route.fulfill(status=200, content_type="application/json", body=json.dumps({"data": body}))
    admin.route("**/api/exports**", exports)
    admin.get_by_test_id("admin-open").click()
    tab(admin, "exports")
    admin.get_by_test_id("export-user").fill("s-bob")
    admin.get_by_test_id("export-start").click()
    row = admin.locator("[data-testid=export-job][data-id=e1]")
    expect(row).to_contain_text("s-bob")
    # polled once a second: the ceilings leave room for a slow machine
    expect(row).to_contain_text("running \u00b7 1,204 messages, 0 files", timeout=30000)
    admin.get_by_test_id("export-user").fill("s-eve")  # typed while the screen follows the export
    expect(row).to_have_attribute("data-status", "done", timeout=30000)
    expect(row).to_contain_text("done \u00b7 1,300 messages, 0 files")
    expect(row.get_by_test_id("export-download")).to_have_attribute("href", "/api/exports/e1/download?sig=x")
    expect(admin.get_by_test_id("export-user")).to_have_value("s-eve")  # not lost to the screen's updates
    expect(note(admin)).to_have_text("The export is ready to download.")
    assert polls["n"] == 3
    assert admin.errors == []
    admin.context.close()


def test_oversight_reason_dialog_opens_the_conversation_read_only_with_its_banner(browser, demo):
    tag = uuid.uuid4().hex[:6]
    title = "Private %s" % tag
    conv_id = tb.new_group(demo, "s-bob", ["s-carol"], title)
    tb.post_message(demo, conv_id, demo.token("s-carol"), "see you at lunch %s" % tag)
    admin = admin_page(browser, demo)
    tab(admin, "oversight")
    admin.get_by_test_id("oversight-conv").fill(conv_id)
    admin.get_by_test_id("oversight-ask").click()
    dialog = admin.get_by_test_id("oversight-dialog")
    expect(dialog).to_be_visible()
    admin.get_by_test_id("oversight-reason").fill("too short")
    admin.get_by_test_id("oversight-open").click()
    expect(admin.get_by_test_id("oversight-error")).to_have_text("Say why in at least 10 characters (9 so far).")
    status, data = http("GET", demo.url + "/api/oversight/grants", demo.token("admin"))
    assert [g for g in data["data"] if g["conversationId"] == conv_id] == []
    reason = "Report from a parent %s" % tag
    admin.get_by_test_id("oversight-reason").fill(reason)
    admin.get_by_test_id("oversight-open").click()
    expect(dialog).to_be_hidden()
    banner = admin.get_by_test_id("oversight-banner")
    status, data = http("GET", demo.url + "/api/oversight/grants", demo.token("admin"))
    grant = next(g for g in data["data"] if g["conversationId"] == conv_id)
    until = admin.evaluate("(iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })",
                           grant["expiresAt"])
    expect(banner).to_have_text("Read-only oversight access until %s (reason: %s)" % (until, reason))
    expect(admin.get_by_test_id("oversight-title")).to_contain_text(title)
    expect(admin.get_by_test_id("oversight-message")).to_contain_text(["see you at lunch %s" % tag])
    # read-only: no composer anywhere on screen, and the conversation did not join the admin's list
    expect(admin.locator("#composer")).to_be_hidden()
    expect(admin.locator("[data-testid=oversight-reader] textarea, [data-testid=oversight-reader] input")).to_have_count(0)
    status, data = http("GET", demo.url + "/api/audit?action=oversight.grant&limit=5", demo.token("admin"))
    assert any(e["target"] == {"conversationId": conv_id} for e in data["data"])
    admin.get_by_test_id("oversight-close").click()
    expect(admin.locator("[data-testid=grant]", has_text=conv_id)).to_have_count(1)
    # an unknown id: the dialog says so and opens nothing
    admin.get_by_test_id("oversight-conv").fill("0123456789abcdef01234567")
    admin.get_by_test_id("oversight-ask").click()
    admin.get_by_test_id("oversight-reason").fill("checking a report thoroughly")
    admin.get_by_test_id("oversight-open").click()
    expect(admin.get_by_test_id("oversight-error")).to_have_text("No conversation of your school has that id.")
    admin.get_by_test_id("oversight-cancel").click()
    expect(dialog).to_be_hidden()
    assert admin.errors == []
    admin.context.close()


def test_a_safeguarding_lead_who_is_not_an_admin_gets_the_oversight_screen_alone(browser, demo):
    """Oversight is for a school's admins and its safeguarding leads (README "Audited oversight
    access"): a lead without the admin role gets that one screen, a plain teacher none."""
    tag = uuid.uuid4().hex[:6]
    lead = "t-lead-%s" % tag
    status, _ = http("POST", demo.url + "/api/roster/import", demo.token("admin"),
                     {"users": [{"id": lead, "name": "Lena Lead", "role": "teacher", "school": SCHOOL,
                                 "safeguarding": True}], "classes": []})
    assert status == 200
    conv_id = tb.new_group(demo, "s-bob", ["s-carol"], "Lead check %s" % tag)
    with open(os.path.join(demo.data_dir, "jwt-secret"), encoding="utf-8") as fh:
        secret = fh.read().strip()
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(demo.url + "/")
    page.fill("#token-input", mint_token(Settings(jwt_secret=secret), lead, "teacher", SCHOOL, "Lena Lead", 3600))
    page.click("#token-form button[type=submit]")
    tb.online(page)
    opener = page.get_by_test_id("admin-open")
    expect(opener).to_have_text("Oversight access")
    opener.click()
    expect(page.get_by_test_id("admin")).to_be_visible()
    expect(page.locator("#admin-tabs [role=tab]")).to_have_count(1)
    expect(page.get_by_test_id("admin-tab-oversight")).to_have_attribute("aria-selected", "true")
    page.get_by_test_id("oversight-conv").fill(conv_id)
    page.get_by_test_id("oversight-ask").click()
    page.get_by_test_id("oversight-reason").fill("A concern raised by a parent %s" % tag)
    page.get_by_test_id("oversight-open").click()
    expect(page.get_by_test_id("oversight-banner")).to_contain_text("Read-only oversight access until")
    assert page.errors == []
    page.context.close()
    teacher = tb.open_as(browser, demo, "t-kahlo")
    expect(teacher.get_by_test_id("conn-state")).to_be_visible()
    expect(teacher.get_by_test_id("admin-open")).to_be_hidden()
    teacher.context.close()


def fresh_admin_token(demo, school: str) -> str:
    with open(os.path.join(demo.data_dir, "jwt-secret"), encoding="utf-8") as fh:
        secret = fh.read().strip()
    return mint_token(Settings(jwt_secret=secret), "fa-%s" % school, "admin", school, "Fay Fresh", 3600)


def test_a_new_schools_first_admin_imports_its_roster_preview_then_apply(browser, demo):
    school = "fresh-%s" % uuid.uuid4().hex[:6]
    tok = fresh_admin_token(demo, school)
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(demo.url + "/")
    expect(page.get_by_test_id("token-help")).to_contain_text("Your school's learning platform (LMS)")
    expect(page.get_by_test_id("start-guide")).to_have_attribute("href", "/start.html")
    guide = page.request.get(demo.url + "/start.html")
    assert guide.status == 200 and "How people sign in" in guide.text() and "Roster import" in guide.text()
    page.fill("#token-input", tok)
    page.click("#token-form button[type=submit]")
    tb.online(page)
    # no classes yet: the admin lands on the roster import with a word on getting started
    expect(page.get_by_test_id("admin")).to_be_visible()
    expect(page.get_by_test_id("admin-tab-roster")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("first-run")).to_contain_text("Your school has no classes here yet")
    roster = {"users": [{"id": "%s-t" % school, "name": "Tess Teacher", "role": "teacher", "school": school},
                        {"id": "%s-s" % school, "name": "Sid Student", "role": "student", "school": school}],
              "classes": [{"id": "%s-c" % school, "school": school, "name": "History 9", "teacherIds": ["%s-t" % school],
                           "studentIds": ["%s-s" % school]}]}
    page.get_by_test_id("roster-text").fill(json.dumps(roster))
    page.get_by_test_id("roster-preview").click()
    result = page.get_by_test_id("roster-result")
    expect(result).to_contain_text("2 new people, 0 changed, 0 unchanged.")
    expect(result).to_contain_text("1 new class, 0 changed, 0 unchanged.")
    expect(page.get_by_test_id("roster-added")).to_contain_text("New: Sid Student")
    expect(note(page)).to_have_text("This is a preview: nothing has changed yet.")
    status, data = http("GET", demo.url + "/api/users?q=Sid", tok)
    assert status == 200 and data["data"] == []
    page.get_by_test_id("roster-apply").click()
    expect(page.get_by_test_id("roster-applied")).to_have_text(
        "Done: 2 people (2 new) and 1 classes (1 new) imported.")
    status, data = http("GET", demo.url + "/api/users?q=Sid", tok)
    assert [u["id"] for u in data["data"]] == ["%s-s" % school]
    # a CSV file of the people again, one renamed: the preview shows the change
    path = os.path.join(demo.data_dir, "..", "%s.csv" % school)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("id,name,role,school\n%s-s,Sidney Student,student,%s\n" % (school, school))
    page.get_by_test_id("roster-file").set_input_files(path)
    page.get_by_test_id("roster-preview").click()
    expect(page.get_by_test_id("roster-changed")).to_contain_text("Changed: Sidney Student (%s-s): name: Sid Student \u2192 "
                                                                  "Sidney Student" % school)
    # another school's rows are refused by the server, and said
    page.get_by_test_id("roster-file").set_input_files([])
    page.get_by_test_id("roster-text").fill("id,name,role,school\nzz1,Z,student,%s\n" % SCHOOL)
    page.get_by_test_id("roster-preview").click()
    expect(note(page)).to_contain_text("you may import your own school (%s) only" % school)
    status, data = http("GET", demo.url + "/api/audit?action=roster.import", tok)
    assert [e["actor"] for e in data["data"]] == ["fa-%s" % school]
    assert page.errors == []
    page.context.close()


@pytest.mark.parametrize("width,height", [(1280, 800), (375, 720)])
def test_no_serious_accessibility_violations_on_the_admin_screens(browser, demo, width, height):
    conv_id = tb.new_group(demo, "s-bob", ["s-alice"], "Axe admin %s" % uuid.uuid4().hex[:6])
    tb.post_message(demo, conv_id, demo.token("s-alice"), "hello")
    status, _ = http("PUT", demo.url + "/api/holds/users/s-dan", demo.token("admin"), {"reason": "axe check"})
    assert status == 200
    page = admin_page(browser, demo, width, height)
    found = []
    try:
        expect(page.get_by_test_id("policy-form")).to_be_visible()
        page.get_by_test_id("qh-add-student").click()
        page.get_by_test_id("holiday-add").click()
        found += tb.serious_violations(page, "policy")
        tab(page, "retention")
        expect(page.get_by_test_id("retention-form")).to_be_visible()
        found += tb.serious_violations(page, "retention")
        tab(page, "holds")
        expect(page.get_by_test_id("hold").first).to_be_visible()
        found += tb.serious_violations(page, "holds")
        tab(page, "audit")
        expect(page.get_by_test_id("audit-entry").first).to_be_visible()
        found += tb.serious_violations(page, "audit")
        tab(page, "exports")
        expect(page.get_by_test_id("export-form")).to_be_visible()
        found += tb.serious_violations(page, "exports")
        tab(page, "roster")
        page.get_by_test_id("roster-text").fill("id,name,role,school\ns-eve,Eve Novak,student,%s\n" % SCHOOL)
        page.get_by_test_id("roster-preview").click()
        expect(page.get_by_test_id("roster-result")).to_be_visible()
        found += tb.serious_violations(page, "roster preview")
        tab(page, "oversight")
        page.get_by_test_id("oversight-conv").fill(conv_id)
        page.get_by_test_id("oversight-ask").click()
        expect(page.get_by_test_id("oversight-dialog")).to_be_visible()
        page.get_by_test_id("oversight-reason").fill("too short")
        page.get_by_test_id("oversight-open").click()
        expect(page.get_by_test_id("oversight-error")).not_to_be_empty()
        found += tb.serious_violations(page, "oversight dialog")
        page.get_by_test_id("oversight-reason").fill("accessibility check of the reader")
        page.get_by_test_id("oversight-open").click()
        expect(page.get_by_test_id("oversight-banner")).to_be_visible()
        found += tb.serious_violations(page, "oversight reader")
    finally:
        http("DELETE", demo.url + "/api/holds/users/s-dan", demo.token("admin"))
    assert found == [], "\n".join("%(where)s: %(id)s (%(impact)s) %(help)s %(nodes)s" % v for v in found)
    assert page.errors == []
    page.context.close()
