"""Seqs shared by several processes: reserved atomically in MongoDB, per batch and school.

With one process the writer counts seqs in memory (nothing else writes the conversation). With
several, each batch reserves its seqs in ``seq_counters`` (:mod:`chat.store.seq_repo`): one
``find_one_and_update`` per school of the batch adds each conversation's number of messages to
its counter, so no two processes can hand out one seq, and the unique ``seqKey`` index remains
the backstop. (One command per conversation cost the shared database most of a cluster's
extra CPU: it charges per command, far less per field.)

Seqs reserved by a batch that stored none of them (storage failed, a message was refused)
are given back: :meth:`SeqReserver.give_back` moves the counter back only while it still
equals the top of them, i.e. no other process reserved after; otherwise the writer fills
them with tombstones (see :mod:`chat.live.writer`).

A counter may be behind a conversation's stored messages: none yet (history written by a
single process, or before counters moved to ``seq_counters``), or history written by a single
process since. The writer passes the seq it knows stored (its cached state: the newest stored
message when loaded, then every message it stored or relayed) as a floor. The first time this
process reserves for a conversation, its counter is raised to the floor first (``$max``, one
command per school for the batch's new conversations); a reservation still at or under its
floor (written behind the counter's back meanwhile) is raised and made again.
"""
from __future__ import annotations

import collections
from typing import Dict, Mapping, Protocol

from chat.store.seq_repo import PerSchool

#: conversations whose counter this process raised to their stored seqs (the oldest forgotten)
KNOWN = 50000


class SeqCounter(Protocol):
    """The storage a reservation needs (:class:`chat.store.seq_repo.SeqCounters`)."""

    async def reserve(self, counts: PerSchool) -> Dict[str, int]: ...

    async def raise_to(self, floors: PerSchool) -> None: ...

    async def give_back(self, school: str, conversation_id: str, top: int, count: int) -> bool: ...


def per_school(values: Mapping[str, int], schools: Mapping[str, str]) -> Dict[str, Dict[str, int]]:
    """conversation -> value, grouped by the conversations' schools."""
    grouped: Dict[str, Dict[str, int]] = {}
    for cid, value in values.items():
        grouped.setdefault(schools[cid], {})[cid] = value
    return grouped


class SeqReserver:
    """Reserves seq ranges in the database (see the module doc)."""

    def __init__(self, counter: SeqCounter) -> None:
        self.counter = counter
        self.reservations = 0  # storage commands made (metrics, tests)
        # conversation -> school, for those whose counter is known to be past their stored seqs
        self._known: "collections.OrderedDict[str, str]" = collections.OrderedDict()

    async def reserve(self, counts: Mapping[str, int], floors: Mapping[str, int],
                      schools: Mapping[str, str]) -> Dict[str, int]:
        """For each conversation, the first of ``counts[cid]`` consecutive seqs now owned by
        the caller, all above ``floors[cid]``; ``schools[cid]`` is its school."""
        new = {cid: floors.get(cid, 0) for cid in counts if cid not in self._known and floors.get(cid, 0) > 0}
        if new:
            await self._raise(new, schools)
        firsts = await self._take(counts, schools)
        for cid in counts:
            self._known[cid] = schools[cid]
            self._known.move_to_end(cid)
        while len(self._known) > KNOWN:
            self._known.popitem(last=False)
        lagging = {cid: floors[cid] for cid in counts if firsts[cid] <= floors.get(cid, 0)}
        if lagging:
            # stored behind the counter's back since it was raised: raise it again, reserve again
            await self._raise(lagging, schools)
            firsts.update(await self._take({cid: counts[cid] for cid in lagging}, schools))
        return {cid: firsts[cid] for cid in counts}

    async def give_back(self, conversation_id: str, top: int, count: int) -> bool:
        """Return the ``count`` seqs ending at ``top`` (reserved, never stored) if nobody
        reserved after them; False when someone did (then they are tombstoned)."""
        school = self._known.get(conversation_id)
        if school is None:
            return False  # not reserved by this process (or long ago): tombstones are always safe
        self.reservations += 1
        return await self.counter.give_back(school, conversation_id, top, count)

    async def _take(self, counts: Mapping[str, int], schools: Mapping[str, str]) -> Dict[str, int]:
        grouped = per_school(counts, schools)
        self.reservations += len(grouped)
        return await self.counter.reserve(grouped)

    async def _raise(self, floors: Mapping[str, int], schools: Mapping[str, str]) -> None:
        grouped = per_school(floors, schools)
        self.reservations += len(grouped)
        await self.counter.raise_to(grouped)
