#!/usr/bin/env python3
"""Webhook benchmark (not a test): what do webhooks cost a send, and does a hanging LMS slow
anyone down?

One server on the embedded nx-27017; REST sends of one school, p50/p99, in three rows of the
same run: no webhooks; two webhooks subscribed to ``message.created`` answering 200 at once
(a local receiver); the same plus a third whose endpoint never answers. For the last row it
prints how many deliveries the answering webhooks received meanwhile and how long after its
send the last one arrived. Asserts nothing.

    python bench/webhooks.py [--samples 400]
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
import tornado.web  # noqa: E402

from bench.common import summary_ms  # noqa: E402
from chat.auth import mint_token  # noqa: E402
from chat.ops.embedded import EmbeddedMongo, free_port  # noqa: E402
from chat.ops.roster import import_roster  # noqa: E402
from chat.rules.validation import NewConversation  # noqa: E402
from chat.runtime import build_runtime  # noqa: E402
from chat.settings import Settings  # noqa: E402
from handlers.routes import make_app  # noqa: E402


class _Receiver(tornado.web.RequestHandler):
    def initialize(self, seen: Dict[str, float], never: asyncio.Event) -> None:
        self.seen = seen
        self.never = never

    async def post(self, kind: str) -> None:
        if kind == "hang":
            await self.never.wait()
        self.seen[json.loads(self.request.body)["data"]["messageId"] + kind] = time.perf_counter()
        self.finish("ok")


async def main(samples: int) -> None:
    tmp = tempfile.mkdtemp(prefix="chat-bench-")
    mongo = EmbeddedMongo(tmp, write_state=False)
    mongo.start()
    never = asyncio.Event()
    try:
        settings = Settings(data_dir=tmp, jwt_secret="bench-secret-bench-secret-bench-secret", db_name="bench",
                            rate_messages=100000, rate_messages_burst=100000, webhook_allow_private=True,
                            webhook_timeout=600.0)
        rt = build_runtime(settings, mongo.uri, mongo)
        await rt.store.ensure_indexes()
        await rt.service.webhook_dispatcher.start()
        users = [{"id": "u1", "name": "U1", "role": "teacher", "school": "s"},
                 {"id": "u2", "name": "U2", "role": "teacher", "school": "s"},
                 {"id": "a1", "name": "A1", "role": "admin", "school": "s"}]
        await import_roster(rt.store, users, [])
        sender = rt.verifier.verify(mint_token(settings, "u1", "teacher", "s"))
        admin = rt.verifier.verify(mint_token(settings, "a1", "admin", "s"))
        conv, _ = await rt.service.conversations.create(sender, NewConversation("group", ["u2"], "Bench", None))
        seen: Dict[str, float] = {}
        hook_port = free_port()
        hooks = tornado.httpserver.HTTPServer(tornado.web.Application(
            [(r"/(ok|ok2|hang)", _Receiver, {"seen": seen, "never": never})]))
        hooks.listen(hook_port, "127.0.0.1")
        port = free_port()
        server = tornado.httpserver.HTTPServer(make_app(rt))
        server.listen(port, "127.0.0.1")
        client = tornado.httpclient.AsyncHTTPClient()
        base = "http://127.0.0.1:%d" % port
        headers = {"Authorization": "Bearer " + mint_token(settings, "u1", "teacher", "s", "U1")}

        async def run() -> List[float]:
            took = []
            sent.clear()
            for k in range(samples):
                body = json.dumps({"text": "hello %d" % k})
                t0 = time.perf_counter()
                resp = await client.fetch(base + "/api/conversations/%s/messages" % conv["id"], method="POST",
                                          headers=headers, body=body, raise_error=True)
                took.append(time.perf_counter() - t0)
                sent[json.loads(resp.body)["data"]["id"]] = time.perf_counter()
            return took

        async def add(kind: str) -> None:
            from chat.rules.notify_input import parse_webhook
            spec = parse_webhook({"url": "http://127.0.0.1:%d/%s" % (hook_port, kind),
                                  "events": ["message.created"]}, creating=True)
            await rt.service.webhooks.create(admin, spec)

        sent: Dict[str, float] = {}
        await run()  # warm up
        rows = [("send, no webhooks", summary_ms(await run()))]
        await add("ok")
        await add("ok2")
        rows.append(("send, 2 webhooks", summary_ms(await run())))
        await add("hang")
        rows.append(("send, 2 + 1 hanging", summary_ms(await run())))
        wanted = {m + k for m in sent for k in ("ok", "ok2")}
        deadline = time.perf_counter() + 60
        while not wanted <= set(seen) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        got = wanted & set(seen)
        lag = max(seen[m + k] - sent[m] for m in sent for k in ("ok", "ok2") if m + k in seen)
        for label, row in rows:
            print("%-22s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms" % (label, row["p50"], row["p99"], row["max"]))
        print("with one webhook hanging: %d of %d deliveries of the other two arrived; the slowest %.0f ms "
              "after its send was answered" % (len(got), len(wanted), lag * 1000))
        never.set()
        server.stop()
        hooks.stop()
        await rt.close()
        rt.store.close()
    finally:
        never.set()
        mongo.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=400)
    asyncio.run(main(parser.parse_args().samples))
