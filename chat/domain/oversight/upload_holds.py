"""Legal holds over the uploads lifecycle (:mod:`chat.uploads.lifecycle`): the upload sweep
removes never-attached files and those of deleted messages after their age, but never one a
hold covers: its owner held (everything a user wrote) or the conversation it was sent into.
The same :class:`chat.domain.oversight.holds.HoldBook` the retention sweep and the erasure
ask; one snapshot of each school's holds per page of uploads."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Set

from chat.domain.oversight.holds import HeldSet, HoldBook


def held_uploads(holds: HoldBook) -> Callable[[List[Dict[str, Any]]], Awaitable[Set[str]]]:
    """The ``held`` question of :meth:`chat.uploads.UploadsService.use_holds`."""
    async def held(metas: List[Dict[str, Any]]) -> Set[str]:
        snapshots: Dict[str, HeldSet] = {}
        kept: Set[str] = set()
        for meta in metas:
            school = str(meta.get("school") or "")
            if school not in snapshots:
                snapshots[school] = await holds.snapshot(school)
            if snapshots[school].covers(meta.get("ownerId"), meta.get("conversationId")):
                kept.add(meta["id"])
        return kept
    return held
