"""Unread counters, kept exact at a cost proportional to what changed.

Each membership keeps ``unread`` = the messages that count (someone else's, live, not
system) in seqs ``(unreadFrom, unreadSeq]``, and ``unreadMentions`` = those of them that
mention the member. Nothing is written per message: when its owner
looks, a counter is brought up to date by counting only the seqs it has not seen, and when
the read marker moves from ``unreadFrom`` to ``r``, only the seqs in between are counted and
subtracted. So a recount costs O(messages since the last count), never O(conversation).
Updates are compare-and-set on the fields they were computed from: concurrent recounts never
add up twice.

A first count of a long conversation is still O(conversation), so it must not stall storage
(nx-27017 serializes every client behind one lock):

- it runs as short queries of at most ``unread_chunk`` seqs each, and at most
  ``unread_concurrency`` of them are in storage at once, process-wide: between two of them a
  send (or anyone else's query) gets its turn, so counting never holds storage for longer
  than one chunk nor takes more than that many storage threads;
- one membership is counted by one flight at a time: concurrent requests of its user (20 tabs
  asking for the first count at once) wait for that count instead of repeating it.

Writing a count back is an optimisation, never a condition of a read: when it fails (a full
disk), the computed counts are answered anyway and the next look counts again.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional, Tuple

from chat.errors import Unavailable
from chat.store import Store

log = logging.getLogger("chat.unread")

ATTEMPTS = 8
COUNTER_FIELDS = ("unread", "unreadMentions", "unreadSeq", "unreadFrom")


def counted_from(m: Dict[str, Any]) -> int:
    """The read seq that ``unread`` is relative to."""
    return int(m.get("unreadFrom", m.get("lastReadSeq", 0)))


def counted_upto(m: Dict[str, Any]) -> int:
    """The newest seq ``unread`` has counted."""
    return int(m.get("unreadSeq", m.get("lastReadSeq", 0)))


class UnreadCounter:
    """Brings membership counters up to date (see the module doc)."""

    def __init__(self, store: Store, chunk: int, concurrency: int = 1) -> None:
        self.store = store
        self.chunk = max(1, chunk)
        self._storage = asyncio.Semaphore(max(1, concurrency))  # counting queries in storage at once
        # per membership being counted: the counters it was counted from, and its result
        self._flights: Dict[Tuple[str, str], Tuple[Tuple[Any, ...], "asyncio.Future[Dict[str, Any]]"]] = {}

    async def count(self, conversation_id: str, user_id: str, after: int, upto: int) -> Tuple[int, int]:
        """Countable messages in seqs (after, upto], in chunks, and those mentioning the user."""
        total, mentions = 0, 0
        lower = after
        while lower < upto:
            upper = min(upto, lower + self.chunk)
            async with self._storage:  # released between chunks: others' queries go in between
                n, m = await self.store.messages.count_countable(conversation_id, user_id, lower, upper)
            total, mentions = total + n, mentions + m
            lower = upper
        return total, mentions

    def span(self, m: Dict[str, Any], last_seq: int) -> int:
        """How many seqs bringing ``m`` up to ``last_seq`` counts."""
        read, start, upto = int(m.get("lastReadSeq", 0)), counted_from(m), counted_upto(m)
        target = max(last_seq, read)
        if read >= upto:
            return target - read
        return abs(read - start) + max(0, target - upto)

    def stale(self, m: Dict[str, Any], last_seq: int) -> bool:
        """True when the counter has not counted up to ``last_seq`` or lags the read marker."""
        return counted_upto(m) < last_seq or counted_from(m) != int(m.get("lastReadSeq", 0))

    async def settle(self, m: Dict[str, Any], last_seq: int) -> Dict[str, Any]:
        """Bring one membership's counters (``unread``, ``unreadMentions``) up to ``last_seq``
        and its read marker; updates and returns ``m``. While the same membership is being
        counted, waits for that count and continues from its result (only what is left)."""
        key = (m["conversationId"], m["userId"])
        while self.stale(m, last_seq):
            running = self._flights.get(key)
            if running is None:
                break
            start, done = running
            result = await asyncio.shield(done)
            if counters(m) == start:  # counted from what this caller read: the result is its own
                adopt(m, result)
        if not self.stale(m, last_seq):
            return m
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = (counters(m), flight)
        try:
            result = await self._settle(m, last_seq)
            flight.set_result(dict(result))
            return result
        except asyncio.CancelledError:
            flight.set_result(dict(m))  # unchanged: the waiters find it still stale and count themselves
            raise
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: the waiters get it through shield
            raise
        finally:
            del self._flights[key]

    async def _settle(self, m: Dict[str, Any], last_seq: int) -> Dict[str, Any]:
        conv, user = m["conversationId"], m["userId"]
        current: Optional[Dict[str, Any]] = m
        if self.span(m, last_seq) > self.chunk:
            # a long count: the caller's copy may predate one that just finished (read before it
            # was written back); one point read costs less than counting again
            current = await self.store.conversations.membership(conv, user)
        for _ in range(ATTEMPTS):
            if current is None:
                return m
            if not self.stale(current, last_seq):
                break
            read = int(current.get("lastReadSeq", 0))
            start, upto = counted_from(current), counted_upto(current)
            unread, mentions = int(current.get("unread", 0)), int(current.get("unreadMentions", 0))
            target = max(last_seq, read)
            if read >= upto:  # everything counted is read: start over from the read marker
                fresh, fresh_mentions = await self.count(conv, user, read, target)
            else:
                gone, gone_mentions = await self.count(conv, user, start, read)
                new, new_mentions = await self.count(conv, user, upto, target)
                fresh, fresh_mentions = unread - gone + new, mentions - gone_mentions + new_mentions
            expect = {"unreadSeq": upto, "unread": unread}
            if "unreadFrom" in current:
                expect["unreadFrom"] = start
            if "unreadMentions" in current:
                expect["unreadMentions"] = mentions
            counted = dict(current, unread=max(0, fresh), unreadMentions=max(0, fresh_mentions),
                           unreadSeq=target, unreadFrom=read)
            try:
                written = await self.store.conversations.set_unread(conv, user, fresh, fresh_mentions, target, read,
                                                                    expect)
            except Unavailable:
                # storage refuses writes (a full disk, say) but answered the counting reads: the
                # counts are right, so the read answers with them; the next look counts again
                log.warning("unread counter not written back (storage unavailable)")
                current = counted
                break
            if written:
                current = counted
                break
            current = await self.store.conversations.membership(conv, user)  # raced: count from the new state
        if current is not None:
            m.update(unread=current.get("unread", 0), unreadMentions=current.get("unreadMentions", 0),
                     unreadSeq=counted_upto(current), unreadFrom=counted_from(current),
                     lastReadSeq=current.get("lastReadSeq", 0))
        return m


def counters(m: Dict[str, Any]) -> Tuple[Any, ...]:
    """The stored counter fields of a membership (what a count starts from)."""
    return tuple(m.get(f) for f in COUNTER_FIELDS)


def adopt(m: Dict[str, Any], counted: Dict[str, Any]) -> None:
    """Take another flight's counters for the same membership into ``m`` (in place); ``m``'s
    read marker stays when it is newer (it was just moved), and the counters then lag it."""
    read = max(int(m.get("lastReadSeq", 0)), int(counted.get("lastReadSeq", 0)))
    m.update({f: counted[f] for f in COUNTER_FIELDS if f in counted}, lastReadSeq=read)
