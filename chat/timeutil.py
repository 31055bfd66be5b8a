"""Times are stored as integer epoch milliseconds and rendered as ISO 8601 UTC with ``Z``."""
from __future__ import annotations

import datetime
import functools
import time
from typing import Optional


def now_ms() -> int:
    """Current wall time in epoch milliseconds."""
    return int(time.time() * 1000)


def iso(ms: Optional[int]) -> Optional[str]:
    """Epoch ms to ``2026-01-02T03:04:05.678Z`` (None stays None)."""
    if ms is None:
        return None
    return _second(ms // 1000) + ".%03dZ" % (ms % 1000)


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    # every message of the same second shares this prefix: computed once (it was a hot spot)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def parse_iso(value: str) -> int:
    """ISO 8601 (``Z`` or offset, optional fraction) to epoch ms; raises ValueError."""
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    dt = datetime.datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp() * 1000)
