"""Per-user rate limits that hold across nodes without a Redis round trip per frame.

Each node keeps its token buckets in memory, as one process does. When a user's sockets sit on
k nodes, each of those nodes gives the user 1/k of the rate and of the burst (the node where k
changes tells the others, routed like a push to the user), so all of them together allow what one process would.
A node that holds none of the user's sockets (REST calls only) keeps the full share.
"""
from __future__ import annotations

from typing import Dict

from chat.clock import Clock
from chat.ratelimit import Limit, RateLimiter, TokenBucket
from chat.settings import Settings


class SharedRateLimiter(RateLimiter):
    """:class:`RateLimiter` with per-user shares (see the module doc)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        super().__init__(settings, clock)
        self._shares: Dict[str, int] = {}

    def share(self, user_id: str, nodes: int) -> None:
        """This user's sockets are on ``nodes`` nodes now."""
        shares = self._shares
        k = max(1, nodes)
        if k == 1:
            shares.pop(user_id, None)
        else:
            shares[user_id] = k
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
        k = self._shares.get(user_id)
        if k is not None and (user_id, limit) not in self._buckets:
            rate, burst = self._rates[limit]
            self._buckets[(user_id, limit)] = TokenBucket(rate / k, burst / k, self.clock.monotonic())
        return super().take(user_id, limit, cost)
