#!/usr/bin/env python3
"""Image memory benchmark (not a test): start ``python server.py`` on a private data dir, upload
the files of issue 20 and report the resident memory of the server process and of its image
workers (the fork server and the worker processes it forks; the database child is left out),
sampled every 20 ms: the peak while the uploads run and what is left after ``--idle`` seconds.

    python bench/images.py [--jpegs 4] [--side 7000] [--frames 3000] [--idle 10] [--rounds 2]

Rounds of ``--jpegs`` concurrent uploads of one ``--side`` x ``--side`` JPEG (about 850 KB at
7000), then one GIF of ``--frames`` frames of 400x400 (69 KB). Every request has a 120 s
timeout and the whole run is bounded by ``--deadline`` seconds.
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
import threading
import time
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tornado.httpclient  # noqa: E402

from bench.common import ROOT, proc_rss_bytes  # noqa: E402
from chat.ops.embedded import free_port  # noqa: E402
from tests.e2e.image_targets import big_jpeg, many_frame_gif  # noqa: E402

MB = 1024 * 1024


def _children(pid: int) -> List[int]:
    # per thread: the fork server is the child of whichever thread first needed it
    found: List[int] = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return found
    for task in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, task), "r", encoding="ascii") as fh:
                found.extend(int(p) for p in fh.read().split())
        except OSError:
            continue
    return found


def _cmdline(pid: int) -> str:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


class Sampler:
    """RSS of the server and of its image workers, every ``interval`` seconds, in a thread."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_server = self.peak_workers = self.peak_total = 0
        self.most_workers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def worker_pids(self) -> List[int]:
        """The fork server(s) under the server and everything they forked."""
        found: List[int] = []
        todo = [p for p in _children(self.pid) if "forkserver" in _cmdline(p)]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(_children(pid))
        return found

    def now(self) -> Dict[str, float]:
        """The current figures, in MB."""
        server = _rss(self.pid)
        workers = sum(_rss(p) for p in self.worker_pids())
        return {"serverMB": round(server / MB, 1), "workersMB": round(workers / MB, 1),
                "totalMB": round((server + workers) / MB, 1)}

    def reset(self) -> None:
        self.peak_server = self.peak_workers = self.peak_total = self.most_workers = 0

    def peaks(self) -> Dict[str, float]:
        return {"peakServerMB": round(self.peak_server / MB, 1), "peakWorkersMB": round(self.peak_workers / MB, 1),
                "peakTotalMB": round(self.peak_total / MB, 1), "mostWorkerProcesses": self.most_workers}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            server = _rss(self.pid)
            pids = self.worker_pids()
            workers = sum(_rss(p) for p in pids)
            self.peak_server = max(self.peak_server, server)
            self.peak_workers = max(self.peak_workers, workers)
            self.peak_total = max(self.peak_total, server + workers)
            self.most_workers = max(self.most_workers, max(0, len(pids) - 1))  # less the fork server


def _rss(pid: int) -> int:
    try:
        return proc_rss_bytes(pid)
    except OSError:
        return 0


async def post(port: int, tok: str, data: bytes, name: str) -> Dict[str, Any]:
    start = time.perf_counter()
    resp = await tornado.httpclient.AsyncHTTPClient().fetch(
        "http://127.0.0.1:%d/api/uploads?name=%s" % (port, name), method="POST", body=data, raise_error=False,
        headers={"Authorization": "Bearer " + tok}, request_timeout=120)
    code = json.loads(resp.body or b"{}").get("error", {}).get("code") if resp.code >= 400 else None
    return {"status": resp.code, "code": code, "seconds": round(time.perf_counter() - start, 2)}


async def scenario(sampler: Sampler, idle: float, label: str, uploads: List[Any]) -> Dict[str, Any]:
    sampler.reset()
    before = sampler.now()
    start = time.perf_counter()
    answers = await asyncio.gather(*uploads)
    took = time.perf_counter() - start
    peaks = sampler.peaks()
    await asyncio.sleep(idle)
    return {"scenario": label, "before": before, **peaks, "seconds": round(took, 2),
            "answers": sorted({"%s %s" % (a["status"], a["code"] or "") for a in answers}),
            "afterIdle": sampler.now()}


async def run(args: argparse.Namespace, port: int, pid: int, tok: str) -> List[Dict[str, Any]]:
    jpeg = big_jpeg(args.side)
    gif = many_frame_gif(args.frames, 400, 400)
    sampler = Sampler(pid)
    sampler.start()
    try:
        await post(port, tok, big_jpeg(64), "warm.jpg")  # first-use imports, the fork server, indexes
        await asyncio.sleep(1)
        out = [{"scenario": "idle after one small image", **sampler.now(),
                "jpegKB": len(jpeg) // 1024, "gifKB": len(gif) // 1024}]
        for rnd in range(args.rounds):
            out.append(await scenario(sampler, args.idle, "%d x %dx%d JPEG at once, round %d"
                                      % (args.jpegs, args.side, args.side, rnd + 1),
                                      [post(port, tok, jpeg, "p%d.jpg" % i) for i in range(args.jpegs)]))
        out.append(await scenario(sampler, args.idle, "GIF of %d frames of 400x400" % args.frames,
                                  [post(port, tok, gif, "many.gif")]))
        return out
    finally:
        sampler.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jpegs", type=int, default=4)
    parser.add_argument("--side", type=int, default=7000)
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds idle before the after-idle reading")
    parser.add_argument("--deadline", type=float, default=300.0, help="the whole run's bound in seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-images-") as data:
        port = free_port()
        env = dict(os.environ, CHAT_DATA_DIR=data, CHAT_PORT=str(port), CHAT_UPLOAD_QUOTA_BYTES="0",
                   CHAT_LOG_LEVEL="warning", CHAT_RATE_MESSAGES_BURST="1000")
        env.pop("MONGODB_URI", None)
        tok = subprocess.check_output([sys.executable, "server.py", "token", "--user", "bench", "--role", "teacher",
                                       "--school", "s1"], cwd=ROOT, env=env, text=True).strip()
        server = subprocess.Popen([sys.executable, "server.py"], cwd=ROOT, env=env)
        try:
            for _ in range(600):  # up to 60 s for the embedded database and the listener
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                        break
                except OSError:
                    time.sleep(0.1)
            results = asyncio.run(asyncio.wait_for(run(args, port, server.pid, tok), args.deadline))
            print(json.dumps(results, indent=2))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
