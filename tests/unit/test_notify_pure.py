"""Pure modules of webhooks and bots: the signature a receiver checks, the backoff and its
limit, and the parsing of webhook and bot bodies (the URL rule, private targets)."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any, Dict, Optional

import pytest
import ujson

from chat.clock import ManualClock
from chat.domain.notify import http_post
from chat.domain.notify.webhook_dispatch import WebhookDispatcher
from chat.domain.notify.webhooks import dead_letter_view
from chat.errors import BadRequest, Forbidden
from chat.rules import notify_input as ni, retry_backoff
from chat.rules.webhook_sign import sign, signed_payload, verify
from chat.settings import Settings

SECRET = "whsec_test"
BODY = b'{"event":"message.created","data":{"seq":1}}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, BODY) == "sha256=" + expected
    assert signed_payload(1700000000, BODY) == b"1700000000." + BODY


def test_a_receiver_verifies_within_the_window_only():
    sig = sign(SECRET, 1700000000, BODY)
    assert verify(SECRET, "1700000000", BODY, sig, now=1700000100)
    assert not verify(SECRET, "1700000000", BODY, sig, now=1700000000 + 301)  # replayed later
    assert not verify(SECRET, "1700000000", BODY, sig, now=1700000000 - 301)
    assert not verify(SECRET, "1700000001", BODY, sig, now=1700000000)  # timestamp changed
    assert not verify(SECRET, "1700000000", BODY + b" ", sig, now=1700000000)  # body changed
    assert not verify("whsec_other", "1700000000", BODY, sig, now=1700000000)
    for stamp, signature in ((None, sig), ("", sig), ("17e8", sig), ("1700000000", None), ("1700000000", "")):
        assert not verify(SECRET, stamp, BODY, signature, now=1700000000)


def test_backoff_doubles_up_to_the_cap_with_jitter_down_to_a_half():
    assert retry_backoff.delay(0, 2.0, 600.0, lambda: 0.0) == 0.0
    assert [retry_backoff.delay(n, 2.0, 600.0, lambda: 0.0) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert retry_backoff.delay(20, 2.0, 600.0, lambda: 0.0) == 600.0
    assert retry_backoff.delay(10_000, 2.0, 600.0, lambda: 0.0) == 600.0  # no overflow
    assert retry_backoff.delay(3, 2.0, 600.0, lambda: 0.999999) == pytest.approx(4.0, rel=1e-5)
    assert not retry_backoff.exhausted(2, 3) and retry_backoff.exhausted(3, 3)


def test_webhook_bodies():
    spec = ni.parse_webhook({"url": "https://lms.example.org/hooks?x=1", "events": ["message.created"] * 2},
                            creating=True)
    assert spec.events == ["message.created"] and spec.include_text is None
    for body in ({}, {"url": "https://a"}, {"events": ["case.created"]}, {"url": "ftp://a", "events": ["case.created"]},
                 {"url": "https://a b", "events": ["case.created"]}, {"url": "https://u:p@a", "events": ["case.created"]},
                 {"url": "https://a", "events": "case.created"}, {"url": "https://a", "events": ["nope"]},
                 {"url": "https://a", "events": ["case.created"], "includeText": "yes"},
                 {"url": "https://a", "events": ["case.created"], "rotateSecret": True}, []):
        with pytest.raises(BadRequest):
            ni.parse_webhook(body, creating=True)
    with pytest.raises(BadRequest):
        ni.parse_webhook({}, creating=False)
    assert ni.parse_webhook({"rotateSecret": True}, creating=False).rotate_secret


def test_private_targets_are_refused_unless_allowed():
    for url in ("http://127.0.0.1/x", "http://localhost:8080/", "http://a.localhost/", "http://10.1.2.3/",
                "http://192.168.0.1/", "http://169.254.169.254/latest", "http://0.0.0.0/"):
        with pytest.raises(Forbidden):
            ni.check_target(url, allow_private=False)
        ni.check_target(url, allow_private=True)
    ni.check_target("https://lms.example.org/hook", allow_private=False)
    ni.check_target("https://8.8.8.8/hook", allow_private=False)


@pytest.mark.parametrize("url", ["http://127.1:8888/", "http://2130706433/", "http://0x7f000001/",
                                 "http://017700000001/", "http://0/", "http://0177.0.0.1/", "http://10.1/",
                                 "http://127.0.0.1./", "http://localhost./"])
def test_numeric_hosts_the_resolver_reads_as_an_address_are_refused(url):
    # ipaddress rejects these shortened, decimal, octal and hex IPv4 forms; inet_aton (the resolver) maps
    # them to loopback or a private network
    with pytest.raises(Forbidden):
        ni.check_target(url, allow_private=False)
    ni.check_target(url, allow_private=True)


def test_a_delivery_connects_only_to_a_resolved_address_that_is_allowed():
    # a name that passes the URL check but resolves to this machine (or is rebound to it) is refused
    # when connecting; nothing is sent
    result = asyncio.run(http_post.post("http://localhost:9/x", {}, b"{}", 5.0, allow_private=False))
    assert result.status == 0 and "private network" in result.error  # (no connection opened: see e2e)


class _Messages:
    """Stored messages, and the stored webhooks (what the dispatcher re-reads at an attempt)."""

    def __init__(self) -> None:
        self.docs: Dict[str, Dict[str, Any]] = {}
        self.hooks: Dict[str, Dict[str, Any]] = {}

    async def get(self, message_id: str) -> Optional[Dict[str, Any]]:
        return self.docs.get(message_id)

    async def get_hook(self, hook_id: str) -> Optional[Dict[str, Any]]:
        return self.hooks.get(hook_id)


def test_message_text_is_added_at_each_attempt_only_if_allowed_then_and_the_message_is_live():
    messages = _Messages()
    messages.docs["m1"] = {"id": "m1", "text": "my diary", "deletedAt": None}
    allowed = Settings(webhook_allow_text=True)
    stored = '{"id":"e1","event":"message.created","data":{"messageId":"m1"}}'
    delivery = {"id": "d1", "body": stored, "textOf": "m1"}
    with_text, without = {"id": "h1", "includeText": 1}, {"id": "h1", "includeText": 0}
    messages.hooks["h1"] = with_text

    def body(settings: Settings, hook: Dict[str, Any], doc: Dict[str, Any] = delivery) -> Dict[str, Any]:
        dispatcher = WebhookDispatcher(settings, messages, ManualClock(), messages=messages.get)  # type: ignore[arg-type]
        return ujson.loads(asyncio.run(dispatcher.body_of(hook, doc)))["data"]

    assert body(allowed, with_text)["text"] == "my diary"
    assert "text" not in body(allowed, without)  # the webhook's includeText turned off
    messages.hooks["h1"] = without  # turned off in storage (another node) before this node heard of it
    assert "text" not in body(allowed, with_text)
    messages.hooks["h1"] = with_text
    assert "text" not in body(allowed.replace(webhook_allow_text=False), with_text)  # the server's switch off
    # a delivery stored with its text (before text was left out of storage) loses it too
    legacy = dict(delivery, body='{"id":"e1","data":{"messageId":"m1","text":"my diary"}}')
    assert "text" not in body(allowed, without, legacy)
    messages.docs["m1"]["deletedAt"] = 5  # deleted or erased
    assert "text" not in body(allowed, with_text)
    del messages.docs["m1"]  # purged by retention
    assert "text" not in body(allowed, with_text)
    # a group's title (conversation.created) goes only while text is allowed
    group = {"id": "d2", "event": "conversation.created", "body": '{"data":{"conversationId":"c1","title":"7B"}}'}
    assert body(allowed, with_text, group)["title"] == "7B"
    assert "title" not in body(allowed, without, group)
    assert "title" not in body(allowed.replace(webhook_allow_text=False), with_text, group)
    # the dead-letter listing never shows text
    view = dead_letter_view({"id": "d1", "event": "message.created", "body": legacy["body"]})
    assert "text" not in view["payload"]["data"] and view["payload"]["data"]["messageId"] == "m1"


def test_bot_bodies_and_replay_bodies():
    spec = ni.parse_bot({"name": " LMS ", "scopes": {"classes": ["c1", "c1"], "conversations": []}})
    assert (spec.name, spec.class_ids, spec.conversation_ids) == ("LMS", ["c1"], [])
    for body in ({"name": "b"}, {"name": "b", "scopes": {}}, {"name": "b", "scopes": {"rooms": ["x"]}},
                 {"name": "", "scopes": {"classes": ["c1"]}}, {"name": "b", "scopes": {"classes": "c1"}},
                 {"name": "b", "scopes": {"classes": ["c1"]}, "role": "admin"}):
        with pytest.raises(BadRequest):
            ni.parse_bot(body)
    assert ni.parse_replay({}) is None
    assert ni.parse_replay({"ids": ["a" * 24]}) == ["a" * 24]
    with pytest.raises(BadRequest):
        ni.parse_replay({"ids": ["nope"]})


def test_a_token_may_not_speak_as_a_bot():
    from chat.auth import identity_from_claims
    from chat.errors import Unauthorized
    claims = {"sub": "bot:6b110c40e4b483ee0fe521de", "role": "teacher", "school": "s1", "exp": 2 ** 40}
    with pytest.raises(Unauthorized):
        identity_from_claims(claims)
    assert identity_from_claims(dict(claims, sub="robot")).user_id == "robot"
