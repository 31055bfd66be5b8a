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
