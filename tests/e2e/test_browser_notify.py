"""The "Email settings" panel of the web client in a real headless chromium (Debian's), against a
real demo server with SMTP configured (README "Missed-message email"): a user with an address
turns missed-message email off and on (stored: a reload shows it), a user without one is told
why the switch is off, previews are offered to staff only when their school allows them, and
axe-core finds nothing serious in the panel at 1280 and 375 px."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_browser as tb
from tests.e2e.test_process import ROOT, ServerProc, http

pytestmark = pytest.mark.browser

browser = tb.browser
SCHOOL = "demo-school"
ADDRESSES = {"s-alice": "alice@school.example", "t-turing": "turing@school.example"}


class EmailDemo(tb.DemoServer):
    """The demo server, sending missed-message email (no email is due while the test runs)."""

    def __init__(self, data_dir: str) -> None:  # not super().__init__: it would start one without SMTP
        self.data_dir = data_dir
        self.proc = ServerProc(data_dir, "--demo", "--smtp-host", "127.0.0.1", "--smtp-port", "2525",
                               "--smtp-security", "none", "--email-from", "chat@school.example",
                               "--email-base-url", "http://127.0.0.1")
        self.proc.wait_ready(tb.STARTUP_CEILING)
        self.url = self.proc.url


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo-email") / "data"
    server = EmailDemo(str(data))
    _, users = http("GET", server.url + "/api/demo/users")
    roster = [{"id": u["id"], "name": u["name"], "role": u["role"], "school": SCHOOL, "email": ADDRESSES[u["id"]]}
              for u in users["data"] if u["id"] in ADDRESSES]
    path = data.parent / "roster.json"
    path.write_text(json.dumps({"users": roster, "classes": []}), encoding="utf-8")
    done = subprocess.run([sys.executable, "server.py", "import-roster", str(path), "--data-dir", str(data)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    yield server
    server.proc.stop()


def open_panel(page: Page) -> None:
    page.get_by_test_id("email-open").click()
    expect(page.get_by_test_id("email-dialog")).to_be_visible()
    expect(page.get_by_test_id("email-status")).not_to_have_text("Loading…")


def prefs(demo, user: str):
    status, data = http("GET", demo.url + "/api/me/notifications", demo.token(user))
    assert status == 200, data
    return data["data"]["email"]


def test_a_user_turns_email_off_and_on_and_a_reload_shows_it(browser, demo):
    page = tb.open_as(browser, demo, "s-alice")
    open_panel(page)
    box = page.get_by_test_id("email-enabled")
    expect(box).to_be_checked()
    expect(box).to_be_enabled()
    expect(page.get_by_test_id("email-status")).to_have_text("On.")
    expect(page.get_by_test_id("email-previews")).to_be_hidden()  # students: never
    box.uncheck()
    expect(page.get_by_test_id("email-status")).to_contain_text("Off")
    assert prefs(demo, "s-alice")["enabled"] is False
    page.get_by_test_id("email-close").click()
    expect(page.get_by_test_id("email-dialog")).to_be_hidden()
    expect(page.get_by_test_id("email-open")).to_be_focused()  # focus back where it was
    page.reload()
    tb.online(page)
    open_panel(page)
    expect(page.get_by_test_id("email-enabled")).not_to_be_checked()
    page.get_by_test_id("email-enabled").check()
    expect(page.get_by_test_id("email-status")).to_have_text("On.")
    assert prefs(demo, "s-alice")["enabled"] is True
    assert page.errors == []
    page.context.close()


def test_without_an_address_the_switch_is_off_and_says_why(browser, demo):
    page = tb.open_as(browser, demo, "s-bob")
    open_panel(page)
    expect(page.get_by_test_id("email-enabled")).to_be_disabled()
    expect(page.get_by_test_id("email-status")).to_contain_text("not given the chat an email address")
    page.context.close()


def test_previews_for_staff_only_once_the_school_allows_them(browser, demo):
    page = tb.open_as(browser, demo, "t-turing")
    open_panel(page)
    expect(page.get_by_test_id("email-previews")).to_be_hidden()
    page.get_by_test_id("email-close").click()
    status, data = http("PUT", demo.url + "/api/schools/%s/notifications" % SCHOOL, demo.token("admin"),
                        {"staffEmailPreviews": True})
    assert status == 200, data
    try:
        open_panel(page)
        previews = page.get_by_test_id("email-previews")
        expect(previews).to_be_visible()
        previews.check()
        expect(previews).to_be_enabled()
        assert prefs(demo, "t-turing")["previews"] is True
    finally:
        status, data = http("PUT", demo.url + "/api/schools/%s/notifications" % SCHOOL, demo.token("admin"),
                            {"staffEmailPreviews": False})
        assert status == 200, data
    page.context.close()


@pytest.mark.parametrize("width,height", [(1280, 800), (375, 720)])
def test_the_panel_has_no_serious_accessibility_violations(browser, demo, width, height):
    if not os.path.exists(tb.AXE):
        pytest.fail("axe-core is missing: run `npm ci` at the repository root")
    page = tb.open_as(browser, demo, "s-alice", width=width, height=height)
    open_panel(page)
    found = tb.serious_violations(page, "email settings")
    assert found == [], found
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.context.close()


def test_an_emails_link_opens_its_conversation_once(browser, demo):
    title = "Linked " + uuid.uuid4().hex[:6]
    conv_id = tb.new_group(demo, "s-bob", ["s-alice"], title)
    tb.post_message(demo, conv_id, demo.token("s-bob"), "see the link")
    context = browser.new_context(viewport={"width": 1100, "height": 680})
    page = context.new_page()
    page.goto(demo.url + "/?c=" + conv_id)
    page.click("button[data-user=s-alice]")
    tb.online(page)
    expect(page.get_by_test_id("chat-title")).to_have_text(title)
    expect(tb.stored(page, "see the link")).to_have_count(1)
    assert "c=" not in page.evaluate("window.location.search")  # a reload shows the chat as usual
    # a conversation the user is not in is not opened (and nothing fails)
    other = tb.new_group(demo, "s-bob", ["s-carol"], "Not Alice's " + uuid.uuid4().hex[:6])
    page.goto(demo.url + "/?c=" + other)
    tb.online(page)
    expect(page.get_by_test_id("chat-title")).to_have_text("Pick a conversation")
    context.close()
