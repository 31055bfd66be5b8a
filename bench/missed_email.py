#!/usr/bin/env python3
"""Missed-message email benchmark (not a test): one announcement to a class of ``--students``
students with addresses, then looks (on a ManualClock moved past ``email_after``, then one
interval at a time: a look takes at most 200 users) queue an email for each, sent to a local
aiosmtpd server. Prints how long the look took, how fast the
emails went out, and REST send p50/p99 of another conversation with no email being sent and
while the queue drains (the sending must not slow sends). Asserts nothing.

    python bench/missed_email.py [--students 300] [--samples 300]
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
from chat.clock import ManualClock  # noqa: E402
from chat.ops.embedded import EmbeddedMongo, free_port  # noqa: E402
from chat.ops.roster import import_roster  # noqa: E402
from chat.rules.validation import NewConversation, NewMessage  # noqa: E402
from chat.runtime import build_runtime  # noqa: E402
from chat.settings import Settings  # noqa: E402
from handlers.routes import make_app  # noqa: E402
from tests.e2e.smtp_helpers import Inbox  # noqa: E402


async def main(students: int, samples: int) -> None:
    tmp = tempfile.mkdtemp(prefix="chat-bench-")
    mongo = EmbeddedMongo(tmp, write_state=False)
    mongo.start()
    inbox = Inbox().start()
    try:
        settings = Settings(data_dir=tmp, jwt_secret="bench-secret-bench-secret-bench-secret", db_name="bench",
                            rate_messages=100000, rate_messages_burst=100000, retention_sweep_interval=0,
                            smtp_host="127.0.0.1", smtp_port=inbox.port, smtp_security="none",
                            email_from="chat@school.example", email_base_url="https://chat.school.example",
                            email_queue=max(1000, students))
        clock = ManualClock()
        rt = build_runtime(settings, mongo.uri, mongo, clock=clock)
        await rt.store.ensure_indexes()
        users = [{"id": "t1", "name": "T1", "role": "teacher", "school": "s"},
                 {"id": "t2", "name": "T2", "role": "teacher", "school": "s"}]
        users += [{"id": "s%d" % i, "name": "S%d" % i, "role": "student", "school": "s",
                   "email": "s%d@school.example" % i} for i in range(students)]
        classes = [{"id": "c1", "school": "s", "name": "Year 7", "teacherIds": ["t1"],
                    "studentIds": ["s%d" % i for i in range(students)]}]
        await import_roster(rt.store, users, classes)
        teacher = rt.verifier.verify(mint_token(settings, "t1", "teacher", "s", "T1"))
        ann, _ = await rt.service.conversations.create(teacher, NewConversation("announcement", [], None, "c1"))
        other, _ = await rt.service.conversations.create(teacher, NewConversation("group", ["t2"], "Staff", None))
        await rt.service.messages.send(teacher, ann["id"], NewMessage("Trip on Friday", "text", [], None, None))
        mail = rt.service.missed_email
        mail.start()
        await mail.settled()

        port = free_port()
        server = tornado.httpserver.HTTPServer(make_app(rt))
        server.listen(port, "127.0.0.1")
        client = tornado.httpclient.AsyncHTTPClient()
        url = "http://127.0.0.1:%d/api/conversations/%s/messages" % (port, other["id"])
        headers = {"Authorization": "Bearer " + mint_token(settings, "t1", "teacher", "s", "T1")}

        async def run(count: int) -> List[float]:
            took = []
            for k in range(count):
                t0 = time.perf_counter()
                await client.fetch(url, method="POST", headers=headers, body=json.dumps({"text": "staff %d" % k}))
                took.append(time.perf_counter() - t0)
            return took

        await run(50)  # warm up
        quiet = summary_ms(await run(samples))
        t0 = time.perf_counter()
        clock.advance(16 * 60)
        while mail._task is None or not mail._task.done():
            await asyncio.sleep(0.001)
        looked = time.perf_counter() - t0
        busy_rows = await run(samples)
        looks = 1
        while len(inbox.messages) < students:  # a look takes at most 200 users: the next look, one interval on
            if mail._task is not None and mail._task.done() and mail.sender.waiting == 0:
                clock.advance(settings.email_scan_interval)
                looks += 1
            await asyncio.sleep(0.01)
        sent_in = time.perf_counter() - t0
        busy = summary_ms(busy_rows)
        print("%d students: the first look took %.2f s; all %d emails accepted by the SMTP server %.2f s after it "
              "began, in %d looks (%.0f emails/s)" % (students, looked, len(inbox.messages), sent_in, looks,
                                                      len(inbox.messages) / sent_in))
        for label, row in (("send, no email", quiet), ("send, emails going out", busy)):
            print("%-24s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms" % (label, row["p50"], row["p99"], row["max"]))
        server.stop()
        await rt.close()
        rt.store.close()
    finally:
        inbox.stop()
        mongo.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--samples", type=int, default=300)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.students, arguments.samples))
