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
