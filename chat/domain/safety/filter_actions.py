"""Word filters (safeguarding §5): the school admins' reading and replacing of the lists (each
change audited as ``filters.change``: list names, actions and term counts, never the terms)."""
from __future__ import annotations

from typing import Any, Dict, List

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.oversight.audit import AuditAction
from chat.domain.safety.changes import FILTERS, announce
from chat.domain.safety.filters import FilterBook, WordFilter
from chat.errors import Forbidden, NotFound
from chat.vocab import Role


class FilterActions:
    """``GET``/``PUT /api/schools/{schoolId}/filters``: that school's admins only."""

    def __init__(self, core: Core) -> None:
        self.core = core
        rule = next((r for r in core.safety.rules if isinstance(r, WordFilter)), None)
        # the rule's own cache, so that a change made here is used on this node at once
        self.book = rule.book if rule is not None else FilterBook(core.store.filters, core.clock, core.settings)

    @staticmethod
    def _admin(ident: Identity, school_id: str) -> None:
        if school_id != ident.school:
            raise NotFound("no such school")
        if ident.role != Role.ADMIN:
            raise Forbidden("only the school's admins may see or change its word filters")

    async def get(self, ident: Identity, school_id: str) -> Dict[str, Any]:
        """The school's lists (none yet: empty, version 0)."""
        self._admin(ident, school_id)
        doc = await self.core.store.filters.get(school_id)
        return view(doc)

    async def put(self, ident: Identity, school_id: str, lists: List[Dict[str, Any]]) -> Dict[str, Any]:
        """Replace the school's lists (parsed by :func:`chat.rules.filterlists.parse_filter_lists`)."""
        self._admin(ident, school_id)
        before = await self.core.store.filters.get(school_id)
        doc = await self.core.store.filters.put(school_id, lists, ident.user_id, int(self.core.clock.time() * 1000))
        self.book.put(school_id, doc)
        announce(self.core, FILTERS, school_id)
        await self.core.audit.record(ident.user_id, AuditAction.FILTER_CHANGE, school_id, {"schoolId": school_id},
                                     {"before": outline(before), "after": outline(doc),
                                      "version": int(doc.get("version", 0))})
        return view(doc)


def outline(doc: Any) -> List[Dict[str, Any]]:
    """The lists as the audit records them: names, actions and term counts, never the terms."""
    return [{"name": lst["name"], "action": lst["action"], "terms": len(lst.get("terms") or [])}
            for lst in (doc or {}).get("lists", [])]


def view(doc: Any) -> Dict[str, Any]:
    """The client view of a school's filter document."""
    if not doc:
        return {"lists": [], "version": 0, "updatedAt": None}
    return {"lists": [{"name": lst["name"], "action": lst["action"], "terms": list(lst["terms"])}
                      for lst in doc.get("lists", [])],
            "version": int(doc.get("version", 0)), "updatedAt": doc.get("updatedAt")}
