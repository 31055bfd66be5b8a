"""The stored schema version, and start-up migrations that bring older data forward.

The version lives in ``meta`` as ``{"_id": "schema", "version": N}``. At start-up:

* a database with no documents at all is new: it is stamped with the current version;
* a database with data but no stamp predates versioning (releases up to 0.2.0): version 0;
* each migration ``N`` (from N-1 to N) runs in order and the stamp is advanced after each one,
  so an interrupted upgrade resumes where it stopped; every step must be safe to re-run;
* data stamped with a version newer than this release knows is refused (never guessed at):
  the newer release wrote shapes this one could corrupt.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from chat.store.docs import class_conversation_key, membership_id
from chat.version import SCHEMA_VERSION

if TYPE_CHECKING:
    from chat.store import Store

log = logging.getLogger("chat.migrations")

META = "meta"
DATA_COLLECTIONS = ("users", "classes", "conversations", "memberships", "messages", "edits", "reactions")


class SchemaTooNew(RuntimeError):
    """The data was written by a newer release."""


def _v1_baseline(db: Any) -> None:
    """0 -> 1: the layout of releases up to 0.2.0 is version 1 as it stands; nothing to rewrite."""


def _v2_unread_ranges(db: Any) -> None:
    """1 -> 2: unread counters say which seqs they counted (``unreadFrom``). Older memberships
    start over from their read marker: the next look counts (lastReadSeq, lastSeq] once."""
    for m in db["memberships"].find({"unreadFrom": {"$in": [None]}}, {"lastReadSeq": 1}):
        read = int(m.get("lastReadSeq", 0))
        db["memberships"].update_one({"_id": m["_id"]},
                                     {"$set": {"unreadFrom": read, "unreadSeq": read, "unread": 0}})


def _v3_class_keys(db: Any) -> None:
    """2 -> 3: a class has one class conversation and one announcement conversation, found
    again by a unique key. The oldest existing one of each takes that key; any later ones
    (made when asking twice made a second) stay as separate conversations."""
    claimed = {d["key"] for d in db["conversations"].find({"type": {"$in": ["class", "announcement"]}}, {"key": 1})
               if str(d.get("key", "")).startswith("class:")}
    docs = db["conversations"].find({"type": {"$in": ["class", "announcement"]}},
                                    {"key": 1, "school": 1, "type": 1, "classId": 1, "createdAt": 1})
    for doc in sorted(docs, key=lambda d: (int(d.get("createdAt") or 0), str(d["_id"]))):
        if not doc.get("classId") or str(doc.get("key", "")).startswith("class:"):
            continue
        key = class_conversation_key(str(doc.get("school")), str(doc["type"]), str(doc["classId"]))
        if key not in claimed:
            db["conversations"].update_one({"_id": doc["_id"]}, {"$set": {"key": key}})
            claimed.add(key)


def _v4_one_mute_store(db: Any) -> None:
    """3 -> 4: a moderator's ``mute_author`` is a conversation mute (``mutes``, its ``reason``
    the case). Each ``moderation_mutes`` document moves there (unless a mute ending later is
    already stored for that member) and is then deleted, so a re-run moves nothing twice."""
    for doc in list(db["moderation_mutes"].find({})):
        key = membership_id(str(doc["conversationId"]), str(doc["userId"]))
        have = db["mutes"].find_one({"_id": key}, {"until": 1})
        if have is None or int(have.get("until", 0)) < int(doc.get("until", 0)):
            db["mutes"].update_one({"_id": key}, {"$set": {
                "conversationId": doc["conversationId"], "userId": doc["userId"], "until": int(doc["until"]),
                "by": doc.get("by"), "reason": doc.get("caseId"), "createdAt": int(doc.get("at") or 0)}},
                upsert=True)
        db["moderation_mutes"].delete_one({"_id": doc["_id"]})


# version -> the step that produces it from the version before
MIGRATIONS: Dict[int, Callable[[Any], None]] = {1: _v1_baseline, 2: _v2_unread_ranges, 3: _v3_class_keys,
                                              4: _v4_one_mute_store}


def stored_version(db: Any) -> Optional[int]:
    """The stamped version; 0 for unstamped data; None for an empty (new) database."""
    doc = db[META].find_one({"_id": "schema"})
    if doc is not None:
        return int(doc["version"])
    if any(db[name].find_one({}, {"_id": 1}) is not None for name in DATA_COLLECTIONS):
        return 0
    return None


def migrate(db: Any, target: int = SCHEMA_VERSION,
            migrations: Optional[Dict[int, Callable[[Any], None]]] = None) -> Tuple[Optional[int], int]:
    """Bring ``db`` (a pymongo Database) to ``target``; returns (version found, version now).

    Raises :class:`SchemaTooNew` when the data is newer than ``target``.
    """
    steps = MIGRATIONS if migrations is None else migrations
    found = stored_version(db)
    if found is not None and found > target:
        raise SchemaTooNew("the data was written by a newer release (schema version %d; this release, "
                           "schema %d, cannot read it): run that release or a newer one" % (found, target))
    current = target if found is None else found
    for version in range(current + 1, target + 1):
        log.info("migrating the stored data to schema version %d", version)
        steps[version](db)
        _stamp(db, version)
    if found is None or found != target:
        _stamp(db, target)
    return found, target


def _stamp(db: Any, version: int) -> None:
    db[META].update_one({"_id": "schema"}, {"$set": {"version": version, "at": int(time.time() * 1000)}},
                        upsert=True)


async def migrate_store(store: "Store") -> Tuple[Optional[int], int]:
    """:func:`migrate` on the server's database, through the store's executor seam (storage
    failures raise ``Unavailable``)."""
    return await store.db.io(migrate, store.db.blocking_handle())
