"""Safeguarding in the web client, in a real headless chromium against the real demo server
(the fixtures and helpers of ``test_browser``): a report reaching the moderator's open page
live and the removal reaching the class, the New dialog following the school's policy, a word
filter's refusal shown inline, and no serious accessibility violation on the new screens.

No test waits on the clock: every wait is for a condition on the page (Playwright's ``expect``
polls it). Each test puts back the policy and filters it changed (the demo server is shared by
the module)."""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_browser as tb
from tests.e2e.test_process import http

pytestmark = pytest.mark.browser

# the shared fixtures: one demo server and one chromium for this module
demo = tb.demo
browser = tb.browser

SCHOOL = "demo-school"


def class_conv(demo_server, title: str) -> str:
    """The id of the seeded class conversation with this title (as its teacher lists it)."""
    _, listed = http("GET", demo_server.url + "/api/conversations?type=class", demo_server.token("t-turing"))
    return next(c["id"] for c in listed["data"] if c["title"] == title)


def set_policy(demo_server, **policy) -> None:
    status, data = http("PUT", demo_server.url + "/api/schools/%s/policy" % SCHOOL, demo_server.token("admin"), policy)
    assert status == 200, data


def set_filters(demo_server, lists) -> None:
    status, data = http("PUT", demo_server.url + "/api/schools/%s/filters" % SCHOOL, demo_server.token("admin"),
                        {"lists": lists})
    assert status == 200, data


def open_cases(demo_server) -> int:
    status, data = http("GET", demo_server.url + "/api/moderation/summary", demo_server.token("admin"))
    assert status == 200, data
    return data["data"]["byStatus"].get("open", 0)


def by_id(page: Page, message_id: str):
    return page.locator("[data-testid=message][data-id='%s']" % message_id)


def open_moderation(page: Page) -> None:
    page.get_by_test_id("mod-open").click()
    expect(page.get_by_test_id("moderation")).to_be_visible()
    expect(page.get_by_test_id("chat")).to_be_hidden()


def test_a_report_reaches_the_moderator_live_and_the_removal_reaches_the_class(browser, demo):
    maths = class_conv(demo, "Maths 7A")
    tag = uuid.uuid4().hex[:8]
    mean = tb.post(demo, maths, demo.token("s-bob"), "you are so slow %s" % tag)
    before = open_cases(demo)
    # the moderator (the school's admin: GET /api/moderation/summary answers 200) has the page open
    admin = tb.open_as(browser, demo, "admin")
    badge = admin.get_by_test_id("mod-badge")
    if before:
        expect(badge).to_have_text(str(before))
    else:
        expect(badge).to_be_hidden()
    open_moderation(admin)
    # a student is offered no moderation page
    alice = tb.open_as(browser, demo, "s-alice")
    expect(alice.get_by_test_id("mod-open")).to_be_hidden()
    carol = tb.open_as(browser, demo, "s-carol")
    bob = tb.open_as(browser, demo, "s-bob")
    for page in (alice, carol, bob):
        tb.conv_item(page, "Maths 7A").click()
        expect(by_id(page, mean["id"])).to_contain_text(tag)
    # Alice reports Bob's message from its action menu (never offered on one's own)
    message = by_id(alice, mean["id"])
    message.focus()
    mine = tb.post(demo, maths, demo.token("s-alice"), "my own %s" % tag)
    expect(by_id(alice, mine["id"])).to_have_count(1)
    by_id(alice, mine["id"]).focus()
    expect(by_id(alice, mine["id"]).get_by_test_id("report")).to_have_count(0)
    message.focus()
    message.get_by_test_id("report").click()
    dialog = alice.get_by_test_id("report-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Report a message from Bob Chen")
    dialog.get_by_test_id("report-send").click()  # no reason yet: said inline, nothing sent
    expect(alice.get_by_test_id("report-error")).to_have_text("Pick what is wrong first.")
    dialog.get_by_label("Bullying or being mean").check()
    alice.get_by_test_id("report-note").fill("He says this to me every day.")
    dialog.get_by_test_id("report-send").click()
    expect(dialog).to_be_hidden()
    expect(message.get_by_test_id("reported")).to_have_text("Reported \u00b7 ")
    message.focus()
    expect(message.get_by_test_id("report")).to_have_count(0)
    # the moderator's open page: the badge and the queue, live (a moderation:case push)
    expect(badge).to_have_text(str(before + 1))
    status, cases = http("GET", demo.url + "/api/moderation/cases?status=open", demo.token("admin"))
    case_id = next(c["id"] for c in cases["data"] if c["messageId"] == mean["id"])
    item = admin.locator("[data-testid=mod-case][data-id='%s']" % case_id)
    expect(item).to_contain_text("Bob Chen")
    expect(item).to_contain_text("Bullying or being mean")
    item.click()
    detail = admin.get_by_test_id("mod-detail")
    reported = detail.locator("[data-testid=mod-context-message][data-reported='1']")
    expect(reported).to_contain_text(tag)
    expect(detail.locator("[data-testid=mod-context-message]", has_text="Homework for Friday")).to_have_count(1)
    expect(detail.get_by_test_id("mod-reports")).to_contain_text("He says this to me every day.")
    # Bob, the reported user, is told nothing
    expect(by_id(bob, mean["id"]).get_by_test_id("reported")).to_have_count(0)
    detail.get_by_test_id("mod-remove").click()
    for page in (alice, carol, bob):
        expect(by_id(page, mean["id"]).get_by_test_id("message-text")).to_have_text("This message was deleted")
    expect(reported).to_have_attribute("data-deleted", "1")
    expect(detail.get_by_test_id("mod-history")).to_contain_text("Ada Lovelace removed the message")
    # closing it: the queue of open cases no longer lists it, and the badge counts one less
    expect(detail.get_by_test_id("mod-set-status")).to_be_enabled()
    admin.get_by_test_id("mod-status").select_option("resolved")
    detail.get_by_test_id("mod-set-status").click()
    expect(item).to_have_count(0)
    if before:
        expect(badge).to_have_text(str(before))
    else:
        expect(badge).to_be_hidden()
    admin.get_by_test_id("mod-filter").select_option("resolved")
    expect(item).to_have_attribute("data-status", "resolved")
    admin.get_by_test_id("mod-back").click()
    expect(admin.get_by_test_id("chat")).to_be_visible()
    for page in (admin, alice, carol, bob):
        assert page.errors == []
        page.context.close()


def test_the_new_dialog_follows_the_school_policy_live(browser, demo):
    carol = tb.open_as(browser, demo, "s-carol")
    alice = tb.open_as(browser, demo, "s-alice")
    tb.direct_item(alice, "Bob Chen").click()  # the seeded direct conversation Alice started
    expect(alice.get_by_test_id("composer")).to_be_visible()
    carol.get_by_test_id("new-conv").click()
    people = carol.locator("[data-testid=user-results] button[data-user]")
    expect(people.filter(has_text="Bob Chen")).to_have_count(1)
    expect(carol.get_by_test_id("policy-note")).to_be_hidden()
    try:
        set_policy(demo, studentDirect="staff_only")
        # the open dialog follows the school:policy push: staff only, and a note saying why
        expect(carol.get_by_test_id("policy-note")).to_have_text("Your school lets students message staff only.")
        expect(people).to_have_count(3)
        roles = people.locator(".role").all_text_contents()
        assert sorted(roles) == ["School admin", "Teacher", "Teacher"], roles  # the roles named through the catalogue
        # a group may still have students in it
        carol.check("input[name=kind][value=group]")
        expect(people.filter(has_text="Bob Chen")).to_have_count(1)
        carol.keyboard.press("Escape")
        # the direct conversation a student started with a student is read-only for her now
        expect(alice.get_by_test_id("composer")).to_be_hidden()
        expect(alice.get_by_test_id("readonly-note")).to_contain_text("Read-only")
        # students may not start groups at all, or direct conversations: the choices go, the note says why
        set_policy(demo, studentDirect="none", studentGroups="staff_only")
        carol.get_by_test_id("new-conv").click()
        expect(carol.get_by_test_id("policy-note")).to_contain_text("does not let students start direct messages")
        expect(carol.get_by_test_id("policy-note")).to_contain_text("Only staff can start groups")
        expect(carol.locator("input[name=kind][value=direct]")).to_be_hidden()
        expect(carol.locator("#new-create")).to_be_disabled()
        carol.keyboard.press("Escape")
    finally:
        set_policy(demo, studentDirect="any", studentGroups="allowed")
    expect(alice.get_by_test_id("composer")).to_be_visible()
    carol.get_by_test_id("new-conv").click()
    expect(people.filter(has_text="Bob Chen")).to_have_count(1)
    expect(carol.get_by_test_id("policy-note")).to_be_hidden()
    for page in (carol, alice):
        assert page.errors == []
        page.context.close()


def test_a_supervised_group_says_so_and_a_group_without_staff_turns_read_only(browser, demo):
    title = "Reading club " + uuid.uuid4().hex[:6]
    bare = "No adults " + uuid.uuid4().hex[:6]
    tb.new_group(demo, "t-kahlo", ["s-dan", "s-eve"], title)
    tb.new_group(demo, "s-dan", ["s-eve"], bare)
    dan = tb.open_as(browser, demo, "s-dan")
    tb.conv_item(dan, title).click()
    expect(dan.get_by_test_id("conv-note")).to_be_hidden()
    try:
        set_policy(demo, studentGroups="supervised")
        expect(dan.get_by_test_id("conv-note")).to_have_text("Supervised: a member of staff always stays in this group")
        tb.conv_item(dan, bare).click()
        expect(dan.get_by_test_id("composer")).to_be_hidden()
        expect(dan.get_by_test_id("readonly-note")).to_contain_text("Read-only")
    finally:
        set_policy(demo, studentGroups="allowed")
    expect(dan.get_by_test_id("composer")).to_be_visible()
    assert dan.errors == []
    dan.context.close()


def test_a_blocked_word_is_refused_inline_without_retry(browser, demo):
    word = "zorblax" + uuid.uuid4().hex[:4]
    eve = tb.open_as(browser, demo, "s-eve")
    tb.conv_item(eve, "Science project").click()
    try:
        set_filters(demo, [{"name": "Bullying", "action": "block", "terms": [word]}])
        eve.get_by_test_id("composer").fill("you are a %s" % word)
        eve.get_by_test_id("composer").press("Enter")
        refused = eve.locator("[data-testid=message][data-pending='1'][data-code=content_blocked]")
        expect(refused.get_by_test_id("send-error")).to_have_text(
            "Not sent: this message contains words your school does not allow.")
        expect(refused.get_by_test_id("retry")).to_have_count(0)
        assert "Bullying" not in refused.inner_text()  # plain words, not the server's
        # Edit puts the text back in the composer to change it
        refused.get_by_test_id("take-back").click()
        expect(refused).to_have_count(0)
        expect(eve.get_by_test_id("composer")).to_have_value("you are a %s" % word)
        eve.get_by_test_id("composer").fill("you are a star")
        eve.get_by_test_id("composer").press("Enter")
        expect(tb.stored(eve, "you are a star")).to_have_count(1)
    finally:
        set_filters(demo, [])
    assert eve.errors == []
    eve.context.close()


def test_blocking_from_the_people_panel_and_unblocking_from_the_list(browser, demo):
    finn = tb.open_as(browser, demo, "s-finn")
    title = "Block test " + uuid.uuid4().hex[:6]
    tb.new_group(demo, "s-finn", ["s-dan", "t-kahlo"], title)
    finn.reload()
    tb.online(finn)
    tb.conv_item(finn, title).click()
    finn.get_by_test_id("conv-people").click()
    dan = finn.locator("[data-testid=person][data-user=s-dan]")
    kahlo = finn.locator("[data-testid=person][data-user=t-kahlo]")
    # a student is not offered blocking staff (a school rule), only reporting
    expect(kahlo.get_by_test_id("report-user")).to_be_visible()
    expect(kahlo.get_by_test_id("block")).to_have_count(0)
    dan.get_by_test_id("block").click()
    expect(dan.get_by_test_id("unblock")).to_be_visible()
    finn.get_by_test_id("blocked-open").click()
    listed = finn.get_by_test_id("blocked-list").get_by_test_id("blocked-person")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Dan Okafor")
    listed.get_by_test_id("unblock").click()
    expect(listed).to_have_count(0)
    expect(finn.get_by_test_id("blocked-empty")).to_be_visible()
    finn.keyboard.press("Escape")
    expect(dan.get_by_test_id("block")).to_be_visible()
    # reporting a person: the same dialog, and the button then says so
    expect(finn.get_by_test_id("people-panel")).to_be_visible()
    dan.get_by_test_id("report-user").click()
    dialog = finn.get_by_test_id("report-dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Report Dan Okafor")
    dialog.get_by_label("Harassment or unwanted contact").check()
    dialog.get_by_test_id("report-send").click()
    expect(dialog).to_be_hidden()
    expect(dan.get_by_test_id("report-user")).to_have_text("Reported")
    expect(dan.get_by_test_id("report-user")).to_be_disabled()
    _, cases = http("GET", demo.url + "/api/moderation/cases?status=open", demo.token("admin"))
    assert any(c["kind"] == "user" and c["subjectId"] == "s-dan" for c in cases["data"])
    assert finn.errors == []
    finn.context.close()


@pytest.mark.parametrize("width,height", [(1280, 800), (375, 720)])
def test_no_serious_accessibility_violations_on_the_report_dialog_and_moderation_page(browser, demo, width, height):
    tag = uuid.uuid4().hex[:8]
    project = next(c["id"] for c in http("GET", demo.url + "/api/conversations?type=group", demo.token("s-dan"))[1]["data"]
                   if c["title"] == "Science project")
    said = tb.post(demo, project, demo.token("s-eve"), "axe check %s" % tag)
    status, _ = http("POST", demo.url + "/api/messages/%s/report" % said["id"], demo.token("s-alice"),
                     {"reason": "spam", "note": "a note"})
    assert status in (200, 201)
    dan = tb.open_as(browser, demo, "s-dan", width=width, height=height)
    tb.conv_item(dan, "Science project").click()
    message = by_id(dan, said["id"])
    message.focus()
    message.get_by_test_id("report").click()
    expect(dan.get_by_test_id("report-dialog")).to_be_visible()
    found = tb.serious_violations(dan, "report dialog")
    dan.keyboard.press("Escape")
    admin = tb.open_as(browser, demo, "admin", width=width, height=height)
    open_moderation(admin)
    item = admin.locator("[data-testid=mod-case]", has_text="Eve Novak").first
    item.click()
    expect(admin.locator("[data-testid=mod-context-message][data-reported='1']")).to_contain_text(tag)
    found += tb.serious_violations(admin, "moderation page")
    assert found == [], "\n".join("%(where)s: %(id)s (%(impact)s) %(help)s %(nodes)s" % v for v in found)
    for page in (dan, admin):
        assert page.errors == []
        page.context.close()


def refused(page: Page, code: str):
    return page.locator("[data-testid=message][data-pending='1'][data-code=%s]" % code)


def test_slow_mode_and_a_mute_are_said_inline_with_when_and_no_retry(browser, demo):
    title = "Quiet please " + uuid.uuid4().hex[:6]
    conv_id = tb.new_group(demo, "t-kahlo", ["s-finn", "s-dan"], title)
    kahlo = demo.token("t-kahlo")
    status, data = http("PATCH", demo.url + "/api/conversations/%s" % conv_id, kahlo, {"slowModeSeconds": 3600})
    assert status == 200, data
    finn = tb.open_as(browser, demo, "s-finn")
    tb.conv_item(finn, title).click()
    expect(finn.get_by_test_id("conv-note")).to_have_text("Slow mode: one message every 3600 seconds")
    tb.send(finn, "first, allowed")
    finn.get_by_test_id("composer").fill("second, too soon")
    finn.get_by_test_id("composer").press("Enter")
    slow = refused(finn, "muted")
    expect(slow.get_by_test_id("send-error")).to_contain_text("Not sent: slow mode is on here. You can send again in ")
    expect(slow.get_by_test_id("retry")).to_have_count(0)
    slow.get_by_test_id("discard").click()
    expect(slow).to_have_count(0)
    # a member muted by the teacher: until when, in the reader's time
    status, data = http("PUT", demo.url + "/api/conversations/%s/mutes/s-dan" % conv_id, kahlo, {"minutes": 90})
    assert status == 200, data
    dan = tb.open_as(browser, demo, "s-dan")
    tb.conv_item(dan, title).click()
    dan.get_by_test_id("composer").fill("can I speak?")
    dan.get_by_test_id("composer").press("Enter")
    muted = refused(dan, "muted")
    expect(muted.get_by_test_id("send-error")).to_contain_text(
        re.compile(r"^Not sent: you are muted in this conversation until .*\d\d:\d\d"))
    expect(muted.get_by_test_id("retry")).to_have_count(0)
    assert "T" not in muted.get_by_test_id("send-error").inner_text().split("until")[1]  # not the server's ISO time
    for page in (finn, dan):
        assert page.errors == []
        page.context.close()
