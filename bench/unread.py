#!/usr/bin/env python3
"""First-count benchmark (not a test): one user has a conversation of N unread messages it has
never counted; 20 of its requests ask for the count at once (``GET /api/unread``, then, with
the counter reset, ``GET /api/conversations``) while a user of another school sends one
message after another. Prints the first-count time and the other school's send latency, and
the send latency with nothing else running, through the real REST API on the embedded database.

    python bench/unread.py [--messages 20000] [--concurrent 20]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from typing import Dict, List

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
from chat.store.docs import membership_id  # noqa: E402
from chat.timeutil import now_ms  # noqa: E402
from handlers.routes import make_app  # noqa: E402

SECRET = "bench-secret-bench-secret-bench-secret"


async def fill(rt, conv_id: str, count: int) -> None:
    """``count`` messages from u2 (all unread for u1), stored directly in slices."""
    have = 0
    while have < count:
        n = min(2000, count - have)
        await rt.service.messages.import_history(conv_id, [
            {"id": new_id(), "senderId": "u2", "senderName": "U2", "type": "text", "text": "message %d" % i,
             "attachments": [], "replyTo": None, "clientMsgId": "fill-%d" % i, "createdAt": now_ms(),
             "editedAt": None, "deletedAt": None} for i in range(have, have + n)])
        have += n


async def forget_count(rt, conv_id: str) -> None:
    """Make u1's next count a first count again (as after an upgrade or an import)."""
    members = rt.store.conversations.memberships
    await rt.store.db.io(lambda: members.update_one(
        {"_id": membership_id(conv_id, "u1")},
        {"$set": {"unread": 0, "unreadMentions": 0, "unreadSeq": 0, "unreadFrom": 0}}))


async def round_(client, base: str, path: str, reader: str, sender: str, other_conv: str, concurrent: int
                 ) -> Dict[str, object]:
    """``concurrent`` first counts at once while ``sender`` keeps sending; returns the figures."""
    done = asyncio.Event()
    sends: List[float] = []

    async def send_loop() -> None:
        body = json.dumps({"text": "other school"})
        while not done.is_set():
            t0 = time.perf_counter()
            await client.fetch(base + "/api/conversations/%s/messages" % other_conv, method="POST", body=body,
                               headers={"Authorization": "Bearer " + sender})
            sends.append(time.perf_counter() - t0)

    async def count() -> float:
        t0 = time.perf_counter()
        resp = await client.fetch(base + path, headers={"Authorization": "Bearer " + reader},
                                  request_timeout=600)
        assert resp.code == 200
        return time.perf_counter() - t0

    sender_task = asyncio.ensure_future(send_loop())
    t0 = time.perf_counter()
    counts = await asyncio.gather(*(count() for _ in range(concurrent)))
    wall = time.perf_counter() - t0
    done.set()
    await sender_task
    return {"wall_s": round(wall, 2), "count": summary_ms(counts), "send": summary_ms(sends), "sends": len(sends)}


async def main(args: argparse.Namespace) -> None:
    tmp = tempfile.mkdtemp(prefix="chat-bench-")
    mongo = EmbeddedMongo(tmp, write_state=False)
    mongo.start()
    try:
        settings = Settings(data_dir=tmp, jwt_secret=SECRET, db_name="bench", db_timeout_ms=60000,
                            rate_messages=1e6, rate_messages_burst=1e6)  # the sender sends back to back
        rt = build_runtime(settings, mongo.uri, mongo)
        await rt.store.ensure_indexes()
        await import_roster(rt.store, [{"id": "u1", "name": "U1", "role": "student", "school": "s"},
                                       {"id": "u2", "name": "U2", "role": "student", "school": "s"},
                                       {"id": "v1", "name": "V1", "role": "student", "school": "t"},
                                       {"id": "v2", "name": "V2", "role": "student", "school": "t"}], [])
        u1 = rt.verifier.verify(mint_token(settings, "u1", "student", "s"))
        v1 = rt.verifier.verify(mint_token(settings, "v1", "student", "t"))
        conv, _ = await rt.service.conversations.create(u1, NewConversation("direct", ["u2"], None, None))
        other, _ = await rt.service.conversations.create(v1, NewConversation("direct", ["v2"], None, None))
        t0 = time.perf_counter()
        await fill(rt, conv["id"], args.messages)
        print("filled %d messages in %.1fs" % (args.messages, time.perf_counter() - t0), file=sys.stderr)
        port = free_port()
        server = tornado.httpserver.HTTPServer(make_app(rt))
        server.listen(port, "127.0.0.1")
        tornado.httpclient.AsyncHTTPClient.configure(None, max_clients=args.concurrent + 4)
        client = tornado.httpclient.AsyncHTTPClient()
        base = "http://127.0.0.1:%d" % port
        reader = mint_token(settings, "u1", "student", "s", "U1")
        sender = mint_token(settings, "v1", "student", "t", "V1")
        idle = []
        for _ in range(30):
            t0 = time.perf_counter()
            await client.fetch(base + "/api/conversations/%s/messages" % other["id"], method="POST",
                               body=json.dumps({"text": "idle"}), headers={"Authorization": "Bearer " + sender})
            idle.append(time.perf_counter() - t0)
        results: Dict[str, object] = {"send_idle": summary_ms(idle)}
        for path in ("/api/unread", "/api/conversations"):
            await forget_count(rt, conv["id"])
            results[path] = await round_(client, base, path, reader, sender, other["id"], args.concurrent)
        print("send alone: p50 %.1f ms, max %.1f ms" % (results["send_idle"]["p50"],  # type: ignore[index]
                                                         results["send_idle"]["max"]))  # type: ignore[index]
        for path in ("/api/unread", "/api/conversations"):
            r = results[path]
            print("%d x first %s over %d messages: each p50 %.0f ms, max %.0f ms (all in %.2f s); "
                  "other school's send meanwhile: p50 %.1f ms, max %.1f ms (%d sends)"
                  % (args.concurrent, path, args.messages, r["count"]["p50"], r["count"]["max"],  # type: ignore
                     r["wall_s"], r["send"]["p50"], r["send"]["max"], r["sends"]))  # type: ignore
        print(json.dumps({"bench": "unread", "messages": args.messages, "concurrent": args.concurrent,
                          "results": results}))
        server.stop()
        rt.store.close()
    finally:
        mongo.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--concurrent", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
