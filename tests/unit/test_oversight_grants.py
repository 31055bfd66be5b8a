"""Oversight grants, the pure parts: the request body, the policy's reviewNotice, and which
grants a node finds in force (over a stand-in for the store, on a ManualClock)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

from chat.clock import ManualClock
from chat.domain.oversight.grant_book import StoredGrants
from chat.domain.oversight.grants import grant_view, parse_grant
from chat.domain.safety.policy_doc import SchoolPolicy
from chat.errors import BadRequest


class FakeGrants:
    """What StoredGrants asks of the repository, counting the reads."""

    def __init__(self) -> None:
        self.docs: List[Dict[str, Any]] = []
        self.reads = 0

    async def active_of_user(self, user_id: str, now_ms: int) -> List[Dict[str, Any]]:
        self.reads += 1
        return [d for d in self.docs if d["userId"] == user_id and d["expiresAt"] > now_ms]


def test_the_body_needs_a_conversation_and_a_reason_of_10_to_500_characters():
    assert parse_grant({"conversationId": " c1 ", "reason": "  a good reason  "}) == ("c1", "a good reason")
    assert parse_grant({"conversationId": "c1", "reason": "x" * 500})[1] == "x" * 500
    for bad in ({"conversationId": "c1", "reason": "x" * 9}, {"conversationId": "c1", "reason": " " * 20},
                {"conversationId": "c1", "reason": "x" * 501}, {"conversationId": "c1"}, {"reason": "x" * 20},
                {"conversationId": 5, "reason": "x" * 20}, [], None):
        with pytest.raises(BadRequest):
            parse_grant(bad)


def test_grant_view_renders_times():
    view = grant_view({"id": "g", "conversationId": "c", "userId": "a1", "reason": "r" * 10, "school": "s1",
                       "createdAt": 0, "expiresAt": 3_600_000})
    assert view == {"id": "g", "conversationId": "c", "userId": "a1", "reason": "r" * 10,
                    "createdAt": "1970-01-01T00:00:00.000Z", "expiresAt": "1970-01-01T01:00:00.000Z"}


def test_the_review_notice_is_on_by_default_stored_and_changed():
    policy = SchoolPolicy()
    assert policy.review_notice is True and policy.view()["reviewNotice"] is True
    off = policy.changed({"reviewNotice": False})
    assert off.stored()["reviewNotice"] == 0  # storage writes no booleans by update
    assert SchoolPolicy.from_stored(off.stored(), policy) == off
    assert SchoolPolicy.from_stored({"studentDirect": "none"}, policy).review_notice is True  # never stored
    with pytest.raises(BadRequest):
        policy.changed({"reviewNotice": "no"})


def test_a_node_finds_grants_made_elsewhere_and_forgets_them_when_they_expire():
    async def main() -> None:
        clock = ManualClock(epoch=1_000_000.0)
        repo = FakeGrants()
        book = StoredGrants(repo, clock)  # type: ignore[arg-type]
        now = book.now_ms()
        assert await book.active("a1", "c1") is None
        grant = {"id": "g1", "userId": "a1", "conversationId": "c1", "school": "s1", "reason": "r" * 10,
                 "createdAt": now, "expiresAt": now + 60_000}
        repo.docs.append(grant)  # another node stored it
        assert await book.active("a1", "c1") == grant  # a miss asks storage again
        reads = repo.reads
        assert await book.active("a1", "c1") == grant and repo.reads == reads  # then it is remembered
        assert await book.active("a1", "c2") is None and await book.active("t2", "c1") is None
        clock.advance(59)
        assert await book.active("a1", "c1") == grant
        clock.advance(1)
        assert await book.active("a1", "c1") is None  # expired: not even storage has it in force
    asyncio.run(main())
