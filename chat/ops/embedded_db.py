"""The embedded database process: nx-27017, with one commit per insert command.

nx-27017 stores each document of an ``insert`` command in its own SQLite transaction. With the
journaled write concern messages use (``j: true``, SQLite ``synchronous=FULL``) every commit
waits for the disk: a batch of 100 messages from the group-commit writer cost 100 syncs, about
0.24 ms each here, and the database spent most of its time waiting for them. This process
runs nx-27017 with its insert command wrapped in one transaction under the same per-database
lock nx-27017 already takes for each command, so no other command runs inside it: what the
client sees is unchanged (the documents are tried in order; a refused one is reported in
``writeErrors`` and, for an unordered insert, the others are still stored, because SQLite
undoes only the failing statement), and the reply still comes after the commit is on disk,
now one sync per batch. The command's write concern is applied before the transaction begins
(SQLite refuses to change ``synchronous`` inside one), and a commit that fails is rolled back
before the error is answered.

Each document of an insert is also stored with less work (:func:`lean_document_insert`):
neosqlite deep-copies it and asks SQLite whether the JSON it has just written is valid, one more
statement per document; the copy is not needed (converting bytes builds new containers already,
so the caller's document is never changed) and ``json.dumps`` writes valid JSON except for
``NaN`` and ``Infinity``, which are still checked. The stored JSON is the same byte for byte.
Together these were about a tenth of the database's CPU under a fan-out load.

The wrapped names are nx-27017 and neosqlite internals (both versions are pinned); when they are
not found the database runs as published and says so once in its log.
``tests/unit/test_embedded_db.py`` fails when the wrapping is not in place.
"""
from __future__ import annotations

import functools
import logging
import sqlite3
import sys
from typing import Any, Callable, List, Optional

log = logging.getLogger("chat.embedded_db")


def _command_body(msg: Any) -> Optional[dict]:
    for section_type, doc in (msg.get("sections") or []) if isinstance(msg, dict) else []:
        if section_type == "body" and isinstance(doc, dict):
            return doc
    return None


def one_commit_per_insert(handler_cls: Any, db_name_of: Callable[[Any], str]) -> bool:
    """Wrap ``handler_cls.handle_insert`` (see the module doc); False when it cannot be."""
    original = getattr(handler_cls, "handle_insert", None)
    needed = ("_lock_for", "get_database", "_apply_write_concern")
    if original is None or not all(hasattr(handler_cls, name) for name in needed):
        return False
    if getattr(original, "one_commit", False):
        return True

    @functools.wraps(original)
    def handle_insert(self: Any, msg: Any, *args: Any, **kwargs: Any) -> Any:
        body = _command_body(msg)
        if body is None or body.get("autocommit") is False:  # a client transaction: its own commit
            return original(self, msg, *args, **kwargs)
        db_name = db_name_of(msg)
        with self._lock_for(db_name):  # nx-27017's own per-database lock (re-entrant)
            db = self.get_database(db_name)
            sqlite = db.db
            if sqlite.in_transaction:
                return original(self, msg, *args, **kwargs)
            # the write concern first: SQLite cannot change its sync level (j: true -> FULL)
            # inside a transaction, and nx-27017 would note it as applied all the same
            self._apply_write_concern(db, db_name, body.get("writeConcern"))
            sqlite.execute("BEGIN IMMEDIATE")
            try:
                result = original(self, msg, *args, **kwargs)
                if sqlite.in_transaction:
                    sqlite.commit()
            except BaseException:
                # a failed COMMIT may leave the transaction open: never let a later command
                # run inside it (it would be answered before anything reached the disk)
                if sqlite.in_transaction:
                    sqlite.rollback()
                raise
            return result

    handle_insert.one_commit = True  # type: ignore[attr-defined]
    handler_cls.handle_insert = handle_insert
    return True


def lean_document_insert(mixin_cls: Any, helpers: Any) -> bool:
    """Replace neosqlite's ``_internal_insert`` on ``mixin_cls`` (see the module doc); False
    when the names it relies on are not there. ``helpers``: the module whose ``ObjectId``,
    ``neosqlite_json_dumps`` and ``quote_table_name`` the original uses."""
    original = getattr(mixin_cls, "_internal_insert", None)
    names = ("ObjectId", "neosqlite_json_dumps", "quote_table_name")
    if original is None or not all(hasattr(helpers, n) for n in names):
        return False
    if getattr(original, "lean", False):
        return True
    try:
        from neosqlite.collection.query_helper.utils import _convert_bytes_to_binary
    except ImportError:
        return False
    object_id, dumps, quote = helpers.ObjectId, helpers.neosqlite_json_dumps, helpers.quote_table_name

    @functools.wraps(original)
    def _internal_insert(self: Any, document: Any) -> Any:
        if not isinstance(document, dict):
            return original(self, document)  # its own error
        had_id = "_id" in document
        new_id = object_id() if not had_id or document["_id"] is None else document["_id"]
        doc = _convert_bytes_to_binary(document)  # a new dict (and new nested containers)
        doc["_id"] = new_id
        text = dumps(doc)
        if ("NaN" in text or "Infinity" in text) and not self._validate_json_document(text):
            return original(self, document)  # refused there, with its message
        cursor = self.collection.db.execute(
            "INSERT INTO %s(data, _id) VALUES (?, ?)" % quote(self.collection.name), (text, str(new_id)))
        if cursor.lastrowid is None:
            raise sqlite3.Error("Failed to get last row id.")
        if not had_id:
            document["_id"] = new_id  # as the original: the caller learns the id it was given
        return new_id

    _internal_insert.lean = True  # type: ignore[attr-defined]
    mixin_cls._internal_insert = _internal_insert
    return True


def install() -> bool:
    """Apply :func:`one_commit_per_insert` to nx-27017's handler and
    :func:`lean_document_insert` to neosqlite's collections."""
    try:
        from neosqlite.collection.query_helper import crud_operations
        from nx_27017 import handler
    except ImportError:
        return False
    if not lean_document_insert(crud_operations.CRUDOperationsMixin, crud_operations):
        log.warning("neosqlite internals changed: each document is copied and validated as published")
    db_name_of = getattr(handler, "_msg_db_name", None)
    if db_name_of is None or not one_commit_per_insert(handler.NeoSQLiteHandler, db_name_of):
        log.warning("nx-27017 internals changed: inserts commit one document at a time")
        return False
    return True


def main(argv: List[str]) -> int:
    """Run the database with these nx-27017 arguments."""
    install()
    from nx_27017.nx_27017 import main as nx_main

    sys.argv = ["nx-27017", *argv]
    return int(nx_main() or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
