"""Staff safeguarding actions land in the audit log (chat/domain/oversight/audit.py): policy
changes with the values before and after, word-list changes (names and term counts, never the
terms), case reads, moderation actions, and mutes set and lifted. Read straight from the
``audit_log`` collection through the store's seam."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest

from chat.runtime import Runtime

pytestmark = [pytest.mark.usefixtures("school"), pytest.mark.manual_clock]


async def entries(runtime: Runtime) -> List[Dict[str, Any]]:
    handle = runtime.store.db.blocking_handle()
    entries = await runtime.store.db.io(lambda: list(handle["audit_log"].find({"school": "s1"}).sort("seq", 1)))
    return [e for e in entries if e["action"] != "roster.import"]  # the test school's own import


def shape(entry: Dict[str, Any]) -> Any:
    return entry["actor"], entry["action"], entry["target"]


@pytest.mark.gen_test
async def test_safeguarding_actions_are_audited(api: Any, runtime: Runtime) -> None:
    assert (await api.put("/api/schools/s1/policy", "a1", {"studentDirect": "staff_only"}))[0] == 200
    assert (await api.put("/api/schools/s1/policy", "a1", {"studentDirect": "staff_only"}))[0] == 200  # no change
    lists = [{"name": "Bullying", "action": "block", "terms": ["loser", "idiot"]},
             {"name": "Worry", "action": "flag", "terms": ["sad"]}]
    assert (await api.put("/api/schools/s1/filters", "a1", {"lists": lists}))[0] == 200
    conv = await api.conversation("t1", "class", classId="c1")
    msg = await api.send("st2", conv["id"], "you are mean")
    _, body = await api.post("/api/messages/%s/report" % msg["id"], "st1", {"reason": "bullying"})
    case_id = body["data"]["caseId"]
    assert (await api.get("/api/moderation/cases/%s" % case_id, "a1"))[0] == 200
    status, _ = await api.patch("/api/moderation/cases/%s" % case_id, "a1",
                                {"action": "mute_author", "hours": 2, "status": "in_review", "note": "talked to her"})
    assert status == 200
    assert (await api.put("/api/conversations/%s/mutes/st1" % conv["id"], "t1", {"minutes": 10}))[0] == 200
    assert (await api.delete("/api/conversations/%s/mutes/st1" % conv["id"], "t1"))[0] == 200
    assert (await api.delete("/api/conversations/%s/mutes/st1" % conv["id"], "t1"))[0] == 200  # none: no entry
    assert (await api.put("/api/schools/s1/policy", "t1", {"studentDirect": "none"}))[0] == 403  # refused: none

    log = await entries(runtime)
    case_target = {"caseId": case_id, "userId": "st2", "messageId": msg["id"], "conversationId": conv["id"]}
    mute_target = {"conversationId": conv["id"], "userId": "st1"}
    assert [shape(e) for e in log] == [
        ("a1", "policy.change", {"schoolId": "s1"}),
        ("a1", "filters.change", {"schoolId": "s1"}),
        ("a1", "moderation.case_read", case_target),
        ("a1", "mute.set", {"conversationId": conv["id"], "userId": "st2"}),
        ("a1", "moderation.action", case_target),
        ("t1", "mute.set", mute_target),
        ("t1", "mute.clear", mute_target),
    ]
    policy, filters, _read, author_mute, action, mute, clear = (e["detail"] for e in log)
    assert policy["before"]["studentDirect"] == "any" and policy["after"]["studentDirect"] == "staff_only"
    assert filters["before"] == [] and filters["after"] == [
        {"name": "Bullying", "action": "block", "terms": 2}, {"name": "Worry", "action": "flag", "terms": 1}]
    assert author_mute["reason"] == case_id and isinstance(author_mute["until"], int)
    assert (action["action"], action["status"], action["statusBefore"], action["hours"]) == (
        "mute_author", "in_review", "open", 2)
    assert mute["minutes"] == 10 and clear["reason"] is None
    text = repr(log)
    for secret in ("loser", "idiot", "you are mean", "talked to her"):
        assert secret not in text, secret  # no terms, no message text, no notes
    assert all(isinstance(e["at"], int) for e in log)
