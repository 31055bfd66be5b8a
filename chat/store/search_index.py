"""The search index: a trigram full-text index (SQLite FTS5) kept beside the database.

It is a derived, rebuildable cache, never the record: each node keeps its own file, fed from
the database by :class:`chat.domain.search_indexer.SearchIndexer`, so it serves the embedded
default, a real MongoDB and a cluster the same way. It only proposes candidates; a search
checks every candidate against the stored message (:mod:`chat.domain.search`), so a stale
row (an edited, deleted or retention-purged message) can never be a hit, and what the index
has not seen yet is scanned the old way. The result set is exactly the substring rule's.

Why a trigram index: the substring rule must find words of languages written without spaces
(Khmer, Thai), which word tokenizers cannot split. Every substring of three or more
characters of a text contains only trigrams of that text, so "all of the needle's trigrams"
is a superset of the hits. The table keeps no positions (``detail=none``): candidates are
verified anyway. It keeps each text (FTS5's own content table) so a row can be deleted: a
deleted, retention-purged or erased message leaves the file at the indexer's next pass, and an
edit replaces the old text's row, so a child's removed words do not linger on any node's disk.

SQLite connections belong to one thread: every call runs on this index's own one-thread
executor, never on the event loop.

The trigram counts only choose which of a needle's trigrams to ask for; the hits come from
FTS5, written in the same transaction as the marks. So counts are added up in memory (on the
executor's thread) and written every few passes: one upsert per distinct trigram of many
texts instead of one per trigram of each conversation's batch, which had cost two thirds of
indexing. Counts lost in a crash only make a later choice less sharp, never a hit missed. They
are taken from one text in :data:`COUNT_ONE_IN` (chosen by its message id, so removing a text
takes back exactly what adding it gave): a ranking needs no more, and counting every text had
cost as much CPU as FTS5's own insert.

A row's id is its creation millisecond's slot plus a number from its conversation and seq, so
it is found without a query; only when that slot is taken (rare) is the slot's highest id read.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import sqlite3
import zlib
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar

T = TypeVar("T")

#: the index's file name in the data directory (``search_index_path`` overrides it)
SEARCH_INDEX_FILE = "search-index.sqlite3"
#: rowid = createdAt (ms) * ROW_SLOTS + n: rowid order is creation order, so "newest first"
#: is FTS5's fast descending rowid scan; n tells apart the messages of one millisecond
#: (2**16 of them; epoch ms * 2**16 stays far inside SQLite's 63-bit rowid)
ROW_SLOTS = 1 << 16
#: a needle shorter than this has no trigram: it is scanned the old way
MIN_INDEXED = 3
#: the trigrams one query asks for: the needle's rarest (FTS5 intersects whole doclists, so a
#: common trigram costs a read of most of the index while narrowing nothing)
QUERY_GRAMS = 3
#: distinct trigrams counted in memory past which the counts are written at once
PENDING_GRAMS = 200_000
#: the trigram counts come from one text in this many (see the module doc)
COUNT_ONE_IN = 4

#: the file's layout; a file of another layout is dropped and built again (it is derived)
LAYOUT = 2
TABLES = ("grams", "rows", "marks", "meta", "freq", "edits")
SCHEMA = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS grams USING fts5(text, detail=none, tokenize='trigram')",
    "CREATE TABLE IF NOT EXISTS rows (rowid INTEGER PRIMARY KEY, conv TEXT NOT NULL, seq INTEGER NOT NULL, "
    "message TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS rows_message ON rows (message)",
    "CREATE TABLE IF NOT EXISTS marks (conv TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    # how many indexed texts hold each trigram: which of a needle's trigrams narrow the most
    "CREATE TABLE IF NOT EXISTS freq (gram TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID",
)


def trigrams(text: str) -> List[str]:
    """The distinct trigrams of ``text``, in order of first appearance (none under 3 characters)."""
    seen: Dict[str, None] = {}
    for i in range(len(text) - MIN_INDEXED + 1):
        seen.setdefault(text[i:i + MIN_INDEXED], None)
    return list(seen)


def _free_slot(db: sqlite3.Connection, base: int) -> int:
    """A free row id of the millisecond at ``base`` when its top one is taken (the transaction,
    and the mark with it, is undone when every slot is)."""
    taken = {int(r[0]) for r in db.execute("SELECT rowid FROM rows WHERE rowid >= ? AND rowid < ?",
                                           (base, base + ROW_SLOTS))}
    for rowid in range(base, base + ROW_SLOTS):
        if rowid not in taken:
            return rowid
    raise OverflowError("over %d messages created in one millisecond" % ROW_SLOTS)


def match_query(grams: Sequence[str]) -> str:
    """The FTS5 query "all of these trigrams", each a quoted one-token string (no phrase: the
    table keeps no positions)."""
    return " AND ".join('"%s"' % g.replace('"', '""') for g in grams)


class SearchIndex:
    """One SQLite file: the trigram table, its rows' (conversation, seq), and per conversation
    the highest seq up to which every message is indexed (the mark)."""

    def __init__(self, path: str, count_one_in: int = COUNT_ONE_IN) -> None:
        self.path = path
        self.count_one_in = max(1, count_one_in)
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="search-index")
        self._db: Optional[sqlite3.Connection] = None
        self._pending: Dict[str, int] = {}  # trigram -> count not written yet (the executor's thread only)

    # ------------------------------------------------------------------ the thread seam
    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            folder = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(folder, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a lost tail is re-indexed from the database
            if db.execute("PRAGMA user_version").fetchone()[0] != LAYOUT:
                for table in TABLES:  # an older layout: start again (the indexer rebuilds it)
                    db.execute("DROP TABLE IF EXISTS %s" % table)
                db.execute("PRAGMA user_version = %d" % LAYOUT)
            for statement in SCHEMA:
                db.execute(statement)
            self._db = db
        return self._db

    async def open(self) -> None:
        """Create the file and its tables (idempotent)."""
        await self._io(self._conn)

    async def close(self) -> None:
        def work() -> None:
            if self._db is not None:
                self._write_counts(self._db)
                self._db.close()
                self._db = None
        await self._io(work)
        self._pool.shutdown(wait=True)

    # ------------------------------------------------------------------ writing
    async def add(self, conversation_id: str, rows: Sequence[Tuple[int, int, str, str]], mark: Optional[int],
                  replace: bool = False) -> None:
        """Index ``(seq, createdAt, searchText, messageId)`` rows of one conversation and move its mark
        to ``mark`` (every seq up to it is now indexed), in one transaction. ``replace``: the
        messages' earlier rows go first (an edit's new text)."""
        def work() -> None:
            db = self._conn()
            counts = self._pending
            db.execute("BEGIN")
            try:
                if replace:
                    self._remove(db, [row[3] for row in rows])
                spread = zlib.crc32(conversation_id.encode("utf-8"))
                for seq, created, text, message_id in rows:
                    if not text:
                        continue
                    base = max(0, int(created)) * ROW_SLOTS
                    row = (base + ((spread + seq) & (ROW_SLOTS - 1)), conversation_id, seq, message_id)
                    try:
                        db.execute("INSERT INTO rows (rowid, conv, seq, message) VALUES (?, ?, ?, ?)", row)
                    except sqlite3.IntegrityError:  # the slot is taken: the millisecond's next free one
                        top = db.execute("SELECT max(rowid) FROM rows WHERE rowid >= ? AND rowid < ?",
                                         (base, base + ROW_SLOTS)).fetchone()[0]
                        rowid = top + 1
                        if rowid >= base + ROW_SLOTS:
                            rowid = _free_slot(db, base)
                        row = (rowid,) + row[1:]
                        db.execute("INSERT INTO rows (rowid, conv, seq, message) VALUES (?, ?, ?, ?)", row)
                    db.execute("INSERT INTO grams (rowid, text) VALUES (?, ?)", (row[0], text))
                    if self._counted(message_id):
                        for gram in trigrams(text):
                            counts[gram] = counts.get(gram, 0) + 1
                if len(counts) > PENDING_GRAMS:
                    self._write_counts(db)
                if mark is not None:
                    db.execute("INSERT INTO marks (conv, seq) VALUES (?, ?) ON CONFLICT(conv) DO UPDATE SET "
                               "seq = max(seq, excluded.seq)", (conversation_id, mark))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        await self._io(work)

    def _remove(self, db: sqlite3.Connection, message_ids: Sequence[str]) -> int:
        """Delete every row of these messages, and their texts' trigram counts."""
        gone: Dict[str, int] = {}
        removed = 0
        for message_id in message_ids:
            found = db.execute("SELECT rows.rowid, grams.text FROM rows JOIN grams ON grams.rowid = rows.rowid "
                               "WHERE rows.message = ?", (message_id,)).fetchall()
            counted = self._counted(message_id)
            for rowid, text in found:
                if counted:
                    for gram in trigrams(text or ""):
                        gone[gram] = gone.get(gram, 0) + 1
                db.execute("DELETE FROM grams WHERE rowid = ?", (rowid,))
                db.execute("DELETE FROM rows WHERE rowid = ?", (rowid,))
                removed += 1
        pending = self._pending
        for gram, n in gone.items():
            pending[gram] = pending.get(gram, 0) - n
        return removed

    def _counted(self, message_id: str) -> bool:
        """Whether this message's text is one of those the trigram counts come from."""
        return self.count_one_in == 1 or zlib.crc32(message_id.encode("utf-8")) % self.count_one_in == 0

    def _write_counts(self, db: sqlite3.Connection) -> None:
        """Add the counts held in memory to the table (inside the caller's transaction, or in
        one of its own)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        own = not db.in_transaction
        if own:
            db.execute("BEGIN")
        db.executemany("INSERT INTO freq (gram, n) VALUES (?, ?) ON CONFLICT(gram) DO UPDATE SET "
                       "n = max(0, n + excluded.n)", pending.items())
        if own:
            db.execute("COMMIT")

    async def write_counts(self) -> None:
        """Write the trigram counts held in memory (the indexer, every few passes)."""
        await self._io(lambda: self._write_counts(self._conn()))

    async def remove(self, message_ids: Sequence[str]) -> int:
        """Forget these messages (deleted, purged or erased); returns how many rows went."""
        ids = list(message_ids)

        def work() -> int:
            db = self._conn()
            db.execute("BEGIN")
            try:
                removed = self._remove(db, ids)
                db.execute("COMMIT")
                return removed
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return await self._io(work) if ids else 0

    async def texts_of(self, message_id: str) -> List[str]:
        """The texts the index holds for one message (what a deleted one must not have)."""
        return await self._io(lambda: [str(r[0]) for r in self._conn().execute(
            "SELECT grams.text FROM rows JOIN grams ON grams.rowid = rows.rowid WHERE rows.message = ?",
            (message_id,))])

    async def set_meta(self, key: str, value: int) -> None:
        await self._io(lambda: self._conn().execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, int(value))))

    async def drop_conversation(self, conversation_id: str) -> None:
        """Forget a conversation's mark, so it is indexed again from its start (after a restore)."""
        await self._io(lambda: self._conn().execute("DELETE FROM marks WHERE conv = ?", (conversation_id,)))

    # ------------------------------------------------------------------ reading
    async def meta(self, key: str, default: int = 0) -> int:
        def work() -> int:
            row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return default if row is None else int(row[0])
        return await self._io(work)

    async def marks(self, conversation_ids: Iterable[str]) -> Dict[str, int]:
        """Each conversation's mark (absent: nothing indexed yet)."""
        ids = list(conversation_ids)

        def work() -> Dict[str, int]:
            db = self._conn()
            found: Dict[str, int] = {}
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500]
                marks = "SELECT conv, seq FROM marks WHERE conv IN (%s)" % ",".join("?" * len(part))
                found.update((c, int(s)) for c, s in db.execute(marks, part))
            return found
        return await self._io(work)

    async def candidates(self, conversation_ids: Sequence[str], needle: str, below: Optional[int], limit: int
                         ) -> List[Tuple[int, str, int, str]]:
        """Up to ``limit`` rows ``(rowid, conversation, seq, messageId)`` of these conversations
        whose text holds the needle's rarest trigrams, newest first, below rowid ``below`` (to
        page on). A superset of the indexed texts that contain the needle."""
        ids = list(conversation_ids)
        grams = trigrams(needle)

        def work() -> List[Tuple[int, str, int, str]]:
            db = self._conn()
            sql = "SELECT gram, n FROM freq WHERE gram IN (%s)" % ",".join("?" * len(grams))
            known = dict(db.execute(sql, grams).fetchall())
            pending = self._pending
            # (a trigram no text has sorts first, and FTS5 answers it at once with nothing)
            rarest = sorted(grams, key=lambda g: known.get(g, 0) + pending.get(g, 0))[:QUERY_GRAMS]
            args: List[Any] = [match_query(rarest)]
            where = ""
            if below is not None:
                where = " AND grams.rowid < ?"
                args.append(below)
            one = len(ids) == 1
            among = "= ?" if one else "IN (SELECT value FROM json_each(?))"
            sql = ("SELECT grams.rowid, rows.conv, rows.seq, rows.message FROM grams "
                   "JOIN rows ON rows.rowid = grams.rowid WHERE grams MATCH ?%s AND rows.conv %s "
                   "ORDER BY grams.rowid DESC LIMIT ?" % (where, among))
            args.append(ids[0] if one else json.dumps(ids))
            args.append(limit)
            return [(int(r), str(c), int(s), str(m)) for r, c, s, m in db.execute(sql, args)]
        if not ids or not grams:
            return []
        return await self._io(work)

    async def size_bytes(self) -> int:
        """The index's size on disk (the file and its write-ahead log)."""
        def work() -> int:
            total = 0
            for suffix in ("", "-wal"):
                try:
                    total += os.path.getsize(self.path + suffix)
                except OSError:
                    pass
            return total
        return await self._io(work)

    async def rows(self) -> int:
        return await self._io(lambda: int(self._conn().execute("SELECT count(*) FROM rows").fetchone()[0]))
