"""Regenerate docs/screenshot.png (the README's picture): start ``python server.py --demo`` on a
free port with a throwaway data directory, sign in three demo users in headless chromium, have
them chat (a link, a reply that mentions Alice, the day separator above), and photograph Alice's
window; then docs/screenshot-phone.png: Carol's phone (375 px, touch) with its browser in Khmer
and in the dark theme, the same conversation open. Run from anywhere:
``python scripts/screenshot.py [OUT [PHONE_OUT]]``."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, ceiling: float = 120) -> None:
    """Poll /api/health until it answers 200 (or the server exits)."""
    deadline = time.monotonic() + ceiling
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited with %s" % proc.returncode)
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become healthy")


def sign_in(browser: Browser, url: str, user: str, **context) -> Page:
    """A new window signed in as a demo user, its socket up (``context``: Playwright's options)."""
    page = browser.new_context(**{"viewport": {"width": 1100, "height": 680}, **context}).new_page()
    page.goto(url + "/")
    page.click("button[data-user=%s]" % user)
    expect(page.get_by_test_id("conn-state")).to_have_attribute("data-state", "online", timeout=60000)
    return page


def say(page: Page, text: str) -> None:
    """Send a message and wait until the server has stored it."""
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("composer").press("Enter")
    expect(page.locator("[data-testid=message][data-seq]", has_text=text)).to_have_count(1)


def main(out: str, phone_out: str) -> None:
    """Start a demo server, stage a short chat, save Alice's window to ``out`` and a phone's to ``phone_out``."""
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    with tempfile.TemporaryDirectory(prefix="chat-screenshot-") as data:
        env = dict(os.environ)
        env.pop("MONGODB_URI", None)
        proc = subprocess.Popen([sys.executable, "server.py", "--demo", "--port", str(port), "--data-dir", data],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_healthy(url, proc)
            req = urllib.request.Request(url + "/api/demo/token", data=json.dumps({"userId": "s-alice"}).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                token = json.loads(resp.read())["data"]["token"]
            req = urllib.request.Request(url + "/api/conversations", method="POST", data=json.dumps(
                {"type": "group", "participantIds": ["s-bob", "s-carol"], "title": "Study group"}).encode(),
                headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
            urllib.request.urlopen(req, timeout=10).close()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
                alice, bob, carol = (sign_in(browser, url, user) for user in ("s-alice", "s-bob", "s-carol"))
                for page in (alice, bob, carol):
                    page.locator("[data-testid=conv-item]", has_text="Study group").click()
                say(alice, "Hi Bob, shall we revise chapter 3 together?")
                say(carol, "The worked examples are here: https://example.org/maths/chapter-3")
                # Bob answers Alice's message (a reply) and mentions her through the autocomplete
                question = bob.locator("[data-testid=message][data-seq]", has_text="revise chapter 3").first
                question.hover()
                question.get_by_test_id("reply").click()
                composer = bob.get_by_test_id("composer")
                composer.press_sequentially("@Ali")
                expect(bob.get_by_test_id("mention-option")).to_have_count(1)
                composer.press("Enter")
                say(bob, "@Alice Martin sure! After lunch \U0001F44D")
                reply = alice.locator("[data-testid=message][data-seq]", has_text="After lunch")
                expect(reply.get_by_test_id("reply-quote")).to_be_visible()
                expect(reply.get_by_test_id("mention-me")).to_have_text("@Alice Martin")
                expect(alice.get_by_test_id("day-separator")).to_have_count(1)
                expect(alice.get_by_test_id("seen-by").first).to_have_text("Seen by 2 of 2")
                alice.mouse.move(0, 0)  # no message's actions showing
                alice.get_by_test_id("composer").fill("Great, see you in the library")
                expect(bob.get_by_test_id("typing")).to_have_text("Alice Martin is typing\u2026")
                os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
                alice.screenshot(path=out)
                # the phone: Khmer from its browser's language, dark from its colour scheme
                phone = sign_in(browser, url, "s-carol", viewport={"width": 375, "height": 720}, has_touch=True,
                                is_mobile=True, device_scale_factor=2, locale="km-KH", color_scheme="dark")
                assert phone.evaluate("document.documentElement.lang") == "km"
                phone.locator("[data-testid=conv-item]", has_text="Study group").tap()
                expect(phone.locator("[data-testid=message][data-seq]", has_text="After lunch")).to_have_count(1)
                expect(phone.get_by_test_id("send")).to_have_text("\u1795\u17d2\u1789\u17be")  # Send, in Khmer
                phone.screenshot(path=phone_out)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(60)
    print("wrote", out, phone_out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "screenshot.png"),
         sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs", "screenshot-phone.png"))
