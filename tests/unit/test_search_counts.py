"""The search index's trigram counts are kept in memory between writes: they only choose which
trigrams to ask FTS5 for, so a search finds a text whose counts are not written yet, or were
lost with the process."""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Dict

from chat.store.search_index import SearchIndex, trigrams


def _freq(path: Path) -> Dict[str, int]:
    with sqlite3.connect(str(path)) as db:
        return dict(db.execute("SELECT gram, n FROM freq").fetchall())


def test_counts_in_memory_written_later_and_a_lost_write_misses_no_hit(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"

    async def main() -> None:
        index = SearchIndex(str(path))
        await index.open()
        await index.add("c1", [(1, 1_000, "homework due friday", "m1"), (2, 2_000, "homework done", "m2")], 2)
        assert _freq(path) == {}  # not written yet
        found = await index.candidates(["c1"], "homework", None, 10)
        assert sorted(r[3] for r in found) == ["m1", "m2"]
        assert [r[3] for r in await index.candidates(["c1"], "friday", None, 10)] == ["m1"]
        assert await index.candidates(["c1"], "zebra", None, 10) == []
        # the process dies before the counts are written: a new one still finds every text
        again = SearchIndex(str(path))
        await again.open()
        assert [r[3] for r in await again.candidates(["c1"], "due fri", None, 10)] == ["m1"]
        await again.close()
        # written: each trigram counted once per text holding it; a removed text takes its share back
        await index.write_counts()
        counts = _freq(path)
        assert counts["hom"] == 2 and counts["fri"] == 1 and set(counts) == set(
            trigrams("homework due friday") + trigrams("homework done"))
        assert await index.remove(["m1"]) == 1
        assert [r[3] for r in await index.candidates(["c1"], "homework", None, 10)] == ["m2"]
        await index.close()  # closing writes what is held
        counts = _freq(path)
        assert counts["hom"] == 1 and counts["fri"] == 0
    asyncio.run(main())
