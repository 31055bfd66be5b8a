#!/usr/bin/env python3
"""History benchmark (not a test): fill one conversation with 100,000 messages and print the
median and p99 of a history page at the start, middle and end, of a send and of a search,
at 1,000 messages and at 100,000, through the real REST API on the embedded database.

    python bench/history.py [--messages 100000] [--samples 50]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time

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


async def fill(rt, conv_id: str, upto: int, have: int) -> int:
    batch = 2000
    while have < upto:
        n = min(batch, upto - have)
        docs = []
        for i in range(have, have + n):
            sender = "u1" if i % 2 else "u2"
            text = "message %d about %s and %s" % (i, WORDS[i % len(WORDS)], WORDS[(i * 7) % len(WORDS)])
            docs.append({"id": new_id(), "senderId": sender, "senderName": sender, "type": "text", "text": text,
                         "attachments": [], "replyTo": None, "clientMsgId": "fill-%d" % i,
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
    out["search"] = summary_ms([await timed("GET", "/api/search?q=homework&limit=20&conversationId=" + conv_id)
                                for _ in range(max(5, samples // 5))])
    # worst case: only the oldest message matches, so every chunk of the conversation is scanned
    out["search-rare"] = summary_ms([await timed("GET", "/api/search?q=message%200%20about&limit=20")
                                     for _ in range(5)])
    return out


async def main(args: argparse.Namespace) -> None:
    tmp = tempfile.mkdtemp(prefix="chat-bench-")
    mongo = EmbeddedMongo(tmp, write_state=False)
    mongo.start()
    try:
        settings = Settings(data_dir=tmp, jwt_secret="bench-secret-bench-secret-bench-secret", db_name="bench")
        rt = build_runtime(settings, mongo.uri, mongo)
        await rt.store.ensure_indexes()
        await import_roster(rt.store, [{"id": "u1", "name": "U1", "role": "student", "school": "s"},
                                       {"id": "u2", "name": "U2", "role": "student", "school": "s"}], [])
        ident = rt.verifier.verify(mint_token(settings, "u1", "student", "s"))
        conv, _ = await rt.service.conversations.create(ident, NewConversation("group", ["u2"], "Bench", None))
        port = free_port()
        server = tornado.httpserver.HTTPServer(make_app(rt))
        server.listen(port, "127.0.0.1")
        client = tornado.httpclient.AsyncHTTPClient()
        base = "http://127.0.0.1:%d" % port
        tok = mint_token(settings, "u1", "student", "s", "U1")
        results = {}
        have = 0
        for size in (1000, args.messages):
            t0 = time.perf_counter()
            have = await fill(rt, conv["id"], size, have)
            print("filled to %d messages in %.1fs" % (have, time.perf_counter() - t0), file=sys.stderr)
            results[size] = await measure(client, base, tok, conv["id"], have, args.samples)
            have = (await rt.store.conversations.get(conv["id"]))["lastSeq"]
        print("%-12s %10s %9s %9s %9s %9s" % ("operation", "messages", "p50 ms", "p95 ms", "p99 ms", "max ms"))
        for size, rows in results.items():
            for label, row in rows.items():
                print("%-12s %10d %9.2f %9.2f %9.2f %9.2f" % (label, size, row["p50"], row["p95"], row["p99"],
                                                            row["max"]))
        small, large = results[1000], results[args.messages]
        ratio = {k: round(large[k]["p50"] / small[k]["p50"], 2) for k in small if small[k]["p50"]}
        print("ratio p50 at %d vs 1000: %s" % (args.messages, ratio))
        print(json.dumps({"bench": "history", "results": {str(k): v for k, v in results.items()}, "ratio": ratio}))
        server.stop()
        rt.store.close()
    finally:
        mongo.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100000)
    parser.add_argument("--samples", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
