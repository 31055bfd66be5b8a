"""Helpers shared by the benchmark scripts (not tests): a private embedded database, a
server on an ephemeral port, percentiles, /proc readings."""
from __future__ import annotations

import os
import sys
import time
from typing import Dict, List, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(pct / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def summary_ms(samples: List[float]) -> Dict[str, float]:
    """Median, p95, p99 and max of samples in seconds, as milliseconds."""
    return {"p50": round(percentile(samples, 50) * 1000, 2), "p95": round(percentile(samples, 95) * 1000, 2),
            "p99": round(percentile(samples, 99) * 1000, 2), "max": round(max(samples) * 1000, 2) if samples else 0}


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    with open("/proc/%d/stat" % pid, "r", encoding="ascii") as fh:
        fields = fh.read().rsplit(") ", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_rss_bytes(pid: int) -> int:
    with open("/proc/%d/status" % pid, "r", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def import_users(tmp: str, users: List[str], *store_flags: str) -> None:
    """Load these users (students of the school ``bench``) with the server's import-roster
    command; ``store_flags`` says which database (``--data-dir D`` or ``--mongodb-uri U``)."""
    import json
    import subprocess

    path = os.path.join(tmp, "roster.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"users": [{"id": u, "name": "User " + u, "role": "student", "school": "bench"}
                             for u in users], "classes": []}, fh)
    subprocess.run([sys.executable, os.path.join(ROOT, "server.py"), "import-roster", path, *store_flags],
                   check=True, stdout=subprocess.DEVNULL)


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
