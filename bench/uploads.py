#!/usr/bin/env python3
"""Upload memory benchmark (not a test): start ``python server.py`` on a private data dir,
stream files of ``--mb`` MB to ``POST /api/uploads`` (one at a time, then ``--parallel`` at
once) and report the server process's resident memory before and its peak (VmHWM) after, so
the growth can be compared with the file size. The body is produced in 64 KiB pieces on the
client side; a server that buffered the body would grow by at least the file size.

    python bench/uploads.py [--mb 50] [--parallel 3] [--backend fs|gridfs]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tornado.httpclient  # noqa: E402

from bench.common import ROOT, proc_rss_bytes  # noqa: E402
from chat.ops.embedded import free_port  # noqa: E402

MB = 1024 * 1024


def peak_rss(pid: int) -> int:
    with open("/proc/%d/status" % pid, "r", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak(pid: int) -> None:
    # writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0)
    with open("/proc/%d/clear_refs" % pid, "w", encoding="ascii") as fh:
        fh.write("5")


async def send(port: int, tok: str, size: int, n: int) -> float:
    piece = b"%PDF-1.4\n" + os.urandom(64 * 1024 - 9)
    sent = 0

    async def produce(write):
        nonlocal sent
        while sent < size:
            chunk = piece[:min(len(piece), size - sent)]
            sent += len(chunk)
            await write(chunk)
    start = time.perf_counter()
    resp = await tornado.httpclient.AsyncHTTPClient(max_body_size=size + MB).fetch(
        "http://127.0.0.1:%d/api/uploads?name=bench-%d.pdf" % (port, n), method="POST", body_producer=produce,
        headers={"Authorization": "Bearer " + tok, "Content-Length": str(size)}, request_timeout=600)
    assert resp.code == 201, resp.body
    return time.perf_counter() - start


async def run(args: argparse.Namespace, port: int, pid: int, tok: str) -> dict:
    size = args.mb * MB
    await asyncio.sleep(0)
    results = {"fileMB": args.mb, "backend": args.backend}
    await send(port, tok, 1024, 0)  # warm up: first-use imports (Pillow, puremagic), indexes
    base = proc_rss_bytes(pid)
    reset_peak(pid)
    took = await send(port, tok, size, 1)
    results.update(baseRssMB=round(base / MB, 1), peakRssMB=round(peak_rss(pid) / MB, 1),
                   growthMB=round((peak_rss(pid) - base) / MB, 1), seconds=round(took, 2),
                   mbPerSecond=round(args.mb / took, 1))
    base = proc_rss_bytes(pid)
    reset_peak(pid)
    start = time.perf_counter()
    await asyncio.gather(*[send(port, tok, size, 10 + i) for i in range(args.parallel)])
    results.update(parallel=args.parallel, parallelGrowthMB=round((peak_rss(pid) - base) / MB, 1),
                   parallelSeconds=round(time.perf_counter() - start, 2))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=3)
    parser.add_argument("--backend", choices=["fs", "gridfs"], default="fs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as data:
        port = free_port()
        env = dict(os.environ, CHAT_DATA_DIR=data, CHAT_PORT=str(port), CHAT_UPLOAD_BACKEND=args.backend,
                   CHAT_MAX_UPLOAD_BYTES=str(args.mb * MB), CHAT_UPLOAD_QUOTA_BYTES="0", CHAT_LOG_LEVEL="warning")
        tok = subprocess.check_output([sys.executable, "server.py", "token", "--user", "bench", "--role", "teacher",
                                       "--school", "s1"], cwd=ROOT, env=env, text=True).strip()
        server = subprocess.Popen([sys.executable, "server.py"], cwd=ROOT, env=env)
        try:
            for _ in range(600):  # up to 60 s for the embedded database and the listener
                try:
                    with __import__("socket").create_connection(("127.0.0.1", port), timeout=0.1):
                        break
                except OSError:
                    time.sleep(0.1)
            print(json.dumps(asyncio.run(run(args, port, server.pid, tok)), indent=2))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
