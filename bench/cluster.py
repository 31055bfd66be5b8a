#!/usr/bin/env python3
"""Cluster benchmark (not a test): the fan-out workload against 1 and 2 server processes.

    python bench/cluster.py [--nodes 1,2 --rooms 50 --members 20 --senders 5 --rates 250,500,1000 --duration 20]
                            [--placement spread|together]

One process runs without Redis (as one would deploy it; ``--single-with-redis`` measures the
cluster code path on one process). The same workload as ``bench/realtime.py fanout`` (R group conversations x M members, the first
S members sending 64-byte messages at a fixed total rate; the Node generator measures send ->
receipt at every receiver), run against N processes started with ``--redis-url`` on one shared
database (the ``db`` command) and one ``redis-server``. Members of a conversation are spread over
the processes round-robin, so most deliveries cross from one node to another through Redis (the
worst case for a balancer without stickiness); ``--placement together`` puts each room's members
on one process instead, which separates the cost of crossing nodes from that of a second process. Sending starts once every node has registered its
sockets in Redis (its ``/api/health``), so no push is routed before its receiver is known. Process i is pinned to CPU i where the machine has
that many; the database, Redis and the generator are not pinned. CPU is measured for the servers,
the database and Redis together, from the start of a step to the end of its drain (a backlog is
worked off after the sending stops); "deliveries/s per core" divides deliveries by the CPU they used.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import ROOT, import_users  # noqa: E402
from bench.realtime import SECRET, ensure_loadgen, http, pinned, run_loadgen, saturation, wait_health  # noqa: E402
from chat.auth import mint_token  # noqa: E402
from chat.ops.embedded import free_port  # noqa: E402
from chat.settings import Settings  # noqa: E402
from chat.store import ping_uri  # noqa: E402

LIMITS = {"CHAT_RATE_MESSAGES": "1000", "CHAT_RATE_MESSAGES_BURST": "1000", "CHAT_RATE_FRAMES": "2000",
          "CHAT_RATE_FRAMES_BURST": "2000", "CHAT_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"}


class Deployment:
    """redis-server + the db command + N servers; everything stopped by :meth:`stop`."""

    def __init__(self, nodes: int, redis: bool = True, env: Optional[Dict[str, str]] = None) -> None:
        """``env``: more environment for the servers (over :data:`LIMITS`)."""
        self.tmp = tempfile.mkdtemp(prefix="chat-cluster-bench-")
        self.env = dict(env or {})
        self.procs: List[subprocess.Popen] = []
        self.log = open(os.path.join(self.tmp, "out.log"), "wb")
        try:
            self._start(nodes, redis)
        except BaseException:
            self.stop()  # nothing started here may outlive a failed start
            raise

    def _start(self, nodes: int, redis: bool) -> None:
        redis_port, db_port = free_port(), free_port()
        self.redis_url = "redis://127.0.0.1:%d/0" % redis_port
        self.redis = self._spawn(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", self.tmp])
        self.db = self._spawn([sys.executable, os.path.join(ROOT, "server.py"), "db", "--db-port", str(db_port),
                               "--data-dir", os.path.join(self.tmp, "db")])
        self.mongo_uri = "mongodb://127.0.0.1:%d/?directConnection=true" % db_port
        deadline = time.time() + 30
        state = os.path.join(self.tmp, "db", "mongo.json")
        while not (os.path.exists(state) and ping_uri(self.mongo_uri, 300)):
            if time.time() > deadline:
                raise SystemExit("the database did not come up")
            time.sleep(0.1)
        with open(state, encoding="utf-8") as fh:
            self.db_child = json.load(fh)["pid"]
        env = dict(os.environ, CHAT_JWT_SECRET=SECRET, **LIMITS)
        env.update(self.env)
        env.pop("MONGODB_URI", None)
        cpus = os.cpu_count() or 1
        self.urls: List[str] = []
        self.nodes: List[subprocess.Popen] = []
        self.data_dirs: List[str] = []
        for i in range(nodes):
            port = free_port()
            self.data_dirs.append(os.path.join(self.tmp, "node%d" % i))
            argv = [sys.executable, os.path.join(ROOT, "server.py"), "--port", str(port), "--data-dir",
                    self.data_dirs[-1], "--mongodb-uri", self.mongo_uri]
            if redis:
                argv += ["--redis-url", self.redis_url]
            node = self._spawn(pinned(i % cpus, argv), env)
            self.nodes.append(node)
            self.urls.append("http://127.0.0.1:%d" % port)
        for url, node in zip(self.urls, self.nodes, strict=True):
            wait_health(url, node)
        self.settings = Settings(jwt_secret=SECRET)

    def _spawn(self, argv: List[str], env: Any = None) -> subprocess.Popen:
        proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def pids(self) -> List[int]:
        return [n.pid for n in self.nodes] + [self.db_child, self.redis.pid]

    def token(self, user: str) -> str:
        return mint_token(self.settings, user, "student", "bench", "User " + user, ttl=6 * 3600)

    def roster(self, users: List[str]) -> None:
        # a generous timeout (the command's environment only): on a busy machine the first
        # writes of a fresh database can take longer than the default
        before = os.environ.get("CHAT_DB_TIMEOUT_MS")
        os.environ["CHAT_DB_TIMEOUT_MS"] = "30000"
        try:
            import_users(self.tmp, users, "--mongodb-uri", self.mongo_uri)
        finally:
            if before is None:
                del os.environ["CHAT_DB_TIMEOUT_MS"]
            else:
                os.environ["CHAT_DB_TIMEOUT_MS"] = before

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def run(nodes: int, args: argparse.Namespace, rates: List[int]) -> List[Dict[str, Any]]:
    users = ["u%04d" % i for i in range(args.rooms * args.members)]
    # one process is measured as one would run it: without Redis (seqs counted in memory),
    # unless --single-with-redis asks for the cluster code path on one process
    deployment = Deployment(nodes, redis=nodes > 1 or args.single_with_redis)
    try:
        deployment.roster(users)
        rooms = []
        for r in range(args.rooms):
            members = users[r * args.members:(r + 1) * args.members]
            conv = http("POST", deployment.urls[0] + "/api/conversations", deployment.token(members[0]),
                        {"type": "group", "title": "Room %d" % r, "participantIds": members[1:]})["data"]
            # spread: member k of room r on node (r + k) % N, so most deliveries cross nodes; together:
            # a room's members all on node r % N (what a balancer with conversation affinity gives)
            urls = [deployment.urls[(r + (k if args.placement == "spread" else 0)) % nodes].replace("http://", "ws://")
                    + "/ws?token=" + deployment.token(u) for k, u in enumerate(members)]
            rooms.append({"id": conv["id"], "urls": urls})
        print("%d process(es): %d conversations x %d members" % (nodes, args.rooms, args.members), file=sys.stderr)
        return run_loadgen({"scenario": "fanout", "mode": "server", "waitReady": True, "rooms": rooms,
                            "senders": args.senders, "rates": rates, "duration": args.duration,
                            "drain": args.drain, "drainLimit": args.drain_limit,
                            "registered": [u + "/api/health" for u in deployment.urls]}, deployment.pids())
    finally:
        deployment.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", default="1,2")
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--senders", type=int, default=5)
    parser.add_argument("--rates", default="250,500,1000")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--drain", type=float, default=1)
    parser.add_argument("--drain-limit", type=float, default=60)
    parser.add_argument("--placement", choices=("spread", "together"), default="spread",
                        help="spread: a room's members round-robin over the processes (most deliveries cross "
                             "nodes); together: each room's members on one process (a room's deliveries stay local)")
    parser.add_argument("--single-with-redis", action="store_true",
                        help="run the 1-process case with --redis-url too (the cluster code path)")
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    ensure_loadgen()
    rates = [int(r) for r in args.rates.split(",")]
    rows: Dict[int, List[Dict[str, Any]]] = {}
    for n in (int(x) for x in args.nodes.split(",")):
        rows[n] = run(n, args, rates)
    print("%-6s %6s %9s %7s %8s %8s %8s %7s %12s %10s" % ("procs", "rate", "deliv/s", "loss", "p50 ms", "p99 ms",
                                                          "max ms", "cpu %", "deliv/s/core", "cpu us/dlv"))
    for n, table in rows.items():
        for r in table:
            # CPU from step start to the end of its drain: what the deliveries cost, backlog included
            cpu = r.get("stepCpuSeconds") or r["serverCpuSeconds"]
            per_core = r["received"] / cpu if cpu else 0
            r["deliveriesPerCoreSecond"] = per_core
            r["cpuMicrosPerDelivery"] = 1e6 / per_core if per_core else 0
            print("%-6d %6d %9.0f %7d %8.1f %8.1f %8.1f %7.0f %12.0f %10.1f" % (
                n, r["rate"], r["deliveriesPerSec"], r["loss"], r["p50"], r["p99"], r["max"], r["serverCpu"] * 100,
                per_core, r["cpuMicrosPerDelivery"]))
            if r.get("perProcessStepCpu"):
                print("       cpu s (servers..., db, redis): %s" % r["perProcessStepCpu"])
        print("saturation with %d process(es) (p99 <= 100 ms, no loss): %d msg/s" % (n, saturation(table)))
    if 1 in rows:
        # the cost of crossing nodes: CPU per delivery (servers, database and Redis together) of
        # each cluster size over the single process's, rate by rate, in this same run
        single = {r["rate"]: r["cpuMicrosPerDelivery"] for r in rows[1]}
        for n, table in rows.items():
            if n == 1:
                continue
            ratios = ["%d msg/s %.2fx" % (r["rate"], r["cpuMicrosPerDelivery"] / single[r["rate"]])
                      for r in table if single.get(r["rate"])]
            print("CPU per delivery, %d processes / 1 process: %s" % (n, ", ".join(ratios)))
            # each of n processes at rate R/n does what one process does at R/n: this ratio
            # leaves out that a process's CPU per delivery falls as its own rate rises
            even = ["%d msg/s (%d each) %.2fx" % (r["rate"], r["rate"] // n, r["cpuMicrosPerDelivery"] / single[r["rate"] // n])
                    for r in table if r["rate"] % n == 0 and single.get(r["rate"] // n)]
            if even:
                print("CPU per delivery, %d processes / 1 process at the same rate per process: %s"
                      % (n, ", ".join(even)))
    print(json.dumps({"bench": "cluster", "rooms": args.rooms, "members": args.members, "senders": args.senders,
                      "duration": args.duration, "runs": {str(n): t for n, t in rows.items()}}))


if __name__ == "__main__":
    main()
