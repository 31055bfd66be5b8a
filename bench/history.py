#!/usr/bin/env python3
"""History benchmark (not a test): fill one conversation with 1,000,000 messages (Latin and
Khmer) and print the median and p99 of a history page at the start, middle and end, of a
send and of searches (Latin and Khmer, over the user's conversations and within one), at
1,000 messages and at the full size, through the real REST API on the embedded database.

At the full size it also prints: the search index's build time and disk cost, search
with the index beside the plain scan (``--scan-samples`` of those: the scan is slow), and
other users' sends while searches run, beside the same sends with no search running.

    python bench/history.py [--messages 1000000] [--samples 50] [--scan-samples 3]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tornado.httpclient  # noqa: E402
import tornado.httpserver  # noqa: E402

from bench.common import summary_ms  # noqa: E402
from chat.auth import mint_token  # noqa: E402
from chat.ops.embedded import EmbeddedMongo, free_port  # noqa: E402
from chat.ops.roster import import_roster  # noqa: E402
from chat.rules.validation import NewConversation  # noqa: E402
from chat.runtime import build_runtime  # noqa: E402
from chat.settings import Settings  # noqa: E402
from chat.store import new_id  # noqa: E402
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


async def main(args: argparse.Namespace) -> None:
    tmp = tempfile.mkdtemp(prefix="chat-bench-")
    mongo = EmbeddedMongo(tmp, write_state=False)
    mongo.start()
    try:
        settings = Settings(data_dir=tmp, jwt_secret="bench-secret-bench-secret-bench-secret", db_name="bench",
                            rate_messages_burst=100000, rate_messages=100000)
        rt = build_runtime(settings, mongo.uri, mongo)
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
        results = {}
        have = 0
        for size in (1000, args.messages):
            t0 = time.perf_counter()
            have = await fill(rt, conv["id"], size, have)
            print("filled to %d messages in %.1fs" % (have, time.perf_counter() - t0), file=sys.stderr)
            await rt.service.flush()
            t0 = time.perf_counter()
            indexed = await indexer.run_once()
            took = time.perf_counter() - t0
            print("indexed %d texts in %.1fs (%.0f/s); index %.1f MB on disk for %d rows" % (
                indexed, took, indexed / max(took, 1e-9), await index.size_bytes() / 1e6, await index.rows()),
                file=sys.stderr)
            results[size] = await measure(client, base, tok, conv["id"], have, args.samples)
            have = (await rt.store.conversations.get(conv["id"]))["lastSeq"]
        print("%-22s %10s %9s %9s %9s %9s" % ("operation", "messages", "p50 ms", "p95 ms", "p99 ms", "max ms"))
        for size, rows in results.items():
            for label, row in rows.items():
                print("%-22s %10d %9.2f %9.2f %9.2f %9.2f" % (label, size, row["p50"], row["p95"], row["p99"],
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
            scan[label] = summary_ms(times)
            print("%-22s %10d %9.2f %9s %9s %9.2f   (no index: the scan)" % (
                label + "/scan", args.messages, scan[label]["p50"], "", "", scan[label]["max"]))
        searcher.index = index
        # other users' sends while searches run, beside the same sends alone
        alone = await sends_p99(client, base, tok3, others["id"], args.samples * 4)
        stop = asyncio.Event()
        load = asyncio.ensure_future(searching(client, base, tok, stop))
        during = await sends_p99(client, base, tok3, others["id"], args.samples * 4)
        stop.set()
        searched = await load
        print("other users' sends: alone p50 %.2f p99 %.2f ms; during %d searches p50 %.2f p99 %.2f ms" % (
            alone["p50"], alone["p99"], searched, during["p50"], during["p99"]))
        print(json.dumps({"bench": "history", "results": {str(k): v for k, v in results.items()}, "ratio": ratio,
                          "scan": scan, "sends_alone": alone, "sends_during_search": during,
                          "index_bytes": await index.size_bytes()}))
        server.stop()
        await index.close()
        rt.store.close()
    finally:
        mongo.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000000)
    parser.add_argument("--scan-samples", type=int, default=3)
    parser.add_argument("--samples", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
