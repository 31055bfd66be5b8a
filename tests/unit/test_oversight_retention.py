"""The pure parts of retention and legal holds: the retention document and its validation,
what a hold snapshot covers, a hold's reason, and the sweep's batch budget."""
from __future__ import annotations

import pytest

from chat.domain.oversight.holds import HeldSet, HoldBook, parse_reason
from chat.domain.oversight.retention import RetentionPolicy
from chat.domain.oversight.retention_sweep import Budget, _before
from chat.errors import BadRequest
from chat.settings import Settings


def test_defaults_come_from_settings_and_a_stored_document_overrides_them():
    base = RetentionPolicy.of(None, Settings(retention_message_days=30, retention_case_days=7,
                                             upload_retention_days=100.0))
    assert (base.message_days, base.upload_days, base.case_days) == (30, 100, 7)
    assert base.days_for("direct") == 30 and base.sweeps_messages
    stored = RetentionPolicy.of({"messageDays": 0, "byType": {"class": 5}, "uploadDays": 9, "caseDays": 1},
                                Settings())
    assert stored.days_for("class") == 5 and stored.days_for("group") == 0 and stored.sweeps_messages
    assert not RetentionPolicy.defaults(Settings()).sweeps_messages  # kept forever by default
    assert RetentionPolicy.of(stored.stored(), Settings()) == stored


def test_a_change_keeps_what_it_does_not_name():
    policy = RetentionPolicy.defaults(Settings())
    after = policy.changed({"messages": {"byType": {"direct": 7}}})
    assert after.days_for("direct") == 7 and after.days_for("group") == 0
    assert after.upload_days == policy.upload_days and after.case_days == policy.case_days
    back = after.changed({"messages": {"byType": {"direct": None}}, "caseRetentionDays": 0})
    assert back.days_for("direct") == 0 and back.case_days == 0
    assert back.view()["messages"]["byType"] == {"direct": None, "group": None, "class": None, "announcement": None}


@pytest.mark.parametrize("body", [
    None, [], {}, {"x": 1}, {"messages": []}, {"messages": {"retentionDays": -1}},
    {"messages": {"retentionDays": 36501}}, {"messages": {"retentionDays": None}},
    {"messages": {"retentionDays": False}}, {"messages": {"byType": {"dm": 1}}},
    {"messages": {"byType": {"group": "1"}}}, {"uploads": {"retentionDays": 0}}, {"uploads": 5},
    {"caseRetentionDays": 1.5}])
def test_bad_changes_are_refused(body):
    with pytest.raises(BadRequest):
        RetentionPolicy.defaults(Settings()).changed(body)


def test_a_hold_snapshot_covers_its_users_and_conversations():
    held = HeldSet(frozenset({"st1"}), frozenset({"c9"}))
    assert held.covers("st1", "c1") and held.covers("st2", "c9") and not held.covers("st2", "c1")
    assert not held.covers(None, None) and held and not HeldSet()


@pytest.mark.gen_test
async def test_a_book_without_storage_holds_nothing():
    assert await HoldBook().covers("s1", user_id="st1", conversation_id="c1") is False
    assert not await HoldBook().snapshot("s1")


def test_a_hold_needs_a_reason():
    assert parse_reason({"reason": "  court order  "}) == "court order"
    for bad in (None, [], {}, {"reason": ""}, {"reason": " "}, {"reason": 1}, {"reason": "x" * 501},
                {"reason": "ok", "extra": 1}):
        with pytest.raises(BadRequest):
            parse_reason(bad)


def test_the_budget_bounds_a_pass():
    budget = Budget(2)
    assert budget.take() and budget.take() and not budget.take()
    assert budget.used == 2 and budget.left == 0


def test_the_key_before_a_school_sorts_just_before_it():
    for school in ("s1", "b", "school-42"):
        assert _before(school) < school
    assert _before("s2") > "s1"
