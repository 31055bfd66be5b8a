"""Oversight §2 across a two-node cluster: staff deletes through both cluster at once (each node
with its own head of the chain in memory) make one linear chain that ``audit verify`` accepts,
with every delete recorded once (tests/test_cluster.py's processes: real nx-27017, real Redis)."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pymongo
import pytest

from tests.conftest import Api, token
from tests.e2e.test_cluster import REDIS, run
from tests.e2e.test_process import ROOT

pytestmark = pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")


def test_deletes_through_two_nodes_at_once_keep_one_chain(cluster):
    a, b = cluster.start(2)
    per_node = 12

    async def main() -> None:
        api_a, api_b = Api(a.url), Api(b.url)
        conv = await api_a.conversation("t1", "class", classId="c1")
        sent = [await api_a.send("st1", conv["id"], "m%d" % i) for i in range(2 * per_node)]
        # the first delete through each node reads the head; after that each keeps its own
        deletes = [(api_a if i % 2 == 0 else api_b).delete("/api/messages/%s" % m["id"], token("t1"))
                   for i, m in enumerate(sent)]
        results = await asyncio.gather(*deletes)
        assert [status for status, _ in results] == [200] * len(sent), results
        status, body = await api_b.get("/api/audit?action=message.delete&limit=100", token("a1"))
        assert status == 200 and len(body["data"]) == len(sent), body
        assert sorted(e["target"]["messageId"] for e in body["data"]) == sorted(m["id"] for m in sent)
    run(main())
    client: pymongo.MongoClient = pymongo.MongoClient(cluster.mongo_uri, serverSelectionTimeoutMS=5000)
    try:
        seqs = [d["seq"] for d in client[cluster.db_name]["audit_log"].find({"school": "s1"}).sort("seq", 1)]
    finally:
        client.close()
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 2 * per_node + 1  # + the roster import
    verify = subprocess.run([sys.executable, "server.py", "audit", "verify", "--mongodb-uri", cluster.mongo_uri,
                             "--db-name", cluster.db_name], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.strip().splitlines()[-1] == "ok %d entries" % (2 * per_node + 2)  # s2's import too
