"""Send later and Forward in the web client, in a real headless chromium (Debian's) driven by
Playwright, against the real server (``python server.py --demo``, looking for due scheduled
messages every 0.1 s). No wait is on the clock: a scheduled message is made due by moving its
stored time into the past, then the page is watched until it shows it sent."""
from __future__ import annotations

import uuid

import pymongo
import pytest
from playwright.sync_api import expect

from tests.e2e.test_browser import STARTUP_CEILING, browser, conv_item, new_group, open_as, send, stored  # noqa: F401
from tests.e2e.test_process import ServerProc, http

pytestmark = pytest.mark.browser


class SchedulingDemo:
    """The demo server, looking for due scheduled messages often."""

    def __init__(self, data_dir: str) -> None:
        self.proc = ServerProc(data_dir, "--demo", "--scheduled-interval", "0.1")
        self.proc.wait_ready(STARTUP_CEILING)
        self.url = self.proc.url

    def token(self, user: str) -> str:
        return http("POST", self.url + "/api/demo/token", None, {"userId": user})[1]["data"]["token"]

    def make_due(self, scheduled_id: str) -> None:
        """Move a scheduled message's time into the past (the server's next look sends it)."""
        from bson import ObjectId
        client: pymongo.MongoClient = pymongo.MongoClient(self.proc.state()["uri"])
        try:
            done = client["chat"]["scheduled_messages"].update_one({"_id": ObjectId(scheduled_id)},
                                                                   {"$set": {"sendAt": 0}})
            assert done.modified_count == 1
        finally:
            client.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    server = SchedulingDemo(str(tmp_path_factory.mktemp("demo-later") / "data"))
    yield server
    server.proc.stop()


def test_send_later_lists_cancels_and_sends_it_at_its_time(browser, demo):  # noqa: F811
    title = "Later " + uuid.uuid4().hex[:6]
    new_group(demo, "s-alice", ["s-bob"], title)
    alice = open_as(browser, demo, "s-alice")
    bob = open_as(browser, demo, "s-bob")
    conv_item(alice, title).click()
    conv_item(bob, title).click()
    # schedule two from the composer, with the picker's default time (an hour from now)
    for text in ("see you tomorrow", "cancel me"):
        alice.get_by_test_id("composer").fill(text)
        alice.get_by_test_id("send-later").click()
        dialog = alice.get_by_test_id("send-later-dialog")
        expect(dialog).to_be_visible()
        expect(alice.get_by_test_id("send-later-at")).not_to_have_value("")
        alice.get_by_test_id("send-later-schedule").click()
        expect(dialog.get_by_test_id("scheduled-item").filter(has_text=text)).to_have_count(1)
        expect(alice.get_by_test_id("composer")).to_have_value("")
        alice.get_by_test_id("send-later-close").click()
    # a time in the past is refused in plain words
    alice.get_by_test_id("composer").fill("too late")
    alice.get_by_test_id("send-later").click()
    alice.get_by_test_id("send-later-at").fill("2020-01-01T08:00")
    alice.get_by_test_id("send-later-schedule").click()
    expect(alice.get_by_test_id("send-later-error")).to_contain_text("future")
    items = alice.get_by_test_id("scheduled-item")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("Will be sent")
    # cancel one
    items.filter(has_text="cancel me").get_by_test_id("scheduled-cancel").click()
    expect(items).to_have_count(1)
    alice.get_by_test_id("send-later-close").click()
    # nothing reached Bob yet; the server lists one waiting message of Alice's
    expect(bob.locator("[data-testid=message]", has_text="see you tomorrow")).to_have_count(0)
    status, listed = http("GET", demo.url + "/api/scheduled", demo.token("s-alice"))
    assert status == 200 and [d["text"] for d in listed["data"]] == ["see you tomorrow"]
    # its time comes: it is sent through the ordinary path, and both windows show it stored
    demo.make_due(listed["data"][0]["id"])
    expect(stored(bob, "see you tomorrow")).to_have_count(1, timeout=60000)
    expect(stored(alice, "see you tomorrow")).to_have_count(1)
    alice.get_by_test_id("send-later").click()
    expect(alice.get_by_test_id("scheduled-list")).to_contain_text("Nothing scheduled")
    alice.get_by_test_id("send-later-close").click()
    assert alice.errors == [] and bob.errors == []
    alice.context.close()
    bob.context.close()


def test_forward_picks_a_conversation_and_shows_the_attribution(browser, demo):  # noqa: F811
    source = "Source " + uuid.uuid4().hex[:6]
    target = "Target " + uuid.uuid4().hex[:6]
    new_group(demo, "s-dan", ["s-eve"], source)
    new_group(demo, "s-eve", ["s-finn"], target)
    dan = open_as(browser, demo, "s-dan")
    eve = open_as(browser, demo, "s-eve")
    finn = open_as(browser, demo, "s-finn")
    conv_item(dan, source).click()
    send(dan, "the museum trip is on the 14th")
    conv_item(eve, source).click()
    message = eve.locator("[data-testid=message][data-seq]", has_text="the museum trip")
    expect(message).to_have_count(1)
    message.hover()
    message.get_by_test_id("forward").click()
    dialog = eve.get_by_test_id("forward-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("forward-target").filter(has_text=source)).to_have_count(0)  # not where it is
    dialog.get_by_test_id("forward-target").filter(has_text=target).click()
    expect(dialog).to_be_hidden()
    conv_item(finn, target).click()
    forwarded = finn.locator("[data-testid=message][data-seq]", has_text="the museum trip")
    expect(forwarded).to_have_count(1)
    expect(forwarded.get_by_test_id("forwarded")).to_contain_text("Forwarded from %s, Dan Okafor" % source)
    expect(finn.locator("[data-testid=message][data-seq] .who", has_text="Eve Novak")).to_have_count(1)
    # the original in the source conversation shows no attribution
    expect(message.get_by_test_id("forwarded")).to_have_count(0)
    assert dan.errors == [] and eve.errors == [] and finn.errors == []
    for page in (dan, eve, finn):
        page.context.close()
