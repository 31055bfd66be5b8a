"""The directory: ``users`` and ``classes``."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence

from chat.store.db import Database, UpdateOne, has
from chat.store.docs import out, outs

#: roster rows written per storage command (see UserRepo._bulk_upsert)
CHUNK = 500


class Directory:
    """Users (upserted from tokens and rosters) and classes (from rosters)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.users = db.collection("users")
        self.classes = db.collection("classes")
        self.meta = db.collection("meta")

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.users.create_index("school")
        self.classes.create_index("school")
        self.classes.create_index("teacherIds")
        self.classes.create_index("studentIds")

    async def upsert_user(self, user_id: str, name: str, role: str, school: str, now: int) -> None:
        """Insert or refresh a directory user (from token claims or a roster)."""
        fields: Dict[str, Any] = {"role": role, "school": school, "updatedAt": now}
        if name:
            fields["name"] = name
        await self._db.io(lambda: self.users.update_one(
            {"_id": user_id}, {"$set": fields, "$setOnInsert": {"createdAt": now}}, upsert=True))

    async def set_token_email(self, user_id: str, email: str) -> None:
        """The address a token's ``email`` claim gave (notifications: missed-message email)."""
        await self._db.io(lambda: self.users.update_one({"_id": user_id}, {"$set": {"tokenEmail": email}}))

    async def upsert_users(self, users: Sequence[Dict[str, Any]], now: int) -> int:
        """Bulk roster upsert; returns how many were new."""
        if not users:
            return 0
        # safeguarding: the school whose roster marked the user (null otherwise), not a boolean
        # (none are written by update), so that a token naming another school does not carry it there
        ops = [UpdateOne({"_id": u["id"]},
                         {"$set": {"name": u["name"], "role": u["role"], "school": u["school"],
                                   "safeguarding": u["school"] if u.get("safeguarding") else None,
                                   "email": u.get("email") or None,  # notifications: missed-message email
                                   "erasedAt": None,  # a roster naming an erased user names it again
                                   "updatedAt": now},
                          "$setOnInsert": {"createdAt": now}}, upsert=True) for u in users]
        return await self._bulk_upsert(self.users, ops)

    async def _bulk_upsert(self, collection: Any, ops: List[Any]) -> int:
        """Write ``ops`` in chunks of :data:`CHUNK`, one storage job each: a whole school's
        roster in one command held the database lock for seconds (everyone else waited) and ran
        past the storage timeout on a small VM. Upserts, so a retry after a failed chunk is
        harmless. Returns how many were new."""
        new = 0
        for start in range(0, len(ops), CHUNK):
            part = ops[start:start + CHUNK]
            result = await self._db.io(lambda part=part: collection.bulk_write(part, ordered=False))
            new += int(result.upserted_count)
        return new

    async def identities(self, page: int = 1000) -> List[Dict[str, Any]]:
        """Every user's id, name, role and school, read in ``_id`` ranges of ``page`` (short
        holds of the database lock, which other requests interleave with)."""
        found: List[Dict[str, Any]] = []
        after: Optional[str] = None
        while True:
            query: Dict[str, Any] = {} if after is None else {"_id": {"$gt": after}}
            docs = await self._db.io(lambda q=query: list(self.users.find(q, {"name": 1, "role": 1, "school": 1,
                                                                                 "erasedAt": 1})
                                                          .sort("_id", 1).limit(page)))
            found.extend(outs(docs))
            if len(docs) < page:
                return found
            after = found[-1]["id"]

    async def get_user(self, user_id: str) -> Optional[Dict[str, Any]]:
        return out(await self._db.io(self.users.find_one, {"_id": user_id}))

    async def get_users(self, user_ids: Iterable[str]) -> Dict[str, Dict[str, Any]]:
        """Users by id (missing ids are absent from the result)."""
        ids = list(set(user_ids))
        if not ids:
            return {}
        docs = await self._db.io(lambda: list(self.users.find({"_id": {"$in": ids}})))
        return {d["id"]: d for d in outs(docs)}

    async def find_users(self, school: str, q: str = "", role: str = "", limit: int = 50) -> List[Dict[str, Any]]:
        """Same-school users, optionally by role and case-insensitive name/id substring."""
        query: Dict[str, Any] = {"school": school}
        if role:
            query["role"] = role
        needle = q.lower()

        def work() -> List[Dict[str, Any]]:
            if not q:
                return list(self.users.find(query).sort("name", 1).limit(limit))
            # filtered here: $or and case-insensitive $regex take nx-27017's slow path
            found = [u for u in self.users.find(query, {"name": 1, "role": 1, "school": 1})
                     if needle in str(u["_id"]).lower() or needle in (u.get("name") or "").lower()]
            found.sort(key=lambda u: (u.get("name") or "", u["_id"]))
            return found[:limit]
        return outs(await self._db.io(work))

    async def set_last_seen(self, user_id: str, when: int) -> None:
        await self._db.io(lambda: self.users.update_one({"_id": user_id}, {"$max": {"lastSeenAt": when}}))

    async def set_last_seen_many(self, seen: Dict[str, int]) -> None:
        """``lastSeenAt`` of many users in one round trip (``$max``: never backwards)."""
        if not seen:
            return
        ops = [UpdateOne({"_id": uid}, {"$max": {"lastSeenAt": when}}) for uid, when in seen.items()]
        await self._db.io(lambda: self.users.bulk_write(ops, ordered=False))

    async def all_classes(self) -> List[Dict[str, Any]]:
        """Every class with its member lists (the in-memory index of :mod:`chat.presence.contacts`)."""
        return outs(await self._db.io(lambda: list(self.classes.find({}, {"school": 1, "teacherIds": 1,
                                                                         "studentIds": 1}))))

    async def roster_version(self) -> int:
        """A counter every roster import moves (so running servers reload their class index)."""
        doc = await self._db.io(self.meta.find_one, {"_id": "roster"})
        return int((doc or {}).get("version", 0))

    async def bump_roster_version(self) -> None:
        await self._db.io(lambda: self.meta.update_one({"_id": "roster"}, {"$inc": {"version": 1}}, upsert=True))

    async def upsert_classes(self, classes: Sequence[Dict[str, Any]], now: int) -> int:
        """Bulk roster upsert of classes; returns how many were new."""
        if not classes:
            return 0
        ops = [UpdateOne({"_id": c["id"]},
                         {"$set": {"school": c["school"], "name": c["name"], "teacherIds": list(c["teacherIds"]),
                                   "studentIds": list(c["studentIds"]), "updatedAt": now},
                          "$setOnInsert": {"createdAt": now}}, upsert=True) for c in classes]
        return await self._bulk_upsert(self.classes, ops)

    async def get_class(self, class_id: str) -> Optional[Dict[str, Any]]:
        return out(await self._db.io(self.classes.find_one, {"_id": class_id}))

    async def classes_of_user(self, user_id: str) -> List[Dict[str, Any]]:
        """Classes the user teaches or is enrolled in (each doc carries both id lists)."""
        def work() -> List[Dict[str, Any]]:
            taught = list(self.classes.find({"teacherIds": has(user_id)}))
            seen = {c["_id"] for c in taught}
            return taught + [c for c in self.classes.find({"studentIds": has(user_id)}) if c["_id"] not in seen]
        return outs(await self._db.io(work))

    async def classes_of_school(self, school: str, limit: int) -> List[Dict[str, Any]]:
        """A school's classes (``classes.school`` is indexed), at most ``limit`` of them."""
        return outs(await self._db.io(lambda: list(self.classes.find({"school": school}).limit(limit))))

    async def moderator_ids(self, school: str) -> List[str]:
        """The school's moderators: its admins and the users the roster marks ``safeguarding``
        (two equality queries on the school's users)."""
        def work() -> List[str]:
            admins = [u["_id"] for u in self.users.find({"school": school, "role": "admin"}, {"_id": 1})]
            flagged = [u["_id"] for u in self.users.find({"school": school, "safeguarding": school}, {"_id": 1})]
            return sorted(set(admins) | set(flagged))
        return await self._db.io(work)
