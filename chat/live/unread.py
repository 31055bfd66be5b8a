"""Unread counters, kept exact at a cost proportional to what changed.

Each membership keeps ``unread`` = the messages that count (someone else's, live, not
system) in seqs ``(unreadFrom, unreadSeq]``, and ``unreadMentions`` = those of them that
mention the member. Nothing is written per message: when its owner
looks, a counter is brought up to date by counting only the seqs it has not seen, and when
the read marker moves from ``unreadFrom`` to ``r``, only the seqs in between are counted and
subtracted. So a recount costs O(messages since the last count), never O(conversation), and
every count runs as short queries of at most ``unread_chunk`` seqs, so one request never holds
storage (one lock on nx-27017) for long. Updates are compare-and-set on the fields they were
computed from: concurrent recounts never add up twice.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from chat.store import Store

ATTEMPTS = 8


def counted_from(m: Dict[str, Any]) -> int:
    """The read seq that ``unread`` is relative to."""
    return int(m.get("unreadFrom", m.get("lastReadSeq", 0)))


def counted_upto(m: Dict[str, Any]) -> int:
    """The newest seq ``unread`` has counted."""
    return int(m.get("unreadSeq", m.get("lastReadSeq", 0)))


class UnreadCounter:
    """Brings membership counters up to date (see the module doc)."""

    def __init__(self, store: Store, chunk: int) -> None:
        self.store = store
        self.chunk = max(1, chunk)

    async def count(self, conversation_id: str, user_id: str, after: int, upto: int) -> Tuple[int, int]:
        """Countable messages in seqs (after, upto], in chunks, and those mentioning the user."""
        total, mentions = 0, 0
        lower = after
        while lower < upto:
            upper = min(upto, lower + self.chunk)
            n, m = await self.store.messages.count_countable(conversation_id, user_id, lower, upper)
            total, mentions = total + n, mentions + m
            lower = upper
        return total, mentions

    def stale(self, m: Dict[str, Any], last_seq: int) -> bool:
        """True when the counter has not counted up to ``last_seq`` or lags the read marker."""
        return counted_upto(m) < last_seq or counted_from(m) != int(m.get("lastReadSeq", 0))

    async def settle(self, m: Dict[str, Any], last_seq: int) -> Dict[str, Any]:
        """Bring one membership's counters (``unread``, ``unreadMentions``) up to ``last_seq``
        and its read marker; updates and returns ``m``."""
        conv, user = m["conversationId"], m["userId"]
        current: Optional[Dict[str, Any]] = m
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
            if await self.store.conversations.set_unread(conv, user, fresh, fresh_mentions, target, read, expect):
                current = dict(current, unread=max(0, fresh), unreadMentions=max(0, fresh_mentions),
                               unreadSeq=target, unreadFrom=read)
                break
            current = await self.store.conversations.membership(conv, user)  # raced: count from the new state
        if current is not None:
            m.update(unread=current.get("unread", 0), unreadMentions=current.get("unreadMentions", 0),
                     unreadSeq=counted_upto(current), unreadFrom=counted_from(current),
                     lastReadSeq=current.get("lastReadSeq", 0))
        return m
