#!/usr/bin/env python3
"""Export memory benchmark (not a test): start ``python server.py`` on a private data dir,
give one user ``--messages`` messages (every tenth edited) and ``--files`` uploads of ``--mb``
MB each (random bytes: ~1 GB by default), then export that user (``POST /api/exports`` as the
school's admin, polling ``GET /api/exports/{id}`` until done) and report the server process's
resident memory before the export and its peak (VmHWM, reset just before) during it, the
archive's size and the time taken. A server that held the messages or the files' bytes in
memory would grow by at least the archive's size.

    python bench/export.py [--files 20] [--mb 50] [--messages 3000]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tornado.httpclient  # noqa: E402

from bench.common import ROOT, proc_rss_bytes  # noqa: E402
from bench.uploads import peak_rss, reset_peak, send  # noqa: E402
from chat.ops.embedded import free_port  # noqa: E402

MB = 1024 * 1024


async def call(port: int, tok: str, method: str, path: str, body: object = None) -> dict:
    resp = await tornado.httpclient.AsyncHTTPClient().fetch(
        "http://127.0.0.1:%d%s" % (port, path), method=method, raise_error=False, request_timeout=120,
        headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"},
        body=json.dumps(body) if body is not None else (b"" if method == "POST" else None))
    assert resp.code < 300, (resp.code, resp.body[:300])
    return json.loads(resp.body) if resp.body else {}


async def run(args: argparse.Namespace, port: int, pid: int, toks: dict) -> dict:
    user, other, admin = toks["bench"], toks["bench2"], toks["admin"]
    await call(port, other, "GET", "/api/me")  # the other member is in the directory
    conv = (await call(port, user, "POST", "/api/conversations",
                       {"type": "direct", "participantIds": ["bench2"]}))["data"]
    start = time.perf_counter()
    for i in range(args.messages):
        msg = (await call(port, user, "POST", "/api/conversations/%s/messages" % conv["id"],
                          {"text": "message %d of the benchmark, with some words in it" % i}))["data"]
        if i % 10 == 0:
            await call(port, user, "PATCH", "/api/messages/%s" % msg["id"], {"text": "edited %d" % i})
    for n in range(args.files):
        await send(port, user, args.mb * MB, n)
    filled = time.perf_counter() - start
    base = proc_rss_bytes(pid)
    reset_peak(pid)
    start = time.perf_counter()
    job = (await call(port, admin, "POST", "/api/exports", {"userId": "bench"}))["data"]
    polls = 0
    while job["status"] in ("queued", "running"):
        await asyncio.sleep(0.2)  # a benchmark's polling interval, not a test's synchronisation
        job = (await call(port, admin, "GET", "/api/exports/%s" % job["id"]))["data"]
        polls += 1
    took = time.perf_counter() - start
    peak = peak_rss(pid)
    assert job["status"] == "done", job
    return {"messages": args.messages, "files": args.files, "fileMB": args.mb, "fillSeconds": round(filled, 1),
            "exportMB": round(job["size"] / MB, 1), "exportSeconds": round(took, 1), "polls": polls,
            "baseRssMB": round(base / MB, 1), "peakRssMB": round(peak / MB, 1),
            "growthMB": round((peak - base) / MB, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as data:
        port = free_port()
        env = dict(os.environ, CHAT_DATA_DIR=data, CHAT_PORT=str(port), CHAT_MAX_UPLOAD_BYTES=str(args.mb * MB),
                   CHAT_UPLOAD_QUOTA_BYTES="0", CHAT_LOG_LEVEL="warning", CHAT_RATE_MESSAGES="100000",
                   CHAT_RATE_MESSAGES_BURST="100000")
        toks = {}
        for user, role in (("bench", "student"), ("bench2", "student"), ("admin", "admin")):
            toks[user] = subprocess.check_output([sys.executable, "server.py", "token", "--user", user, "--role",
                                                  role, "--school", "s1", "--ttl", "86400"],
                                                 cwd=ROOT, env=env, text=True).strip()
        server = subprocess.Popen([sys.executable, "server.py"], cwd=ROOT, env=env)
        try:
            for _ in range(600):  # up to 60 s for the embedded database and the listener
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                        break
                except OSError:
                    time.sleep(0.1)
            print(json.dumps(asyncio.run(run(args, port, server.pid, toks)), indent=2))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
