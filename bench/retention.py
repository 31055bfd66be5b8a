#!/usr/bin/env python3
"""Retention sweep benchmark (not a test): does a sweep slow other schools' sends?

One server on the embedded nx-27017 with two schools: ``old`` holds ``--messages`` messages
dated two days ago in ``--conversations`` conversations and keeps messages one day; ``s``
sends through the real REST API. The same run measures the send p50/p99 of ``s`` first with
no sweep, then while sweeps run back to back over ``old`` (its messages becoming tombstones),
and prints both rows and how many messages the sweeps purged meanwhile. Asserts nothing.

    python bench/retention.py [--messages 20000] [--conversations 20] [--samples 400]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from typing import List

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

DAY_MS = 86_400_000


async def main(messages: int, conversations: int, samples: int) -> None:
    tmp = tempfile.mkdtemp(prefix="chat-bench-")
    mongo = EmbeddedMongo(tmp, write_state=False)
    mongo.start()
    try:
        settings = Settings(data_dir=tmp, jwt_secret="bench-secret-bench-secret-bench-secret", db_name="bench",
                            rate_messages=100000, rate_messages_burst=100000, retention_sweep_interval=0)
        rt = build_runtime(settings, mongo.uri, mongo)
        await rt.store.ensure_indexes()
        users = [{"id": "u1", "name": "U1", "role": "student", "school": "s"},
                 {"id": "u2", "name": "U2", "role": "student", "school": "s"},
                 {"id": "o1", "name": "O1", "role": "student", "school": "old"},
                 {"id": "o2", "name": "O2", "role": "student", "school": "old"},
                 {"id": "oa", "name": "OA", "role": "admin", "school": "old"}]
        await import_roster(rt.store, users, [])
        sender = rt.verifier.verify(mint_token(settings, "u1", "student", "s"))
        old_member = rt.verifier.verify(mint_token(settings, "o1", "student", "old"))
        old_admin = rt.verifier.verify(mint_token(settings, "oa", "admin", "old"))
        conv, _ = await rt.service.conversations.create(sender, NewConversation("group", ["u2"], "Bench", None))
        per = max(1, messages // conversations)
        dated = now_ms() - 2 * DAY_MS
        t0 = time.perf_counter()
        for c in range(conversations):
            old, _ = await rt.service.conversations.create(old_member, NewConversation("group", ["o2"], "Old %d" % c,
                                                                                        None))
            for start in range(0, per, 2000):
                docs = [{"id": new_id(), "senderId": "o1", "senderName": "O1", "type": "text",
                         "text": "old message %d" % i, "attachments": [], "replyTo": None,
                         "clientMsgId": "old-%d-%d" % (c, i), "createdAt": dated + i, "editedAt": None,
                         "deletedAt": None} for i in range(start, min(per, start + 2000))]
                await rt.service.messages.import_history(old["id"], docs)
        print("seeded %d old messages in %d conversations in %.1f s" % (per * conversations, conversations,
                                                                        time.perf_counter() - t0))
        await rt.service.retention.put(old_admin, "old", {"messages": {"retentionDays": 1}})

        port = free_port()
        server = tornado.httpserver.HTTPServer(make_app(rt))
        server.listen(port, "127.0.0.1")
        client = tornado.httpclient.AsyncHTTPClient()
        base = "http://127.0.0.1:%d" % port
        headers = {"Authorization": "Bearer " + mint_token(settings, "u1", "student", "s", "U1")}

        async def run() -> List[float]:
            took = []
            for k in range(samples):
                body = json.dumps({"text": "hello %d" % k})
                t0 = time.perf_counter()
                await client.fetch(base + "/api/conversations/%s/messages" % conv["id"], method="POST",
                                   headers=headers, body=body, raise_error=True)
                took.append(time.perf_counter() - t0)
            return took

        await run()  # warm up
        quiet = summary_ms(await run())
        sweeper = rt.service.retention_sweeper
        registry = rt.metrics.registry

        def purged_so_far() -> float:
            return registry.get_sample_value("chat_retention_deleted_total", {"kind": "message"}) or 0.0
        purged_before = purged_so_far()
        stop = asyncio.Event()

        async def sweeping() -> int:
            passes = 0
            while not stop.is_set():
                await sweeper.run_once()
                passes += 1
            return passes

        task = asyncio.ensure_future(sweeping())
        busy = summary_ms(await run())
        stop.set()
        passes = await task
        purged = int(purged_so_far() - purged_before)
        for label, row in (("send, no sweep", quiet), ("send, sweep running", busy)):
            print("%-20s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms" % (label, row["p50"], row["p99"], row["max"]))
        print("meanwhile %d sweeps (batch %d, %d batches each) purged %d messages of the other school"
              % (passes, settings.retention_batch, settings.retention_tick_batches, purged))
        server.stop()
        await rt.close()
        rt.store.close()
    finally:
        mongo.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--samples", type=int, default=400)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.messages, arguments.conversations, arguments.samples))
