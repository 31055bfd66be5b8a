"""Per-conversation ordering of ``message:new`` on one node.

Seqs come from one counter in MongoDB, but messages reach a node from several writers (its own
and other nodes' through Redis), so seq n+1 may arrive before n. The buffer delivers a message
when it is the next seq of its conversation, holds it otherwise, and when the gap stays open for
``gap_timeout`` seconds reads the missing seqs from MongoDB and delivers them (a missing seq the
database does not have either, such as a refused message, is skipped). A skipped seq that arrives
after all is still delivered (late beats lost), and each seq skipped because the database did
not have it is reported to ``on_missing`` (the node fills it with a tombstone if it stays
missing: its writer may have died); anything else at or under the delivered top is a
duplicate and dropped, so each message is delivered once.

A gap wider than :data:`MAX_FILL` seqs is history this node never saw (an import, a long
absence): only its newest :data:`MAX_FILL` are read, the rest is left to clients' ``sync``.

The first message a node sees of a conversation starts its window (a node does not know what
came before: that is what ``sync`` is for); an earlier seq that was still on its way then is
delivered late, once, rather than dropped.
"""
from __future__ import annotations

import asyncio
import collections
import logging
from typing import Awaitable, Callable, Dict, List, Optional, Set

from chat.clock import Clock, Timer
from chat.realtime.broker import Delivery

log = logging.getLogger("chat.cluster.order")

MAX_CONVERSATIONS = 50000
MAX_SKIPPED = 64
#: most seqs one gap fill reads (and may report missing). A wider gap is history this node
#: never saw (an import, a long absence): clients get it through ``sync``, not as pushes, so
#: only its newest seqs are read; reading it all held the database, and pushed it all.
MAX_FILL = 1000

#: (conversation id, after seq, before seq, a held delivery) -> deliveries of the stored messages
#: in between, by seq
Fetch = Callable[[str, int, int, Delivery], Awaitable[List[Delivery]]]


class _Window:
    __slots__ = ("top", "first", "before", "held", "timer", "skipped", "filling")

    def __init__(self, top: int) -> None:
        self.top = top
        self.first = top + 1              # the window started here
        self.before: Set[int] = set()     # seqs under ``first`` delivered late
        self.held: Dict[int, Delivery] = {}
        self.timer: Optional[Timer] = None
        self.skipped: Set[int] = set()
        self.filling = False


class OrderBuffer:
    """See the module doc; ``deliver`` writes one message delivery to the local sockets."""

    def __init__(self, deliver: Callable[[Delivery], None], fetch: Fetch, clock: Clock, gap_timeout: float,
                 on_missing: Optional[Callable[[str, List[int]], None]] = None) -> None:
        self.deliver = deliver
        self.on_missing = on_missing
        self.fetch = fetch
        self.clock = clock
        self.gap_timeout = gap_timeout
        self._windows: "collections.OrderedDict[str, _Window]" = collections.OrderedDict()
        self.held_total = 0      # messages that had to wait (metrics, tests)
        self.filled = 0          # messages read from the database to fill a gap
        self.late = 0            # skipped seqs that arrived after all
        self.jumped = 0          # seqs of gaps wider than MAX_FILL left to clients' sync

    def offer(self, env: Delivery) -> None:
        """A ``message:new`` delivery, from this node or another."""
        cid, seq = env.conversation_id or "", env.seq
        window = self._windows.get(cid)
        if window is None:
            window = self._windows[cid] = _Window(seq - 1)
            if len(self._windows) > MAX_CONVERSATIONS:
                self._evict()
        else:
            self._windows.move_to_end(cid)
        if seq == window.top + 1:
            window.top = seq
            self.deliver(env)
            self._release(cid, window)
        elif seq <= window.top:
            if seq in window.skipped:
                window.skipped.discard(seq)
                self.late += 1
                self.deliver(env)
            elif seq < window.first and seq not in window.before and len(window.before) < MAX_SKIPPED:
                window.before.add(seq)  # was on its way when the window started
                self.late += 1
                self.deliver(env)
            # else: a duplicate (already delivered, e.g. read from the database): dropped
        elif seq not in window.held:
            window.held[seq] = env
            self.held_total += 1
            if window.timer is None and not window.filling:
                window.timer = self.clock.call_later(self.gap_timeout, self._gap_timed_out, cid)

    def _release(self, cid: str, window: _Window) -> None:
        while window.top + 1 in window.held:
            window.top += 1
            self.deliver(window.held.pop(window.top))
        if not window.held and window.timer is not None:
            window.timer.cancel()
            window.timer = None

    def _gap_timed_out(self, cid: str) -> None:
        window = self._windows.get(cid)
        if window is None:
            return
        window.timer = None
        if window.held and not window.filling:
            window.filling = True
            asyncio.ensure_future(self._fill(cid, window))

    async def _fill(self, cid: str, window: _Window) -> None:
        try:
            first_held = min(window.held)
            sample = window.held[first_held]
            if first_held - 1 - window.top > MAX_FILL:
                self.jumped += first_held - 1 - MAX_FILL - window.top
                window.top = first_held - 1 - MAX_FILL  # older than this: history, not pushes
            absent: List[int] = []
            try:
                found = await self.fetch(cid, window.top, first_held, sample)
                absent = sorted(set(range(window.top + 1, first_held)) - {env.seq for env in found})
            except Exception:  # the database is away: hand out what is held rather than wait
                log.warning("could not read seqs %d..%d of %s to fill a gap", window.top + 1, first_held - 1, cid)
                found = []
            if absent and self.on_missing is not None:
                self.on_missing(cid, absent)
            for env in found:
                seq = env.seq
                if seq <= window.top:
                    continue
                for missing in range(window.top + 1, seq):
                    self._skip(window, missing)
                window.top = seq
                window.held.pop(seq, None)
                self.filled += 1
                self.deliver(env)
            if window.held:
                first_held = min(window.held)
                for missing in range(window.top + 1, first_held):
                    self._skip(window, missing)
                window.top = max(window.top, first_held - 1)
            self._release(cid, window)
        finally:
            window.filling = False
            if window.held and window.timer is None:
                window.timer = self.clock.call_later(self.gap_timeout, self._gap_timed_out, cid)

    def _skip(self, window: _Window, seq: int) -> None:
        window.skipped.add(seq)
        if len(window.skipped) > MAX_SKIPPED:
            window.skipped.discard(min(window.skipped))

    def _evict(self) -> None:
        # idle windows only: a window holding messages keeps its timer and its order
        for cid in list(self._windows)[:MAX_CONVERSATIONS // 10]:
            if not self._windows[cid].held:
                del self._windows[cid]

    def stats(self) -> Dict[str, int]:
        return {"held": self.held_total, "filled": self.filled, "late": self.late, "jumped": self.jumped,
                "holding": sum(len(w.held) for w in self._windows.values())}
