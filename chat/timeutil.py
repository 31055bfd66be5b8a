"""Times are stored as integer epoch milliseconds and rendered as ISO 8601 UTC with ``Z``."""
from __future__ import annotations

import datetime
import time
from typing import Optional


def now_ms() -> int:
    """Current wall time in epoch milliseconds."""
    return int(time.time() * 1000)


def iso(ms: Optional[int]) -> Optional[str]:
    """Epoch ms to ``2026-01-02T03:04:05.678Z`` (None stays None)."""
    if ms is None:
        return None
    dt = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


def parse_iso(value: str) -> int:
    """ISO 8601 (``Z`` or offset, optional fraction) to epoch ms; raises ValueError."""
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    dt = datetime.datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp() * 1000)
