"""The pure part of missed-message email (chat/rules/email_digest.py): what counts, when an
email is due, what it says (never a student's text), and the signed unsubscribe link."""
from __future__ import annotations

import email
import email.policy

import pytest

from chat.rules import email_digest as d

ME = "st2"


def msg(seq, sender="st1", text="the secret plan", **extra):
    return dict({"id": "m%d" % seq, "seq": seq, "senderId": sender, "senderName": sender.upper(), "text": text,
                 "type": "text"}, **extra)


def facts(**kw):
    base = dict(now=1_000_000, has_unread=True, enabled=True, has_address=True, online=False, last_email_at=None,
                read_since_email=True, quiet_opens_at=None, after_ms=900_000, digest_ms=3_600_000)
    base.update(kw)
    return d.Facts(**base)


@pytest.mark.parametrize("address,ok", [
    ("sue@school.example", True), ("a.b+c@x.io", True), ("", False), ("no-at", False), ("a@b..c", False),
    ("Sue <sue@school.example>", False), ("a b@c.d", False), ("a@b\nBcc: x@y.z", False), (None, False),
    ("x" * 65 + "@a.b", False)])
def test_addresses(address, ok):
    assert d.valid_address(address) is ok


def test_what_counts_direct_announcement_and_mentions_only_never_own_system_or_deleted():
    assert d.kind_of(msg(1), "direct", ME) == d.DIRECT
    assert d.kind_of(msg(1), "announcement", ME) == d.ANNOUNCEMENT
    assert d.kind_of(msg(1), "class", ME) is None
    assert d.kind_of(msg(1), "group", ME) is None
    assert d.kind_of(msg(1, mentions=[ME]), "group", ME) == d.MENTION
    assert d.kind_of(msg(1, sender=ME), "direct", ME) is None
    assert d.kind_of(msg(1, type="system"), "direct", ME) is None
    assert d.kind_of(msg(1, deletedAt=5), "direct", ME) is None


def test_a_summary_counts_who_wrote_and_leaves_out_blocked_senders_and_text():
    messages = [msg(1), msg(2, sender="t1"), msg(3, sender="st3"), msg(4)]
    group = d.summarise("c1", "Maths 7A", "announcement", ME, messages, blocked=["st3"])
    assert (group.count, group.senders, group.top_seq, group.previews) == (3, ["ST1", "T1"], 4, [])
    assert d.summarise("c1", "x", "direct", ME, [msg(1, sender="st3")], blocked=["st3"]) is None
    assert d.summarise("c1", "x", "group", ME, messages) is None  # no mention: nothing
    staff = d.summarise("c1", "x", "direct", "t1", [msg(i, text="word " * 100) for i in range(1, 6)], previews=True)
    assert len(staff.previews) == d.PREVIEWS_PER_GROUP and len(staff.previews[0][1]) == d.PREVIEW_CHARS


def test_decide_send_wait_or_drop():
    assert d.decide(facts()) == (d.SEND, None)
    assert d.decide(facts(has_unread=False)) == (d.DROP, None)
    assert d.decide(facts(enabled=False)) == (d.DROP, None)
    assert d.decide(facts(has_address=False)) == (d.DROP, None)
    assert d.decide(facts(online=True)) == (d.WAIT, 1_900_000)
    assert d.decide(facts(quiet_opens_at=5_000_000)) == (d.WAIT, 5_000_000)  # at the window's opening
    assert d.decide(facts(quiet_opens_at=999_999)) == (d.SEND, None)
    # an email went 10 minutes ago and nothing was read: the digest interval first
    assert d.decide(facts(last_email_at=400_000, read_since_email=False)) == (d.WAIT, 4_000_000)
    assert d.decide(facts(last_email_at=400_000, read_since_email=True)) == (d.SEND, None)
    assert d.decide(facts(last_email_at=400_000 - 3_600_000, read_since_email=False)) == (d.SEND, None)


def test_unsubscribe_signatures_are_per_user_and_per_key():
    sig = d.sign(b"k1", "st2")
    assert d.verify(b"k1", "st2", sig)
    assert not d.verify(b"k2", "st2", sig)
    assert not d.verify(b"k1", "st3", sig)
    assert not d.verify(b"k1", "st2", "")
    assert not d.verify(b"k1", "\udcff\u00e9", "\u00e9\x1c")  # any text: never an error
    url = d.unsubscribe_url("https://chat.example/", b"k1", "st 2")
    assert url.startswith("https://chat.example/api/notifications/unsubscribe?u=st+2&sig=")


def test_compose_headers_and_a_student_email_without_text():
    groups = [d.summarise("c1", "Maths 7A", "announcement", ME, [msg(1), msg(2), msg(3)]),
              d.summarise("c2", "SAM", "direct", ME, [msg(4, text="meet me after school")])]
    mail = d.compose(to="sue@school.example", name="Sue", groups=groups, from_addr="chat@school.example",
                     base_url="https://chat.example", unsubscribe="https://chat.example/u?x", now_ms=1_700_000_000_000,
                     message_id="abc")
    parsed = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    assert parsed["List-Unsubscribe"] == "<https://chat.example/u?x>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["To"] == "sue@school.example" and parsed["Message-ID"] == "<abc@school.example>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Subject"] == "4 new messages in 2 conversations"
    text = parsed.get_content()
    assert "3 new messages from Maths 7A" in text and "1 new message from SAM" in text
    assert "https://chat.example/?c=c1" in text and "https://chat.example/?c=c2" in text
    assert "secret" not in text and "meet me" not in text
    one = d.compose(to="a@b.c", name="A", groups=groups[1:], from_addr="c@d.e", base_url="https://x",
                    unsubscribe="https://x/u", now_ms=0, message_id="m")
    assert one["Subject"] == "1 new message from SAM"
    mention = d.summarise("c3", "Art 7B", "class", ME, [msg(5, mentions=[ME])])
    assert d.headline(mention) == "1 mention of you in Art 7B"
