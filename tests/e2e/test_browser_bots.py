"""Bots in the web client, in a real headless chromium against the real demo server (the
fixtures and helpers of ``test_browser``): a bot's announcement shows a "BOT" badge beside its
name, live and after a reload, and a person's message does not. Every wait is for a condition on
the page (Playwright's ``expect`` polls it)."""
from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e import test_browser as tb
from tests.e2e.test_browser_safeguarding import class_conv
from tests.e2e.test_process import http

pytestmark = pytest.mark.browser

demo = tb.demo
browser = tb.browser


def test_a_bot_message_shows_the_bot_badge(browser, demo):
    maths = class_conv(demo, "Maths 7A")
    status, created = http("POST", demo.url + "/api/bots", demo.token("admin"),
                           {"name": "LMS Notices", "scopes": {"conversations": [maths]}})
    assert status == 201, created
    bot_token = created["data"]["token"]
    alice = tb.open_as(browser, demo, "s-alice")
    tb.conv_item(alice, "Maths 7A").click()
    tag = uuid.uuid4().hex[:8]
    status, sent = http("POST", demo.url + "/api/conversations/%s/messages" % maths, bot_token,
                        {"text": "Homework due Friday %s" % tag})
    assert status == 201 and sent["data"]["bot"] is True, sent
    from_bot = tb.stored(alice, "Homework due Friday %s" % tag)
    expect(from_bot).to_have_count(1)
    badge = from_bot.get_by_test_id("bot-badge")
    expect(badge).to_have_text("BOT")
    expect(from_bot.locator(".who")).to_contain_text("LMS Notices")
    # a person's message right after it carries no badge
    person = tb.post(demo, maths, demo.token("t-turing"), "Thanks, everyone %s" % tag)
    from_person = tb.by_seq(alice, person["seq"])
    expect(from_person).to_have_count(1)
    expect(from_person.get_by_test_id("bot-badge")).to_have_count(0)
    # and from history after a reload
    alice.reload()
    tb.online(alice)
    tb.conv_item(alice, "Maths 7A").click()
    expect(tb.stored(alice, "Homework due Friday %s" % tag).get_by_test_id("bot-badge")).to_have_text("BOT")
    assert alice.errors == []
    alice.context.close()
