"""The web client in Khmer and French (real chromium against the demo server; the fixtures and
helpers of ``test_browser``): a browser whose Accept-Language is Khmer gets the page in Khmer, its
``<html lang>`` following, on the sign-in card, the conversation list, an open conversation, the
report dialog, the moderation page and the admin area; the language picker's choice wins over the
browser's and survives a reload; dates and counts come through ``Intl`` in the chosen language.
"""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_browser as tb

pytestmark = pytest.mark.browser

demo = tb.demo
browser = tb.browser

KHMER = re.compile("[\u1780-\u17ff]")  # the Khmer block: a string written in Khmer script


def page_in(browser, demo, locale: str, width: int = 1100, height: int = 680) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(demo.url + "/")
    return page


def sign_in(page: Page, user: str) -> None:
    page.click("button[data-user=%s]" % user)
    tb.online(page)


def test_a_khmer_browser_gets_the_page_in_khmer_on_every_main_screen(browser, demo):
    title = "Khmer " + uuid.uuid4().hex[:6]
    conv_id = tb.new_group(demo, "s-bob", ["s-alice"], title)
    tb.post_message(demo, conv_id, demo.token("s-alice"), "hello from Alice")
    page = page_in(browser, demo, "km-KH")
    assert page.evaluate("document.documentElement.lang") == "km"
    # the sign-in card: the page's own markup, through data-i18n
    expect(page.locator("#signin h1")).to_have_text("ការជជែកសាលា")
    expect(page.locator("#token-form button[type=submit]")).to_have_text("ចូល")
    expect(page.locator("#demo-picker h2")).to_have_text("សាលាសាកល្បង៖ ចូលជា")
    expect(page.locator("button[data-user=s-bob] .role")).to_have_text("សិស្ស")
    sign_in(page, "s-bob")
    # the list and the sidebar
    expect(page.get_by_test_id("conn-state")).to_have_text(KHMER)
    expect(page.get_by_test_id("new-conv")).to_have_text("+ ថ្មី")
    expect(page.get_by_test_id("conv-search")).to_have_attribute("placeholder", "ស្វែងរក")
    expect(page.get_by_test_id("blocked-open")).to_have_text("មនុស្សដែលបានរារាំង")
    expect(page.get_by_test_id("lang-pick")).to_have_value("km")
    # a conversation: the composer, the header's count (a plural), the action of a message
    tb.conv_item(page, title).click()
    expect(tb.stored(page, "hello from Alice")).to_have_count(1)
    expect(page.get_by_test_id("composer")).to_have_attribute("placeholder", "សរសេរសារ")
    expect(page.get_by_test_id("send")).to_have_text("ផ្ញើ")
    expect(page.locator("#chat-sub")).to_have_text("ក្រុម · 2 នាក់")
    # the report dialog: its heading from the catalogue, its reasons too
    message = tb.stored(page, "hello from Alice")
    message.hover()
    message.get_by_test_id("report").click()
    dialog = page.get_by_test_id("report-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#report-heading")).to_have_text("រាយការណ៍សារពី Alice Martin")
    expect(dialog.locator("label.reason").first).to_have_text(re.compile("ការសម្លុត"))
    page.get_by_test_id("report-send").click()  # nothing picked: said in Khmer
    expect(page.get_by_test_id("report-error")).to_have_text("សូមជ្រើសរើសថាមានបញ្ហាអ្វីជាមុនសិន។")
    page.keyboard.press("Escape")
    # nowhere on the open screen an English sentence of the catalogue
    body = page.locator("#app").inner_text()
    for english in ("Write a message", "Blocked people", "Sign out", "No messages yet", "Send later"):
        assert english not in body, english
    # times of day in digits where this chromium has no Khmer dates, never "AM"/"PM"
    assert not re.search(r"\d:\d\d\s?[AP]M", body), body
    assert page.errors == []
    page.context.close()


def test_the_moderation_page_and_the_admin_area_in_khmer(browser, demo):
    page = page_in(browser, demo, "km")
    assert page.evaluate("document.documentElement.lang") == "km"
    sign_in(page, "admin")
    page.get_by_test_id("mod-open").click()
    expect(page.get_by_test_id("moderation")).to_be_visible()
    expect(page.locator("#mod-heading")).to_have_text("ការសម្របសម្រួល")
    expect(page.get_by_test_id("mod-back")).to_have_text("‹ ត្រឡប់ទៅការជជែក")
    expect(page.locator("#mod-filter option[value=open]")).to_have_text("បើក")
    page.get_by_test_id("mod-back").click()
    page.get_by_test_id("admin-open").click()
    expect(page.get_by_test_id("admin")).to_be_visible()
    expect(page.get_by_test_id("admin-tab-policy")).to_have_text("គោលការណ៍ និងម៉ោងស្ងាត់")
    expect(page.get_by_test_id("policy-save")).to_have_text("រក្សាទុកគោលការណ៍")
    # the day boxes' names come from Intl in Khmer (not "Mon")
    day = page.locator("[data-testid=qh-window-student] label[for$=-mon]")
    page.get_by_test_id("qh-add-student").click()
    expect(day.first).to_have_text(KHMER)
    page.get_by_test_id("admin-tab-audit").click()
    expect(page.get_by_test_id("audit-search")).to_have_text("បង្ហាញ")
    assert page.errors == []
    page.context.close()


def test_the_picked_language_wins_over_the_browsers_and_survives_a_reload(browser, demo):
    page = page_in(browser, demo, "en-GB")
    assert page.evaluate("document.documentElement.lang") == "en"
    sign_in(page, "s-carol")
    expect(page.get_by_test_id("new-conv")).to_have_text("+ New")
    with page.expect_navigation():
        page.get_by_test_id("lang-pick").select_option("km")
    tb.online(page)
    assert page.evaluate("document.documentElement.lang") == "km"
    expect(page.get_by_test_id("new-conv")).to_have_text("+ ថ្មី")
    with page.expect_navigation():
        page.get_by_test_id("lang-pick").select_option("fr")
    tb.online(page)
    assert page.evaluate("document.documentElement.lang") == "fr"
    expect(page.get_by_test_id("new-conv")).to_have_text("+ Nouveau")
    expect(page.get_by_test_id("blocked-open")).to_have_text("Personnes bloquées")
    page.reload()
    tb.online(page)
    assert page.evaluate("document.documentElement.lang") == "fr"
    # relative times and counts in the chosen language, through Intl
    said = page.evaluate("""async () => {
      const { relTime } = await import("/js/dom.js");
      const now = Date.now();
      return [relTime(new Date(now - 5 * 60000).toISOString(), now), relTime(new Date(now - 86400000 - 60000).toISOString(), now)];
    }""")
    assert said == ["il y a 5\u00a0min", "hier"], said
    assert page.errors == []
    page.context.close()
