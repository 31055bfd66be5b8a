"""Reading the audit log: ``GET /api/audit`` for a school's admins (README "Audit log").
Nothing here (nor anywhere in the API) edits or deletes an entry."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.oversight.audit_query import AuditQuery
from chat.errors import Forbidden
from chat.timeutil import iso
from chat.vocab import Role

#: seqs one storage query of a filtered page ranges over (each a short indexed range query)
CHUNK = 1000
#: seqs one request looks through at most; past it the page ends early (hasMore, next)
SCAN_BUDGET = 20 * CHUNK


def render(doc: Dict[str, Any]) -> Dict[str, Any]:
    """An entry as the API answers it (``at`` as ISO 8601; ``prev`` and ``hash`` as stored)."""
    return {"seq": doc.get("seq"), "at": iso(doc.get("at")) if isinstance(doc.get("at"), int) else None,
            "actor": doc.get("actor"), "action": doc.get("action"), "school": doc.get("school"),
            "target": doc.get("target") or {}, "detail": doc.get("detail") or {},
            "prev": doc.get("prev"), "hash": doc.get("hash")}


class AuditActions:
    """The audit log as a school's admins read it."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def list(self, ident: Identity, query: AuditQuery) -> Tuple[List[Dict[str, Any]], bool, Optional[int]]:
        """Entries of the caller's token school, newest first: ``(page, hasMore, next)``;
        ``next`` is the seq below which the next page starts. Admins of the school only."""
        if ident.role != Role.ADMIN:
            raise Forbidden("only the school's admins read its audit log")
        repo = self.core.store.audit
        head = await repo.last(ident.school)
        if head is None:
            return [], False, None
        high = int(head["seq"]) + 1
        if query.before is not None:
            high = min(high, query.before)
        match: Dict[str, Any] = {}
        if query.actor is not None:
            match["actor"] = query.actor
        if query.action is not None:
            match["action"] = query.action
        if query.since is not None or query.until is not None:
            match["at"] = {k: v for k, v in (("$gte", query.since), ("$lte", query.until)) if v is not None}
        found: List[Dict[str, Any]] = []
        scanned = 0
        while high > 1 and len(found) < query.limit and scanned < SCAN_BUDGET:
            # unfiltered, one query reads just the page (newest first, by the index); filtered,
            # each query ranges over CHUNK seqs, so no request scans the whole log
            low = 1 if not match else max(1, high - CHUNK)
            found += await repo.newest(ident.school, low, high, match, query.limit - len(found))
            scanned += high - low
            if len(found) < query.limit:
                high = low
        if len(found) >= query.limit:
            last = int(found[-1]["seq"])
            return [render(d) for d in found], last > 1, last if last > 1 else None
        return [render(d) for d in found], high > 1, high if high > 1 else None
