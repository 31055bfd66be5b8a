"""Exponential backoff with jitter (pure): how long a failed delivery waits before its next
attempt, and when it gives up."""
from __future__ import annotations

from typing import Callable


def delay(attempts: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1, 2, ...): ``base`` doubled
    each time up to ``cap``, then jittered down by up to a half (``rand()`` in [0, 1)) so that
    many deliveries failing together do not come back together."""
    if attempts < 1:
        return 0.0
    full = min(cap, base * (2.0 ** min(attempts - 1, 60)))
    return full * (1.0 - 0.5 * rand())


def exhausted(attempts: int, max_attempts: int) -> bool:
    """Whether a delivery that has failed ``attempts`` times goes to the dead letters."""
    return attempts >= max_attempts
