"""The embedded database commits each insert command once (chat/ops/embedded_db.py), and what a
client sees of an insert is what nx-27017 as published gives."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest

from chat.ops import embedded_db


def _handler(tmp_path: Any, patched: bool) -> Any:
    from nx_27017 import handler

    cls = type("Handler", (handler.NeoSQLiteHandler,), {})
    if patched:
        assert embedded_db.one_commit_per_insert(cls, handler._msg_db_name)
    return cls(db_path=str(tmp_path / "db.sqlite"))


def _insert(h: Any, docs: List[Dict[str, Any]], ordered: bool = True) -> Dict[str, Any]:
    body = {"insert": "messages", "documents": docs, "ordered": ordered, "$db": "chat",
            "writeConcern": {"w": "majority", "j": True}}
    return h.handle_insert({"request_id": 1, "sections": [("body", body)]})[1]


def _statements(h: Any) -> List[str]:
    seen: List[str] = []
    h.get_database("chat").db.set_trace_callback(lambda sql: seen.append(sql.split()[0].upper()))
    return seen


@pytest.mark.parametrize("patched", [True, False])
def test_an_insert_of_many_documents_is_one_transaction(tmp_path, patched):
    h = _handler(tmp_path, patched)
    _insert(h, [{"_id": "warm"}])  # creates the table
    seen = _statements(h)
    reply = _insert(h, [{"_id": "m%d" % i, "text": "hi"} for i in range(20)])
    assert reply["ok"] == 1 and reply["n"] == 20
    inserts = seen.count("INSERT")
    assert inserts >= 20
    if patched:  # one BEGIN before the first insert, one COMMIT after the last
        assert seen.count("BEGIN") == 1 and seen.count("COMMIT") == 1
        assert seen.index("BEGIN") < seen.index("INSERT") and seen[::-1].index("COMMIT") < seen[::-1].index("INSERT")
    else:  # as published: each insert its own (implicit) transaction
        assert seen.count("BEGIN") == 0


def test_a_journaled_insert_leaves_the_database_syncing_in_full(tmp_path):
    """j: true is SQLite's synchronous=FULL, applied before the transaction begins (inside one
    SQLite refuses the change and nx-27017 would not try again)."""
    h = _handler(tmp_path, patched=True)
    reply = _insert(h, [{"_id": "m%d" % i} for i in range(3)])
    assert reply["ok"] == 1 and reply["n"] == 3
    assert h.get_database("chat").db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_failed_commit_is_rolled_back_and_answered_as_a_failure(tmp_path):
    import sqlite3

    h = _handler(tmp_path, patched=True)
    _insert(h, [{"_id": "warm"}])
    conn = h.get_database("chat")
    real = conn.db

    class DiskFails:  # the connection as the wrapper sees it: COMMIT fails (a full disk, say)
        def commit(self) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)
    conn.db = DiskFails()
    try:
        with pytest.raises(sqlite3.OperationalError):
            _insert(h, [{"_id": "x%d" % i} for i in range(3)])
    finally:
        conn.db = real
    assert not real.in_transaction  # nothing left open for the next command to run inside
    assert _insert(h, [{"_id": "after"}])["n"] == 1
    assert sorted(d["_id"] for d in conn["messages"].find({})) == ["after", "warm"]


@pytest.mark.parametrize("patched", [True, False])
def test_a_refused_document_fails_alone_as_before(tmp_path, patched):
    h = _handler(tmp_path, patched)
    _insert(h, [{"_id": "m5"}])
    ordered = _insert(h, [{"_id": "m%d" % i} for i in range(10)])
    assert ordered["n"] == 5 and [e["index"] for e in ordered["writeErrors"]] == [5]
    unordered = _insert(h, [{"_id": "m%d" % i} for i in range(5, 15)], ordered=False)
    assert unordered["n"] == 9 and [e["index"] for e in unordered["writeErrors"]] == [0]
    found = sorted(d["_id"] for d in h.get_database("chat")["messages"].find({}))
    assert found == sorted(["m%d" % i for i in range(15)])


def _collection(tmp_path: Any, name: str, lean: bool) -> Any:
    import neosqlite
    from neosqlite.collection.query_helper import crud_operations

    coll = neosqlite.Connection(str(tmp_path / (name + ".db")))["m"]
    helper = coll.query_engine.helpers
    if lean:
        cls = type("Lean", (type(helper),), {})
        assert embedded_db.lean_document_insert(cls, crud_operations)
        helper.__class__ = cls
    assert getattr(type(helper)._internal_insert, "lean", False) is lean
    return coll


def test_a_lean_insert_stores_what_neosqlite_as_published_stores_and_leaves_the_callers_document(tmp_path):
    import copy

    from bson import Binary

    docs = [{"_id": "a", "text": "héllo ញ៉ាំ \"q\"", "n": 1, "f": 1.5, "none": None, "ok": True,
             "nested": {"list": [1, {"blob": b"\x00\x01"}, [b"x"]], "bin": Binary(b"k", 5)}},
            {"_id": "b", "blob": b"abc"},
            {"text": "no id"},
            {"_id": None, "x": 1}]
    stored = {}
    for lean in (False, True):
        coll = _collection(tmp_path, "lean" if lean else "published", lean)
        given = copy.deepcopy(docs)
        for doc in given:
            coll.insert_one(doc)
        rows = coll.db.execute("SELECT _id, data FROM m ORDER BY id").fetchall()
        # a generated id differs from run to run: compare it through the caller's document (which,
        # as published, learns it only when it had no _id at all, not for "_id": None)
        assert [str(d["_id"]) for d in given[:3]] == [r[0] for r in rows[:3]] and given[3]["_id"] is None
        stored[lean] = [r[1].replace(r[0], "<id>") for r in rows]
        for before, after in zip(docs, given, strict=True):
            assert {k: v for k, v in after.items() if k != "_id" or "_id" in before} == \
                {k: v for k, v in before.items()}  # nothing changed but the id it was given
        with pytest.raises(ValueError):
            coll.insert_one({"_id": "nan", "x": float("nan")})  # refused by both, with neosqlite's error
        assert coll.db.execute("SELECT count(*) FROM m").fetchone()[0] == len(docs)
    assert stored[True] == stored[False]
