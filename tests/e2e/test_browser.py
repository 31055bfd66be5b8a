"""The web client in a real headless chromium (Debian's), driven by Playwright, against the
real server started the way the README says (``python server.py --demo``).

No test waits on the clock: every wait is for a condition on the page (Playwright's ``expect``
polls it), and a message counts as sent once its stored copy (with a ``data-seq``) replaced the
optimistic one, not when the optimistic one shows. Timeouts are ceilings for slow machines."""
from __future__ import annotations

import os
import re
import shutil
import uuid

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.test_process import ServerProc, http

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AXE = os.path.join(ROOT, "node_modules", "axe-core", "axe.min.js")
STARTUP_CEILING = 120  # seconds: a generous bound for a server start on a busy machine


class DemoServer:
    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self.proc = ServerProc(data_dir, "--demo")
        self.proc.wait_ready(STARTUP_CEILING)
        self.url = self.proc.url

    def restart(self) -> None:
        """Stop (every socket is dropped with 1001) and start again on the same port and data."""
        port = self.proc.port
        self.proc.proc.terminate()
        assert self.proc.proc.wait(STARTUP_CEILING) == 0
        self.proc.stop()
        self.proc = ServerProc(self.data_dir, "--demo", port=port)

    def token(self, user: str) -> str:
        return http("POST", self.url + "/api/demo/token", None, {"userId": user})[1]["data"]["token"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    server = DemoServer(str(tmp_path_factory.mktemp("demo") / "data"))
    yield server
    server.proc.stop()


@pytest.fixture(scope="module")
def browser():
    if not shutil.which("chromium"):
        pytest.fail("Debian's chromium is required (.ci/run installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        yield b
        b.close()


def online(page: Page) -> None:
    """Wait until the page's socket is up (its conversation list was read after subscribing)."""
    expect(page.get_by_test_id("conn-state")).to_have_attribute("data-state", "online", timeout=60000)


def open_as(browser, demo, user: str, width: int = 1100, height: int = 680, gate=None, touch: bool = False,
            init_script: str = "") -> Page:
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=touch)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    if gate is not None:
        # the socket goes through Playwright: while the gate is shut, reconnects are refused
        def route(ws) -> None:
            if gate["open"]:
                ws.connect_to_server()
            else:
                ws.close(code=4000, reason="held back by the test")
        page.route_web_socket("**/ws**", route)
    page.errors = []
    page.dialogs = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(demo.url + "/")
    page.click("button[data-user=%s]" % user)
    online(page)
    return page


def test_demo_mode_serves_loopback_clients(demo):
    status, users = http("GET", demo.url + "/api/demo/users")
    assert status == 200 and len(users["data"]) == 9
    assert {u["role"] for u in users["data"]} == {"admin", "teacher", "student"}
    status, data = http("POST", demo.url + "/api/demo/token", None, {"userId": "nobody"})
    assert status == 400
    tok = demo.token("t-turing")
    _, listed = http("GET", demo.url + "/api/conversations?type=class", tok)
    assert [c["title"] for c in listed["data"]] == ["Maths 7A"] and listed["data"][0]["lastSeq"] >= 4


def new_group(demo, owner: str, members, title: str) -> str:
    status, data = http("POST", demo.url + "/api/conversations", demo.token(owner),
                        {"type": "group", "participantIds": list(members), "title": title})
    assert status == 201, data
    return data["data"]["id"]


def post_message(demo, conv_id: str, tok: str, text: str) -> None:
    """Someone posts over REST (201 once stored)."""
    status, data = http("POST", demo.url + "/api/conversations/%s/messages" % conv_id, tok, {"text": text})
    assert status == 201, data


def conv_item(page: Page, title: str):
    return page.locator("[data-testid=conv-item]", has_text=title)


def direct_item(page: Page, name: str):
    return page.locator("[data-testid=conv-item][data-type=direct]", has_text=name)


def messages(page: Page):
    return page.locator("[data-testid=message-text]")


def stored(page: Page, text: str):
    """The stored (server-acknowledged) messages containing ``text``."""
    return page.locator("[data-testid=message][data-seq]", has_text=text)


def send(page: Page, text: str) -> None:
    """Type ``text`` in the composer, press Enter, and wait until the server has stored it."""
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("composer").press("Enter")
    expect(stored(page, text)).to_have_count(1)


def test_two_users_chat_typing_unread_ticks_and_xss(browser, demo):
    title = "Study group " + uuid.uuid4().hex[:6]
    alice = open_as(browser, demo, "s-alice")
    bob = open_as(browser, demo, "s-bob")
    new_group(demo, "s-alice", ["s-bob", "s-carol"], title)
    alice.reload()
    bob.reload()
    online(alice)
    online(bob)
    conv_item(alice, title).click()
    send(alice, "Hi Bob, shall we revise chapter 3 together?")
    # Bob has not opened it: the badge rises, then clears when he opens it
    expect(conv_item(bob, title).get_by_test_id("badge")).to_have_text("1")
    conv_item(bob, title).click()
    expect(messages(bob).last).to_have_text("Hi Bob, shall we revise chapter 3 together?")
    expect(conv_item(bob, title).get_by_test_id("badge")).to_have_count(0)
    # Alice's message shows as read once Bob has it open (Carol never opened it: delivered at most)
    # typing indicator appears for Alice and goes away when Bob sends
    bob.get_by_test_id("composer").fill("Sure")
    expect(alice.get_by_test_id("typing")).to_have_text("Bob Chen is typing\u2026")
    bob.get_by_test_id("composer").fill("Sure! After lunch \U0001F44D")
    bob.keyboard.press("Enter")
    expect(messages(alice).last).to_have_text("Sure! After lunch \U0001F44D")
    expect(alice.get_by_test_id("typing")).to_have_text("")
    expect(alice.locator("[data-testid=message][data-seq] [data-testid=ticks]").first).to_have_attribute(
        "data-status", "sent")  # Carol has not received it yet
    # an HTML payload is shown as text and never runs
    payload = "<img src=x onerror=alert(1)>"
    alice.get_by_test_id("composer").fill(payload)
    alice.keyboard.press("Enter")
    expect(messages(bob).last).to_have_text(payload)
    assert bob.locator("[data-testid=messages] img").count() == 0
    assert alice.locator("[data-testid=messages] img").count() == 0
    assert bob.dialogs == [] and alice.dialogs == []
    # a direct conversation: ticks go sent -> read when the other side opens it
    pair = direct_item(alice, "Bob Chen")
    pair.click()
    alice.get_by_test_id("composer").fill("Also: bring the calculator")
    alice.keyboard.press("Enter")
    mine = alice.locator("[data-testid=message]", has_text="bring the calculator").get_by_test_id("ticks")
    expect(mine).to_have_attribute("data-status", "delivered")
    direct_item(bob, "Alice Martin").click()
    expect(mine).to_have_attribute("data-status", "read")
    expect(direct_item(alice, "Bob Chen").get_by_test_id("presence-dot")).to_have_attribute("data-online", "1")
    assert alice.dialogs == [] and bob.dialogs == []
    assert alice.errors == [] and bob.errors == []
    alice.context.close()
    bob.context.close()


def test_edit_delete_and_reactions_update_the_other_window(browser, demo):
    title = "Edits " + uuid.uuid4().hex[:6]
    new_group(demo, "s-dan", ["s-eve"], title)
    dan = open_as(browser, demo, "s-dan")
    eve = open_as(browser, demo, "s-eve")
    conv_item(dan, title).click()
    conv_item(eve, title).click()
    for text in ("teh volcano", "to be deleted"):
        send(dan, text)
        expect(messages(eve).last).to_have_text(text)
    first = dan.locator("[data-testid=message]", has_text="teh volcano")
    first.hover()
    first.get_by_test_id("edit").click()
    dan.get_by_test_id("edit-box").fill("the volcano")
    dan.get_by_test_id("edit-box").press("Enter")
    expect(eve.locator("[data-testid=message]").filter(has_text="the volcano")).to_have_count(1)
    expect(eve.locator("[data-testid=message]", has_text="the volcano")).to_contain_text("edited")
    second = dan.locator("[data-testid=message]", has_text="to be deleted")
    second.hover()
    second.get_by_test_id("delete").click()
    second.get_by_test_id("delete").click()
    expect(eve.locator("[data-testid=message].deleted [data-testid=message-text]")).to_have_text(
        "This message was deleted")
    expect(eve.get_by_text("to be deleted")).to_have_count(0)
    target = eve.locator("[data-testid=message]", has_text="the volcano")
    target.hover()
    target.get_by_test_id("react").first.click()
    expect(dan.locator("[data-testid=message]", has_text="the volcano").get_by_test_id("reaction")).to_have_text(
        "\U0001F44D 1")
    assert dan.errors == [] and eve.errors == []
    dan.context.close()
    eve.context.close()


def test_after_the_server_drops_the_socket_nothing_is_missed_or_doubled(browser, demo):
    title = "Reconnect " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-carol", ["s-alice"], title)
    gate = {"open": True}
    carol = open_as(browser, demo, "s-carol", gate=gate)
    conv_item(carol, title).click()
    # stored before the drop: were it still in flight, the resend could land after Alice's messages
    send(carol, "before the drop")
    gate["open"] = False  # hold Carol's reconnects back while the others talk
    demo.restart()  # the server drops every socket (1001)
    expect(carol.get_by_test_id("conn-state")).to_have_attribute("data-state", "offline", timeout=60000)
    demo.proc.wait_ready(STARTUP_CEILING)
    alice_token = demo.token("s-alice")
    for i in range(3):
        status, _ = http("POST", demo.url + "/api/conversations/%s/messages" % conv_id, alice_token,
                         {"text": "missed %d" % i})
        assert status == 201
    # Carol writes while offline: shown at once as pending, sent after reconnect, exactly once
    carol.get_by_test_id("composer").fill("written offline")
    carol.keyboard.press("Enter")
    expect(carol.locator("[data-testid=message][data-pending='1']")).to_have_count(1)
    gate["open"] = True
    # the next retry may be up to 30 s away (backoff); then sync, then the outbox flush
    expect(carol.get_by_test_id("conn-state")).to_have_attribute("data-state", "online", timeout=90000)
    expect(carol.locator("[data-testid=message][data-pending='1']")).to_have_count(0, timeout=30000)
    texts = [t for t in messages(carol).all_inner_texts() if not t.startswith("Carol")]
    assert texts == ["before the drop", "missed 0", "missed 1", "missed 2", "written offline"]
    _, history = http("GET", demo.url + "/api/conversations/%s/messages" % conv_id, alice_token)
    assert [m["text"] for m in history["data"]] == texts
    assert carol.errors == []
    carol.context.close()


def test_small_screen_and_conversation_search(browser, demo):
    phone = open_as(browser, demo, "s-alice", width=375, height=720)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    expect(phone.get_by_test_id("conv-list")).to_be_visible()
    phone.get_by_test_id("type-filter").select_option("class")
    expect(phone.locator("[data-testid=conv-item]")).to_have_count(1)
    expect(phone.locator("[data-testid=conv-item]").first).to_contain_text("Maths 7A")
    phone.get_by_test_id("type-filter").select_option("")
    phone.get_by_test_id("conv-search").fill("homework")
    expect(phone.get_by_test_id("search-results")).to_contain_text("exercises 4 to 9")
    phone.get_by_test_id("conv-search").fill("")
    conv_item(phone, "Maths 7A").click()
    expect(phone.get_by_test_id("chat")).to_be_visible()
    expect(phone.get_by_test_id("conv-list")).to_be_hidden()
    expect(phone.get_by_test_id("composer")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    phone.click("#back")
    expect(phone.get_by_test_id("conv-list")).to_be_visible()
    phone.context.close()


def test_starting_a_direct_conversation_from_the_picker(browser, demo):
    finn = open_as(browser, demo, "s-finn")
    finn.get_by_test_id("new-conv").click()
    finn.get_by_test_id("user-search").fill("Frida")
    finn.locator("[data-testid=user-results] li", has_text="Frida Kahlo").click()
    finn.click("#new-create")
    expect(finn.get_by_test_id("chat-title")).to_have_text("Frida Kahlo")
    send(finn, "Hello Ms Kahlo")  # stored before Frida signs in: her list must count it
    frida = open_as(browser, demo, "t-kahlo")
    expect(direct_item(frida, "Finn Larsen").get_by_test_id("badge")).to_have_text("1")
    # a group: a title and two people picked
    title = "Poster team " + uuid.uuid4().hex[:4]
    finn.get_by_test_id("new-conv").click()
    finn.check("input[name=kind][value=group]")
    finn.fill("#new-title", title)
    for name in ("Dan Okafor", "Eve Novak"):
        finn.get_by_test_id("user-search").fill(name.split()[0])
        finn.locator("[data-testid=user-results] li", has_text=name).click()
    expect(finn.locator("#picked")).to_have_text("Dan Okafor, Eve Novak")
    finn.click("#new-create")
    expect(finn.get_by_test_id("chat-title")).to_have_text(title)
    expect(finn.locator("#chat-sub")).to_contain_text("group \u00b7 3 people")
    send(finn, "Who brings the glue?")
    dan = open_as(browser, demo, "s-dan")
    expect(conv_item(dan, title).get_by_test_id("badge")).to_have_text("1")
    assert finn.errors == [] and frida.errors == [] and dan.errors == []
    for page in (finn, frida, dan):
        page.context.close()


def test_older_pages_load_on_scroll_and_shift_enter_adds_a_line(browser, demo):
    title = "Long history " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-eve", ["s-finn", "s-dan"], title)
    tok = demo.token("s-finn")
    # two senders, 40 each: far below the per-user send burst (60), however fast the posts go
    senders = [tok, demo.token("s-dan")]
    for i in range(80):
        post_message(demo, conv_id, senders[i % 2], "old %d" % i)
    eve = open_as(browser, demo, "s-eve")
    conv_item(eve, title).click()
    expect(messages(eve).last).to_have_text("old 79")
    expect(eve.locator("[data-testid=message][data-seq]")).to_have_count(50)  # one page
    eve.locator("#messages").evaluate("box => { box.scrollTop = 0; box.dispatchEvent(new Event('scroll')); }")
    expect(eve.locator("[data-testid=message][data-seq]")).to_have_count(80)  # the older page came in
    expect(messages(eve).first).to_have_text("old 0")
    composer = eve.get_by_test_id("composer")
    composer.type("line one")
    composer.press("Shift+Enter")
    composer.type("line two")
    composer.press("Enter")
    expect(messages(eve).last).to_have_text("line one\nline two")
    expect(stored(eve, "line two")).to_have_count(1)  # the server has it: the optimistic copy is gone
    _, hist = http("GET", demo.url + "/api/conversations/%s/messages?limit=1" % conv_id, tok)
    assert hist["data"][0]["text"] == "line one\nline two"
    eve.context.close()


def test_demo_routes_only_in_demo_mode(tmp_path):
    plain = ServerProc(str(tmp_path / "plain"))
    try:
        plain.wait_ready()
        assert http("GET", plain.url + "/api/demo/users")[0] == 404
        assert http("POST", plain.url + "/api/demo/token", None, {"userId": "s-alice"})[0] == 404
        assert http("GET", plain.url + "/api/conversations")[0] == 401  # the API itself is there
    finally:
        plain.stop()


def test_an_open_edit_box_and_a_composer_draft_survive_incoming_messages(browser, demo):
    title = "Drafts " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-dan", ["s-eve"], title)
    aside = "Aside " + uuid.uuid4().hex[:6]
    other_id = new_group(demo, "s-dan", ["s-eve"], aside)
    eve_token = demo.token("s-eve")
    dan = open_as(browser, demo, "s-dan")
    conv_item(dan, title).click()
    send(dan, "the frist draft")
    mine = stored(dan, "the frist draft")
    mine.hover()
    mine.get_by_test_id("edit").click()
    box = dan.get_by_test_id("edit-box")
    expect(box).to_be_focused()
    box.fill("the first dr")
    # Eve posts twice and reads Dan's message: new messages, receipts and unread pushes re-render
    for text in ("incoming one", "incoming two"):
        post_message(demo, conv_id, eve_token, text)
    http("POST", demo.url + "/api/conversations/%s/read" % conv_id, eve_token, {"seq": 10})
    expect(messages(dan).last).to_have_text("incoming two")
    expect(box).to_have_value("the first dr")
    expect(box).to_be_focused()
    dan.keyboard.type("aft")  # the caret stayed at the end
    expect(box).to_have_value("the first draft")
    dan.keyboard.press("Enter")
    expect(stored(dan, "the first draft")).to_contain_text("edited")
    expect(dan.get_by_test_id("edit-box")).to_have_count(0)
    # a half-written message stays in the composer while others post, and per conversation
    composer = dan.get_by_test_id("composer")
    composer.fill("half a thought")
    post_message(demo, conv_id, eve_token, "incoming three")
    expect(messages(dan).last).to_have_text("incoming three")
    expect(composer).to_have_value("half a thought")
    conv_item(dan, aside).click()
    expect(dan.get_by_test_id("chat-title")).to_have_text(aside)
    expect(composer).to_have_value("")
    post_message(demo, other_id, eve_token, "elsewhere")
    expect(messages(dan).last).to_have_text("elsewhere")
    conv_item(dan, title).click()
    expect(dan.get_by_test_id("chat-title")).to_have_text(title)
    expect(composer).to_have_value("half a thought")
    assert dan.errors == []
    dan.context.close()


COUNTED_DOWN = """() => {
  // true once the retry countdown shows a number one below the previous one (a tick, not a re-arm)
  const node = document.querySelector("[data-testid=conn-state]");
  const n = node.dataset.state === "offline" && node.dataset.retryIn ? Number(node.dataset.retryIn) : null;
  const seen = window.__countdown || (window.__countdown = { prev: null });
  const ticked = n !== null && seen.prev !== null && seen.prev >= 2 && n === seen.prev - 1
    && node.textContent === `Offline, retrying in ${n}s`;
  seen.prev = n;
  return ticked;
}"""


def test_offline_status_counts_down_and_an_unsent_message_offers_retry(browser, demo):
    title = "Offline " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-bob", ["s-carol"], title)
    bob = open_as(browser, demo, "s-bob")
    conv_item(bob, title).click()
    send(bob, "while online")
    bob.context.set_offline(True)
    expect(bob.get_by_test_id("conn-state")).to_have_attribute("data-state", "offline")
    bob.wait_for_function(COUNTED_DOWN, polling="raf", timeout=120000)
    # written while offline: not "Sending…" forever, but waiting for the connection, with "Try now"
    bob.get_by_test_id("composer").fill("written offline")
    bob.get_by_test_id("composer").press("Enter")
    pending = bob.locator("[data-testid=message][data-pending='1']", has_text="written offline")
    expect(pending.get_by_test_id("send-state")).to_contain_text("Waiting for the connection")
    pending.get_by_test_id("retry").click()  # still offline: tried, and back to waiting
    expect(pending.get_by_test_id("send-state")).to_contain_text("Waiting for the connection")
    expect(pending).to_have_count(1)
    bob.context.set_offline(False)  # back online: reconnects at once and sends it, once
    expect(bob.get_by_test_id("conn-state")).to_have_attribute("data-state", "online", timeout=60000)
    expect(stored(bob, "written offline")).to_have_count(1, timeout=30000)
    expect(pending).to_have_count(0)
    _, history = http("GET", demo.url + "/api/conversations/%s/messages" % conv_id, demo.token("s-carol"))
    assert [m["text"] for m in history["data"] if m.get("type") != "system"] == ["while online", "written offline"]
    assert bob.errors == []
    bob.context.close()


def test_new_dialog_starts_blank_and_refuses_a_group_with_nobody(browser, demo):
    finn = open_as(browser, demo, "s-finn")
    title = "Nobody here " + uuid.uuid4().hex[:4]
    dialog = finn.get_by_test_id("new-dialog")
    finn.get_by_test_id("new-conv").click()
    expect(finn.get_by_test_id("user-search")).to_be_focused()
    finn.check("input[name=kind][value=group]")
    finn.get_by_test_id("new-title").fill(title)
    finn.click("#new-create")
    expect(finn.locator("#new-error")).to_have_text("Pick at least one person for the group.")
    expect(dialog).to_be_visible()
    _, listed = http("GET", demo.url + "/api/conversations?limit=100", demo.token("s-finn"))
    assert title not in [c.get("title") for c in listed["data"]]
    finn.get_by_test_id("user-search").fill("Dan")
    finn.locator("[data-testid=user-results] li", has_text="Dan Okafor").click()
    expect(finn.locator("#picked")).to_have_text("Dan Okafor")
    finn.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(finn.get_by_test_id("new-conv")).to_be_focused()  # focus goes back where it came from
    # opened again: nothing of the last attempt is left
    finn.get_by_test_id("new-conv").click()
    expect(finn.get_by_test_id("user-search")).to_have_value("")
    expect(finn.locator("input[name=kind][value=direct]")).to_be_checked()
    expect(finn.get_by_test_id("new-title")).to_be_hidden()
    expect(finn.get_by_test_id("new-title")).to_have_value("")
    expect(finn.locator("#picked")).to_have_text("")
    expect(finn.locator("#new-error")).to_have_text("")
    finn.click("#new-create")
    expect(finn.locator("#new-error")).to_have_text("Pick a person to message.")
    assert finn.errors == []
    finn.context.close()


PLACEHOLDER_FITS = """(input) => {
  // the placeholder's rendered width against the room the field gives it
  const style = getComputedStyle(input);
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = style.font;
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return { text: input.placeholder, width: ctx.measureText(input.placeholder).width, room };
}"""


def assert_placeholder_fits(locator) -> None:
    got = locator.evaluate(PLACEHOLDER_FITS)
    assert got["text"] and got["width"] <= got["room"], got


def test_layout_placeholders_fit_and_one_person_is_singular(browser, demo):
    title = "Solo " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-eve", ["s-dan"], title)
    status, _ = http("DELETE", demo.url + "/api/conversations/%s/participants/s-dan" % conv_id, demo.token("s-eve"))
    assert status in (200, 204), status
    wide = open_as(browser, demo, "s-eve", width=1280, height=800)
    assert_placeholder_fits(wide.get_by_test_id("conv-search"))
    conv_item(wide, title).click()
    expect(wide.locator("#chat-sub")).to_have_text("group \u00b7 1 person")
    assert_placeholder_fits(wide.get_by_test_id("composer"))
    phone = open_as(browser, demo, "s-eve", width=375, height=720)
    assert_placeholder_fits(phone.get_by_test_id("conv-search"))
    conv_item(phone, title).click()
    expect(phone.get_by_test_id("composer")).to_be_visible()
    assert_placeholder_fits(phone.get_by_test_id("composer"))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    for page in (wide, phone):
        page.context.close()


def test_links_are_clickable_for_http_only_and_text_stays_text(browser, demo):
    title = "Links " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-dan", ["s-eve"], title)
    text = "notes: https://example.org/a?b=1&c=2 (not javascript:alert(1)) <b>bold</b> http://school.test/x."
    eve = open_as(browser, demo, "s-eve")
    conv_item(eve, title).click()
    post_message(demo, conv_id, demo.token("s-dan"), text)
    body = eve.locator("[data-testid=message][data-seq]", has_text="notes:").get_by_test_id("message-text")
    expect(body).to_have_text(text)
    links = body.locator("a")
    expect(links).to_have_count(2)
    assert [links.nth(i).get_attribute("href") for i in range(2)] == ["https://example.org/a?b=1&c=2", "http://school.test/x"]
    for i in range(2):
        assert links.nth(i).get_attribute("rel") == "noopener noreferrer"
        assert links.nth(i).get_attribute("target") == "_blank"
    assert body.locator("b").count() == 0
    assert eve.errors == [] and eve.dialogs == []
    eve.context.close()


def test_the_tab_title_counts_unread_messages(browser, demo):
    title = "Title count " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-carol", ["s-bob"], title)
    bob = open_as(browser, demo, "s-bob")
    expect(conv_item(bob, title)).to_have_count(1)
    badges = bob.get_by_test_id("badge").all_inner_texts()
    before = sum(int(b) for b in badges)
    expect(bob).to_have_title("(%d) School chat" % before if before else "School chat")
    carol_token = demo.token("s-carol")
    for text in ("one", "two"):
        post_message(demo, conv_id, carol_token, text)
    expect(conv_item(bob, title).get_by_test_id("badge")).to_have_text("2")
    expect(bob).to_have_title("(%d) School chat" % (before + 2))
    conv_item(bob, title).click()
    expect(conv_item(bob, title).get_by_test_id("badge")).to_have_count(0)
    expect(bob).to_have_title("(%d) School chat" % before if before else "School chat")
    bob.context.close()


def test_keyboard_and_touch_reach_conversations_and_message_actions(browser, demo):
    title = "Keys " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-carol", ["s-alice"], title)
    carol_token = demo.token("s-carol")
    post_message(demo, conv_id, carol_token, "react to me")
    alice = open_as(browser, demo, "s-alice")
    expect(conv_item(alice, title)).to_have_count(1)
    rows = alice.locator("[data-testid=conv-item] button")
    rows.first.focus()
    alice.keyboard.press("ArrowDown")
    expect(rows.nth(1)).to_be_focused()
    alice.keyboard.press("Home")
    expect(rows.first).to_be_focused()
    # walk down to the new group by keyboard and open it with Enter
    for _ in range(rows.count()):
        if "Keys " in (alice.evaluate("document.activeElement.textContent") or ""):
            break
        alice.keyboard.press("ArrowDown")
    expect(conv_item(alice, title).locator("button")).to_be_focused()
    alice.keyboard.press("Enter")
    expect(alice.get_by_test_id("chat-title")).to_have_text(title)
    expect(alice.get_by_test_id("composer")).to_be_focused()
    # a message's actions appear when it has focus; the first reaction is one Tab further
    message = stored(alice, "react to me")
    message.focus()
    expect(message.locator(".actions")).to_be_visible()
    alice.keyboard.press("Tab")
    expect(message.get_by_test_id("react").first).to_be_focused()
    alice.keyboard.press("Enter")
    expect(message.get_by_test_id("reaction")).to_have_text("\U0001F44D 1")
    expect(message.get_by_test_id("react").first).to_be_focused()  # still there after the re-render
    # a new message from someone else is announced to screen readers
    post_message(demo, conv_id, carol_token, "hear me")
    expect(alice.get_by_test_id("announcer")).to_have_text("Carol Singh: hear me")
    # on a touch screen a tap on a message opens its action sheet
    phone = open_as(browser, demo, "s-alice", width=375, height=720, touch=True)
    conv_item(phone, title).tap()
    tapped = stored(phone, "hear me")
    tapped.get_by_test_id("message-text").tap()
    expect(phone.get_by_test_id("msg-sheet")).to_be_visible()
    phone.get_by_test_id("sheet-react").nth(1).tap()
    expect(tapped.get_by_test_id("reaction")).to_have_text("\u2764\uFE0F 1")
    assert alice.errors == [] and phone.errors == []
    for page in (alice, phone):
        page.context.close()


AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
}"""


def serious_violations(page: Page, where: str):
    """axe-core's serious and critical violations on the page as it is now, in both themes: the
    light one and the dark one (``prefers-color-scheme: dark``), each a `where` of its own."""
    if not os.path.exists(AXE):
        pytest.fail("axe-core is missing: run `npm ci` at the repository root")
    if page.evaluate("typeof window.axe") == "undefined":
        page.add_script_tag(path=AXE)
    found = []
    for scheme in ("dark", "light"):  # the page is left light, as Playwright opens it
        page.emulate_media(color_scheme=scheme)
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (scheme == "dark")
        found += [dict(v, where="%s (%s)" % (where, scheme)) for v in page.evaluate(AXE_RUN)
                  if v["impact"] in ("serious", "critical")]
    return found


@pytest.mark.parametrize("width,height", [(1280, 800), (375, 720)])
def test_no_serious_accessibility_violations(browser, demo, width, height):
    title = "Axe " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-bob", ["s-alice", "s-carol"], title)
    for text in ("hello https://example.org", "a reply"):
        post_message(demo, conv_id, demo.token("s-alice"), text)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(demo.url + "/")
    expect(page.locator("button[data-user=s-bob]")).to_be_visible()
    found = serious_violations(page, "sign-in")
    page.click("button[data-user=s-bob]")
    online(page)
    expect(conv_item(page, title)).to_have_count(1)
    found += serious_violations(page, "list")
    conv_item(page, title).click()
    expect(stored(page, "a reply")).to_have_count(1)
    found += serious_violations(page, "conversation")
    if width < 720:
        page.click("#back")
        expect(page.get_by_test_id("conv-list")).to_be_visible()
    page.get_by_test_id("new-conv").click()
    expect(page.get_by_test_id("user-results").locator("li").first).to_be_visible()
    found += serious_violations(page, "new dialog")
    assert found == [], "\n".join("%(where)s: %(id)s (%(impact)s) %(help)s %(nodes)s" % v for v in found)
    context.close()


def test_signing_in_with_a_pasted_token(browser, demo):
    context = browser.new_context()
    page = context.new_page()
    page.goto(demo.url + "/")
    page.fill("#token-input", "not-a-token")
    page.click("#token-form button[type=submit]")
    expect(page.locator("#signin-error")).to_contain_text("is not valid")
    assert "JWT" not in page.locator("#signin-error").inner_text()  # the page's words, not the server's
    page.fill("#token-input", demo.token("s-carol"))
    page.click("#token-form button[type=submit]")
    online(page)
    expect(page.get_by_test_id("me-name")).to_contain_text("Carol")
    context.close()


HIDE = """(hidden) => {
  // the page believes it is in a background tab (or shown again): visibilityState as the browser reports it
  window.__hidden = hidden;
  if (!window.__visibilityPatched) {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (window.__hidden ? "hidden" : "visible") });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => Boolean(window.__hidden) });
    window.__visibilityPatched = true;
  }
}"""


def set_hidden(page: Page, hidden: bool) -> None:
    """Make the page report itself hidden (a background tab) or visible, without an event."""
    page.evaluate(HIDE, hidden)


def test_sending_clears_ones_own_unread_count(browser, demo):
    title = "Own unread " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-carol", ["s-bob"], title)
    bob = open_as(browser, demo, "s-bob")
    conv_item(bob, title).click()
    expect(bob.get_by_test_id("chat-title")).to_have_text(title)
    # a message arrives while the tab is in the background: it counts as unread
    set_hidden(bob, True)
    post_message(demo, conv_id, demo.token("s-carol"), "are you there?")
    expect(conv_item(bob, title).get_by_test_id("badge")).to_have_text("1")
    # answering it means it was read: the count goes, here and on the server
    send(bob, "yes, here")
    expect(conv_item(bob, title).get_by_test_id("badge")).to_have_count(0)
    _, unread = http("GET", demo.url + "/api/unread", demo.token("s-bob"))
    row = next(r for r in unread["data"]["conversations"] if r["conversationId"] == conv_id)
    assert row["unread"] == 0
    _, history = http("GET", demo.url + "/api/conversations/%s/messages" % conv_id, demo.token("s-bob"))
    assert row["lastReadSeq"] == history["data"][-1]["seq"]
    assert bob.errors == []
    bob.context.close()


PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

PASTE_PHOTO = """async ([width, height]) => {
  // a photo on the clipboard, pasted into the composer
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#3a7"; ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = "#fd3"; ctx.beginPath(); ctx.arc(width / 2, height / 2, height / 3, 0, 7); ctx.fill();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const data = new DataTransfer();
  data.items.add(new File([blob], "photo.png", { type: "image/png" }));
  const input = document.querySelector("[data-testid=composer]");
  input.focus();
  input.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}"""

DROP_FILE = """(name) => {
  const data = new DataTransfer();
  data.items.add(new File(["dropped\\n"], name, { type: "text/plain" }));
  const target = document.querySelector("[data-testid=messages]");
  for (const type of ["dragenter", "dragover", "drop"]) {
    target.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
  }
}"""

IMAGE_LOADED = "(img) => img.complete && img.naturalWidth > 0 ? [img.naturalWidth, img.naturalHeight] : null"


def image_size(locator):
    """The natural size of a loaded <img> (waits until it has loaded)."""
    locator.page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=locator.element_handle())
    return locator.evaluate(IMAGE_LOADED)


def test_attachments_a_pdf_and_a_pasted_photo_each_seen_and_opened_by_the_other(browser, demo, tmp_path):
    title = "Files " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "t-turing", ["s-alice"], title)
    teacher = open_as(browser, demo, "t-turing")
    alice = open_as(browser, demo, "s-alice")
    conv_item(teacher, title).click()
    conv_item(alice, title).click()
    # the teacher attaches a PDF (and a text file she then removes before sending)
    teacher.get_by_test_id("attach-input").set_input_files([
        {"name": "worksheet.pdf", "mimeType": "application/pdf", "buffer": PDF},
        {"name": "draft notes.txt", "mimeType": "text/plain", "buffer": b"not this one\n"}])
    tray = teacher.get_by_test_id("upload-item")
    expect(tray).to_have_count(2)
    expect(tray.nth(0)).to_have_attribute("data-status", "done")
    expect(tray.nth(1)).to_have_attribute("data-status", "done")
    tray.nth(1).get_by_test_id("upload-remove").click()
    expect(tray).to_have_count(1)
    expect(tray.first).to_contain_text("worksheet.pdf")
    send(teacher, "Homework sheet")
    expect(teacher.get_by_test_id("upload-item")).to_have_count(0)
    card = stored(alice, "Homework sheet").get_by_test_id("attachment-file")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("file-name")).to_have_text("worksheet.pdf")
    expect(card.get_by_test_id("file-meta")).to_have_text("%d B \u00b7 PDF" % len(PDF))
    expect(card).to_have_attribute("href", re.compile(r"^/api/uploads/[0-9a-f]{24}\?"))
    with alice.expect_download() as got:
        card.click()
    assert got.value.suggested_filename == "worksheet.pdf"
    assert open(got.value.path(), "rb").read() == PDF
    # Alice pastes a photo; the first upload breaks mid-way (shown with its progress bar, then
    # failed), the retry goes through
    held = []

    def uploads(route) -> None:
        if not held:
            held.append(route)  # answered below, once the progress bar was seen
        else:
            route.continue_()
    alice.route("**/api/uploads?name=*", uploads)
    alice.evaluate(PASTE_PHOTO, [640, 480])
    item = alice.get_by_test_id("upload-item")
    expect(item).to_have_attribute("data-status", "uploading")
    expect(item.get_by_test_id("upload-progress")).to_be_visible()
    assert image_size(item.locator("img")) == [640, 480]  # the preview, from the pasted file
    held[0].abort()
    expect(item).to_have_attribute("data-status", "failed")
    alice.get_by_test_id("composer").press("Enter")  # not sent while a file failed
    expect(alice.get_by_test_id("typing")).to_contain_text("Remove the files that failed to upload (or retry them) first")
    item.get_by_test_id("upload-retry").click()
    expect(item).to_have_attribute("data-status", "done")
    alice.get_by_test_id("composer").press("Enter")  # a photo alone, no text
    expect(alice.get_by_test_id("upload-item")).to_have_count(0)
    photo = teacher.locator("[data-testid=message][data-seq]").last.get_by_test_id("attachment-image")
    expect(photo).to_have_count(1)
    assert max(image_size(photo.locator("img"))) <= 640  # the thumbnail
    photo.click()
    viewer = teacher.get_by_test_id("viewer")
    expect(viewer).to_be_visible()
    assert image_size(viewer.get_by_test_id("viewer-image")) == [640, 480]  # full size
    teacher.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    # a file dragged onto the conversation is attached too
    teacher.evaluate(DROP_FILE, "diagram.txt")
    expect(teacher.get_by_test_id("upload-item")).to_contain_text("diagram.txt")
    teacher.get_by_test_id("upload-remove").click()
    expect(teacher.get_by_test_id("upload-item")).to_have_count(0)
    _, history = http("GET", demo.url + "/api/conversations/%s/messages" % conv_id, demo.token("t-turing"))
    sent = [m for m in history["data"] if m["attachments"]]
    assert [(m["type"], [a["name"] for a in m["attachments"]]) for m in sent] == [
        ("file", ["worksheet.pdf"]), ("image", ["photo.png"])]
    assert teacher.errors == [] and alice.errors == []
    teacher.context.close()
    alice.context.close()


def post(demo, conv_id: str, tok: str, text: str, **extra) -> dict:
    """Someone posts over REST; the stored message."""
    status, data = http("POST", demo.url + "/api/conversations/%s/messages" % conv_id, tok, dict(extra, text=text))
    assert status == 201, data
    return data["data"]


def by_seq(page: Page, seq: int):
    """The stored message with this seq."""
    return page.locator("[data-testid=message][data-seq='%d']" % seq)


def test_replies_quote_the_original_and_jump_to_it(browser, demo):
    title = "Replies " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-dan", ["s-eve", "s-finn"], title)
    dan_token, finn_token = demo.token("s-dan"), demo.token("s-finn")
    first = post(demo, conv_id, dan_token, "Who read chapter one?")
    # more than a page later (two senders, below the per-user send burst), Finn answers it
    for i in range(60):
        last = post(demo, conv_id, [dan_token, finn_token][i % 2], "chatter %d" % i)
    post(demo, conv_id, finn_token, "I did, twice", replyTo=first["id"])
    eve = open_as(browser, demo, "s-eve")
    conv_item(eve, title).click()
    answer = stored(eve, "I did, twice")
    quote = answer.get_by_test_id("reply-quote")
    expect(quote).to_contain_text("An earlier message")  # the original is not loaded yet
    quote.click()  # older pages load until it is there; it is shown and focused
    original = by_seq(eve, first["seq"])
    expect(original).to_be_focused()
    expect(original).to_have_class(re.compile(r"\bhighlight\b"))
    expect(original).to_be_in_viewport()
    expect(quote).to_contain_text("Dan Okafor")
    expect(quote).to_contain_text("Who read chapter one?")
    # Eve replies from a message's actions; the reply bar shows what she answers, Escape cancels
    target = by_seq(eve, last["seq"])
    target.scroll_into_view_if_needed()
    target.hover()
    target.get_by_test_id("reply").click()
    expect(eve.get_by_test_id("reply-bar")).to_contain_text("Replying to Finn Larsen: chatter 59")
    expect(eve.get_by_test_id("composer")).to_be_focused()
    eve.keyboard.press("Escape")
    expect(eve.get_by_test_id("reply-bar")).to_be_hidden()
    target.focus()
    target.get_by_test_id("reply").click()
    send(eve, "me too")
    expect(eve.get_by_test_id("reply-bar")).to_be_hidden()
    mine = stored(eve, "me too")
    expect(mine.get_by_test_id("reply-quote")).to_contain_text("Finn Larsen")
    _, history = http("GET", demo.url + "/api/conversations/%s/messages?limit=1" % conv_id, dan_token)
    assert history["data"][0]["text"] == "me too"
    # the others see the quote; a click jumps to the original
    dan = open_as(browser, demo, "s-dan")
    conv_item(dan, title).click()
    quoted = stored(dan, "me too").get_by_test_id("reply-quote")
    expect(quoted).to_contain_text("chatter 59")
    quoted.click()
    expect(by_seq(dan, last["seq"])).to_be_focused()
    expect(by_seq(dan, last["seq"])).to_have_class(re.compile(r"\bhighlight\b"))
    assert eve.errors == [] and dan.errors == []
    eve.context.close()
    dan.context.close()


def test_inbox_controls_pin_mute_archive_and_leave(browser, demo):
    title = "Inbox " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-carol", ["s-bob"], title)
    carol_token, bob_token = demo.token("s-carol"), demo.token("s-bob")
    bob = open_as(browser, demo, "s-bob")
    conv_item(bob, title).click()
    expect(bob.get_by_test_id("chat-title")).to_have_text(title)
    pin, mute = bob.get_by_test_id("conv-pin"), bob.get_by_test_id("conv-mute")
    archive, leave = bob.get_by_test_id("conv-archive"), bob.get_by_test_id("conv-leave")
    # pinned: first in the list, marked
    pin.click()
    expect(pin).to_have_attribute("aria-pressed", "true")
    expect(bob.locator("[data-testid=conv-item]").first).to_contain_text("\U0001F4CC " + title)
    # muted: an icon on the row, a grey badge, and left out of the tab title
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    expect(conv_item(bob, title).get_by_test_id("muted-icon")).to_be_visible()
    _, seen = http("GET", demo.url + "/api/conversations/%s" % conv_id, bob_token)
    assert seen["data"]["pinned"] is True and seen["data"]["muted"] is True
    conv_item(bob, "Maths 7A").click()
    expect(bob.get_by_test_id("chat-title")).to_have_text("Maths 7A")
    expect(conv_item(bob, "Maths 7A").get_by_test_id("badge")).to_have_count(0)
    before = bob.title()
    post_message(demo, conv_id, carol_token, "muted news")
    expect(conv_item(bob, title).get_by_test_id("badge")).to_have_class(re.compile(r"\bmuted\b"))
    expect(bob).to_have_title(before)
    conv_item(bob, title).click()
    mute.click()
    expect(conv_item(bob, title).get_by_test_id("muted-icon")).to_have_count(0)
    # archived: gone from the list, found under "Archived", and back after Unarchive
    archive.click()
    expect(conv_item(bob, title)).to_have_count(0)
    bob.get_by_test_id("type-filter").select_option("archived")
    expect(conv_item(bob, title)).to_have_count(1)
    expect(bob.locator("[data-testid=conv-item]")).to_have_count(1)
    expect(archive).to_have_attribute("aria-pressed", "true")
    archive.click()
    expect(conv_item(bob, title)).to_have_count(0)
    bob.get_by_test_id("type-filter").select_option("")
    expect(conv_item(bob, title)).to_have_count(1)
    # leave: two steps, then gone here and on the server
    leave.click()
    expect(leave).to_have_text("Leave?")
    expect(conv_item(bob, title)).to_have_count(1)
    leave.click()
    expect(conv_item(bob, title)).to_have_count(0)
    expect(bob.get_by_test_id("chat-title")).to_have_text("Pick a conversation")
    status, _ = http("GET", demo.url + "/api/conversations/%s" % conv_id, bob_token)
    assert status in (403, 404)
    assert bob.errors == []
    bob.context.close()


def test_teachers_start_class_and_announcement_conversations(browser, demo):
    # Art 7B (Frida Kahlo's class: Dan, Eve, Finn) has an announcement channel and no class conversation
    student = open_as(browser, demo, "s-finn")
    student.get_by_test_id("new-conv").click()
    expect(student.locator("input[name=kind][value=class]")).to_be_hidden()
    student.keyboard.press("Escape")
    student.context.close()
    kahlo = open_as(browser, demo, "t-kahlo")
    kahlo.get_by_test_id("new-conv").click()
    kahlo.check("input[name=kind][value=class]")
    expect(kahlo.get_by_test_id("user-search")).to_be_hidden()
    kahlo.click("#new-create")
    expect(kahlo.locator("#new-error")).to_have_text("Pick or type the class.")
    kahlo.get_by_test_id("new-class").fill("art-7b")
    kahlo.click("#new-create")
    expect(kahlo.get_by_test_id("chat-title")).to_have_text("Art 7B")
    expect(kahlo.locator("#chat-sub")).to_contain_text("class \u00b7 4 people")
    # a second announcement channel for a class offered from those of her conversations
    kahlo.get_by_test_id("new-conv").click()
    kahlo.check("input[name=kind][value=announcement]")
    expect(kahlo.locator("#class-options option[value='art-7b']")).to_have_count(1)
    kahlo.get_by_test_id("new-class").fill("art-7b")
    kahlo.get_by_test_id("new-title").fill("Art 7B notices")
    kahlo.click("#new-create")
    expect(kahlo.get_by_test_id("chat-title")).to_have_text("Art 7B notices")
    send(kahlo, "Bring an apron on Monday")
    dan = open_as(browser, demo, "s-dan")
    conv_item(dan, "Art 7B notices").click()
    expect(stored(dan, "Bring an apron on Monday")).to_have_count(1)
    expect(dan.get_by_test_id("composer")).to_be_hidden()  # read-only for students
    assert kahlo.errors == [] and dan.errors == []
    kahlo.context.close()
    dan.context.close()


def test_group_awareness_people_seen_by_days_runs_and_avatars(browser, demo):
    title = "Aware " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-alice", ["s-bob", "s-carol"], title)
    bob_token = demo.token("s-bob")
    for text in ("first from Bob", "second from Bob"):
        post_message(demo, conv_id, bob_token, text)
    alice = open_as(browser, demo, "s-alice")
    conv_item(alice, title).click()
    # a day separator above the first message; Bob's run names him (with his initials) once
    expect(alice.get_by_test_id("day-separator")).to_have_text(["Today"])
    first, second = stored(alice, "first from Bob"), stored(alice, "second from Bob")
    expect(first.get_by_test_id("avatar")).to_have_text("BC")
    expect(first).to_contain_text("Bob Chen")
    expect(second).to_have_class(re.compile(r"\bcont\b"))
    expect(second.get_by_test_id("avatar")).to_have_count(0)
    expect(second).not_to_contain_text("Bob Chen")
    # the participant panel: names, roles, who is online
    people = alice.get_by_test_id("conv-people")
    expect(people).to_contain_text("3")
    people.click()
    expect(people).to_have_attribute("aria-expanded", "true")
    panel = alice.get_by_test_id("people-panel")
    expect(panel.get_by_test_id("person")).to_have_count(3)
    expect(panel.locator("[data-user=s-alice]")).to_contain_text("Alice Martin (you)")
    expect(panel.locator("[data-user=s-alice]")).to_contain_text("owner")
    carol_row = panel.locator("[data-user=s-carol]")
    expect(carol_row).to_contain_text("student")
    expect(carol_row).to_have_attribute("data-online", "0")
    carol = open_as(browser, demo, "s-carol")  # Carol comes online: her dot lights up
    expect(carol_row).to_have_attribute("data-online", "1")
    expect(carol_row).to_contain_text("online")
    people.click()
    expect(panel).to_be_hidden()
    # seen by N of M on my own message, with who read it
    send(alice, "pizza on Friday?")
    mine = stored(alice, "pizza on Friday?")
    seen = mine.get_by_test_id("seen-by")
    expect(seen).to_have_text("Seen by 0 of 2")
    conv_item(carol, title).click()
    expect(seen).to_have_text("Seen by 1 of 2")
    seen.click()
    receipts = mine.get_by_test_id("receipt")
    expect(receipts).to_have_count(2)
    expect(mine.locator("[data-testid=receipt][data-status=read]")).to_contain_text("Carol Singh")
    expect(mine.locator("[data-testid=receipt][data-user=s-bob]")).not_to_have_attribute("data-status", "read")
    expect(seen).to_have_attribute("aria-expanded", "true")
    assert alice.errors == [] and carol.errors == []
    alice.context.close()
    carol.context.close()


NOTIFICATION_SPY = """(() => {
  // every desktop notification the page shows, recorded (they are real ones too)
  window.__notes = [];
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notes.push({ title, body: (options || {}).body || "" });
    }
  };
  window.__asked = 0;
  window.Notification.requestPermission = (...args) => { window.__asked += 1; return Real.requestPermission(...args); };
})();"""


def notes(page: Page, count: int):
    """The page's notifications, once there are ``count`` of them."""
    page.wait_for_function("(n) => window.__notes.length >= n", arg=count)
    return page.evaluate("window.__notes")


def test_mentions_autocomplete_highlight_badge_and_notifications(browser, demo):
    title = "Mentions " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-alice", ["s-bob", "s-carol"], title)
    bob = open_as(browser, demo, "s-bob")
    alice = open_as(browser, demo, "s-alice")
    conv_item(alice, title).click()
    composer = alice.get_by_test_id("composer")
    composer.fill("Hi ")
    composer.press_sequentially("@ca")
    options = alice.get_by_test_id("mention-option")
    expect(options).to_have_text([re.compile("Carol Singh")])
    composer.press("Backspace")
    composer.press("Backspace")  # "@": everyone but me
    expect(options).to_have_count(2)
    carol_option = options.filter(has_text="Carol Singh")
    expect(carol_option).to_have_attribute("aria-selected", "true")  # the active one stays active
    composer.press("ArrowDown")  # wraps round to Bob
    expect(options.filter(has_text="Bob Chen")).to_have_attribute("aria-selected", "true")
    expect(composer).to_have_attribute("aria-activedescendant", "mention-opt-0")
    composer.press_sequentially("b")
    expect(options).to_have_text([re.compile("Bob Chen")])
    expect(options.first).to_have_attribute("aria-selected", "true")
    composer.press("Enter")  # picks, does not send
    expect(composer).to_have_value("Hi @Bob Chen ")
    expect(alice.get_by_test_id("mention-list")).to_be_hidden()
    composer.press_sequentially("can you check this?")
    composer.press("Enter")
    expect(stored(alice, "can you check this?")).to_have_count(1)
    _, history = http("GET", demo.url + "/api/conversations/%s/messages?limit=1" % conv_id, demo.token("s-alice"))
    assert history["data"][0]["text"] == "Hi @Bob Chen can you check this?"
    assert history["data"][0]["mentions"] == ["s-bob"]
    # Bob: a mention badge on the row; in the conversation his name is highlighted
    expect(conv_item(bob, title).get_by_test_id("mention-badge")).to_be_visible()
    conv_item(bob, title).click()
    mention = stored(bob, "can you check this?").get_by_test_id("mention-me")
    expect(mention).to_have_text("@Bob Chen")
    expect(stored(bob, "can you check this?")).to_have_class(re.compile(r"\bmentions-me\b"))
    expect(conv_item(bob, title).get_by_test_id("mention-badge")).to_have_count(0)
    expect(stored(alice, "can you check this?").get_by_test_id("mention")).to_have_text("@Bob Chen")
    # Carol, in a background tab, is notified of mentions and direct messages only
    carol = open_as(browser, demo, "s-carol", init_script=NOTIFICATION_SPY)
    expect(carol.get_by_test_id("notify")).to_be_visible()
    assert carol.evaluate("window.__asked") == 0  # never asked unprompted
    carol.context.grant_permissions(["notifications"], origin=demo.url)  # what the person will answer
    carol.get_by_test_id("notify").click()  # asked on a click
    expect(carol.get_by_test_id("notify")).to_be_hidden()
    assert carol.evaluate("window.__asked") == 1
    set_hidden(carol, True)
    bob_token, carol_token = demo.token("s-bob"), demo.token("s-carol")
    post_message(demo, conv_id, bob_token, "nothing for Carol")
    post(demo, conv_id, bob_token, "@Carol Singh your turn", mentions=["s-carol"])
    assert notes(carol, 1) == [{"title": "Bob Chen mentioned you in " + title, "body": "@Carol Singh your turn"}]
    # muted: a plain message says nothing, a mention still does; a direct message does
    status, _ = http("PATCH", demo.url + "/api/conversations/%s" % conv_id, carol_token, {"muted": True})
    assert status == 200
    expect(conv_item(carol, title).get_by_test_id("muted-icon")).to_be_visible()
    post_message(demo, conv_id, bob_token, "muted chatter")
    status, pair = http("POST", demo.url + "/api/conversations", bob_token, {"type": "direct", "participantIds": ["s-carol"]})
    assert status in (200, 201)
    post_message(demo, pair["data"]["id"], bob_token, "psst, Carol")
    post(demo, conv_id, bob_token, "@Carol Singh again", mentions=["s-carol"])
    assert [n["body"] for n in notes(carol, 3)] == ["@Carol Singh your turn", "psst, Carol", "@Carol Singh again"]
    assert alice.errors == [] and bob.errors == [] and carol.errors == []
    for page in (alice, bob, carol):
        page.context.close()


SCROLL_DOWN_UNTIL = """(seq) => {
  // the reader scrolls to the bottom of the window, again after each page that comes in
  const box = document.querySelector("[data-testid=messages]");
  box.scrollTop = box.scrollHeight;
  return Boolean(document.querySelector(`[data-testid=message][data-seq="${seq}"]`));
}"""


def test_search_results_jump_to_the_message(browser, demo):
    title = "Jump " + uuid.uuid4().hex[:6]
    word = "haystack" + uuid.uuid4().hex[:4]
    conv_id = new_group(demo, "s-eve", ["s-finn", "s-dan"], title)
    finn_token, dan_token = demo.token("s-finn"), demo.token("s-dan")
    post(demo, conv_id, finn_token, "warm up")
    needle = post(demo, conv_id, finn_token, "the needle is in the %s, page 12" % word)
    for i in range(70):  # two senders, below the per-user send burst
        last = post(demo, conv_id, [dan_token, finn_token][i % 2], "chatter %d" % i)
    eve = open_as(browser, demo, "s-eve")
    search = eve.get_by_test_id("conv-search")
    search.fill(word)
    hit = eve.get_by_test_id("search-hit")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark")).to_have_text(word)
    # results sit right under the search box, and the list keeps the conversation they are in
    box_bottom = search.bounding_box()["y"] + search.bounding_box()["height"]
    results_top = eve.get_by_test_id("search-results").bounding_box()["y"]
    assert box_bottom <= results_top < eve.get_by_test_id("conv-list").bounding_box()["y"]
    expect(eve.locator("[data-testid=conv-item]")).to_have_count(1)
    expect(conv_item(eve, title)).to_have_count(1)
    # a click opens the conversation at the message: a window around it, highlighted and focused
    hit.click()
    expect(eve.get_by_test_id("chat-title")).to_have_text(title)
    target = by_seq(eve, needle["seq"])
    expect(target).to_be_focused()
    expect(target).to_have_class(re.compile(r"\bhighlight\b"))
    expect(target).to_be_in_viewport()
    expect(by_seq(eve, last["seq"])).to_have_count(0)  # the newest are not loaded yet
    # a live message while the window is shown does not appear out of place
    post_message(demo, conv_id, dan_token, "live one")
    expect(conv_item(eve, title)).to_contain_text("live one")
    expect(stored(eve, "live one")).to_have_count(0)
    # writing goes back to the newest messages
    send(eve, "found it")
    expect(by_seq(eve, last["seq"])).to_have_count(1)
    expect(stored(eve, "live one")).to_have_count(1)
    expect(target).to_have_count(0)
    # again, and this time scrolling down brings the newer pages in, without a gap
    hit.click()
    expect(by_seq(eve, needle["seq"])).to_be_focused()
    eve.wait_for_function(SCROLL_DOWN_UNTIL, arg=last["seq"] + 2, polling=100, timeout=60000)
    seqs = [int(s) for s in eve.locator("[data-testid=message][data-seq]").evaluate_all(
        "(nodes) => nodes.map((n) => n.dataset.seq)")]
    assert seqs == list(range(seqs[0], last["seq"] + 3)), seqs
    assert seqs[0] <= needle["seq"]
    assert eve.errors == []
    eve.context.close()


@pytest.mark.parametrize("width,height", [(1280, 800), (375, 720)])
def test_no_serious_accessibility_violations_in_the_new_controls(browser, demo, width, height):
    title = "Axe two " + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-bob", ["s-alice", "s-carol"], title)
    alice_token = demo.token("s-alice")
    tag = uuid.uuid4().hex[:8]
    first = post(demo, conv_id, alice_token, "question %s for @Bob Chen" % tag, mentions=["s-bob"])
    post(demo, conv_id, alice_token, "an answer", replyTo=first["id"])
    page = open_as(browser, demo, "s-bob", width=width, height=height)
    conv_item(page, title).click()
    expect(stored(page, "an answer").get_by_test_id("reply-quote")).to_be_visible()
    send(page, "mine, to be seen")
    page.get_by_test_id("attach-input").set_input_files([{"name": "sheet.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    expect(page.get_by_test_id("upload-item")).to_have_attribute("data-status", "done")
    page.get_by_test_id("composer").press_sequentially(" @a")
    expect(page.get_by_test_id("mention-option")).to_have_count(1)
    page.get_by_test_id("conv-people").click()
    expect(page.get_by_test_id("people-panel")).to_be_visible()
    found = serious_violations(page, "panel, tray, mention list")
    page.get_by_test_id("conv-people").click()
    mine = stored(page, "mine, to be seen")
    mine.get_by_test_id("seen-by").click()
    expect(mine.get_by_test_id("receipt")).to_have_count(2)
    message = stored(page, "an answer")
    message.focus()
    message.get_by_test_id("reply").click()
    expect(page.get_by_test_id("reply-bar")).to_be_visible()
    found += serious_violations(page, "reply bar, receipts")
    if width < 720:
        page.click("#back")
    page.get_by_test_id("conv-search").fill(tag)
    expect(page.get_by_test_id("search-hit")).to_have_count(1)
    found += serious_violations(page, "search results")
    assert found == [], "\n".join("%(where)s: %(id)s (%(impact)s) %(help)s %(nodes)s" % v for v in found)
    assert page.errors == []
    page.context.close()


def test_a_message_pushed_while_a_window_is_shown_is_not_lost(browser, demo):
    title = "Window " + uuid.uuid4().hex[:6]
    word = "lookup" + uuid.uuid4().hex[:6]
    conv_id = new_group(demo, "s-eve", ["s-finn", "s-dan"], title)
    finn_token, dan_token = demo.token("s-finn"), demo.token("s-dan")
    needle = post(demo, conv_id, finn_token, "the %s line" % word)
    for i in range(80):  # more than a window holds; two senders, below the per-user send burst
        post(demo, conv_id, [dan_token, finn_token][i % 2], "filler %d" % i)
    eve = open_as(browser, demo, "s-eve")
    eve.get_by_test_id("conv-search").fill(word)
    eve.get_by_test_id("search-hit").click()
    expect(by_seq(eve, needle["seq"])).to_be_focused()
    # the page after the window is read by the server, then a message is stored and pushed, and
    # only then does that (now stale) page reach the browser
    held = []

    def stale_page(route) -> None:
        if held:
            route.continue_()  # later pages go through
            return
        response = route.fetch()
        post_message(demo, conv_id, dan_token, "pushed meanwhile")
        held.append((route, response))
    eve.route("**/messages?after=*", stale_page)
    eve.evaluate("() => { const box = document.querySelector('[data-testid=messages]'); box.scrollTop = box.scrollHeight; }")
    expect(conv_item(eve, title)).to_contain_text("pushed meanwhile")  # the push was handled (not kept: a window)
    route, response = held[0]
    route.fulfill(response=response)
    expect(stored(eve, "pushed meanwhile")).to_have_count(1)
    seqs = [int(s) for s in eve.locator("[data-testid=message][data-seq]").evaluate_all(
        "(nodes) => nodes.map((n) => n.dataset.seq)")]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and seqs[-1] == needle["seq"] + 81, seqs
    assert eve.errors == []
    eve.context.close()
