"""The search index's trigram counts are kept in memory between writes: they only choose which
trigrams to ask FTS5 for, so a search finds a text whose counts are not written yet, or were
lost with the process."""
from __future__ import annotations

import asyncio
import sqlite3
import zlib
from pathlib import Path
from typing import Dict

from chat.store.search_index import COUNT_ONE_IN, ROW_SLOTS, SearchIndex, trigrams


def _freq(path: Path) -> Dict[str, int]:
    with sqlite3.connect(str(path)) as db:
        return dict(db.execute("SELECT gram, n FROM freq").fetchall())


def test_counts_in_memory_written_later_and_a_lost_write_misses_no_hit(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"

    async def main() -> None:
        index = SearchIndex(str(path), count_one_in=1)  # every text counted: exact figures below
        await index.open()
        await index.add("c1", [(1, 1_000, "homework due friday", "m1"), (2, 2_000, "homework done", "m2")], 2)
        assert _freq(path) == {}  # not written yet
        found = await index.candidates(["c1"], "homework", None, 10)
        assert sorted(r[3] for r in found) == ["m1", "m2"]
        assert [r[3] for r in await index.candidates(["c1"], "friday", None, 10)] == ["m1"]
        assert await index.candidates(["c1"], "zebra", None, 10) == []
        # the process dies before the counts are written: a new one still finds every text
        again = SearchIndex(str(path), count_one_in=1)
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


def test_counts_come_from_one_text_in_four_chosen_by_its_id_and_every_text_is_still_found(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    ids = ["m%d" % i for i in range(40)]
    sampled = [m for m in ids if zlib.crc32(m.encode()) % COUNT_ONE_IN == 0]
    assert 0 < len(sampled) < len(ids)

    async def main() -> None:
        index = SearchIndex(str(path))
        await index.open()
        await index.add("c1", [(i + 1, 1_000 + i, "homework %s" % m, m) for i, m in enumerate(ids)], len(ids))
        await index.write_counts()
        assert _freq(path)["hom"] == len(sampled)
        found = await index.candidates(["c1"], "homework", None, 100)
        assert sorted(r[3] for r in found) == sorted(ids)  # the counts rank trigrams; FTS5 finds the texts
        unsampled = next(m for m in ids if m not in sampled)
        assert await index.remove([sampled[0], unsampled]) == 2
        await index.write_counts()
        assert _freq(path)["hom"] == len(sampled) - 1  # a removal takes back exactly what its add gave
        await index.close()
    asyncio.run(main())


def test_texts_of_one_millisecond_whose_row_slots_collide_are_all_indexed(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    # c2's seq chosen so its row id would be c1's seq 5's: the second takes the millisecond's next free slot
    clash = (zlib.crc32(b"c1") + 5 - zlib.crc32(b"c2")) % ROW_SLOTS

    async def main() -> None:
        index = SearchIndex(str(path))
        await index.open()
        await index.add("c1", [(5, 7_000, "first clash text", "a"), (6, 7_000, "second clash text", "b")], 6)
        await index.add("c2", [(clash, 7_000, "third clash text", "c"), (clash + 1, 7_000, "fourth clash text", "d")],
                        None)
        found = await index.candidates(["c1", "c2"], "clash", None, 10)
        assert sorted(r[3] for r in found) == ["a", "b", "c", "d"]
        assert len({r[0] for r in found}) == 4
        assert all(7_000 * ROW_SLOTS <= r[0] < 7_001 * ROW_SLOTS for r in found)  # creation order kept
        await index.close()
    asyncio.run(main())
