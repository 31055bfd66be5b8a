"""Missed-message email (README "Missed-message email") through a real server, real
nx-27017 and a real SMTP server (aiosmtpd): who gets one email and when (on the injected
ManualClock, never waiting the real 15 minutes), what it says and never says, its RFC 8058
headers and one-click unsubscribe, preferences, quiet hours, retries counted in /metrics, and
exactly one email across a restart."""
from __future__ import annotations

import datetime
import subprocess
import sys
import urllib.parse
import uuid
from typing import Any, Iterator, List

import pytest

from chat.clock import ManualClock
from chat.ops.roster import import_roster
from chat.runtime import build_runtime
from chat.settings import Settings
from tests.conftest import CLASSES, SECRET, USERS, token
from tests.e2e.smtp_helpers import Inbox
from tests.e2e.test_process import ROOT

pytestmark = [pytest.mark.usefixtures("school", "http_server"), pytest.mark.manual_clock]

BASE = "https://chat.school.example"
ADDRESS = {"st1": "sam@school.example", "st2": "sue@school.example", "t1": "tom@school.example",
           "a1": "ada@school.example"}
MINUTE = 60.0
SECRET_TEXT = "the secret plan is under the oak tree"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox().start()
    try:
        yield box
    finally:
        box.stop()


def email_settings(tmp_path: Any, port: int, **extra: Any) -> Settings:
    return Settings(data_dir=str(tmp_path), db_name="t_" + uuid.uuid4().hex[:12], jwt_secret=SECRET,
                    ws_ping_interval=0, db_workers=4, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                    email_from="chat@school.example", email_base_url=BASE, **extra)


@pytest.fixture
def settings(request: Any, tmp_path: Any, inbox: Inbox) -> Settings:  # the shared fixture, with SMTP on
    marker = request.node.get_closest_marker("settings")
    return email_settings(tmp_path, inbox.port, **(marker.kwargs if marker else {}))


@pytest.fixture
def addresses(io_loop: Any, runtime: Any, school: Any) -> None:
    """The standard roster again, with email addresses for some users."""
    users = [dict(u, email=ADDRESS[u["id"]]) if u["id"] in ADDRESS else u for u in USERS]
    io_loop.run_sync(lambda: import_roster(runtime.store, users, CLASSES))


async def advance(runtime: Any, clock: ManualClock, minutes: float) -> None:
    """Let what was stored be noted, move the clock on, and wait for the look that follows and its sends."""
    mail = runtime.service.missed_email
    mail.start()
    await mail.settled()
    clock.advance(minutes * MINUTE)
    await mail.settled()


def text_of(message: Any) -> str:
    return message.get_content()


async def direct(api: Any, sender: str = "st1", to: str = "st2") -> str:
    return (await api.conversation(sender, "direct", [to]))["id"]


# ------------------------------------------------------------------ who, when, what
@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=60)
async def test_one_email_after_the_delay_naming_the_sender_never_the_text(api, runtime, clock, inbox):
    conv = await direct(api)
    for n in range(3):
        await api.send("st1", conv, "%s %d" % (SECRET_TEXT, n))
    await advance(runtime, clock, 14)
    assert inbox.messages == []  # not yet: 15 minutes
    await advance(runtime, clock, 2)
    [mail] = inbox.messages
    assert mail["To"] == ADDRESS["st2"] and inbox.envelopes[0].rcpt_tos == [ADDRESS["st2"]]
    assert mail["Subject"] == "3 new messages from Sam Student"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail["List-Unsubscribe"]
    assert link.startswith("<%s/api/notifications/unsubscribe?u=st2&sig=" % BASE) and link.endswith(">")
    body = text_of(mail)
    assert "%s/?c=%s" % (BASE, conv) in body and "Sue Student" in body
    raw = inbox.envelopes[0].content.decode("utf-8", "replace")
    assert "secret" not in raw.lower() and "oak" not in raw  # no message text anywhere in the email
    # more while unread: no other email before the digest interval
    await api.send("st1", conv, "another")
    await advance(runtime, clock, 30)
    assert len(inbox.messages) == 1
    # once read, the next unread message gets its own email (only the new one)
    status, _ = await api.post("/api/conversations/%s/read" % conv, "st2", {"seq": 4})
    assert status == 200
    await api.send("st1", conv, "after reading")
    await advance(runtime, clock, 16)
    assert len(inbox.messages) == 2 and inbox.messages[1]["Subject"] == "1 new message from Sam Student"
    # no socket, nothing more unread and nothing new: nothing more, however long
    await advance(runtime, clock, 600)
    assert len(inbox.messages) == 2


@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=60)
async def test_the_digest_interval_brings_the_next_email_without_reading(api, runtime, clock, inbox):
    conv = await direct(api)
    await api.send("st1", conv, "one")
    await advance(runtime, clock, 16)
    await api.send("st1", conv, "two")
    await advance(runtime, clock, runtime.settings.email_digest - 1)  # the first went out 0 minutes ago
    assert len(inbox.messages) == 1
    await advance(runtime, clock, 2)
    assert [m["Subject"] for m in inbox.messages] == ["1 new message from Sam Student"] * 2  # only "two" the 2nd time


@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=60)
async def test_an_open_socket_or_a_read_means_no_email(api, runtime, clock, inbox, ws):
    conv = await direct(api)
    sock = await ws("st2")
    await api.send("st1", conv, "while looking")
    await advance(runtime, clock, 16)
    assert inbox.messages == []
    await sock.close()
    status, _ = await api.post("/api/conversations/%s/read" % conv, "st2", {"seq": 1})
    assert status == 200
    await advance(runtime, clock, 60)
    assert inbox.messages == []  # read before the next look: nothing to tell
    await api.send("st1", conv, "now away")
    await advance(runtime, clock, 16)
    assert len(inbox.messages) == 1


@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=60)
async def test_mentions_and_announcements_count_class_chatter_muted_archived_and_blocked_do_not(
        api, runtime, clock, inbox):
    klass = (await api.conversation("t1", "class", classId="c1"))["id"]
    await api.send("t1", klass, "homework is page 4")  # no mention: not emailed
    await advance(runtime, clock, 16)
    assert inbox.messages == []
    await api.send("t1", klass, "@Sue see me", mentions=["st2"])
    await advance(runtime, clock, 16)
    [mail] = inbox.to(ADDRESS["st2"])
    assert mail["Subject"] == "1 mention of you in Maths 7A" and "written by Tom Teacher" in text_of(mail)
    assert inbox.to(ADDRESS["st1"]) == []  # the same class, not mentioned
    # muted and archived conversations, and a blocked user's messages, are left out
    muted, archived = await direct(api, "t1", "st1"), await direct(api, "st2", "st1")
    status, _ = await api.patch("/api/conversations/%s" % muted, "st1", {"muted": True})
    assert status == 200
    status, _ = await api.patch("/api/conversations/%s" % archived, "st1", {"archived": True})
    assert status == 200
    await api.send("t1", muted, "muted")
    await api.send("st2", archived, "archived")
    group = await api.conversation("st1", "group", ["st3", "t1"], title="Project")
    status, _ = await api.put("/api/blocks/st3", "st1")
    assert status == 200, _
    await api.send("st3", group["id"], "@Sam hi", mentions=["st1"])
    await advance(runtime, clock, 16)
    assert inbox.to(ADDRESS["st1"]) == []
    await api.send("t1", group["id"], "@Sam you too", mentions=["st1"])
    await advance(runtime, clock, 16)
    [mail] = inbox.to(ADDRESS["st1"])
    assert mail["Subject"] == "1 mention of you in Project"
    assert "Stan" not in text_of(mail)


@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=60)
async def test_announcements_reach_every_student_once(api, runtime, clock, inbox):
    ann = (await api.conversation("t1", "announcement", classId="c1"))["id"]
    await api.send("t1", ann, "Trip on Friday")
    await api.send("t1", ann, "Bring a coat")
    await advance(runtime, clock, 16)
    for user in ("st1", "st2"):
        [mail] = inbox.to(ADDRESS[user])
        assert mail["Subject"] == "2 new messages from Maths 7A"
        assert "Friday" not in mail.as_string() and "coat" not in mail.as_string()
    assert inbox.to(ADDRESS["t1"]) == []  # the sender's own


# ------------------------------------------------------------------ quiet hours
@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=60)
async def test_quiet_hours_hold_a_students_email_until_the_window_opens(api, runtime, clock, inbox):
    today = datetime.datetime.fromtimestamp(clock.time(), datetime.timezone.utc).date()
    holiday = {"from": (today - datetime.timedelta(days=1)).isoformat(),
               "to": (today + datetime.timedelta(days=1)).isoformat()}
    always = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "00:00", "to": "24:00"}]
    status, data = await api.put("/api/schools/s1/policy", "a1", {"quietHours": {"student": always},
                                                                  "holidays": [holiday]})
    assert status == 200, data
    status, data = await api.get("/api/schools/s1/policy", "st2")
    opens = data["data"]["sending"]["opensAtMs"]
    conv = await direct(api, "t1", "st2")  # staff are not restricted
    await api.send("t1", conv, "see you after the break")
    await advance(runtime, clock, 16)
    assert inbox.messages == []
    left = (opens - clock.time() * 1000) / 60_000
    await advance(runtime, clock, left - 2)
    assert inbox.messages == []
    await advance(runtime, clock, 3)
    [mail] = inbox.messages
    assert mail["To"] == ADDRESS["st2"]


# ------------------------------------------------------------------ previews, preferences, unsubscribe
@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=60)
async def test_previews_only_for_staff_whose_school_allows_them(api, runtime, clock, inbox):
    to_teacher, to_student = await direct(api, "st1", "t1"), await direct(api, "t1", "st2")
    status, data = await api.patch("/api/me/notifications", "t1", {"email": {"previews": True}})
    assert status == 403, data  # the school has not allowed them
    assert (await api.put("/api/schools/s1/notifications", "t1", {"staffEmailPreviews": True}))[0] == 403
    other = token("y9", role="admin", school="s2")
    assert (await api.put("/api/schools/s1/notifications", other, {"staffEmailPreviews": True}))[0] == 404
    status, data = await api.put("/api/schools/s1/notifications", "a1", {"staffEmailPreviews": True})
    assert status == 200 and data["data"] == {"schoolId": "s1", "notifications": {"staffEmailPreviews": True}}
    status, audit = await api.get("/api/audit?action=notifications.change", "a1")
    assert status == 200 and len(audit["data"]) == 1, audit
    assert (await api.patch("/api/me/notifications", "st2", {"email": {"previews": True}}))[0] == 403
    status, data = await api.patch("/api/me/notifications", "t1", {"email": {"previews": True}})
    assert status == 200 and data["data"]["email"]["previews"] is True
    await api.send("st1", to_teacher, "Sir, question about page 4")
    await api.send("t1", to_student, "staff text to a student")
    await advance(runtime, clock, 16)
    [teacher] = inbox.to(ADDRESS["t1"])
    assert "Sir, question about page 4" in text_of(teacher)
    [student] = inbox.to(ADDRESS["st2"])
    assert "staff text" not in student.as_string()


@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=60)
async def test_preferences_and_the_one_click_unsubscribe(api, runtime, clock, inbox):
    status, data = await api.get("/api/me/notifications", "st2")
    assert status == 200 and data["data"] == {"email": {"available": True, "enabled": True, "addressKnown": True,
                                                        "previews": False, "previewsAllowed": False}}
    assert (await api.get("/api/me/notifications", "st3"))[1]["data"]["email"]["addressKnown"] is False
    for bad in ({}, {"email": {}}, {"email": {"enabled": "no"}}, {"email": {"x": True}}, {"enabled": True}):
        assert (await api.patch("/api/me/notifications", "st2", bad))[0] == 400, bad
    conv = await direct(api)
    await api.send("st1", conv, "one")
    await advance(runtime, clock, 16)
    [mail] = inbox.messages
    url = urllib.parse.urlsplit(mail["List-Unsubscribe"].strip("<>"))
    path = url.path + "?" + url.query
    # a wrong signature, another user's, or none: 403, and nothing changes
    forged = path.replace("u=st2", "u=st1")
    for bad in (forged, path[:-3] + "xyz", "/api/notifications/unsubscribe", "/api/notifications/unsubscribe?u=st2"):
        status, data = await api.post(bad, raw=b"List-Unsubscribe=One-Click",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 403, (bad, data)
    # the page a person opens changes nothing; the mail client's POST (no token) unsubscribes
    status, data = await api.get(path)
    assert status == 200 and "Unsubscribe" in data["raw"]
    assert (await api.get("/api/me/notifications", "st2"))[1]["data"]["email"]["enabled"] is True
    status, data = await api.post(path, raw=b"List-Unsubscribe=One-Click",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and data["data"] == {"unsubscribed": True}
    assert (await api.get("/api/me/notifications", "st2"))[1]["data"]["email"]["enabled"] is False
    status, _ = await api.post("/api/conversations/%s/read" % conv, "st2", {"seq": 1})
    await api.send("st1", conv, "two")
    await advance(runtime, clock, 200)
    assert len(inbox.messages) == 1
    status, data = await api.patch("/api/me/notifications", "st2", {"email": {"enabled": True}})
    assert status == 200 and data["data"]["email"]["enabled"] is True
    await api.send("st1", conv, "three")
    await advance(runtime, clock, 16)
    assert len(inbox.messages) == 2


@pytest.mark.usefixtures("school")
@pytest.mark.gen_test(timeout=60)
async def test_the_tokens_email_claim_is_the_address_when_the_roster_has_none(api, runtime, clock, inbox):
    tok = _token_with("st2", email="sue.token@school.example")
    status, data = await api.get("/api/me/notifications", tok)
    assert status == 200 and data["data"]["email"]["addressKnown"] is True
    conv = await direct(api)
    await api.send("st1", conv, "hello")
    await advance(runtime, clock, 16)
    assert [m["To"] for m in inbox.messages] == ["sue.token@school.example"]


def _token_with(user: str, **claims: Any) -> str:
    from chat.auth import mint_token
    base = {u["id"]: u for u in USERS}[user]
    return mint_token(Settings(jwt_secret=SECRET), user, base["role"], base["school"], base["name"], 3600, claims)


# ------------------------------------------------------------------ failures and restarts
@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=60)
async def test_a_refused_email_is_retried_with_backoff_and_counted(api, runtime, clock, inbox, base_url):
    inbox.refuse = 2
    conv = await direct(api)
    await api.send("st1", conv, "hello")
    await advance(runtime, clock, 16)
    assert inbox.messages == [] and inbox.refused == 1
    await advance(runtime, clock, runtime.settings.email_retry_seconds / MINUTE)
    assert inbox.messages == [] and inbox.refused == 2  # the second try, 30 s later
    await advance(runtime, clock, 2 * runtime.settings.email_retry_seconds / MINUTE)  # then 60 s
    assert len(inbox.messages) == 1
    metrics = (await api.client.fetch(base_url + "/metrics")).body.decode()
    assert 'chat_email_failures_total{outcome="retried"} 2.0' in metrics
    assert "chat_email_sent_total 1.0" in metrics and "sue@" not in metrics
    await advance(runtime, clock, 600)
    assert len(inbox.messages) == 1


@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=90)
async def test_exactly_one_email_across_restarts(api, runtime, clock, inbox, settings, mongo_uri):
    conv = await direct(api)
    await api.send("st1", conv, "before the restart")
    await runtime.service.missed_email.settled()  # noted in storage
    await runtime.service.missed_email.stop()  # the fixture's server stays up, sending no email
    later: List[Any] = []
    try:
        for round_ in range(2):  # a restarted server sends the one email; the next one sends nothing more
            clock2 = ManualClock(epoch=clock.time() + (round_ + 1) * 20 * MINUTE)
            second = build_runtime(settings, mongo_uri, clock=clock2)
            later.append(second)
            mail = second.service.missed_email
            mail.start()
            clock2.advance(settings.email_scan_interval)
            await mail.settled()
            clock2.advance(settings.email_scan_interval * 3)  # and a few looks more
            await mail.settled()
            await second.close()
            assert len(inbox.messages) == 1, round_
    finally:
        for rt in later:
            rt.store.close()


def test_check_config_requires_what_email_needs(tmp_path):
    def check(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "server.py", "check-config", "--data-dir", str(tmp_path), *flags],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    done = check("--smtp-host", "mail.school.example")
    assert done.returncode == 2
    assert "email_from must be an email address" in done.stderr and "email_base_url" in done.stderr
    done = check("--smtp-host", "mail.school.example", "--smtp-security", "ssl")
    assert done.returncode == 2 and "smtp_security must be starttls, tls or none" in done.stderr
    done = check("--smtp-password-file", str(tmp_path / "missing"))
    assert done.returncode == 2 and "smtp_password_file needs smtp_user" in done.stderr
    secret = tmp_path / "smtp-password"
    secret.write_text("hunter2\n")
    done = check("--smtp-host", "mail.school.example", "--email-from", "chat@school.example",
                 "--email-base-url", "https://chat.school.example", "--smtp-user", "chat",
                 "--smtp-password-file", str(secret), "--email-after", "5")
    assert done.returncode == 0, done.stderr
    assert "hunter2" not in done.stdout and "email_after" in done.stdout
    assert check("--email-after", "0").returncode == 2  # above 0


@pytest.mark.usefixtures("addresses")
@pytest.mark.parametrize("security", ["starttls", "tls"])
@pytest.mark.gen_test(timeout=60)
async def test_starttls_and_tls_with_a_login_from_the_password_file(api, runtime, clock, settings, mongo_uri,
                                                                     tmp_path, monkeypatch, security):
    import ssl

    from tests.e2e.smtp_helpers import PASSWORD
    from tests.e2e.test_tls_proxy import make_certificate

    cert, key = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # the server trusts this certificate, and verifies it
    secure = Inbox(login=True, **({"tls_context": context, "require_starttls": True} if security == "starttls"
                                  # aiosmtpd counts only STARTTLS as TLS for AUTH: this connection is TLS throughout
                                  else {"ssl_context": context, "auth_require_tls": False})).start()
    password = tmp_path / "smtp-password"
    password.write_bytes(PASSWORD + b"\n")
    conv = await direct(api)
    await api.send("st1", conv, SECRET_TEXT)
    await runtime.service.missed_email.settled()  # noted by the test server (which sends nothing itself)
    clock2 = ManualClock(epoch=clock.time() + 16 * MINUTE)
    node = build_runtime(settings.replace(smtp_host="localhost", smtp_port=secure.port, smtp_security=security,
                                          smtp_user="chat", smtp_password_file=str(password)), mongo_uri, clock=clock2)
    try:
        node.service.missed_email.start()
        clock2.advance(settings.email_scan_interval)
        await node.service.missed_email.settled()
        [mail] = secure.messages
        assert mail["To"] == ADDRESS["st2"] and secure.logins == [b"chat"]
        assert "oak" not in mail.as_string()
    finally:
        await node.close()
        node.store.close()
        secure.stop()


@pytest.mark.gen_test(timeout=60)
async def test_the_email_store_operations_exactly(runtime):
    """Each operation of chat/store/email_repo.py on the backend under test (nx-27017, or a real
    MongoDB with --mongodb-uri), as test_store_compat.py does for the others."""
    repo = runtime.store.email
    await repo.note_due([{"userId": "u1", "school": "s1", "due": 1000}, {"userId": "u2", "school": "s1", "due": 500}])
    await repo.note_due([{"userId": "u1", "school": "s1", "due": 2000}])  # later: kept at 1000
    assert (await repo.get_state("u1"))["due"] == 1000
    await repo.note_due([{"userId": "u1", "school": "s1", "due": 700}])  # earlier: lowered
    assert [d["_id"] for d in await repo.due_users(800, 10)] == ["u2", "u1"]
    assert [d["_id"] for d in await repo.due_users(600, 10)] == ["u2"]
    assert await repo.set_due("u2", 499, None) is False  # not the value read: unchanged
    assert await repo.set_due("u2", 500, None) is True
    assert [d["_id"] for d in await repo.due_users(10 ** 12, 10)] == ["u1"]  # a null due is never due
    await repo.note_due([{"userId": "u2", "school": "s1", "due": 900}])  # a null due takes the new one
    assert (await repo.get_state("u2"))["due"] == 900
    assert await repo.claim("u1", 700, "c1", 5000, 800, ["conv:3"], 7, {"marks": ["conv:1"], "readSum": 2}) is True
    assert await repo.claim("u1", 700, "c2", 5000, 800, [], 0, {}) is False  # taken once
    state = await repo.get_state("u1")
    assert (state["due"], state["claim"], state["marks"], state["readSum"], state["lastEmailAt"]) == \
        (5000, "c1", ["conv:3"], 7, 800)
    assert (state["prevMarks"], state["prevReadSum"], state["prevEmailAt"]) == (["conv:1"], 2, None)
    await repo.delivered("u1", "c1", 5000)
    state = await repo.get_state("u1")
    assert (state["due"], state["claim"]) == (None, None)
    await repo.claim("u2", 900, "c3", 6000, 901, [], 0, {})
    await repo.note_due([{"userId": "u2", "school": "s1", "due": 1200}])  # a new message during the claim
    await repo.delivered("u2", "c3", 6000)
    state = await repo.get_state("u2")
    assert (state["due"], state["claim"]) == (1200, None)  # its due survives the delivery
    assert await repo.get_prefs("u1") == {}
    assert (await repo.set_prefs("u1", {"offAt": 5}, 6))["offAt"] == 5
    assert (await repo.set_prefs("u1", {"offAt": None}, 7))["offAt"] is None
    assert (await repo.set_school("s1", {"staffPreviewsAt": 3}, "a1", 4))["updatedBy"] == "a1"
    assert (await repo.get_school("s1"))["staffPreviewsAt"] == 3
    assert await repo.take_lease("n1", 1000, 100) is True
    assert await repo.take_lease("n2", 1050, 100) is False
    assert await repo.take_lease("n1", 1090, 100) is True  # renewed
    assert await repo.take_lease("n2", 1191, 100) is True  # expired
    await repo.release_lease("n2")
    assert await repo.take_lease("n1", 1192, 100) is True


@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=90)
async def test_an_email_claimed_but_not_sent_when_its_node_stopped_is_sent_once_later(
        api, runtime, clock, inbox, settings, mongo_uri):
    inbox.refuse = 1
    conv = await direct(api)
    await api.send("st1", conv, "hello")
    await advance(runtime, clock, 16)  # claimed, the first attempt refused, a retry waiting on the clock
    assert inbox.refused == 1 and inbox.messages == []
    await runtime.service.missed_email.stop()  # the node stops before the retry
    claim = runtime.service.missed_email._claim_ms() / 1000.0
    nodes: List[Any] = []
    try:
        for offset, expected in ((claim - 120, 0), (claim + 60, 1), (claim + 600, 1)):  # each looks 60 s later
            clock2 = ManualClock(epoch=clock.time() + offset)
            node = build_runtime(settings, mongo_uri, clock=clock2)
            nodes.append(node)
            node.service.missed_email.start()
            clock2.advance(settings.email_scan_interval)
            await node.service.missed_email.settled()
            await node.close()
            assert len(inbox.messages) == expected, offset  # not before the claim ran out; then exactly once
        assert inbox.messages[0]["Subject"] == "1 new message from Sam Student"  # what the claim was about
    finally:
        for node in nodes:
            node.store.close()


@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=60)  # below the SMTP server's hold: a sender blocking the loop fails this
async def test_a_stuck_mail_server_blocks_neither_the_loop_nor_a_send(api, runtime, clock, inbox, ws):
    import asyncio

    mail = runtime.service.missed_email
    conv = await direct(api)
    await api.send("st1", conv, "one")
    inbox.hold.clear()  # the SMTP server takes the message and does not answer
    mail.start()
    await mail.settled()
    clock.advance(16 * MINUTE)
    assert await asyncio.get_running_loop().run_in_executor(None, inbox.entered.wait, 60)
    try:
        # the email is mid-DATA: sends, reads and a socket's round trip all go on meanwhile
        other = await direct(api, "t1", "st3")
        for n in range(5):
            await api.send("t1", other, "while the mail server hangs %d" % n)
        sock = await ws("st3")
        await sock.ok("ping")
        assert (await api.get("/api/me/notifications", "st2"))[0] == 200
        assert inbox.messages == []
    finally:
        inbox.hold.set()
    await mail.settled()
    assert [m["To"] for m in inbox.messages] == [ADDRESS["st2"]]


@pytest.mark.usefixtures("addresses")
@pytest.mark.gen_test(timeout=60)
async def test_an_erased_user_gets_no_email_and_loses_the_address(api, runtime, clock, inbox):
    conv = await direct(api)
    await api.send("st1", conv, "hello")
    status, data = await api.post("/api/users/st2/erase", "a1")
    assert status == 200, data
    user = await runtime.store.directory.get_user("st2")
    assert user.get("email") is None and user.get("tokenEmail") is None
    await advance(runtime, clock, 16)
    assert inbox.messages == []
