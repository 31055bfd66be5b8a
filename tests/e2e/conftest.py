"""Fixtures of the end-to-end tier shared by several files."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.e2e.test_cluster import Cluster


@pytest.fixture
def cluster(tmp_path: Any) -> Iterator[Cluster]:
    """A database process, a Redis and the nodes a test starts on them, all stopped afterwards
    (also when the test fails)."""
    c = Cluster(str(tmp_path))
    try:
        yield c
    finally:
        c.stop()


try:  # the browser tests' waits: a barrier on what the page shows, with room for a loaded CI machine
    from playwright.sync_api import expect as _expect
    _expect.set_options(timeout=30_000)  # Playwright's 5 s default failed on a machine at load 12
except ImportError:  # pragma: no cover - playwright is in requirements-dev.txt
    pass
