"""The search index (chat/store/search_index.py): the same hits as the substring scan, on a
shared Latin and Khmer corpus, whatever the index has or has not seen yet (new messages,
edits, deletes, a database restored behind it)."""
from __future__ import annotations

import random
import urllib.parse
from typing import Any, List, Optional

import pytest

from chat.auth import Identity
from chat.domain.search import SearchActions
from chat.store.search_index import match_query, trigrams

MSGS = "/api/conversations/%s/messages"

KHMER = ["សួស្តី", "គ្រូ", "កិច្ចការផ្ទះ", "គណិតវិទ្យា", "សៀវភៅ", "ថ្ងៃស្អែក", "ការប្រឡង", "សាលារៀន"]
LATIN = ["Homework", "maths", "Essay", "quiz", "chapter", "(3)", "due", "Friday", "science", "ÉCOLE", "café"]


def corpus(seed: int, n: int) -> List[str]:
    rnd = random.Random(seed)
    words = KHMER + LATIN
    # Khmer is written without spaces between words: half the texts run words together
    return [("" if rnd.random() < 0.5 else " ").join(rnd.choice(words) for _ in range(rnd.randint(1, 6)))
            for _ in range(n)]


async def texts(api: Any, user: str, q: str, conversation_id: str = "") -> List[str]:
    path = "/api/search?q=%s&limit=100" % urllib.parse.quote(q)
    if conversation_id:
        path += "&conversationId=" + conversation_id
    status, data = await api.get(path, user)
    assert status == 200, data
    return [m["text"] for m in data["data"]]


async def scanned(runtime: Any, user: str, q: str, conversation_id: Optional[str] = None) -> List[str]:
    """What the plain substring scan answers (no index), on the same data."""
    plain = SearchActions(runtime.service.core, None)
    ident = Identity(user, "student", "s1", user, 2 ** 40)
    return [m["text"] for m in await plain.search(ident, q, conversation_id, 100)]


async def index_now(runtime: Any) -> int:
    """One indexer pass over what is stored now (the conversations' lastSeq is written behind:
    write it first, as the flusher would)."""
    await runtime.service.flush()
    return await runtime.service.search_indexer.run_once()


def test_trigrams_and_their_query():
    assert trigrams("ab") == [] and trigrams("abab") == ["aba", "bab"]
    assert match_query(trigrams("abcd")) == '"abc" AND "bcd"'
    assert match_query(trigrams('a"bc')) == '"a""b" AND """bc"'
    assert trigrams("គ្រូ") == ["គ្រ", "្រូ"]  # by code point: Khmer signs are code points of their own


@pytest.mark.gen_test(timeout=180)
async def test_indexed_search_has_exactly_the_scans_hits(api, runtime, school):
    g1 = await api.conversation("t1", "group", ["st1", "st2"], title="A")
    g2 = await api.conversation("t1", "group", ["st1"], title="B")
    other = await api.conversation("t1", "group", ["st2"], title="C")  # not st1's
    texts_sent = corpus(7, 240)
    for i, text in enumerate(texts_sent):
        conv = (g1, g2, other)[i % 3]
        await api.send(("t1", "st1")[i % 2] if conv is not other else "st2", conv["id"], text)
    rnd = random.Random(11)
    queries = ["homework", "HOMEWORK", "(3)", "គ្រូ", "ការ", "ផ្ទះគណិ", "école", "ma", "សួ", "zzz", "friday"]
    for _ in range(25):
        source = rnd.choice(texts_sent)
        start = rnd.randrange(len(source))
        queries.append(source[start:start + rnd.randint(2, 7)].strip() or "quiz")
    queries = [q for q in queries if len(q.strip()) >= 2]
    before = {q: await scanned(runtime, "st1", q) for q in queries}
    assert await index_now(runtime) > 0
    assert await runtime.service.search_index.rows() > 0
    for q in queries:
        assert await texts(api, "st1", q) == before[q], q
        assert await texts(api, "st1", q, g1["id"]) == await scanned(runtime, "st1", q, g1["id"]), q
    assert any(before[q] for q in queries) and any(not before[q] for q in queries)  # both kinds asked


@pytest.mark.gen_test(timeout=120)
async def test_what_the_index_has_not_seen_is_still_found(api, runtime, school):
    conv = await api.conversation("t1", "group", ["st1", "st2"], title="Maths")
    first = await api.send("st1", conv["id"], "ការប្រឡងគណិតវិទ្យា on Friday")
    gone = await api.send("st2", conv["id"], "secret homework answers")
    await index_now(runtime)
    # sent after the pass: the seqs past the mark are scanned
    await api.send("st2", conv["id"], "ថ្ងៃស្អែកមានការប្រឡង")
    assert await texts(api, "st1", "ការប្រឡង") == ["ថ្ងៃស្អែកមានការប្រឡង", "ការប្រឡងគណិតវិទ្យា on Friday"]
    # edited after the pass: the old text's row is stale, the new text is found by the edit query
    status, _ = await api.patch("/api/messages/" + first["id"], "st1", {"text": "quiz moved to Monday"})
    assert status == 200
    assert await texts(api, "st1", "friday") == []
    assert await texts(api, "st1", "monday") == ["quiz moved to Monday"]
    # deleted after the pass: never a hit
    assert (await api.delete("/api/messages/" + gone["id"], "st2"))[0] == 200
    assert await texts(api, "st1", "homework") == []
    await index_now(runtime)  # and the same once the index has seen all of it
    assert await texts(api, "st1", "friday") == []
    assert await texts(api, "st1", "monday") == ["quiz moved to Monday"]
    assert await texts(api, "st1", "homework") == []
    assert await texts(api, "st1", "ការប្រឡង") == ["ថ្ងៃស្អែកមានការប្រឡង"]
    index = runtime.service.search_index
    rows = await index.rows()
    await index_now(runtime)  # an edit is indexed once, not at every pass
    assert await index.rows() == rows
    # and what is gone from the chat is gone from the index's file too
    assert await index.texts_of(gone["id"]) == []
    assert await index.texts_of(first["id"]) == ["quiz moved to monday"]


@pytest.mark.gen_test(timeout=120)
async def test_an_index_ahead_of_the_database_is_not_trusted(api, runtime, school):
    """A database restored from a backup has fewer messages than the index saw: the seqs it
    hands out again must be searched, and the indexer indexes the conversation again."""
    conv = await api.conversation("t1", "group", ["st1"], title="Restored")
    await api.send("st1", conv["id"], "before the restore")
    index = runtime.service.search_index
    await index.add(conv["id"], [], 500)  # as if seqs up to 500 had been indexed
    await api.send("st1", conv["id"], "after the restore")
    assert await texts(api, "st1", "restore") == ["after the restore", "before the restore"]
    await index_now(runtime)
    assert (await index.marks([conv["id"]]))[conv["id"]] == 2
    assert await texts(api, "st1", "restore") == ["after the restore", "before the restore"]


@pytest.mark.gen_test(timeout=120)
async def test_this_nodes_messages_are_indexed_as_stored_without_reading_them_back(api, runtime, school):
    """The writer's own messages reach the indexer through the event sink; a pass indexes them
    with no read of the messages, and a stored lastSeq written behind the mark is no restore."""
    conv = await api.conversation("t1", "group", ["st1"], title="Fed")
    sent = corpus(3, 30)
    for text in sent:
        await api.send("st1", conv["id"], text)
    indexer = runtime.service.search_indexer
    index = runtime.service.search_index
    reads: List[Any] = []
    messages = runtime.service.core.store.messages
    history = messages.history

    async def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return await history(*args, **kwargs)
    messages.history = counted
    try:
        fed = indexer.fed
        # the conversations' lastSeq is not flushed: the pass runs on the fed rows alone
        assert await indexer.run_once() == sum(1 for t in sent if t)
        assert indexer.fed - fed == len(sent) and reads == []
        assert (await index.marks([conv["id"]]))[conv["id"]] == len(sent)
        rows = await index.rows()
        await indexer.run_once()  # the stored lastSeq (0 or behind) is older than the mark: kept
        assert (await index.marks([conv["id"]]))[conv["id"]] == len(sent) and await index.rows() == rows
    finally:
        messages.history = history
    for q in ["homework", "គ្រូ", "ការ", "quiz"]:
        assert await texts(api, "st1", q) == await scanned(runtime, "st1", q), q


@pytest.mark.gen_test(timeout=120)
async def test_messages_stored_while_a_pass_runs_are_left_to_the_feed_not_read(api, runtime, school):
    conv = await api.conversation("t1", "group", ["st1"], title="Busy")
    for i in range(3):
        await api.send("st1", conv["id"], "busy homework %d" % i)
    await index_now(runtime)
    indexer = runtime.service.search_indexer
    index = runtime.service.search_index
    assert (await index.marks([conv["id"]]))[conv["id"]] == 3
    for i in range(3, 5):
        await api.send("st1", conv["id"], "busy homework %d" % i)
    messages = runtime.service.core.store.messages
    history, fed = messages.history, indexer._fed
    reads: List[Any] = []

    async def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return await history(*args, **kwargs)

    async def taken_before_they_came() -> int:  # the pass took the feed before seqs 4 and 5 were stored
        return 0
    messages.history = counted
    indexer._fed = taken_before_they_came  # type: ignore[method-assign]
    try:
        await indexer.run_once()
        assert reads == [] and (await index.marks([conv["id"]]))[conv["id"]] == 3  # left to the feed
        indexer._fed = fed  # type: ignore[method-assign]
        await indexer.run_once()
        assert reads == [] and (await index.marks([conv["id"]]))[conv["id"]] == 5
    finally:
        messages.history = history
        indexer._fed = fed  # type: ignore[method-assign]
    assert await texts(api, "st1", "busy homework") == await scanned(runtime, "st1", "busy homework")


@pytest.mark.gen_test(timeout=120)
async def test_what_the_feed_missed_the_walk_reads(api, runtime, school):
    conv = await api.conversation("t1", "group", ["st1"], title="Walked")
    first = [await api.send("st1", conv["id"], "early homework %d" % i) for i in range(3)]
    runtime.service.search_indexer.feed.take()  # as if lost (a restart): only the database has them
    await api.send("st1", conv["id"], "late homework")  # fed, but after a gap the feed cannot bridge
    await index_now(runtime)
    index = runtime.service.search_index
    assert (await index.marks([conv["id"]]))[conv["id"]] == 4
    assert await index.texts_of(first[0]["id"]) == ["early homework 0"]
    assert await texts(api, "st1", "homework") == await scanned(runtime, "st1", "homework")
    assert len(await texts(api, "st1", "homework")) == 4


@pytest.mark.settings(search_index=False)
@pytest.mark.gen_test(timeout=60)
async def test_search_without_the_index(api, runtime, school):
    conv = await api.conversation("t1", "group", ["st1"], title="Plain")
    await api.send("st1", conv["id"], "សាលារៀនរបស់ខ្ញុំ")
    assert runtime.service.search_index is None and runtime.service.search_indexer is None
    assert await texts(api, "st1", "លារៀ") == ["សាលារៀនរបស់ខ្ញុំ"]


@pytest.mark.gen_test(timeout=120)
async def test_an_erased_users_words_leave_the_index(api, runtime, school):
    conv = await api.conversation("t1", "group", ["st1", "st2"], title="Erased")
    said = await api.send("st1", conv["id"], "my private words ការសម្ងាត់")
    await api.send("st2", conv["id"], "private reply")
    await index_now(runtime)
    index = runtime.service.search_index
    assert await index.texts_of(said["id"]) == ["my private words ការសម្ងាត់"]
    status, _ = await api.post("/api/users/st1/erase", "a1", {})
    assert status == 200
    assert await texts(api, "st2", "private") == ["private reply"]  # checked against the database at once
    await index_now(runtime)
    assert await index.texts_of(said["id"]) == []  # and gone from the file at the next pass
    assert await texts(api, "st2", "private") == ["private reply"]
