"""Per-user rate limits, shared by REST and WebSocket.

Each user has token buckets (frames, sends, typing, uploads) that live independently of
their sockets: closing and reopening a socket refills nothing. A bucket that would be full
by now carries no information, so such buckets are pruned as the table grows instead of
being kept per user forever.
"""
from __future__ import annotations

import enum
from typing import Dict, Tuple

from chat.clock import Clock
from chat.errors import RateLimited
from chat.settings import Settings


class Limit(enum.Enum):
    FRAME = "frame"
    SEND = "send"
    TYPING = "typing"
    REPORT = "report"  # safeguarding: reports and moderation


class TokenBucket:
    """A classic token bucket: ``rate`` tokens per second up to ``burst``."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, now: float, cost: float = 1) -> bool:
        """Take ``cost`` tokens (at most a full bucket, so that anything can pass eventually)."""
        self._refill(now)
        need = max(1, min(cost, self.burst))
        if self.tokens >= need:
            self.tokens -= need
            return True
        return False

    def wait(self, now: float) -> float:
        """Seconds until one token is there."""
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate if self.rate > 0 else 3600.0

    def full(self, now: float) -> bool:
        return self.tokens + (now - self.stamp) * self.rate >= self.burst


class RateLimiter:
    """Buckets per (user, limit) (see the module doc)."""

    PRUNE_EVERY = 4096

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.clock = clock
        self._rates: Dict[Limit, Tuple[float, float]] = {
            Limit.FRAME: (settings.rate_frames, settings.rate_frames_burst),
            Limit.SEND: (settings.rate_messages, settings.rate_messages_burst),
            Limit.TYPING: (settings.rate_typing, settings.rate_typing_burst),
            Limit.REPORT: (settings.rate_reports, settings.rate_reports_burst),
        }
        self._buckets: Dict[Tuple[str, Limit], TokenBucket] = {}
        self._shares: Dict[str, int] = {}  # user -> nodes holding its sockets (a cluster), when over 1
        self._made = 0

    def share(self, user_id: str, nodes: int) -> None:
        """This user's sockets are on ``nodes`` nodes of a cluster now: each of them gives the
        user 1/nodes of the rate and of the burst, so together they allow what one process
        would. A node holding none of its sockets (REST calls only) keeps the full share."""
        k = max(1, nodes)
        if k == 1:
            self._shares.pop(user_id, None)
        else:
            self._shares[user_id] = k
        for limit in Limit:
            bucket = self._buckets.get((user_id, limit))
            if bucket is not None:
                rate, burst = self._rates[limit]
                bucket.rate, bucket.burst = rate / k, burst / k
                bucket.tokens = min(bucket.tokens, bucket.burst)

    @property
    def shared(self) -> int:
        """Users whose limits are split between nodes now."""
        return len(self._shares)

    def take(self, user_id: str, limit: Limit, cost: float = 1) -> bool:
        """Take ``cost`` tokens (one by default) of this kind for this user; False when the
        user is over the limit (then nothing is taken)."""
        now = self.clock.monotonic()
        key = (user_id, limit)
        bucket = self._buckets.get(key)
        if bucket is None:  # made on first use: idle sockets cost nothing here
            rate, burst = self._rates[limit]
            k = self._shares.get(user_id, 1)
            bucket = self._buckets[key] = TokenBucket(rate / k, burst / k, now)
            self._made += 1
            if self._made % self.PRUNE_EVERY == 0:
                self.prune()
        return bucket.take(now, cost)

    def check(self, user_id: str, limit: Limit) -> None:
        """:meth:`take`, raising ``rate_limited`` (with the seconds to wait) when over."""
        if not self.take(user_id, limit):
            raise RateLimited("rate limit exceeded for %s" % limit.value,
                              retry_after=self.retry_after(user_id, limit))

    def retry_after(self, user_id: str, limit: Limit) -> float:
        """Seconds until the next token of this kind (0 when one is there)."""
        bucket = self._buckets.get((user_id, limit))
        return 0.0 if bucket is None else bucket.wait(self.clock.monotonic())

    def prune(self) -> None:
        """Drop buckets that are full by now (equivalent to a fresh one)."""
        now = self.clock.monotonic()
        for key in [k for k, b in self._buckets.items() if b.full(now)]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
