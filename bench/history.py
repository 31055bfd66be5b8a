#!/usr/bin/env python3
"""History benchmark (not a test): fill one conversation with 1,000,000 messages (Latin and
Khmer) and print the median and p99 of a history page at the start, middle and end, of a
send and of searches (Latin and Khmer, over the user's conversations and within one), at
1,000 messages and at the full size, through the real REST API on the embedded database.

At the full size it also prints: the search index's build time and disk cost, search
with the index beside the plain scan (``--scan-samples`` of those: the scan is slow), and
other users' sends while searches run, beside the same sends with no search running.

``--cluster`` runs the same on a two-node cluster (``bench/cluster.py``'s pieces): redis-server,
the ``db`` command (the embedded database alone on a port) and one server process, node B
(``--mongodb-uri``/``--redis-url``, pinned to CPU 0 as bench/cluster.py pins its first node);
the in-process server, node A, is a cluster node on the same database and Redis. The fill goes
through node A as without the flag; then the table is measured on node A (rows ``...@A``) and,
over HTTP, on node B (``...@B``), whose own index is built by its walk of the shared database
(node A's imported messages never reach B's feed: the case a cluster adds). One live send
through A follows each fill (:func:`nudge`), as users go on talking after an import. Before node B is
measured at a size, the script waits until B's index file marks every conversation of the
user up to its newest stored seq (read from the file, read-only, as
tests/e2e/test_search_index_cluster.py does), and prints how long after the fill that took
and the file's size. B's walk runs while the fill does (every ``search_index_interval``), as
it would in a cluster; node A's indexing pass and measurements start once B has caught up,
so neither is measured while the other indexes. The scan without index runs on node A only
(the same database queries from either node). Other users' sends go through node B while
searches run back to back on both nodes (the sends share B's process with B's searches and
the database with both nodes' searches), beside the same sends through B with no search.

    python bench/history.py [--messages 1000000] [--samples 50] [--scan-samples 3] [--cluster]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
import urllib.parse
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tornado.httpclient  # noqa: E402
import tornado.httpserver  # noqa: E402

from bench.cluster import Deployment  # noqa: E402
from bench.common import summary_ms  # noqa: E402
from bench.realtime import SECRET  # noqa: E402
from chat.auth import mint_token  # noqa: E402
from chat.ops.embedded import EmbeddedMongo, free_port  # noqa: E402
from chat.ops.roster import import_roster  # noqa: E402
from chat.rules.validation import NewConversation  # noqa: E402
from chat.runtime import build_runtime  # noqa: E402
from chat.settings import Settings  # noqa: E402
from chat.store import new_id  # noqa: E402
from chat.store.search_index import SEARCH_INDEX_FILE  # noqa: E402
from chat.timeutil import now_ms  # noqa: E402
from handlers.routes import make_app  # noqa: E402

WORDS = "alpha beta gamma delta homework maths essay quiz lesson project reading science art".split()
KHMER = ["កិច្ចការផ្ទះ", "គណិតវិទ្យា", "សៀវភៅ", "ថ្ងៃស្អែក", "ការប្រឡង", "សាលារៀន", "គ្រូបង្រៀន"]
#: (label, query): a common word, a rare one (only the oldest messages hold it: a scan reads
#: everything), Khmer inside words written without spaces
QUERIES = [("search-latin", "homework"), ("search-rare", "message 7 about"),
           ("search-khmer", "ប្រឡង"), ("search-khmer-rare", "ស្អែក 2 gamma")]


async def fill(rt, conv_id: str, upto: int, have: int) -> int:
    """Import messages ``have+1 .. upto`` (the client ids carry the conversation: one sender's
    ids are unique across conversations)."""
    batch = 2000
    while have < upto:
        n = min(batch, upto - have)
        docs = []
        for i in range(have, have + n):
            sender = "u1" if i % 2 else "u2"
            if i % 3 == 2:  # a third in Khmer, words run together as Khmer is written
                text = "%s%s %d %s" % (KHMER[i % len(KHMER)], KHMER[(i * 5) % len(KHMER)], i, WORDS[i % len(WORDS)])
            else:
                text = "message %d about %s and %s" % (i, WORDS[i % len(WORDS)], WORDS[(i * 7) % len(WORDS)])
            docs.append({"id": new_id(), "senderId": sender, "senderName": sender, "type": "text", "text": text,
                         "attachments": [], "replyTo": None, "clientMsgId": "fill-%s-%d" % (conv_id, i),
                         "createdAt": now_ms(), "editedAt": None, "deletedAt": None})
        await rt.service.messages.import_history(conv_id, docs)
        have += n
    return have


async def measure(client, base: str, tok: str, conv_id: str, size: int, samples: int) -> dict:
    headers = {"Authorization": "Bearer " + tok}

    async def timed(method: str, path: str, body=None) -> float:
        t0 = time.perf_counter()
        resp = await client.fetch(base + path, method=method, headers=headers, body=body, raise_error=True)
        elapsed = time.perf_counter() - t0
        assert resp.code in (200, 201)
        return elapsed

    out = {}
    for label, query in (("page@start", "after=0&limit=50"), ("page@middle", "before=%d&limit=50" % (size // 2)),
                         ("page@end", "limit=50")):
        out[label] = summary_ms([await timed("GET", "/api/conversations/%s/messages?%s" % (conv_id, query))
                                 for _ in range(samples)])
    out["send"] = summary_ms([await timed("POST", "/api/conversations/%s/messages" % conv_id,
                                          json.dumps({"text": "bench send"})) for _ in range(samples)])
    for label, q in QUERIES:
        path = "/api/search?q=%s&limit=20" % urllib.parse.quote(q)
        out[label] = summary_ms([await timed("GET", path) for _ in range(max(5, samples // 2))])
        out[label + "@conv"] = summary_ms([await timed("GET", path + "&conversationId=" + conv_id)
                                           for _ in range(max(5, samples // 2))])
    return out


async def sends_p99(client, base: str, tok: str, conv_id: str, samples: int) -> dict:
    headers = {"Authorization": "Bearer " + tok}
    times = []
    for i in range(samples):
        t0 = time.perf_counter()
        await client.fetch(base + "/api/conversations/%s/messages" % conv_id, method="POST", headers=headers,
                           body=json.dumps({"text": "other school send %d" % i}), raise_error=True)
        times.append(time.perf_counter() - t0)
    return summary_ms(times)


async def searching(client, base: str, tok: str, stop: asyncio.Event) -> int:
    headers = {"Authorization": "Bearer " + tok}
    n = 0
    while not stop.is_set():
        for _label, q in QUERIES:
            await client.fetch(base + "/api/search?q=%s&limit=20" % urllib.parse.quote(q), headers=headers,
                               raise_error=True)
            n += 1
    return n


def index_marks(path: str, conversation_ids: List[str]) -> Dict[str, int]:
    """The marks of another process's search index file (read-only; {} while it has none)."""
    if not os.path.exists(path):
        return {}
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        found = db.execute("SELECT conv, seq FROM marks WHERE conv IN (%s)" % ",".join("?" * len(conversation_ids)),
                           conversation_ids)
        return {str(c): int(seq) for c, seq in found}
    except sqlite3.OperationalError:  # the tables are being created
        return {}
    finally:
        db.close()


def index_file(path: str) -> Dict[str, int]:
    """Another process's index file: bytes on disk (with its WAL) and rows."""
    size = sum(os.path.getsize(path + suffix) for suffix in ("", "-wal") if os.path.exists(path + suffix))
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        rows = int(db.execute("SELECT count(*) FROM rows").fetchone()[0])
    finally:
        db.close()
    return {"bytes": size, "rows": rows}


async def caught_up(rt, deployment: Deployment, path: str, conversation_ids: List[str], timeout: float) -> float:
    """Wait until the index at ``path`` marks each conversation up to its newest stored seq;
    returns the seconds waited."""
    await rt.service.flush()
    targets = {}
    for c in conversation_ids:
        newest = await rt.store.messages.history(c, None, None, 1)
        targets[c] = int(newest[-1]["seq"]) if newest else 0
    t0 = time.perf_counter()
    while True:
        marks = await asyncio.to_thread(index_marks, path, conversation_ids)
        if all(marks.get(c, 0) >= seq for c, seq in targets.items()):
            return time.perf_counter() - t0
        gone = [p.args for p in deployment.procs if p.poll() is not None]
        if gone:
            raise SystemExit("a process of the cluster exited: %s" % gone)
        if time.perf_counter() - t0 > timeout:
            behind = {c: (marks.get(c, 0), seq) for c, seq in targets.items() if marks.get(c, 0) < seq}
            raise SystemExit("node B's index did not catch up in %.0fs: (mark, newest) %s" % (timeout, behind))
        await asyncio.sleep(0.2)


async def nudge(client, base: str, tok: str, conversation_ids: List[str]) -> None:
    """One live send into each conversation (with --cluster), as users would go on talking after
    an import."""
    for c in conversation_ids:
        await client.fetch(base + "/api/conversations/%s/messages" % c, method="POST", raise_error=True,
                           headers={"Authorization": "Bearer " + tok}, body=json.dumps({"text": "bench send"}))


def labelled(rows: Dict[str, dict], node: str) -> Dict[str, dict]:
    return {"%s@%s" % (label, node): row for label, row in rows.items()}


async def main(args: argparse.Namespace) -> None:
    deployment: Optional[Deployment] = None
    mongo: Optional[EmbeddedMongo] = None
    if args.cluster:
        # node B: generous limits (the sends of the measurement are back to back); the same
        # database name and JWT secret as node A's settings below
        deployment = Deployment(1, env={"CHAT_RATE_MESSAGES": "100000", "CHAT_RATE_MESSAGES_BURST": "100000",
                                        "CHAT_DB_NAME": "bench"})
    try:
        if deployment is not None:
            tmp = os.path.join(deployment.tmp, "nodeA")
            settings = Settings(data_dir=tmp, jwt_secret=SECRET, db_name="bench", rate_messages_burst=100000,
                                rate_messages=100000, redis_url=deployment.redis_url)
            rt = build_runtime(settings, deployment.mongo_uri)
            await rt.broker.start()
            await rt.presence_backend.start()
        else:
            tmp = tempfile.mkdtemp(prefix="chat-bench-")
            mongo = EmbeddedMongo(tmp, write_state=False)
            mongo.start()
            settings = Settings(data_dir=tmp, jwt_secret="bench-secret-bench-secret-bench-secret", db_name="bench",
                                rate_messages_burst=100000, rate_messages=100000)
            rt = build_runtime(settings, mongo.uri, mongo)
        try:
            await run(args, rt, settings, deployment)
        finally:
            if deployment is not None:
                await rt.presence_backend.close()
                await rt.broker.close()
    finally:
        if mongo is not None:
            mongo.stop()
        if deployment is not None:
            deployment.stop()


async def run(args: argparse.Namespace, rt, settings: Settings, deployment: Optional[Deployment]) -> None:
    cluster = deployment is not None
    await rt.store.ensure_indexes()
    people = [{"id": u, "name": u.upper(), "role": "student", "school": "s"} for u in ("u1", "u2", "u3", "u4")]
    await import_roster(rt.store, people, [])
    ident = rt.verifier.verify(mint_token(settings, "u1", "student", "s"))
    conv, _ = await rt.service.conversations.create(ident, NewConversation("group", ["u2"], "Bench", None))
    small = []  # the user's other conversations: a search covers all of them
    for k in range(10):
        c, _ = await rt.service.conversations.create(ident, NewConversation("group", ["u2"], "Small %d" % k, None))
        await fill(rt, c["id"], 300, 0)
        small.append(c)
    others_ident = rt.verifier.verify(mint_token(settings, "u3", "student", "s"))
    others, _ = await rt.service.conversations.create(others_ident, NewConversation("group", ["u4"], "Others",
                                                                                     None))
    port = free_port()
    server = tornado.httpserver.HTTPServer(make_app(rt))
    server.listen(port, "127.0.0.1")
    client = tornado.httpclient.AsyncHTTPClient()
    base = "http://127.0.0.1:%d" % port
    tok = mint_token(settings, "u1", "student", "s", "U1")
    tok3 = mint_token(settings, "u3", "student", "s", "U3")
    indexer, index = rt.service.search_indexer, rt.service.search_index
    # node B (with --cluster): its URL, its index file, the conversations a search of u1 covers
    base_b = deployment.urls[0] if deployment is not None else ""
    index_b = os.path.join(deployment.data_dirs[0], SEARCH_INDEX_FILE) if deployment is not None else ""
    searched_ids = [conv["id"]] + [c["id"] for c in small]
    catch_up: Dict[int, dict] = {}
    results = {}
    have = 0
    for size in (1000, args.messages):
        t0 = time.perf_counter()
        have = await fill(rt, conv["id"], size, have)
        print("filled to %d messages in %.1fs" % (have, time.perf_counter() - t0), file=sys.stderr)
        if cluster:
            await nudge(client, base, tok, searched_ids if size == 1000 else [conv["id"]])
        await rt.service.flush()
        if deployment is not None:
            waited = await caught_up(rt, deployment, index_b, searched_ids, args.catch_up_timeout)
            catch_up[size] = dict(index_file(index_b), seconds=round(waited, 2))
            print("node B's index caught up %.1fs after the fill (its walk ran alongside, every %ss); index "
                  "%.1f MB on disk for %d rows" % (waited, settings.search_index_interval,
                                                   catch_up[size]["bytes"] / 1e6, catch_up[size]["rows"]),
                  file=sys.stderr)
        t0 = time.perf_counter()
        indexed = await indexer.run_once()
        took = time.perf_counter() - t0
        print("indexed %d texts in %.1fs (%.0f/s); index %.1f MB on disk for %d rows" % (
            indexed, took, indexed / max(took, 1e-9), await index.size_bytes() / 1e6, await index.rows()),
            file=sys.stderr)
        if deployment is None:
            results[size] = await measure(client, base, tok, conv["id"], have, args.samples)
        else:
            results[size] = labelled(await measure(client, base, tok, conv["id"], have, args.samples), "A")
            # node A's sends of its measurement: B's walk reads them before B is measured
            waited = await caught_up(rt, deployment, index_b, searched_ids, args.catch_up_timeout)
            print("node B's index caught up with node A's sends in %.1fs" % waited, file=sys.stderr)
            results[size].update(labelled(await measure(client, base_b, tok, conv["id"], have, args.samples),
                                          "B"))
        have = (await rt.store.conversations.get(conv["id"]))["lastSeq"]
    width = 26 if cluster else 22
    print("%-*s %10s %9s %9s %9s %9s" % (width, "operation", "messages", "p50 ms", "p95 ms", "p99 ms", "max ms"))
    for size, rows in results.items():
        for label, row in rows.items():
            print("%-*s %10d %9.2f %9.2f %9.2f %9.2f" % (width, label, size, row["p50"], row["p95"], row["p99"],
                                                       row["max"]))
    low, high = results[1000], results[args.messages]
    ratio = {k: round(high[k]["p50"] / low[k]["p50"], 2) for k in low if low[k]["p50"]}
    print("ratio p50 at %d vs 1000: %s" % (args.messages, ratio))
    # the plain scan on the same data, for comparison (slow at this size: few samples)
    searcher = rt.service.searcher
    searcher.index = None
    scan = {}
    for label, q in QUERIES:
        headers = {"Authorization": "Bearer " + tok}
        times = []
        for _ in range(args.scan_samples):
            t0 = time.perf_counter()
            await client.fetch(base + "/api/search?q=%s&limit=20" % urllib.parse.quote(q), headers=headers,
                               raise_error=True, request_timeout=600)
            times.append(time.perf_counter() - t0)
        key = label + ("@A" if cluster else "")
        scan[key] = summary_ms(times)
        print("%-*s %10d %9.2f %9s %9s %9.2f   (no index: the scan)" % (
            width, label + "/scan" + ("@A" if cluster else ""), args.messages, scan[key]["p50"], "", "",
            scan[key]["max"]))
    searcher.index = index
    # other users' sends while searches run, beside the same sends alone (in a cluster: the
    # sends through node B, the searches on both nodes)
    send_base = base_b if cluster else base
    if cluster:
        await nudge(client, send_base, tok3, [others["id"]])  # B's first send there loads its state: not timed
    alone = await sends_p99(client, send_base, tok3, others["id"], args.samples * 4)
    stop = asyncio.Event()
    loads = [asyncio.ensure_future(searching(client, b, tok, stop)) for b in ([base, base_b] if cluster else [base])]
    during = await sends_p99(client, send_base, tok3, others["id"], args.samples * 4)
    stop.set()
    counts = [await load for load in loads]
    searched = sum(counts)
    if not cluster:
        print("other users' sends: alone p50 %.2f p99 %.2f ms; during %d searches p50 %.2f p99 %.2f ms" % (
            alone["p50"], alone["p99"], searched, during["p50"], during["p99"]))
    else:
        print("other users' sends@B: alone p50 %.2f p99 %.2f ms; during %d searches (%d on A, %d on B) "
              "p50 %.2f p99 %.2f ms" % (alone["p50"], alone["p99"], searched, counts[0], counts[1],
                                         during["p50"], during["p99"]))
    out = {"bench": "history", "results": {str(k): v for k, v in results.items()}, "ratio": ratio,
           "scan": scan, "sends_alone": alone, "sends_during_search": during,
           "index_bytes": await index.size_bytes()}
    if cluster:
        out.update(cluster=True, sends_node="B", searches_during={"A": counts[0], "B": counts[1]},
                   index_b={str(k): v for k, v in catch_up.items()}, index_b_final=index_file(index_b))
    print(json.dumps(out))
    server.stop()
    await index.close()
    rt.store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000000)
    parser.add_argument("--scan-samples", type=int, default=3)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--cluster", action="store_true",
                        help="node A (in-process) and node B (a server process) on the db command and Redis; "
                             "the table measured on both")
    parser.add_argument("--catch-up-timeout", type=float, default=3600,
                        help="seconds to wait for node B's index to catch up (with --cluster)")
    asyncio.run(main(parser.parse_args()))
