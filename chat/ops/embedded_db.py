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

The wrapped names are nx-27017 internals (the version is pinned); when they are not found the
database runs as published and says so once in its log. ``tests/unit/test_embedded_db.py`` fails
when the wrapping is not in place.
"""
from __future__ import annotations

import functools
import logging
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


def install() -> bool:
    """Apply :func:`one_commit_per_insert` to nx-27017's handler."""
    try:
        from nx_27017 import handler
    except ImportError:
        return False
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
