"""The web client's school features in a real headless chromium (Debian's) against the real demo
server (the fixtures and helpers of ``test_browser``): the outbox and drafts kept in IndexedDB
across a real reload, phones (Back, the compact header, the message action sheet), "My classes",
membership and staff moderation, and the clear states of issue 24.

No test waits on the clock: every wait is for a condition on the page or in the browser's
IndexedDB (Playwright's ``expect`` and ``wait_for_function`` poll it); the socket is held back by
a gate (``route_web_socket``) or by ``context.set_offline``. Timeouts are ceilings for slow machines."""
from __future__ import annotations

import time
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_browser as tb
from tests.e2e.test_process import http

pytestmark = pytest.mark.browser

demo = tb.demo
browser = tb.browser
conv_item, stored, send, online, open_as = tb.conv_item, tb.stored, tb.send, tb.online, tb.open_as

PHONE = {"width": 375, "height": 720, "touch": True}
LAPTOP = {"width": 1280, "height": 800}

# what the page saved in IndexedDB: {outbox: [{clientMsgId, entry}], drafts: [{conversationId, text}]}
SAVED = """async () => {
  const db = await new Promise((ok, fail) => { const r = indexedDB.open("school-chat", 1);
    r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
  const all = (name) => new Promise((ok) => { const q = db.transaction(name).objectStore(name).getAll();
    q.onsuccess = () => ok(q.result); });
  const out = { outbox: await all("outbox"), drafts: await all("drafts") };
  db.close();
  return out;
}"""


def saved(page: Page) -> dict:
    return page.evaluate(SAVED)


def wait_saved(page: Page, condition: str, ceiling: float = 30.0) -> None:
    """Poll the page's IndexedDB until ``condition`` (a JS expression over ``s``) holds."""
    check = "async () => { const s = await (%s)(); return Boolean(%s); }" % (SAVED, condition)
    deadline = time.monotonic() + ceiling
    while not page.evaluate(check):
        assert time.monotonic() < deadline, "IndexedDB never held: " + condition
        page.wait_for_timeout(50)


def history(demo, conv_id: str, user: str):
    _, data = http("GET", demo.url + "/api/conversations/%s/messages?limit=100" % conv_id, demo.token(user))
    return [m.get("text") for m in data["data"] if m.get("type") != "system"]


def pending(page: Page, text: str = ""):
    return page.locator("[data-testid=message][data-pending='1']", has_text=text)


# --- item 4: the outbox and the drafts survive a reload ---------------------------------------

def test_a_message_written_offline_survives_a_reload_and_arrives_once(browser, demo):
    title = "Outbox " + uuid.uuid4().hex[:6]
    conv_id = tb.new_group(demo, "s-bob", ["s-carol"], title)
    gate = {"open": True}
    bob = open_as(browser, demo, "s-bob", gate=gate)
    conv_item(bob, title).click()
    send(bob, "while online")
    gate["open"] = False
    # the socket drops and cannot come back: REST (the page itself) still works, the socket does not
    bob.context.set_offline(True)
    expect(bob.get_by_test_id("conn-state")).to_have_attribute("data-state", "offline")
    expect(bob.get_by_test_id("offline-banner")).to_be_visible()
    bob.get_by_test_id("composer").fill("written offline")
    bob.get_by_test_id("composer").press("Enter")
    waiting = pending(bob, "written offline")
    expect(waiting).to_have_attribute("data-status", "queued")
    # waiting, not an error: it goes out by itself
    expect(waiting.get_by_test_id("send-state")).to_contain_text("Waiting for the connection")
    expect(waiting.get_by_test_id("send-state")).not_to_contain_text("Not sent")
    bob.get_by_test_id("composer").fill("a half-written draft")
    wait_saved(bob, "s.outbox.some((r) => r.entry.text === 'written offline')"
                    " && s.drafts.some((d) => d.text === 'a half-written draft')")
    bob.context.set_offline(False)  # the page can load again; the gate still refuses the socket
    bob.reload()
    expect(bob.get_by_test_id("conn-state")).to_have_attribute("data-state", "offline", timeout=60000)
    conv_item(bob, title).click()
    expect(pending(bob, "written offline")).to_have_attribute("data-status", "queued")
    expect(bob.get_by_test_id("composer")).to_have_value("a half-written draft")
    assert history(demo, conv_id, "s-carol") == ["while online"]
    gate["open"] = True  # back: the restored outbox goes out, once
    online(bob)
    expect(stored(bob, "written offline")).to_have_count(1, timeout=30000)
    expect(pending(bob)).to_have_count(0)
    wait_saved(bob, "s.outbox.length === 0")
    bob.reload()  # nothing left to send again
    online(bob)
    conv_item(bob, title).click()
    expect(stored(bob, "written offline")).to_have_count(1)
    expect(pending(bob)).to_have_count(0)
    assert history(demo, conv_id, "s-carol") == ["while online", "written offline"]
    assert bob.errors == []
    bob.context.close()


def test_send_during_an_upload_waits_for_it(browser, demo):
    title = "Upload wait " + uuid.uuid4().hex[:6]
    conv_id = tb.new_group(demo, "s-dan", ["s-eve"], title)
    dan = open_as(browser, demo, "s-dan")
    held = []
    dan.route("**/api/uploads?*", lambda route: held.append(route))  # answered when the test says so
    conv_item(dan, title).click()
    dan.get_by_test_id("attach-input").set_input_files([{"name": "notes.pdf", "mimeType": "application/pdf",
                                                         "buffer": b"%PDF-1.4\n%test\n"}])
    expect(dan.get_by_test_id("upload-item")).to_have_attribute("data-status", "uploading")
    dan.get_by_test_id("composer").fill("the notes")
    dan.get_by_test_id("composer").press("Enter")
    expect(dan.get_by_test_id("typing")).to_have_text("Sends when the files are uploaded")
    expect(dan.locator("[data-testid=message]", has_text="the notes")).to_have_count(0)
    assert not dan.get_by_test_id("typing").inner_text().startswith("\u26A0")
    assert len(held) == 1
    held[0].continue_()
    expect(stored(dan, "the notes")).to_have_count(1)
    expect(stored(dan, "the notes").locator(".file-card")).to_have_count(1)
    assert history(demo, conv_id, "s-eve") == ["the notes"]
    assert dan.errors == []
    dan.context.close()


# --- item 5: phones -----------------------------------------------------------------------------

def box(locator) -> dict:
    b = locator.bounding_box()
    assert b is not None
    return b


def test_phone_back_goes_to_the_list_and_each_conversation_has_an_address(browser, demo):
    phone = open_as(browser, demo, "s-alice", **PHONE)
    start = phone.url
    conv_item(phone, "Maths 7A").tap()
    expect(phone.get_by_test_id("chat-title")).to_have_text("Maths 7A")
    assert "#c/" in phone.url
    address = phone.url
    phone.go_back()  # the browser's Back: the list, still in the app
    expect(phone.get_by_test_id("conv-list")).to_be_visible()
    expect(phone.get_by_test_id("chat")).to_be_hidden()
    assert phone.url.split("#")[0] == start.split("#")[0] and "#c/" not in phone.url
    phone.go_forward()
    expect(phone.get_by_test_id("chat-title")).to_have_text("Maths 7A")
    # the page's own ‹ is the same Back
    phone.get_by_test_id("chat").locator("#back").tap()
    expect(phone.get_by_test_id("conv-list")).to_be_visible()
    assert "#c/" not in phone.url
    # an address opens its conversation after a reload, and Back from there is the list
    phone.goto(address)
    phone.reload()
    online(phone)
    expect(phone.get_by_test_id("chat-title")).to_have_text("Maths 7A")
    expect(phone.get_by_test_id("conv-list")).to_be_hidden()
    phone.go_back()
    expect(phone.get_by_test_id("conv-list")).to_be_visible()
    assert phone.url.startswith(demo.url)
    assert phone.errors == []
    phone.context.close()


def test_phone_header_is_compact_with_an_overflow_menu_and_an_offline_banner(browser, demo):
    title = "A study group with a really rather long title " + uuid.uuid4().hex[:6]
    tb.new_group(demo, "s-carol", ["s-alice", "s-bob"], title)
    phone = open_as(browser, demo, "s-carol", **PHONE)
    conv_item(phone, title).tap()
    heading = phone.get_by_test_id("chat-title")
    expect(heading).to_have_text(title)
    line = phone.evaluate("parseFloat(getComputedStyle(document.getElementById('chat-title')).lineHeight) || 24")
    assert box(heading)["height"] <= line * 1.5, "the title stays on one line"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    pin, more = phone.get_by_test_id("conv-pin"), phone.get_by_test_id("conv-more")
    expect(pin).to_be_hidden()
    for target in (more, phone.get_by_test_id("conv-people"), phone.locator("#back")):
        b = box(target)
        assert b["width"] >= 44 and b["height"] >= 44
    more.tap()
    expect(more).to_have_attribute("aria-expanded", "true")
    expect(pin).to_be_visible()
    assert box(pin)["height"] >= 44
    expect(pin).to_contain_text("Pin")
    pin.tap()
    expect(pin).to_have_attribute("aria-pressed", "true")
    expect(pin).to_be_hidden()  # a choice closes the menu
    more.tap()
    phone.keyboard.press("Escape")
    expect(pin).to_be_hidden()
    expect(more).to_be_focused()
    # offline: a banner inside the conversation (the list's status line is off screen)
    phone.context.set_offline(True)
    expect(phone.get_by_test_id("offline-banner")).to_be_visible()
    expect(phone.get_by_test_id("offline-banner")).to_contain_text("offline")
    phone.context.set_offline(False)
    online(phone)
    expect(phone.get_by_test_id("offline-banner")).to_be_hidden()
    assert phone.errors == []
    phone.context.close()


def test_message_actions_open_as_a_sheet_with_large_targets_and_more_reactions(browser, demo):
    title = "Sheet " + uuid.uuid4().hex[:6]
    conv_id = tb.new_group(demo, "s-eve", ["s-dan"], title)  # Dan is a plain member
    tb.post_message(demo, conv_id, demo.token("s-eve"), "first from Eve")
    tb.post_message(demo, conv_id, demo.token("s-eve"), "second from Eve")
    phone = open_as(browser, demo, "s-dan", **PHONE)
    conv_item(phone, title).tap()
    first = stored(phone, "first from Eve")
    first.get_by_test_id("message-text").tap()
    sheet = phone.get_by_test_id("msg-sheet")
    expect(sheet).to_be_visible()
    expect(first.locator(".actions")).to_be_hidden()  # no bar left over the next message
    buttons = sheet.locator("button")
    assert buttons.count() > 8  # more than the three quick reactions
    for i in range(buttons.count()):
        b = box(buttons.nth(i))
        assert b["width"] >= 44 and b["height"] >= 44, buttons.nth(i).inner_text()
    expect(sheet.get_by_test_id("sheet-reply")).to_be_visible()
    expect(sheet.get_by_test_id("sheet-report")).to_be_visible()
    expect(sheet.get_by_test_id("sheet-delete")).to_have_count(0)  # not mine, not the owner, not staff
    sheet.locator("[data-testid=sheet-react]", has_text="\U0001F389").tap()
    expect(sheet).to_be_hidden()
    expect(first.get_by_test_id("reaction")).to_have_text("\U0001F389 1")
    expect(stored(phone, "second from Eve").locator(".actions")).to_be_hidden()
    # the sheet's Reply starts a reply
    first.get_by_test_id("message-text").tap()
    sheet.get_by_test_id("sheet-reply").tap()
    expect(phone.get_by_test_id("reply-bar")).to_be_visible()
    # on a laptop the bar's ⋯ opens the same sheet; Escape closes it and focus goes back to the ⋯
    laptop = open_as(browser, demo, "s-eve", **LAPTOP)
    conv_item(laptop, title).click()
    mine = stored(laptop, "first from Eve")
    mine.hover()
    mine.get_by_test_id("more").click()
    expect(laptop.get_by_test_id("msg-sheet")).to_be_visible()
    expect(laptop.get_by_test_id("sheet-delete")).to_be_visible()
    laptop.keyboard.press("Escape")
    expect(laptop.get_by_test_id("msg-sheet")).to_be_hidden()
    expect(mine.get_by_test_id("more")).to_be_focused()
    assert phone.errors == [] and laptop.errors == []
    for page in (phone, laptop):
        page.context.close()


# --- item 2: My classes -------------------------------------------------------------------------

@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_my_classes_open_the_class_chat_in_one_step(browser, demo, size):
    teacher = open_as(browser, demo, "t-turing", **size)
    classes = teacher.get_by_test_id("my-classes")
    expect(classes).to_be_visible()
    expect(classes).to_have_attribute("open", "")  # staff see them at once
    rows = teacher.get_by_test_id("class-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Maths 7A")
    expect(rows.nth(0)).to_contain_text("3 students")
    expect(rows.nth(1)).to_contain_text("Science 7C")
    # the class chat that exists: one press
    rows.nth(0).get_by_test_id("class-open").click()
    expect(teacher.get_by_test_id("chat-title")).to_have_text("Maths 7A")
    expect(teacher.get_by_test_id("composer")).to_be_visible()
    if size is PHONE:
        teacher.go_back()
        expect(teacher.get_by_test_id("conv-list")).to_be_visible()
    # Science 7C has none yet: one press starts it (the class's own) and opens it
    science = rows.nth(1).get_by_test_id("class-open")
    science.click()
    expect(teacher.get_by_test_id("chat-title")).to_have_text("Science 7C")
    expect(conv_item(teacher, "Science 7C")).to_have_count(1)
    _, listed = http("GET", demo.url + "/api/classes/mine", demo.token("t-turing"))
    sci = next(c for c in listed["data"]["classes"] if c["id"] == "science-7c")
    assert [c["type"] for c in sci["conversations"]] == ["class"]
    if size is PHONE:
        teacher.go_back()
    # the second press opens the same one
    expect(rows.nth(1).get_by_test_id("class-open")).to_have_text("Open class chat")
    rows.nth(1).get_by_test_id("class-open").click()
    expect(teacher.get_by_test_id("chat-title")).to_have_text("Science 7C")
    _, again = http("GET", demo.url + "/api/conversations?type=class", demo.token("t-turing"))
    assert sorted(c["title"] for c in again["data"]) == ["Maths 7A", "Science 7C"]
    assert teacher.errors == []
    teacher.context.close()


def test_a_student_sees_their_classes_and_no_start_button(browser, demo):
    student = open_as(browser, demo, "s-finn")
    classes = student.get_by_test_id("my-classes")
    expect(classes).to_be_visible()
    expect(classes).not_to_have_attribute("open", "")
    classes.locator("summary").click()
    row = student.get_by_test_id("class-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Art 7B")
    expect(row.get_by_test_id("class-open")).to_have_count(0)  # no class chat for Art 7B, and a student does not start one
    row.get_by_test_id("class-news").click()
    expect(student.get_by_test_id("chat-title")).to_have_text("Art 7B news")
    assert student.errors == []
    student.context.close()


# --- item 3: membership and staff moderation ---------------------------------------------------

def class_conv_id(demo, title: str) -> str:
    _, listed = http("GET", demo.url + "/api/conversations?type=class", demo.token("t-turing"))
    return next(c["id"] for c in listed["data"] if c["title"] == title)


def members(demo, conv_id: str):
    _, data = http("GET", demo.url + "/api/conversations/%s" % conv_id, demo.token("t-turing"))
    return sorted(p["userId"] for p in data["data"]["participants"])


def test_a_teacher_adds_and_removes_people_and_deletes_a_students_message(browser, demo):
    conv_id = class_conv_id(demo, "Maths 7A")
    text = "something unkind " + uuid.uuid4().hex[:6]
    tb.post_message(demo, conv_id, demo.token("s-alice"), text)
    teacher = open_as(browser, demo, "t-turing", **LAPTOP)
    conv_item(teacher, "Maths 7A").click()
    teacher.get_by_test_id("conv-people").click()
    panel = teacher.get_by_test_id("people-panel")
    expect(panel.get_by_test_id("people-add")).to_be_visible()
    panel.get_by_test_id("people-add-input").fill("Finn")
    panel.get_by_test_id("add-person").filter(has_text="Finn Larsen").click()
    expect(panel.locator("[data-testid=person][data-user=s-finn]")).to_have_count(1)
    expect(teacher.get_by_test_id("toast")).to_contain_text("1 person added")
    assert "s-finn" in members(demo, conv_id)
    remove = panel.locator("[data-testid=person][data-user=s-finn]").get_by_test_id("remove-person")
    remove.click()
    expect(remove).to_have_text("Remove?")
    assert "s-finn" in members(demo, conv_id)  # the first press only asks
    remove.click()
    expect(panel.locator("[data-testid=person][data-user=s-finn]")).to_have_count(0)
    expect(teacher.get_by_test_id("toast")).to_contain_text("Finn Larsen was removed")
    assert "s-finn" not in members(demo, conv_id)
    # Escape closes the panel wherever focus is in it, and focus goes back to 👥
    teacher.get_by_test_id("conv-people").focus()
    teacher.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(teacher.get_by_test_id("conv-people")).to_be_focused()
    # staff delete in a class conversation
    seq = stored(teacher, text).get_attribute("data-seq")
    theirs = teacher.locator("[data-testid=message][data-seq='%s']" % seq)
    theirs.hover()
    delete = theirs.get_by_test_id("delete")
    expect(delete).to_have_attribute("aria-label", "Delete this message (as staff)")
    delete.click()
    theirs.get_by_test_id("delete").click()
    expect(theirs.get_by_test_id("message-text")).to_have_text("This message was deleted")
    _, page = http("GET", demo.url + "/api/conversations/%s/messages?limit=100" % conv_id, demo.token("s-bob"))
    assert [m for m in page["data"] if m.get("text") == text] == []
    # a student of the class gets neither
    bob = open_as(browser, demo, "s-bob", **PHONE)
    conv_item(bob, "Maths 7A").tap()
    bob.get_by_test_id("conv-people").tap()
    expect(bob.get_by_test_id("people-add")).to_be_hidden()
    expect(bob.get_by_test_id("remove-person")).to_have_count(0)
    bob.keyboard.press("Escape")
    stored(bob, "every step").get_by_test_id("message-text").tap()
    expect(bob.get_by_test_id("msg-sheet")).to_be_visible()
    expect(bob.get_by_test_id("sheet-delete")).to_have_count(0)
    expect(bob.get_by_test_id("sheet-report")).to_be_visible()
    assert teacher.errors == [] and bob.errors == []
    for p in (teacher, bob):
        p.context.close()


# --- item 6: clarity ------------------------------------------------------------------------------

CONTRAST = """(node) => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const s = getComputedStyle(node);
  const [a, b] = [lum(rgb(s.color)), lum(rgb(s.backgroundColor))].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def test_loading_and_empty_states_are_said(browser, demo):
    title = "Empty " + uuid.uuid4().hex[:6]
    tb.new_group(demo, "s-carol", ["s-bob"], title)
    carol = open_as(browser, demo, "s-carol", **LAPTOP)
    # focus after sign-in is on the conversations, not the page's body
    assert carol.evaluate("document.activeElement.closest('#conv-list, #sidebar') !== null")
    held = []
    carol.route("**/api/conversations/*/messages?*", lambda route: held.append(route))
    conv_item(carol, "Maths 7A").click()
    note = carol.get_by_test_id("messages-state")
    expect(note).to_have_text("Loading messages\u2026")
    expect(note).to_have_attribute("data-state", "loading")
    assert len(held) >= 1
    for route in held:
        route.continue_()
    carol.unroute("**/api/conversations/*/messages?*")
    expect(stored(carol, "every step")).to_have_count(1)
    expect(note).to_be_hidden()
    conv_item(carol, title).click()
    expect(note).to_have_text("No messages yet. Say hello!")
    send(carol, "hello")
    expect(note).to_be_hidden()
    carol.get_by_test_id("type-filter").select_option("announcement")
    expect(carol.get_by_test_id("list-state")).to_have_text("Nothing matches.")
    carol.get_by_test_id("type-filter").select_option("")
    expect(carol.get_by_test_id("list-state")).to_be_hidden()
    assert carol.errors == []
    carol.context.close()


def test_kinds_mute_archive_undo_readonly_reply_refused_file_and_escape(browser, demo):
    finn = open_as(browser, demo, "s-finn", **LAPTOP)
    # class and announcement conversations look different
    news = conv_item(finn, "Art 7B news")
    expect(news.locator(".avatar")).to_have_class("avatar kind-announcement")
    news.click()
    expect(finn.get_by_test_id("chat-kind")).to_have_text("\U0001F4E3 Announcement")
    # read-only: no Reply in the message's actions or its sheet
    message = stored(finn, "art exhibition")
    message.hover()
    expect(message.get_by_test_id("react").first).to_be_visible()
    expect(message.get_by_test_id("reply")).to_have_count(0)
    message.get_by_test_id("more").click()
    expect(finn.get_by_test_id("sheet-reply")).to_have_count(0)
    finn.keyboard.press("Escape")
    # the mute button's icon says whether it is on
    mute = finn.get_by_test_id("conv-mute")
    expect(mute.locator(".icon")).to_have_text("\U0001F514")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    expect(mute.locator(".icon")).to_have_text("\U0001F515")
    mute.click()
    expect(mute.locator(".icon")).to_have_text("\U0001F514")
    # archive: a toast with Undo
    finn.get_by_test_id("conv-archive").click()
    toast = finn.get_by_test_id("toast")
    expect(toast).to_contain_text("Conversation archived")
    expect(conv_item(finn, "Art 7B news")).to_have_count(0)
    toast.get_by_test_id("toast-undo").click()
    expect(conv_item(finn, "Art 7B news")).to_have_count(1)
    _, seen = http("GET", demo.url + "/api/conversations?limit=100", demo.token("s-finn"))
    assert any(c["title"] == "Art 7B news" for c in seen["data"])
    # a refused file type: the page's words, and no Retry
    pair = tb.new_group(demo, "s-finn", ["s-eve"], "Files " + uuid.uuid4().hex[:6])
    finn.reload()
    online(finn)
    finn.locator("[data-testid=conv-item][data-id='%s']" % pair).click()
    finn.get_by_test_id("attach-input").set_input_files([{"name": "page.html", "mimeType": "text/html",
                                                          "buffer": b"<html><body>hi</body></html>"}])
    item = finn.get_by_test_id("upload-item")
    expect(item).to_have_attribute("data-status", "failed")
    expect(item.get_by_test_id("upload-error")).to_have_text("This kind of file cannot be sent.")
    expect(item.get_by_test_id("upload-retry")).to_have_count(0)
    item.get_by_test_id("upload-remove").click()
    # "Seen by" closes with Escape, focus back on it
    send(finn, "seen?")
    seen_by = stored(finn, "seen?").get_by_test_id("seen-by")
    seen_by.click()
    expect(finn.get_by_test_id("receipts")).to_have_count(1)
    finn.keyboard.press("Escape")
    expect(finn.get_by_test_id("receipts")).to_have_count(0)
    expect(seen_by).to_be_focused()
    assert finn.errors == []
    finn.context.close()


def test_the_mention_badge_is_readable_and_a_bad_token_gets_plain_words(browser, demo):
    title = "Badge " + uuid.uuid4().hex[:6]
    conv_id = tb.new_group(demo, "s-bob", ["s-alice"], title)
    http("POST", demo.url + "/api/conversations/%s/messages" % conv_id, demo.token("s-bob"),
         {"text": "@Alice Martin look", "mentions": ["s-alice"]})
    alice = open_as(browser, demo, "s-alice", **LAPTOP)
    badge = conv_item(alice, title).get_by_test_id("mention-badge")
    expect(badge).to_be_visible()
    # measured on the badge on screen when it is: the list may draw it again between a lookup and
    # a read (a detached node has no computed colours), so the page is asked until it answers
    ratio = alice.wait_for_function("""([title, contrast]) => {
      const item = [...document.querySelectorAll("[data-testid=conv-item]")].find((n) => n.textContent.includes(title));
      const badge = item && item.querySelector("[data-testid=mention-badge]");
      if (!badge || !badge.isConnected || !getComputedStyle(badge).backgroundColor) return false;
      return eval(contrast)(badge);
    }""", arg=[title, CONTRAST])
    assert ratio.json_value() >= 4.5
    alice.context.close()
    context = browser.new_context()
    page = context.new_page()
    page.goto(demo.url + "/")
    page.fill("#token-input", "not-a-token")
    page.click("#token-form button[type=submit]")
    error = page.locator("#signin-error")
    expect(error).to_contain_text("is not valid")
    assert "JWT" not in error.inner_text() and "token:" not in error.inner_text()
    context.close()


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_no_serious_accessibility_violations_on_the_school_screens(browser, demo, size):
    found = []
    teacher = open_as(browser, demo, "t-turing", **size)
    expect(teacher.get_by_test_id("class-row").first).to_be_visible()
    found += tb.serious_violations(teacher, "list with my classes")
    teacher.get_by_test_id("class-row").first.get_by_test_id("class-open").click()
    expect(stored(teacher, "every step")).to_have_count(1)
    found += tb.serious_violations(teacher, "class conversation")
    teacher.get_by_test_id("conv-people").click()
    expect(teacher.get_by_test_id("people-add")).to_be_visible()
    teacher.get_by_test_id("people-add-input").fill("Fi")
    expect(teacher.get_by_test_id("add-person").first).to_be_visible()
    found += tb.serious_violations(teacher, "people panel with add")
    teacher.keyboard.press("Escape")
    if size is PHONE:
        teacher.get_by_test_id("conv-more").click()
        expect(teacher.get_by_test_id("conv-pin")).to_be_visible()
        found += tb.serious_violations(teacher, "overflow menu")
        teacher.keyboard.press("Escape")
    message = stored(teacher, "every step")
    message.hover()
    message.get_by_test_id("more").click()
    expect(teacher.get_by_test_id("msg-sheet")).to_be_visible()
    found += tb.serious_violations(teacher, "action sheet")
    teacher.keyboard.press("Escape")
    teacher.get_by_test_id("conv-archive").click() if size is LAPTOP else None
    if size is LAPTOP:
        expect(teacher.get_by_test_id("toast")).to_be_visible()
        found += tb.serious_violations(teacher, "toast")
        teacher.get_by_test_id("toast-undo").click()
    teacher.context.set_offline(True)
    expect(teacher.get_by_test_id("offline-banner")).to_be_visible()
    teacher.get_by_test_id("composer").fill("waiting " + uuid.uuid4().hex[:4])
    teacher.get_by_test_id("composer").press("Enter")
    expect(pending(teacher)).to_have_count(1)
    found += tb.serious_violations(teacher, "offline, a message waiting")
    teacher.context.set_offline(False)
    online(teacher)
    expect(pending(teacher)).to_have_count(0, timeout=30000)
    assert found == [], "\n".join("%(where)s: %(id)s (%(impact)s) %(help)s %(nodes)s" % v for v in found)
    assert teacher.errors == []
    teacher.context.close()


# --- item 7 (part): the language and the page's lang ---------------------------------------------

def test_the_language_follows_the_browser_then_the_users_choice(browser, demo):
    context = browser.new_context(locale="km-KH", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(demo.url + "/")
    page.click("button[data-user=t-turing]")
    online(page)
    assert page.evaluate("document.documentElement.lang") == "km"
    expect(page.get_by_test_id("class-open").first).to_have_text("\u1794\u17be\u1780\u1780\u17b6\u179a\u1787\u1787\u17c2\u1780\u1790\u17d2\u1793\u17b6\u1780\u17cb")
    expect(page.get_by_test_id("sheet-close")).to_have_text("\u1794\u17b7\u1791")  # the page's markup too
    expect(page.get_by_test_id("lang-pick")).to_have_attribute("aria-label", "\u1797\u17b6\u179f\u17b6")
    page.get_by_test_id("lang-pick").select_option("fr")
    online(page)
    assert page.evaluate("document.documentElement.lang") == "fr"
    expect(page.get_by_test_id("class-open").first).to_have_text("Ouvrir la discussion de classe")
    page.get_by_test_id("lang-pick").select_option("en")
    online(page)
    expect(page.get_by_test_id("class-open").first).to_have_text("Open class chat")
    assert page.evaluate("document.documentElement.lang") == "en"
    context.close()


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_no_serious_accessibility_violations_in_the_dark_theme(browser, demo, size):
    context = browser.new_context(color_scheme="dark", viewport={"width": size["width"], "height": size["height"]},
                                  has_touch=bool(size.get("touch")))
    page = context.new_page()
    page.goto(demo.url + "/")
    expect(page.locator("button[data-user=t-turing]")).to_be_visible()
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(244, 246, 249)"
    found = tb.serious_violations(page, "sign-in")
    page.click("button[data-user=t-turing]")
    online(page)
    expect(page.get_by_test_id("class-row").first).to_be_visible()
    found += tb.serious_violations(page, "list")
    page.get_by_test_id("class-row").first.get_by_test_id("class-open").click()
    expect(stored(page, "every step")).to_have_count(1)
    found += tb.serious_violations(page, "conversation")
    page.get_by_test_id("conv-people").click()
    expect(page.get_by_test_id("people-add")).to_be_visible()
    found += tb.serious_violations(page, "people panel")
    page.keyboard.press("Escape")
    message = stored(page, "every step")
    message.hover()
    message.get_by_test_id("more").click()
    expect(page.get_by_test_id("msg-sheet")).to_be_visible()
    found += tb.serious_violations(page, "action sheet")
    page.keyboard.press("Escape")
    if size is PHONE:
        page.go_back()
        expect(page.get_by_test_id("conv-list")).to_be_visible()
    page.get_by_test_id("new-conv").click()
    expect(page.get_by_test_id("user-results").locator("li").first).to_be_visible()
    found += tb.serious_violations(page, "new dialog")
    assert found == [], "\n".join("%(where)s: %(id)s (%(impact)s) %(help)s %(nodes)s" % v for v in found)
    context.close()
