"""The embedded database child over the wire: the server starts this repository's wrapper of
nx-27017 (see tests/unit/test_embedded_db.py for the wrapper's own guarantees)."""
from __future__ import annotations

from typing import Any

import pymongo
import pytest
from pymongo.errors import BulkWriteError

from chat.ops import embedded_db
from chat.ops.embedded import child_argv


def test_the_database_child_runs_with_one_commit_per_insert(mongo_uri, request, monkeypatch):
    """The server's child is this module (so the pinned nx-27017 is wrapped), and through the
    wire an ordered batch with a duplicate stores what precedes it."""
    if request.config.getoption("--mongodb-uri"):
        pytest.skip("an external MongoDB: no embedded child")
    from neosqlite.collection.query_helper import crud_operations
    from nx_27017 import handler

    # install() wraps the handler class of this process too: put the published ones back after,
    # or tests/unit/test_embedded_db.py's "as published" cases would see the wrappers
    monkeypatch.setattr(handler.NeoSQLiteHandler, "handle_insert", handler.NeoSQLiteHandler.handle_insert)
    mixin = crud_operations.CRUDOperationsMixin
    monkeypatch.setattr(mixin, "_internal_insert", mixin._internal_insert)
    assert embedded_db.install()
    assert getattr(mixin._internal_insert, "lean", False)
    assert "chat.ops.embedded_db" in " ".join(child_argv())
    client: Any = pymongo.MongoClient(mongo_uri)
    try:
        coll = client["embedded_db_test"]["m"]
        coll.insert_one({"_id": "d3"})
        with pytest.raises(BulkWriteError) as info:
            coll.insert_many([{"_id": "d%d" % i} for i in range(6)], ordered=True)
        assert info.value.details["nInserted"] == 3
        assert sorted(d["_id"] for d in coll.find({})) == ["d0", "d1", "d2", "d3"]
        client.drop_database("embedded_db_test")
    finally:
        client.close()
