#!/usr/bin/env python3
"""Real-time benchmarks (not tests). Each prints a table and a JSON line.

    python bench/realtime.py fanout [--rooms 50 --members 20 --senders 5 --rates 250,500,1000,2000 --duration 20]
                                    [--loops uvloop,asyncio] [--lingers 0.008,0.012]
    python bench/realtime.py idle [--targets 1000,5000,10000]
    python bench/realtime.py storm [--users 5000 --conversations 250 --messages 500] [--reload-lists]

fanout: R group conversations x M members, one WebSocket per member, the first S members of each
sending at a fixed total rate; every message must reach the other M-1 members. Payload 64 bytes.
The server (and its embedded database child, which inherits the pin) runs on CPU 0, the Node load
generator (bench/loadgen.js, `ws` package) on CPU 1. The same workload then runs, in the same
command, against the bare Tornado relay in bench/ceiling.py and against Node Socket.IO 4 with rooms
and no storage (bench/sio_peer.js, WebSocket transport, one process on CPU 0, driven by the same
generator speaking the Socket.IO protocol), and the ratios are printed: saturation and CPU per
delivery server/ceiling, saturation and p99 at each rate server/Socket.IO.

idle: opens 1k, 5k, 10k authenticated sockets: RSS per connection, setup rate, handshake p99; then the
same against the bare relay, with the ratios.

storm: 5,000 users connected in 250 conversations, the server restarted (SIGTERM, start) while a REST
client sends 500 messages; every client reconnects with the web client's policy and syncs: the time
from serving until all are back and synced, handshake times, shed handshakes, missing messages. Then
the same clients and restart against the bare relay (nothing to sync there).
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
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import ROOT, import_users, proc_cpu_seconds, proc_rss_bytes  # noqa: E402
from chat.auth import mint_token  # noqa: E402
from chat.ops.embedded import free_port  # noqa: E402
from chat.settings import Settings  # noqa: E402

SECRET = "bench-secret-bench-secret-bench-secret-bench"
BENCH = os.path.dirname(os.path.abspath(__file__))
FD_LIMIT = 65536


def ensure_loadgen() -> None:
    if not all(os.path.isdir(os.path.join(BENCH, "node_modules", m)) for m in ("ws", "socket.io")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=BENCH, check=True)


def pinned(cpu: int, argv: List[str]) -> List[str]:
    """Run pinned to one CPU with the open-files limit raised as far as the machine allows
    (the script raises it, not the user)."""
    quoted = " ".join("'%s'" % a.replace("'", "'\\''") for a in argv)
    return ["bash", "-c", "ulimit -n %d 2>/dev/null || ulimit -n $(ulimit -Hn); exec taskset -c %d %s"
            % (FD_LIMIT, cpu, quoted)]


def http(method: str, url: str, token: Optional[str] = None, body: Any = None) -> Dict[str, Any]:
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"{}")


def wait_health(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited with %s" % proc.returncode)
        try:
            http("GET", url + "/api/health")
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not come up")


class Restartable:
    """A benchmark target process that can be restarted on the same port (and data)."""

    proc: subprocess.Popen

    def start(self) -> None:
        raise NotImplementedError

    def restart(self) -> float:
        """SIGTERM, wait for the exit, start again; returns the epoch time at which the new
        process answered (``stopped``/``started`` say how long the stop and the start took)."""
        t0 = time.time()
        self.proc.terminate()
        self.proc.wait(120)
        t1 = time.time()
        self.start()
        t2 = time.time()
        self.stopped, self.started = t1 - t0, t2 - t1
        return t2


class ChatServer(Restartable):
    """python server.py on the embedded default, pinned to CPU 0."""

    def __init__(self, extra_env: Optional[Dict[str, str]] = None) -> None:
        self.tmp = tempfile.mkdtemp(prefix="chat-bench-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.env = dict(os.environ, CHAT_JWT_SECRET=SECRET, CHAT_LOG_LEVEL="warning", PYTHONUNBUFFERED="1")
        self.env.pop("MONGODB_URI", None)
        self.env.update(extra_env or {})
        self.log = open(os.path.join(self.tmp, "server.log"), "wb")
        self.settings = Settings(jwt_secret=SECRET)
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(pinned(0, [sys.executable, os.path.join(ROOT, "server.py"), "--port",
                                                str(self.port), "--data-dir", os.path.join(self.tmp, "data")]),
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_health(self.url, self.proc, timeout=120)
        with open(os.path.join(self.tmp, "data", "mongo.json"), encoding="utf-8") as fh:
            self.db_pid = json.load(fh)["pid"]


    def pids(self) -> List[int]:
        return [self.proc.pid, self.db_pid]

    def token(self, user: str) -> str:
        return mint_token(self.settings, user, "student", "bench", "User " + user, ttl=6 * 3600)

    def roster(self, users: List[str]) -> None:
        import_users(self.tmp, users, "--data-dir", os.path.join(self.tmp, "data"))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Peer(Restartable):
    """A bare peer the chat server is compared with, pinned to CPU 0 as the server is: started with
    ``argv + ["--port", port]``, listening once ``probe`` answers anything over HTTP."""

    argv: List[str]
    probe: str
    label: str
    mode: str  # the load generator's mode for it

    def __init__(self) -> None:
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(pinned(0, self.argv + ["--port", str(self.port)]))
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("%s exited with %s" % (self.label, self.proc.returncode))
            try:
                urllib.request.urlopen(self.url + self.probe, timeout=1)
                return
            except urllib.error.HTTPError:
                return  # 400 for a GET that is no upgrade: it is listening
            except OSError:
                time.sleep(0.02)
        raise SystemExit("%s did not come up" % self.label)

    def room_urls(self, room: str, users: List[str]) -> List[str]:
        """One WebSocket URL per member of ``room``."""
        raise NotImplementedError

    def pids(self) -> List[int]:
        return [self.proc.pid]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class CeilingServer(Peer):
    """The bare Tornado relay, bench/ceiling.py."""

    argv = [sys.executable, os.path.join(BENCH, "ceiling.py")]
    probe = "/ws"
    label = "the ceiling relay"
    mode = "ceiling"

    def room_urls(self, room: str, users: List[str]) -> List[str]:
        return [self.url.replace("http://", "ws://") + "/ws?room=" + room] * len(users)


class SocketIOServer(Peer):
    """Node Socket.IO 4 with rooms and no storage, bench/sio_peer.js (one process, WebSocket only)."""

    argv = ["node", os.path.join(BENCH, "sio_peer.js")]
    probe = "/socket.io/"
    label = "Node Socket.IO"
    mode = "sio"

    def room_urls(self, room: str, users: List[str]) -> List[str]:
        base = self.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        return ["%s&room=%s&user=%s" % (base, room, user) for user in users]


PEERS: Dict[str, Type[Peer]] = {"ceiling": CeilingServer, "socketio": SocketIOServer}


def cpu_of(pids: List[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += proc_cpu_seconds(pid)
        except OSError:
            pass
    return total


def rss_of(pids: List[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += proc_rss_bytes(pid)
        except OSError:
            pass
    return total


def run_loadgen(config: Dict[str, Any], pids: List[int]) -> List[Dict[str, Any]]:
    """Run the Node generator on CPU 1; sample the server's CPU between step-start and step-end."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(config, fh)
        path = fh.name
    proc = subprocess.Popen(pinned(1, ["node", os.path.join(BENCH, "loadgen.js"), path]), stdout=subprocess.PIPE,
                            text=True)
    results: List[Dict[str, Any]] = []
    marks: Dict[Any, Tuple[float, float, int]] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        key = event.get("step", event.get("target"))
        if event["type"] == "step-start":
            marks[key] = (time.time(), cpu_of(pids), rss_of(pids))
            marks[("split", key)] = [cpu_of([p]) for p in pids]
            marks[("start", key)] = marks[("split", key)]
        elif event["type"] == "step-end":
            t0, c0, _r0 = marks[key]
            wall = time.time() - t0
            marks[key] = (wall, cpu_of(pids) - c0, rss_of(pids))
            marks[("own", key)] = rss_of(pids[:1])
            marks[("split", key)] = [round((cpu_of([p]) - c) / wall, 3) for p, c in zip(pids, marks[("split", key)], strict=True)]
        elif event["type"] == "result":
            wall, cpu, rss = marks[key]
            # the CPU of the whole step, drain included: a backlog is worked off after step-end,
            # and deliveries count what arrived until the drain ended
            through = [cpu_of([p]) - c for p, c in zip(pids, marks.get(("start", key), []), strict=True)]
            event.update(serverCpu=cpu / wall if wall else 0, serverCpuSeconds=cpu, serverRss=rss,
                         serverRssOwn=marks.get(("own", key), rss),
                         perProcessCpu=marks.get(("split", key)), stepCpuSeconds=sum(through),
                         perProcessStepCpu=[round(c, 2) for c in through])
            results.append(event)
            print("  " + json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in event.items()}),
                  file=sys.stderr)
        elif event["type"] == "error":
            raise SystemExit("load generator failed: " + event["message"])
        else:
            print("  " + line.strip(), file=sys.stderr)
    proc.wait()
    os.unlink(path)
    return results


def saturation(rows: List[Dict[str, Any]]) -> int:
    ok = [r["rate"] for r in rows if r["p99"] <= 100 and r["loss"] == 0 and r["failed"] == 0
          and r.get("unanswered", 0) == 0]
    return max(ok) if ok else 0


def fanout(args: argparse.Namespace) -> None:
    ensure_loadgen()
    rates = [int(r) for r in args.rates.split(",")]
    users = ["u%04d" % i for i in range(args.rooms * args.members)]
    rows: Dict[str, List[Dict[str, Any]]] = {}

    def run(mode: str, rooms: List[Dict[str, Any]], pids: List[int]) -> List[Dict[str, Any]]:
        return run_loadgen({"scenario": "fanout", "mode": mode, "waitReady": mode == "server", "rooms": rooms,
                            "senders": args.senders, "rates": rates, "duration": args.duration,
                            "drain": args.drain, "drainLimit": args.drain_limit}, pids)

    loops = args.loops.split(",")
    # (name, loop, extra settings): each loop in turn, then the first loop with each write linger
    variants = [("server" if loop == loops[0] else "server+" + loop, loop, {}) for loop in loops]
    variants += [("server+linger" + x, loops[0], {"CHAT_WRITE_LINGER": x})
                 for x in (args.lingers.split(",") if args.lingers else [])]
    for name, loop, extra in variants:
        server = ChatServer({"CHAT_RATE_MESSAGES": "1000", "CHAT_RATE_MESSAGES_BURST": "1000",
                             "CHAT_RATE_FRAMES": "2000", "CHAT_RATE_FRAMES_BURST": "2000", "CHAT_EVENT_LOOP": loop,
                             **extra})
        try:
            server.roster(users)
            base = server.url.replace("http://", "ws://") + "/ws?token="
            rooms = []
            for r in range(args.rooms):
                members = users[r * args.members:(r + 1) * args.members]
                conv = http("POST", server.url + "/api/conversations", server.token(members[0]),
                            {"type": "group", "title": "Room %d" % r, "participantIds": members[1:]})["data"]
                rooms.append({"id": conv["id"], "urls": [base + server.token(u) for u in members]})
            print("chat server (%s): %d conversations x %d members" % (name, args.rooms, args.members),
                  file=sys.stderr)
            rows[name] = run("server", rooms, server.pids())
        finally:
            server.stop()

    for name, kind in PEERS.items():
        peer = kind()
        try:
            rooms = [{"id": "room%d" % r,
                      "urls": peer.room_urls("room%d" % r, users[r * args.members:(r + 1) * args.members])}
                     for r in range(args.rooms)]
            print("%s: same workload" % peer.label, file=sys.stderr)
            rows[name] = run(peer.mode, rooms, peer.pids())
        finally:
            peer.stop()

    print("%-19s %6s %7s %9s %7s %8s %8s %8s %8s %7s %8s %9s %6s" % (
        "target", "rate", "sent", "deliv/s", "loss", "p50 ms", "p95 ms", "p99 ms", "max ms", "cpu %",
        "rss MB", "cpu us/d", "gen %"))
    for name, table in rows.items():
        for r in table:
            per_delivery = r["serverCpuSeconds"] / r["received"] * 1e6 if r["received"] else 0
            r["cpuMicrosPerDelivery"] = per_delivery
            print("%-19s %6d %7d %9.0f %7d %8.1f %8.1f %8.1f %8.1f %7.0f %8.1f %9.1f %5.0f%s" % (
                name, r["rate"], r["sent"], r["deliveriesPerSec"], r["loss"], r["p50"], r["p95"], r["p99"], r["max"],
                r["serverCpu"] * 100, r["serverRss"] / 2 ** 20, per_delivery, r["loadgenCpu"] * 100,
                " FLAGGED: load generator over 90%" if r["loadgenSaturated"] else ""))
    for name in rows:
        if name.startswith("server+linger"):
            print("saturation with a write linger of %s s: %d msg/s" % (name[13:], saturation(rows[name])))
        elif name.startswith("server+"):
            print("saturation with the %s loop instead of %s: %d msg/s" % (name[7:], loops[0], saturation(rows[name])))
    ours, ceil, node = saturation(rows["server"]), saturation(rows["ceiling"]), saturation(rows["socketio"])

    def cpu_per_delivery(table: List[Dict[str, Any]], rate: int) -> float:
        row = next((r for r in table if r["rate"] == rate), None)
        return row["cpuMicrosPerDelivery"] if row else 0.0
    common = max([r for r in rates if r <= min(ours, ceil)] or [rates[0]])
    ratio_cpu = (cpu_per_delivery(rows["server"], common) / cpu_per_delivery(rows["ceiling"], common)
                 if cpu_per_delivery(rows["ceiling"], common) else 0)
    # the server's p99 over Node Socket.IO's at each rate both ran
    node_p99 = {r["rate"]: r["p99"] for r in rows["socketio"]}
    p99_ratio = [{"rate": r["rate"], "ratio": r["p99"] / node_p99[r["rate"]] if node_p99.get(r["rate"]) else 0}
                 for r in rows["server"] if r["rate"] in node_p99]
    print("saturation (p99 <= 100 ms, no loss): server %d msg/s, ceiling %d msg/s, Node Socket.IO %d msg/s; "
          "server/ceiling %.2f, server/Socket.IO %.2f" % (ours, ceil, node, ours / ceil if ceil else 0,
                                                         ours / node if node else 0))
    print("p99 server/Socket.IO: " + ", ".join("%.2f at %d msg/s" % (x["ratio"], x["rate"]) for x in p99_ratio))
    print("CPU per delivery at %d msg/s: server/ceiling = %.2f" % (common, ratio_cpu))
    print(json.dumps({"bench": "fanout", "rooms": args.rooms, "members": args.members, "senders": args.senders,
                      "duration": args.duration, "rows": rows,
                      "saturation": {"server": ours, "ceiling": ceil, "socketio": node,
                                     "ratio": ours / ceil if ceil else 0, "socketioRatio": ours / node if node else 0},
                      "p99Ratio": {"socketio": p99_ratio},
                      "cpuPerDeliveryRatio": {"rate": common, "ratio": ratio_cpu}}))


def drive_storm(config: Dict[str, Any], restart: Callable[[Callable[[Dict[str, Any]], None]], None],
                on_all_synced: Callable[[], None] = lambda: None) -> Dict[str, Any]:
    """Run the generator's storm scenario: once every client is connected, ``restart(tell)`` runs
    in a thread of its own (so the generator's lines are read as they come) and ``tell`` sends it
    a line (``serving``, then ``expect``); returns the generator's result."""
    import threading

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(config, fh)
    gen = subprocess.Popen(pinned(1, ["node", os.path.join(BENCH, "loadgen.js"), fh.name]),
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert gen.stdin is not None and gen.stdout is not None
    stdin = gen.stdin

    def tell(message: Dict[str, Any]) -> None:
        stdin.write(json.dumps(message) + "\n")
        stdin.flush()
    restarting = threading.Thread(target=restart, args=(tell,))
    result: Dict[str, Any] = {}
    try:
        for line in gen.stdout:
            event = json.loads(line)
            print("  " + line.strip(), file=sys.stderr)
            if event["type"] == "connected":
                restarting.start()
            elif event["type"] == "all-synced":
                on_all_synced()
            elif event["type"] == "result":
                result = event
            elif event["type"] == "error":
                raise SystemExit("load generator failed: " + event["message"])
        gen.wait()
    finally:
        if gen.poll() is None:
            gen.kill()
        if restarting.ident is not None:  # it was started
            restarting.join()
        os.unlink(fh.name)
    return result


def storm(args: argparse.Namespace) -> None:
    """A whole school reconnecting after a restart: ``users`` connected in ``conversations``
    groups; SIGTERM and start again; meanwhile a REST client sends ``messages`` (retrying until
    accepted, as an LMS would); every client reconnects with the web client's backoff (honouring
    503 Retry-After) and syncs. Reports the time from serving until all are back and synced,
    the reconnect handshake p99 and the messages some client is missing (must be 0)."""
    import threading

    ensure_loadgen()
    users = ["s%05d" % i for i in range(args.users)]
    size = args.users // args.conversations
    server = ChatServer({"CHAT_EVENT_LOOP": args.loop})
    try:
        server.roster(users)
        base = server.url.replace("http://", "ws://") + "/ws?token="
        rooms = []
        for r in range(args.conversations):
            members = users[r * size:(r + 1) * size]
            conv = http("POST", server.url + "/api/conversations", server.token(members[0]),
                        {"type": "group", "participantIds": members[1:], "title": "room %d" % r})["data"]
            rooms.append({"id": conv["id"], "urls": [base + server.token(u) for u in members]})
        config = {"scenario": "storm", "rooms": rooms, "drainLimit": args.drain_limit, "reloadLists": args.reload_lists}
        last: Dict[str, int] = {}
        cpu_at_serving: List[float] = []
        cpu_until_synced: List[float] = [0.0, 0.0]

        def sender() -> None:  # an LMS posting while the server restarts: retried until accepted
            for k in range(args.messages):
                room = rooms[k % len(rooms)]
                owner = users[(k % len(rooms)) * size]
                while True:
                    try:
                        data = http("POST", server.url + "/api/conversations/%s/messages" % room["id"],
                                    server.token(owner), {"text": "during the restart %d" % k,
                                                          "clientMsgId": "storm-%d" % k})["data"]
                        last[room["id"]] = max(last.get(room["id"], 0), data["seq"])
                        break
                    except (OSError, ValueError):
                        time.sleep(0.05)

        def restart_and_post(tell: Callable[[Dict[str, Any]], None]) -> None:
            nonlocal cpu_at_serving
            posting = threading.Thread(target=sender)
            server.proc.terminate()  # the restart begins; the sender starts while it is down
            posting.start()
            serving = server.restart()
            cpu_at_serving = [cpu_of([pid]) for pid in server.pids()]
            tell({"serving": int(serving * 1000)})
            posting.join()
            tell({"expect": last})

        def all_synced() -> None:
            # CPU seconds the server and its database spent from serving until all were back
            nonlocal cpu_until_synced
            cpu_until_synced = [round(cpu_of([pid]) - c, 2) for pid, c in zip(server.pids(), cpu_at_serving,
                                                                               strict=True)]
        result = drive_storm(config, restart_and_post, all_synced)
    finally:
        server.stop()
    relay = relay_storm(args, size)
    print("%-8s %8s %22s %20s %20s %8s %8s" % ("target", "clients", "all back and synced", "handshake p50",
                                                "handshake p99", "shed", "missing"))
    for name, row in (("server", result), ("relay", relay)):
        print("%-8s %8d %20.2f s %17.1f ms %17.1f ms %8d %8d" % (
            name, row["clients"], row["secondsToAllSynced"], row["reconnectHandshakeP50"],
            row["reconnectHandshakeP99"], row["shed"], row["missing"]))
    print("all back: server/relay = %.2f (the relay has nothing to sync); relay restart: stop %.2f s, start %.2f s"
          % (result["secondsToAllSynced"] / relay["secondsToAllSynced"], relay["stopSeconds"],
             relay["startSeconds"]))
    if result.get("secondsToAllReloaded") is not None:
        print("all conversation lists reloaded %.2f s after serving" % result["secondsToAllReloaded"])
    print("the restart: stop %.2f s (SIGTERM until exit), start %.2f s (until /api/health answers)"
          % (server.stopped, server.started))
    print("CPU seconds from serving until all were synced: server %.2f, database %.2f" % tuple(cpu_until_synced))
    result.update(stopSeconds=server.stopped, startSeconds=server.started, cpuUntilSynced=cpu_until_synced)
    print(json.dumps({"bench": "storm", "messages": args.messages, "result": result, "relay": relay}))


def relay_storm(args: argparse.Namespace, size: int) -> Dict[str, Any]:
    """The same clients, rooms and reconnect policy against the bare relay, restarted the same
    way (it closes its sockets with 1001 on SIGTERM): the time from serving until all are back."""
    ceiling = CeilingServer()
    try:
        base = ceiling.url.replace("http://", "ws://") + "/ws?room="
        rooms = [{"id": "room%d" % r, "urls": [base + "room%d" % r] * size} for r in range(args.conversations)]
        print("ceiling relay: the same storm", file=sys.stderr)

        def restart(tell: Callable[[Dict[str, Any]], None]) -> None:
            tell({"serving": int(ceiling.restart() * 1000)})
            tell({"expect": {}})
        result = drive_storm({"scenario": "storm", "mode": "ceiling", "rooms": rooms, "drainLimit": 1}, restart)
    finally:
        ceiling.stop()
    result.update(stopSeconds=ceiling.stopped, startSeconds=ceiling.started)
    return result


def idle(args: argparse.Namespace) -> None:
    """Authenticated sockets opened ``concurrency`` at a time up to each target, then the same
    count of sockets against the bare relay in the same run: RSS per socket, set-up rate and
    handshake times (for the server until ``session:ready``, for the relay until the upgrade)."""
    ensure_loadgen()
    targets = [int(t) for t in args.targets.split(",")]
    users = ["i%05d" % i for i in range(max(targets))]
    rows: Dict[str, List[Dict[str, Any]]] = {}
    before: Dict[str, int] = {}
    server = ChatServer({"CHAT_EVENT_LOOP": args.loop})
    try:
        server.roster(users)
        # a school's server starts with its roster imported (a running one rereads the directory
        # only every CHAT_ROSTER_REFRESH seconds after an import, and writes its users until then)
        server.restart()
        base = server.url.replace("http://", "ws://") + "/ws?token="
        time.sleep(1)
        before["server"] = proc_rss_bytes(server.proc.pid)
        print("server RSS before: %.1f MB" % (before["server"] / 2 ** 20), file=sys.stderr)
        rows["server"] = run_loadgen({"scenario": "idle", "waitReady": True, "targets": targets,
                                      "concurrency": args.concurrency, "settle": 2,
                                      "urls": [base + server.token(u) for u in users]}, server.pids())
        # RSS is the server process's own (the database child's memory does not grow per socket)
        for r in rows["server"]:
            r["serverRss"] = r["serverRssOwn"]
    finally:
        server.stop()
    ceiling = CeilingServer()
    try:
        time.sleep(1)
        before["ceiling"] = proc_rss_bytes(ceiling.proc.pid)
        base = ceiling.url.replace("http://", "ws://") + "/ws?room="
        print("ceiling relay: same sockets", file=sys.stderr)
        rows["ceiling"] = run_loadgen({"scenario": "idle", "waitReady": False, "targets": targets,
                                       "concurrency": args.concurrency, "settle": 2,
                                       "urls": [base + "room%d" % (i % 50) for i in range(max(targets))]},
                                      ceiling.pids())
        for r in rows["ceiling"]:
            r["serverRssOwn"] = r["serverRss"]
    finally:
        ceiling.stop()
    print("%-8s %8s %10s %12s %14s %14s %14s %10s" % ("target", "sockets", "RSS MB", "KB/socket", "setup conn/s",
                                                     "handshake p50", "handshake p99", "cpu %"))
    for name, table in rows.items():
        for r in table:
            r["rssPerSocketKB"] = (r["serverRss"] - before[name]) / r["open"] / 1024
            print("%-8s %8d %10.1f %12.1f %14.0f %12.1f ms %12.1f ms %10.0f" % (
                name, r["open"], r["serverRss"] / 2 ** 20, r["rssPerSocketKB"], r["perSecond"], r["handshakeP50"],
                r["handshakeP99"], r["serverCpu"] * 100))
    ratios = []
    for ours, theirs in zip(rows["server"], rows["ceiling"], strict=True):
        ratios.append({"sockets": ours["open"], "setupRatio": ours["perSecond"] / theirs["perSecond"],
                       "memoryRatio": ours["rssPerSocketKB"] / theirs["rssPerSocketKB"]})
        print("at %d sockets: set-up rate server/relay = %.2f, memory per socket server/relay = %.2f"
              % (ours["open"], ratios[-1]["setupRatio"], ratios[-1]["memoryRatio"]))
    print(json.dumps({"bench": "idle", "concurrency": args.concurrency, "rssBefore": before, "server": rows["server"],
                      "ceiling": rows["ceiling"], "ratios": ratios}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="scenario", required=True)
    f = sub.add_parser("fanout")
    f.add_argument("--rooms", type=int, default=50)
    f.add_argument("--members", type=int, default=20)
    f.add_argument("--senders", type=int, default=5)
    f.add_argument("--rates", default="250,500,1000,2000")
    f.add_argument("--duration", type=float, default=20)
    f.add_argument("--drain", type=float, default=1, help="seconds between drain checks")
    f.add_argument("--drain-limit", type=float, default=60, help="most seconds to wait for a step to drain")
    f.add_argument("--loops", default="uvloop,asyncio",
                   help="event loops to run the server with, in turn; the first is the one compared with the relay")
    f.add_argument("--lingers", default="",
                   help="write lingers (s, CHAT_WRITE_LINGER) to run the server with too, after the default, "
                        "on the first loop (e.g. 0.008,0.012): a same-run comparison of the writer's batching")
    i = sub.add_parser("idle")
    i.add_argument("--targets", default="1000,5000,10000")
    i.add_argument("--concurrency", type=int, default=100)
    i.add_argument("--loop", default="uvloop", help="the server's event loop (uvloop or asyncio)")
    s = sub.add_parser("storm")
    s.add_argument("--users", type=int, default=5000)
    s.add_argument("--conversations", type=int, default=250)
    s.add_argument("--messages", type=int, default=500, help="REST sends made while the server restarts")
    s.add_argument("--drain-limit", type=float, default=60, help="most seconds to wait for the last pushes")
    s.add_argument("--loop", default="uvloop", help="the server's event loop (uvloop or asyncio)")
    s.add_argument("--reload-lists", action="store_true",
                   help="after its sync each client also reloads its conversation lists (two REST requests), "
                        "as the web client does")
    a = parser.parse_args()
    {"fanout": fanout, "idle": idle, "storm": storm}[a.scenario](a)
