"""The one seam to MongoDB: the only module that imports pymongo, gridfs and bson.

Every blocking call runs in a bounded ThreadPoolExecutor entered through :meth:`Database.io`,
so the IOLoop never blocks on storage, and every storage failure leaves it as a
:class:`chat.errors.ChatError` (``Unavailable``, or ``Duplicate`` for a unique index).
The repositories (users, conversations, messages) build their queries from plain dicts and
the few pymongo names re-exported here.

Durability: message writes use ``w="majority", j=True``. On a real MongoDB (a replica set
or a standalone) an acknowledged message is journaled, so a send the client is told is
stored survives a crash of the database. nx-27017 accepts and ignores the write concern: it
commits each write to SQLite before it answers.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any, Callable, Dict, List, Optional, TypeVar

import bson
import pymongo
import pymongo.errors
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument, UpdateOne
from pymongo.write_concern import WriteConcern

from chat.errors import Duplicate, Unavailable

__all__ = ["Database", "ObjectId", "ReturnDocument", "UpdateOne", "DuplicateKeyError", "BulkWriteError",
           "oid", "new_id", "encodable", "ping_uri", "UNSET", "has"]

log = logging.getLogger("chat.store")

T = TypeVar("T")

DuplicateKeyError = pymongo.errors.DuplicateKeyError
BulkWriteError = pymongo.errors.BulkWriteError

#: matches a field that is null or missing (works in find and count on both backends)
UNSET: Dict[str, Any] = {"$in": [None]}

#: journaled, acknowledged by a majority: what "stored" means for a message
DURABLE = WriteConcern(w="majority", j=True)


def has(value: Any) -> Dict[str, Any]:
    """Array-membership filter. nx-27017 matches nothing for plain equality on an *indexed*
    array field; ``$in`` with one value means the same on both backends."""
    return {"$in": [value]}


def oid(value: Any) -> Optional[ObjectId]:
    """An ObjectId from a 24-hex string, or None for anything else."""
    if isinstance(value, str) and len(value) == 24:
        try:
            return ObjectId(value)
        except (InvalidId, TypeError):
            return None
    return None


def new_id() -> str:
    """A fresh ObjectId hex string (ids are generated before insert)."""
    return str(ObjectId())


def encodable(doc: Dict[str, Any]) -> bool:
    """True when the document can be stored at all (BSON-encodable: no lone surrogates in
    strings, no integers past 64 bits, ...). Checked per document so that one bad document
    never fails the batch it travels in."""
    try:
        bson.encode(doc)
        return True
    except Exception:  # InvalidDocument, UnicodeEncodeError, OverflowError: all mean "not storable"
        return False


def ping_uri(uri: str, timeout_ms: int = 500) -> bool:
    """True when a MongoDB at ``uri`` answers ``ping`` (blocking; for start-up checks)."""
    client: pymongo.MongoClient = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms, directConnection=True)
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


class Database:
    """A MongoDB database behind one executor."""

    def __init__(self, uri: str, db_name: str, workers: int = 8, timeout_ms: int = 2000,
                 on_error: Optional[Callable[[], None]] = None) -> None:
        self.uri = uri
        self._on_error = on_error or (lambda: None)  # counts failed storage operations (metrics)
        self.db_name = db_name
        self._client: pymongo.MongoClient = pymongo.MongoClient(
            uri,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=max(timeout_ms * 2, 1000),  # a frozen database answers unavailable, not a hang
            maxPoolSize=max(workers, 1) + 2,
            retryWrites=False,
            retryReads=False,  # an outage answers within ~2 timeouts; clients retry (idempotently)
        )
        self._db = self._client[db_name]
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store")

    def collection(self, name: str, durable: bool = False) -> Any:
        """A collection handle (``durable``: journaled majority writes, see the module doc)."""
        if durable:
            return self._db.get_collection(name, write_concern=DURABLE)
        return self._db[name]

    def blocking_handle(self) -> Any:
        """The pymongo Database, for blocking work that runs only through :meth:`io`
        (migrations)."""
        return self._db

    async def io(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking pymongo work in the executor; storage failures become ``Unavailable``,
        unique-index refusals ``Duplicate``."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except pymongo.errors.DuplicateKeyError as exc:
            raise Duplicate() from exc
        except pymongo.errors.BulkWriteError as exc:
            errors: List[Dict[str, Any]] = exc.details.get("writeErrors", [])
            if errors and all(e.get("code") == 11000 for e in errors):
                raise Duplicate() from exc
            log.warning("storage error: %s", exc)
            self._on_error()
            raise Unavailable() from exc
        except pymongo.errors.PyMongoError as exc:
            log.warning("storage error: %s: %s", exc.__class__.__name__, exc)
            self._on_error()
            raise Unavailable() from exc

    def close(self) -> None:
        """Stop the executor and close the client."""
        self._executor.shutdown(wait=True)
        self._client.close()

    async def ping(self) -> bool:
        """True when storage answers."""
        try:
            await self.io(self._client.admin.command, "ping")
            return True
        except Unavailable:
            return False

    async def drop(self) -> None:
        """Drop the whole database (tests only)."""
        await self.io(self._client.drop_database, self.db_name)
