"""The audit log's hash chain, pure: canonical hashing, and verification over lists of entries
(edited, deleted, reordered, inserted entries found and named); the API query's parsing."""
from __future__ import annotations

import copy
import enum
import hashlib
import json
from typing import Any, Dict, List

import pytest

from chat.domain.oversight.audit_chain import GENESIS, canonical, entry_hash, plain, seal, verify
from chat.domain.oversight.audit_query import parse_query, parse_time
from chat.errors import BadRequest
from chat.store.audit_repo import chain_key, school_range


def chain(n: int, school: str = "s1", start_at: int = 1_700_000_000_000) -> List[Dict[str, Any]]:
    """n sealed entries of one school, as ``AuditLog.record`` stores them."""
    out: List[Dict[str, Any]] = []
    prev = GENESIS
    for i in range(1, n + 1):
        doc = seal({"school": school, "at": start_at + i, "actor": "a1", "action": "message.delete",
                    "target": {"messageId": "m%d" % i}, "detail": {"seq": i}}, i, prev)
        doc["id"] = "id%d" % i
        out.append(doc)
        prev = doc["hash"]
    return out


def only(breaks: List[Any]) -> Any:
    assert len(breaks) == 1, breaks
    return breaks[0]


def test_canonical_form_is_sorted_compact_utf8_and_the_hash_is_its_sha256():
    fields = {"b": 1, "a": {"y": [1, "é"], "x": None}}
    assert canonical(fields) == '{"a":{"x":null,"y":[1,"é"]},"b":1}'.encode("utf-8")
    entry = {"school": "s1", "at": 5, "actor": "a1", "action": "x", "target": {}, "detail": {}, "prev": GENESIS}
    expected = hashlib.sha256(json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert entry_hash(entry) == expected
    # key order never matters, every hashed field does
    assert entry_hash(dict(reversed(list(entry.items())))) == expected
    for name in ("school", "at", "actor", "action", "target", "detail", "prev"):
        changed = dict(entry, **{name: "other"})
        assert entry_hash(changed) != expected, name


def test_seal_links_and_keys_entries():
    docs = chain(3)
    assert docs[0]["prev"] == GENESIS
    assert [d["prev"] for d in docs[1:]] == [d["hash"] for d in docs[:-1]]
    assert [d["chainKey"] for d in docs] == [chain_key("s1", i) for i in (1, 2, 3)]
    assert all(entry_hash(d) == d["hash"] for d in docs)


def test_chain_keys_keep_schools_apart_whatever_their_ids():
    low, high = school_range("s1")
    for other in ("s1:0", "s1:00000000000", "s", "s10", "s1:x"):
        for seq in (1, 5, 10 ** 6):
            assert not low <= chain_key(other, seq) <= high, other
    assert low < chain_key("s1", 1) < chain_key("s1", 2) < chain_key("s1", 10) < high


class Word(str, enum.Enum):
    X = "x.y"


def test_plain_values_hash_as_storage_answers_them():
    assert plain({"ok": True, "no": False, "n": 2.0, "f": 0.5, "t": (1, 2), "w": Word.X, 3: "k"}) == \
        {"ok": 1, "no": 0, "n": 2, "f": 0.5, "t": [1, 2], "w": "x.y", "3": "k"}
    assert type(plain(Word.X)) is str
    assert plain(float("nan")) == "nan" and plain(2 ** 70) == str(2 ** 70)


def test_an_intact_chain_verifies():
    assert verify(chain(10)) == []
    assert verify([]) == []
    # two schools mixed: each its own chain
    mixed = [e for pair in zip(chain(4, "s1"), chain(4, "s2"), strict=True) for e in pair]
    assert verify(mixed) == []


def test_an_edited_entry_is_named():
    docs = chain(6)
    docs[3]["detail"] = {"seq": 99}
    found = only(verify(docs))
    assert (found.kind, found.seq, found.entry_id) == ("edited", 4, "id4")
    assert "s1: entry seq 4 (id id4): edited" in str(found)


def test_an_edited_entry_whose_hash_was_recomputed_breaks_the_next_link():
    docs = chain(6)
    docs[2]["actor"] = "someone-else"
    docs[2]["hash"] = entry_hash(docs[2])
    found = only(verify(docs))
    assert found.seq == 4 and found.kind == "deleted"  # the link after it is broken
    assert "edited" in found.message


def test_a_deleted_entry_is_a_gap():
    docs = chain(6)
    del docs[2]
    found = only(verify(docs))
    assert (found.kind, found.seq) == ("deleted", 4) and "seq 3 missing" in found.message
    docs = chain(6)
    del docs[0]
    assert only(verify(docs)).kind == "deleted"


def test_a_deleted_entry_with_the_rest_renumbered_is_a_broken_link():
    docs = chain(6)
    del docs[2]
    for doc in docs[2:]:
        doc["seq"] -= 1
        doc["chainKey"] = chain_key("s1", doc["seq"])
    found = only(verify(docs))
    assert (found.kind, found.seq, found.entry_id) == ("deleted", 3, "id4")


def test_swapped_entries_are_reordered():
    for first in (0, 2, 4):  # the first two, two in the middle, the last two
        docs = chain(6)
        a, b = docs[first], docs[first + 1]
        a["seq"], b["seq"] = b["seq"], a["seq"]
        a["chainKey"], b["chainKey"] = b["chainKey"], a["chainKey"]
        docs.sort(key=lambda d: d["seq"])
        found = only(verify(docs))
        assert found.kind == "reordered" and found.seq == first + 1, (first, found)


def test_a_seq_out_of_order_is_reordered():
    docs = chain(4)
    docs[1], docs[2] = docs[2], docs[1]
    assert only(verify(docs)).kind in ("deleted", "reordered")
    docs = chain(4)
    docs.insert(2, copy.deepcopy(docs[1]))  # seq 2 twice
    assert only(verify(docs)).kind == "reordered"


def test_an_inserted_entry_is_named():
    docs = chain(5)
    forged = seal({"school": "s1", "at": 1, "actor": "intruder", "action": "message.delete",
                   "target": {}, "detail": {}}, 3, docs[1]["hash"])
    forged["id"] = "forged"
    rest = docs[2:]
    for doc in rest:
        doc["seq"] += 1
        doc["chainKey"] = chain_key("s1", doc["seq"])
    found = only(verify(docs[:2] + [forged] + rest))
    assert (found.kind, found.seq) == ("inserted", 3)


def test_a_chain_key_not_matching_its_seq_is_caught():
    docs = chain(3)
    docs[1]["chainKey"] = chain_key("s1", 7)
    assert only(verify(docs)).kind == "reordered"


def test_only_the_broken_school_fails():
    good, bad = chain(3, "s1"), chain(3, "s2")
    bad[1]["action"] = "policy.change"
    found = only(verify(good + bad))
    assert found.school == "s2" and found.seq == 2


def test_times_parse_as_rfc3339():
    assert parse_time("1970-01-01T00:00:00Z", "since") == 0
    assert parse_time("2026-12-02T08:00:00.5+01:00", "since") == parse_time("2026-12-02T07:00:00.500Z", "since")
    assert parse_time("2024-02-29t23:59:60z", "since") == parse_time("2024-03-01T00:00:00Z", "since")
    assert parse_time("0000-01-01T00:00:00Z", "since") < 0
    for bad in ("2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-02", "yesterday",
                "2026-12-02T24:00:00Z", "2026-12-02T08:00:00+24:00"):
        with pytest.raises(BadRequest):
            parse_time(bad, "since")


def test_the_query_checks_its_values():
    q = parse_query("a1", "message.delete", "2026-01-01T00:00:00Z", None, "10", "5")
    assert (q.actor, q.action, q.limit, q.before, q.until) == ("a1", "message.delete", 10, 5, None)
    assert parse_query(None, "", "", "", "", "") == parse_query(None, None, None, None, None, None)
    for args in (("a1", "nope", None, None, None, None), (None, None, None, None, "0", None),
                 (None, None, None, None, "101", None), (None, None, None, None, None, "0"),
                 ("x" * 201, None, None, None, None, None)):
        with pytest.raises(BadRequest):
            parse_query(*args)
