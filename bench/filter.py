#!/usr/bin/env python3
"""Word filter benchmark (not a test): the cost of checking one message against a school's
lists of 10,000 terms (64-byte and 1 KB messages, ASCII and not), the time to compile the lists,
and the send path's p50/p99 through the real REST API on the embedded database, without a
filter and with one. Prints figures; asserts nothing.

    python bench/filter.py [--terms 10000] [--samples 300]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import string
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
from chat.rules.textmatch import Matcher, translate  # noqa: E402
from chat.rules.validation import NewConversation  # noqa: E402
from chat.runtime import build_runtime  # noqa: E402
from chat.settings import Settings  # noqa: E402
from handlers.routes import make_app  # noqa: E402

WORDS = ("the homework for maths is on page twelve and the essay about the project is due on friday "
         "can you send me the notes from science please thanks see you in class tomorrow").split()


def terms(count: int, rng: random.Random) -> List[str]:
    """Word-like terms of 3..10 letters (the shortest are found most often inside words and
    then checked for word edges), none of them a word of the messages (sends must pass)."""
    out: List[str] = []
    while len(out) < count:
        term = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10)))
        if translate(term) not in {translate(w) for w in WORDS}:
            out.append(term)
    return out


def message(size: int, rng: random.Random, accents: bool = False) -> str:
    words = [w.replace("e", "é") if accents and rng.random() < 0.3 else w for w in WORDS]
    out = ""
    while len(out.encode("utf-8")) < size:
        out += rng.choice(words) + " "
    return out.encode("utf-8")[:size].decode("utf-8", "ignore")


def matcher_cost(count: int) -> None:
    rng = random.Random(7)
    lists = terms(count, rng)
    translate("warm")  # the translation table is built once per process
    t0 = time.perf_counter()
    matcher = Matcher([lists[: count // 2], lists[count // 2:]])
    print("compile %d terms: %.1f ms" % (count, (time.perf_counter() - t0) * 1000))
    for size, accents in ((64, False), (64, True), (1024, False), (1024, True)):
        texts = [message(size, rng, accents) for _ in range(500)]
        rounds = 20 if size == 64 else 4
        t0 = time.perf_counter()
        for _ in range(rounds):
            for text in texts:
                matcher.lists_in(text)
        per = (time.perf_counter() - t0) / (rounds * len(texts))
        print("check a %4d-byte message (%s): %6.1f us" % (size, "accented" if accents else "ascii", per * 1e6))


async def send_path(count: int, samples: int) -> None:
    tmp = tempfile.mkdtemp(prefix="chat-bench-")
    mongo = EmbeddedMongo(tmp, write_state=False)
    mongo.start()
    try:
        settings = Settings(data_dir=tmp, jwt_secret="bench-secret-bench-secret-bench-secret", db_name="bench",
                            rate_messages=100000, rate_messages_burst=100000)
        rt = build_runtime(settings, mongo.uri, mongo)
        await rt.store.ensure_indexes()
        await import_roster(rt.store, [{"id": "u1", "name": "U1", "role": "student", "school": "s"},
                                       {"id": "u2", "name": "U2", "role": "student", "school": "s"},
                                       {"id": "a1", "name": "A1", "role": "admin", "school": "s"}], [])
        ident = rt.verifier.verify(mint_token(settings, "u1", "student", "s"))
        admin = rt.verifier.verify(mint_token(settings, "a1", "admin", "s"))
        conv, _ = await rt.service.conversations.create(ident, NewConversation("group", ["u2"], "Bench", None))
        port = free_port()
        server = tornado.httpserver.HTTPServer(make_app(rt))
        server.listen(port, "127.0.0.1")
        client = tornado.httpclient.AsyncHTTPClient()
        base = "http://127.0.0.1:%d" % port
        headers = {"Authorization": "Bearer " + mint_token(settings, "u1", "student", "s", "U1")}
        rng = random.Random(11)

        async def run() -> List[float]:
            took = []
            for _ in range(samples):
                body = json.dumps({"text": message(64, rng)})
                t0 = time.perf_counter()
                await client.fetch(base + "/api/conversations/%s/messages" % conv["id"], method="POST",
                                   headers=headers, body=body, raise_error=True)
                took.append(time.perf_counter() - t0)
            return took

        await run()  # warm up
        plain = summary_ms(await run())
        lists = terms(count, rng)
        await rt.service.filters.put(admin, "s", [{"name": "Block", "action": "block", "terms": lists[: count // 2]},
                                                  {"name": "Flag", "action": "flag", "terms": lists[count // 2:]}])
        filtered = summary_ms(await run())
        for label, row in (("send, no filter", plain), ("send, %d terms" % count, filtered)):
            print("%-22s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms" % (label, row["p50"], row["p99"], row["max"]))
        server.stop()
        await rt.close()
        rt.store.close()
    finally:
        mongo.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terms", type=int, default=10000)
    parser.add_argument("--samples", type=int, default=300)
    arguments = parser.parse_args()
    matcher_cost(arguments.terms)
    asyncio.run(send_path(arguments.terms, arguments.samples))
