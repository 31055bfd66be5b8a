"""Legal holds over the uploads lifecycle (:mod:`chat.uploads.lifecycle`): the upload sweep
removes never-attached files and those of deleted messages after their age, but never one a
hold covers: its owner held (everything a user wrote), the conversation it was sent into, or
a forward carrying it (:mod:`chat.domain.notify.forwarding`: its target conversation or its
forwarder held).
The same :class:`chat.domain.oversight.holds.HoldBook` the retention sweep and the erasure
ask; one snapshot of each school's holds per page of uploads."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Set

from chat.domain.oversight.holds import HeldSet, HoldBook

if TYPE_CHECKING:
    from chat.store.forward_repo import ForwardedUploads


async def upload_held(held: HeldSet, forwards: "ForwardedUploads", meta: Dict[str, Any]) -> bool:
    """Whether a hold of ``held`` covers this upload: its owner, the conversation it was sent
    into, or a forward carrying it (its target conversation or its forwarder)."""
    if held.covers(meta.get("ownerId"), meta.get("conversationId")):
        return True
    if not held:
        return False
    return any(held.covers(r.get("senderId"), r.get("conversationId")) for r in await forwards.of_upload(meta["id"]))


def held_uploads(holds: HoldBook, forwards: "ForwardedUploads"
                 ) -> Callable[[List[Dict[str, Any]]], Awaitable[Set[str]]]:
    """The ``held`` question of :meth:`chat.uploads.UploadsService.use_holds`."""
    async def held(metas: List[Dict[str, Any]]) -> Set[str]:
        snapshots: Dict[str, HeldSet] = {}
        kept: Set[str] = set()
        for meta in metas:
            school = str(meta.get("school") or "")
            if school not in snapshots:
                snapshots[school] = await holds.snapshot(school)
            if await upload_held(snapshots[school], forwards, meta):
                kept.add(meta["id"])
        return kept
    return held
