"""The search index in a two-node cluster: each node indexes the shared database into its own
file, so a message sent through one node is found through the other, before and after that
node's indexer has seen it, and an edit made on one node is searched right on the other."""
from __future__ import annotations

import os
import sqlite3
import urllib.parse
from typing import List

from chat.store.search_index import SEARCH_INDEX_FILE
from tests.conftest import Api
from tests.e2e.test_cluster import barrier, connect, eventually, news, run


def indexed_rows(data_dir: str) -> int:
    path = os.path.join(data_dir, SEARCH_INDEX_FILE)
    if not os.path.exists(path):
        return 0
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM rows").fetchone()[0])
    except sqlite3.OperationalError:  # the tables are being created
        return 0
    finally:
        db.close()


async def hits(api: Api, user: str, q: str) -> List[str]:
    status, data = await api.get("/api/search?q=%s" % urllib.parse.quote(q), user)
    assert status == 200, data
    return [m["text"] for m in data["data"]]


def test_each_node_indexes_the_shared_database_and_finds_the_others_messages(cluster):
    a, b = cluster.start(2, search_index_interval=0.05, conversation_flush=0.05)

    async def main() -> None:
        api_a, api_b = Api(a.url), Api(b.url)
        conv = await api_a.conversation("t1", "group", ["st1", "st2"], title="Khmer")
        on_b = await connect(b, "st2")  # a socket on B: the barrier for what B has heard from A
        sent = []
        for i, text in enumerate(["សួស្តីលោកគ្រូ", "កិច្ចការផ្ទះគណិតវិទ្យា", "homework for Friday", "ការប្រឡងថ្ងៃស្អែក"]):
            sent.append(await api_a.send(("st1", "st2")[i % 2], conv["id"], text))
        await news(on_b, conv["id"], 4)
        await barrier(on_b)
        # once B knows of them, whatever B's index holds yet
        assert await hits(api_b, "st1", "គ្រូ") == ["សួស្តីលោកគ្រូ"]
        assert await hits(api_b, "st2", "ការ") == ["ការប្រឡងថ្ងៃស្អែក", "កិច្ចការផ្ទះគណិតវិទ្យា"]
        async def both_indexed() -> bool:
            return indexed_rows(b.data_dir) >= 4 and indexed_rows(a.data_dir) >= 4
        await eventually(both_indexed, timeout=90, what="both nodes indexed the four messages")
        assert await hits(api_b, "st1", "គ្រូ") == ["សួស្តីលោកគ្រូ"]
        assert await hits(api_b, "st2", "ការ") == ["ការប្រឡងថ្ងៃស្អែក", "កិច្ចការផ្ទះគណិតវិទ្យា"]
        # an edit through A is searched through B at once (B's index still holds the old text)
        status, _ = await api_a.patch("/api/messages/" + sent[2]["id"], "st1", {"text": "quiz on Monday"})
        assert status == 200
        assert await hits(api_b, "st1", "friday") == []
        assert await hits(api_b, "st1", "monday") == ["quiz on Monday"]
        assert await hits(api_a, "st1", "monday") == ["quiz on Monday"]
        await on_b.close()
    run(main())
