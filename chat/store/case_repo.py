"""Moderation ``cases`` (one per reported message or user), their ``case_reports`` (one per
reporter), ``case_actions`` (what moderators did) and ``case_reads`` (who looked at a case). A moderator's
``mute_author`` is a conversation mute (:mod:`chat.store.block_repo`)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from chat.store.db import Database, DuplicateKeyError, ObjectId, ReturnDocument, has, oid
from chat.store.docs import out, outs


def report_id(case_id: str, reporter_id: str) -> str:
    """One report per reporter and case: a second one is the same document."""
    return case_id + ":" + reporter_id


class Cases:
    """Cases, reports, actions and reads."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.cases = db.collection("cases")
        self.reports = db.collection("case_reports")
        self.actions = db.collection("case_actions")
        self.reads = db.collection("case_reads")

    def create_indexes(self) -> None:
        """Blocking; run through the seam by :meth:`chat.store.Store.ensure_indexes`."""
        self.cases.create_index("key", unique=True)
        self.cases.create_index("school")
        self.reports.create_index("caseId")
        self.actions.create_index("caseId")
        self.reads.create_index("caseId")

    # ------------------------------------------------------------------ cases
    async def open_case(self, doc: Dict[str, Any]) -> Tuple[Dict[str, Any], bool]:
        """Insert a case unless one with its ``key`` exists (a concurrent report inserted it
        first: the unique index decides). Returns (the case, created)."""
        body = dict(doc)
        body["_id"] = ObjectId()

        def work() -> Tuple[Optional[Dict[str, Any]], bool]:
            try:
                self.cases.insert_one(body)
                return out(body), True
            except DuplicateKeyError:
                return out(self.cases.find_one({"key": doc["key"]})), False
        found, created = await self._db.io(work)
        assert found is not None  # a duplicate key means the other insert is there
        return found, created

    async def get(self, case_id: str) -> Optional[Dict[str, Any]]:
        key = oid(case_id)
        if key is None:
            return None
        return out(await self._db.io(self.cases.find_one, {"_id": key}))

    async def update(self, case_id: str, fields: Dict[str, Any], inc: Optional[Dict[str, int]] = None,
                     reason: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """Set fields (and count up, and add a reason); returns the case after."""
        change: Dict[str, Any] = {"$set": fields}
        if inc:
            change["$inc"] = inc
        if reason is not None:
            change["$addToSet"] = {"reasons": reason}
        return out(await self._db.io(lambda: self.cases.find_one_and_update(
            {"_id": ObjectId(case_id)}, change, return_document=ReturnDocument.AFTER)))

    async def add_filter_hit(self, case_id: str, lists: Sequence[str], now: int, reopen: bool
                             ) -> Optional[Dict[str, Any]]:
        """The word filter matched again (another flagged edit of the message, or more
        repeated blocks): the case gets the ``filter`` reason and these list names, counts one
        more hit and (``reopen``) is open again if it was resolved; returns the case after."""
        def work() -> Optional[Dict[str, Any]]:
            doc = self.cases.find_one({"_id": ObjectId(case_id)})
            if doc is None:
                return None
            known = list(doc.get("lists") or [])
            fields: Dict[str, Any] = {"updatedAt": now, "lists": known + [n for n in lists if n not in known]}
            if reopen and doc.get("status") == "resolved":
                fields["status"] = "open"
            change: Dict[str, Any] = {"$set": fields, "$inc": {"filterHits": 1},
                                      "$addToSet": {"reasons": "filter"}}  # every case has reasons[]
            return self.cases.find_one_and_update(  # type: ignore[no-any-return]
                {"_id": doc["_id"]}, change, return_document=ReturnDocument.AFTER)
        return out(await self._db.io(work))

    async def page(self, school: str, status: Optional[str], before: Optional[str], limit: int,
                   not_about: str) -> List[Dict[str, Any]]:
        """A school's cases, newest first (``_id`` descending), older than ``before``, but for
        those about the user ``not_about``."""
        query: Dict[str, Any] = {"school": school, "subjectId": {"$ne": not_about}}
        if status is not None:
            query["status"] = status
        if before is not None:
            query["_id"] = {"$lt": ObjectId(before)}
        return outs(await self._db.io(lambda: list(self.cases.find(query).sort("_id", -1).limit(limit))))

    async def counts(self, school: str, statuses: Sequence[str], reasons: Sequence[str], not_about: str
                     ) -> Tuple[Dict[str, int], Dict[str, int]]:
        """How many of a school's cases (but for those about ``not_about``) have each status, and
        each reason (the summary): counted in the database, so the answer costs the same however
        many cases there are."""
        base = {"school": school, "subjectId": {"$ne": not_about}}

        def work() -> Tuple[Dict[str, int], Dict[str, int]]:
            by_status = {s: self.cases.count_documents(dict(base, status=s)) for s in statuses}
            by_reason = {r: self.cases.count_documents(dict(base, reasons=has(r))) for r in reasons}
            return by_status, by_reason
        return await self._db.io(work)

    # ------------------------------------------------------------------ reports, actions, reads
    async def add_report(self, doc: Dict[str, Any]) -> bool:
        """Record a report; False when this reporter had already reported this case."""
        body = dict(doc)
        body["_id"] = report_id(doc["caseId"], doc["reporterId"])

        def work() -> bool:
            try:
                self.reports.insert_one(body)
                return True
            except DuplicateKeyError:
                return False
        return await self._db.io(work)

    async def reports_of(self, case_id: str) -> List[Dict[str, Any]]:
        return outs(await self._db.io(lambda: list(self.reports.find({"caseId": case_id}).sort("createdAt", 1))))

    async def add_action(self, doc: Dict[str, Any]) -> None:
        body = dict(doc, _id=ObjectId())
        await self._db.io(self.actions.insert_one, body)

    async def actions_of(self, case_id: str) -> List[Dict[str, Any]]:
        return outs(await self._db.io(lambda: list(self.actions.find({"caseId": case_id}).sort("_id", 1))))

    async def record_read(self, doc: Dict[str, Any]) -> None:
        """One access record: who read which case when."""
        body = dict(doc, _id=ObjectId())
        await self._db.io(self.reads.insert_one, body)

    async def reads_of(self, case_id: str) -> List[Dict[str, Any]]:
        return outs(await self._db.io(lambda: list(self.reads.find({"caseId": case_id}).sort("_id", 1))))

    async def edits_of(self, message_ids: Sequence[str]) -> List[Dict[str, Any]]:
        """The earlier texts of these messages (the ``edits`` collection), oldest first; one
        equality query per message (``$in`` on the index would scan)."""
        edits = self._db.collection("edits")
        return outs(await self._db.io(lambda: [e for mid in message_ids
                                               for e in edits.find({"messageId": mid}).sort("editedAt", 1)]))
