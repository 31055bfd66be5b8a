"""Several server processes on one shared nx-27017 (the ``db`` command) and one real Redis.

Every test starts its own ``redis-server`` (loopback, no persistence) and database process and
stops them, also on failure. Waits are on observable results (frames, answers, health fields),
never on sleeps.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any, Callable, Dict, List, Optional

import pytest

from chat.ops.embedded import free_port, pid_alive
from chat.store import ping_uri
from tests.conftest import CLASSES, SECRET, USERS, Api, Ws
from tests.e2e.test_process import ROOT, ServerProc, wait_gone

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
pytestmark = pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")


def until(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Poll a blocking check until it is truthy (process start-up, health fields)."""
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


async def eventually(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """The same inside a test's event loop (the servers are other processes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        await asyncio.sleep(0.05)


class RedisProc:
    """A private redis-server on a free loopback port, no persistence; restartable on the same port."""

    def __init__(self, workdir: str) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: Optional[subprocess.Popen] = None
        self.url = "redis://127.0.0.1:%d/0" % self.port

    def start(self) -> None:
        self.proc = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.workdir, "--protected-mode", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        until(self._answers, 20, "redis-server")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


class Cluster:
    """A database process, a Redis and server nodes on them; everything is stopped by the fixture."""

    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self.redis = RedisProc(tmp)
        self.db_port = free_port()
        self.db_dir = os.path.join(tmp, "db")
        self.db_log = os.path.join(tmp, "db.out")
        self.db: Optional[subprocess.Popen] = None
        self.db_name = "c_" + uuid.uuid4().hex[:10]
        self.nodes: List[ServerProc] = []

    @property
    def mongo_uri(self) -> str:
        return "mongodb://127.0.0.1:%d/?directConnection=true" % self.db_port

    def start_db(self) -> None:
        with open(self.db_log, "ab") as log:
            self.db = subprocess.Popen([sys.executable, "server.py", "db", "--db-port", str(self.db_port),
                                        "--data-dir", self.db_dir], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        state = os.path.join(self.db_dir, "mongo.json")  # written once the database answers
        until(lambda: self.db.poll() is not None or (os.path.exists(state) and ping_uri(self.mongo_uri, 300)),
              30, "the db command")
        assert self.db.poll() is None, self.db_output()

    def db_output(self) -> str:
        with open(self.db_log, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def import_roster(self) -> None:
        import json
        path = os.path.join(self.tmp, "roster.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"users": USERS, "classes": CLASSES}, fh)
        done = subprocess.run([sys.executable, "server.py", "import-roster", path, "--mongodb-uri", self.mongo_uri,
                               "--db-name", self.db_name], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    def start(self, nodes: int = 2, redis: bool = True, **settings: Any) -> List[ServerProc]:
        if redis and self.redis.proc is None:
            self.redis.start()
        if self.db is None:
            self.start_db()
            self.import_roster()
        started = [self.node(redis=redis, **settings) for _ in range(nodes)]
        for node in started:
            node.wait_ready()
        return started

    def node(self, redis: bool = True, **settings: Any) -> ServerProc:
        extra = ["--mongodb-uri", self.mongo_uri, "--db-name", self.db_name, "--jwt-secret", SECRET,
                 "--ws-ping-interval", "0"]
        if redis:
            extra += ["--redis-url", self.redis.url]
        for name, value in settings.items():
            extra += ["--" + name.replace("_", "-"), str(value)]
        node = ServerProc(os.path.join(self.tmp, "node%d" % len(self.nodes)), *extra)
        self.nodes.append(node)
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.db is not None and self.db.poll() is None:
            self.db.kill()
            self.db.wait(10)
            try:
                with open(os.path.join(self.db_dir, "mongo.json"), encoding="utf-8") as fh:
                    import json
                    child = json.load(fh)["pid"]
                if pid_alive(child):
                    os.kill(child, signal.SIGKILL)
            except (OSError, ValueError, KeyError):
                pass
        self.redis.stop()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 240))


# ---------------------------------------------------------------------- 1. the db command
def test_db_command_serves_several_servers_and_keeps_the_data_dir_guard(cluster):
    a, b = cluster.start(2)
    out = cluster.db_output()
    assert "database ready: --mongodb-uri '%s'" % cluster.mongo_uri in out

    async def main() -> None:
        api_a, api_b = Api(a.url), Api(b.url)
        conv = await api_a.conversation("st1", "direct", ["st2"])
        status, listed = await api_b.get("/api/conversations", "st2")
        assert status == 200 and [c["id"] for c in listed["data"]] == [conv["id"]]
    run(main())
    # a server on the db's data dir with the embedded default refuses to open the file twice
    child = _state_pid(cluster.db_dir)
    assert child is not None and pid_alive(child)
    done = subprocess.run([sys.executable, "server.py", "--port", str(free_port()), "--data-dir", cluster.db_dir],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "MONGODB_URI"})
    assert done.returncode == 3 and "another server" in done.stderr
    assert _state_pid(cluster.db_dir) == child, "the refused server must leave the state file alone"
    cluster.db.send_signal(signal.SIGTERM)
    assert cluster.db.wait(15) == 0
    assert wait_gone(child), "the database child outlived the db command"


def _state_pid(data_dir: str) -> Optional[int]:
    import json
    try:
        with open(os.path.join(data_dir, "mongo.json"), encoding="utf-8") as fh:
            return int(json.load(fh)["pid"])
    except (OSError, ValueError, KeyError):
        return None


# ---------------------------------------------------------------------- 2. seqs across processes
def test_three_processes_concurrent_senders_one_conversation_seqs_contiguous(cluster):
    nodes = cluster.start(3)
    per_sender = 40
    senders = ["t1", "st1", "st2"]

    async def main() -> None:
        import tornado.httpclient
        tornado.httpclient.AsyncHTTPClient.configure(None, max_clients=64)
        apis = [Api(n.url) for n in nodes]
        conv = await apis[0].conversation("t1", "group", ["st1", "st2"], title="three nodes")

        async def burst(i: int, user: str) -> List[int]:
            api = apis[i]
            sends = [api.send(user, conv["id"], "%s-%d" % (user, k), clientMsgId="%s-%d" % (user, k))
                     for k in range(per_sender)]
            return [m["seq"] for m in await asyncio.gather(*sends)]
        answered = await asyncio.gather(*(burst(i, u) for i, u in enumerate(senders)))
        total = per_sender * len(senders)
        assert sorted(s for seqs in answered for s in seqs) == list(range(1, total + 1))
        stored: List[Dict[str, Any]] = []
        after = 0
        while True:
            status, page = await apis[1].get("/api/conversations/%s/messages?after=%d&limit=100" % (conv["id"], after),
                                             "st1")
            assert status == 200
            stored += page["data"]
            if not page["hasMore"]:
                break
            after = page["data"][-1]["seq"]
        assert [m["seq"] for m in stored] == list(range(1, total + 1))
        assert sorted(m["text"] for m in stored) == sorted("%s-%d" % (u, k) for u in senders for k in range(per_sender))
        for node in nodes:  # every process took its seqs from the database, not from memory
            assert (await health(node))["redis"]["seqReservations"] > 0
            scraped = urllib.request.urlopen(node.url + "/metrics", timeout=30).read().decode()
            assert "chat_redis_up 1.0" in scraped and "chat_redis_published" in scraped  # the link in /metrics
    run(main())


# ---------------------------------------------------------------------- 3. fan-out and order
async def health(node: ServerProc) -> Dict[str, Any]:
    status, data = await Api(node.url).get("/api/health")
    assert status in (200, 503), data
    return data["data"]


async def subscribed(node: ServerProc) -> None:
    """Barrier: the node's sockets are registered in Redis (pushes are routed to them) and its
    subscriptions are confirmed."""
    async def check() -> bool:
        link = (await health(node))["redis"]
        return link["up"] and link["subscribing"] == 0 and link["presencePending"] == 0
    await eventually(check, what="registrations of %s" % node.url)


async def connect(node: ServerProc, user: str) -> Ws:
    return await Ws.connect(node.url, user)


async def barrier(*sockets: Ws) -> None:
    """Frames of one socket are answered in order: after a ping reply, every push the server
    wrote before it has arrived."""
    for s in sockets:
        await s.ok("ping")


async def news(ws: Ws, conversation_id: str, count: int, timeout: float = 90) -> List[int]:
    """Wait for ``count`` message:new frames of a conversation; their seqs, in arrival order."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def seqs() -> List[int]:
        return [f["data"]["seq"] for f in ws.of("message:new") if f["data"]["conversationId"] == conversation_id]
    while len(seqs()) < count:
        if ws.closed.is_set() or loop.time() > deadline:
            raise AssertionError("%s got %d of %d messages" % (ws.user, len(seqs()), count))
        ws._arrived.clear()
        try:
            await asyncio.wait_for(ws._arrived.wait(), 1)
        except asyncio.TimeoutError:
            pass
    return seqs()


def test_cross_node_fanout_every_device_in_seq_order_with_senders_on_both_nodes(cluster):
    # a gap timeout far above any delivery time: order comes from the buffer waiting for the
    # relayed message, never from a race with the database read (unit-tested separately)
    a, b = cluster.start(2, cluster_gap_timeout=60)
    per_sender = 60

    async def main() -> None:
        st1, t1a = await connect(a, "st1"), await connect(a, "t1")
        st2, t1b = await connect(b, "st2"), await connect(b, "t1")
        await subscribed(a)
        await subscribed(b)
        conv = await Api(a.url).conversation("t1", "group", ["st1", "st2"], title="across nodes")
        created = await st2.expect("conversation:created", lambda f: f["data"]["id"] == conv["id"])
        assert created["data"]["title"] == "across nodes"
        for i in range(per_sender):  # both senders at once, no waiting for answers
            st1.send("message:send", {"conversationId": conv["id"], "text": "a%d" % i, "clientMsgId": "a%d" % i})
            st2.send("message:send", {"conversationId": conv["id"], "text": "b%d" % i, "clientMsgId": "b%d" % i})
        total = 2 * per_sender
        for receiver in (st1, st2, t1a, t1b):
            got = await news(receiver, conv["id"], total)
            assert got == list(range(1, total + 1)), (receiver.user, got)
        await barrier(st1, st2, t1a, t1b)
        for receiver in (st1, st2, t1a, t1b):  # exactly once each
            assert len([f for f in receiver.of("message:new") if f["data"]["conversationId"] == conv["id"]]) == total
        texts = {f["data"]["text"] for f in t1b.of("message:new")}
        assert texts == {"a%d" % i for i in range(per_sender)} | {"b%d" % i for i in range(per_sender)}
        # an edit and a reaction on node A reach node B's sockets
        first = t1b.of("message:new")[0]["data"]
        sender = st1 if first["senderId"] == "st1" else st2
        await sender.ok("message:edit", {"messageId": first["id"], "text": "edited"})
        await t1b.expect("message:updated", lambda f: f["data"]["text"] == "edited")
        await t1a.expect("message:updated", lambda f: f["data"]["text"] == "edited")
    run(main())


# ---------------------------------------------------------------------- 4. Redis outages
def test_redis_restarted_mid_burst_loses_no_acknowledged_message_after_sync(cluster):
    a, b = cluster.start(2)
    total = 60

    async def main() -> None:
        st1, st2 = await connect(a, "st1"), await connect(b, "st2")
        await subscribed(a)
        await subscribed(b)
        conv = await Api(a.url).conversation("st1", "direct", ["st2"])
        acked: List[int] = []

        async def send(i: int) -> None:
            reply = await st1.ok("message:send", {"conversationId": conv["id"], "text": "m%d" % i,
                                                  "clientMsgId": "m%d" % i}, timeout=60)
            acked.append(reply["seq"])
        for i in range(20):  # Redis up
            await send(i)
        cluster.redis.stop()  # killed mid-burst
        for i in range(20, 40):  # sends go on: stored, acknowledged, delivered to local sockets
            await send(i)
        await eventually(lambda: _link_down(a, b), what="both nodes to see redis down")
        for i in range(40, 50):
            await send(i)
        cluster.redis.start()  # same port, empty
        for i in range(50, total):
            await send(i)
        for node in (a, b):
            await eventually(lambda node=node: _restored(node), what="the link of %s back" % node.url)
        await st2.expect("session:resync", timeout=60)
        await st1.expect("session:resync", timeout=60)
        assert sorted(acked) == list(range(1, total + 1))
        # st1's own socket (same node as the writer) never missed anything
        assert sorted(f["data"]["seq"] for f in st1.of("message:new")) == list(range(1, total + 1))
        # st2 answers the resync with sync, from the highest seq it has seen contiguously
        have = {f["data"]["seq"] for f in st2.of("message:new")}
        seen = 0
        while seen + 1 in have:
            seen += 1
        reply = await st2.ok("sync", {"conversations": {conv["id"]: seen}})
        have |= {m["seq"] for m in reply["messages"]}
        assert have == set(acked)
        # and afterwards pushes flow across nodes again
        await send(total)
        await st2.expect("message:new", lambda f: f["data"]["seq"] == total + 1)
        data = await health(b)
        assert data["redis"]["up"] is True and data["redis"]["restores"] >= 1
    run(main())
    for node in (a, b):
        assert "redis link down" in node.output() and "redis link restored; resubscribed to" in node.output()


async def _link_down(*nodes: ServerProc) -> bool:
    for node in nodes:
        if (await health(node))["redis"]["up"]:
            return False
    return True


async def _restored(node: ServerProc) -> bool:
    link = (await health(node))["redis"]
    return link["up"] and link["restores"] >= 1 and link["subscribing"] == 0


# ---------------------------------------------------------------------- 5. presence and typing
def _of_user(ws: Ws, event: str, user: str) -> List[Dict[str, Any]]:
    return [f for f in ws.of(event) if f["data"]["userId"] == user]


def test_presence_across_nodes_without_flapping_and_typing_across_nodes(cluster):
    a, b = cluster.start(2)

    async def main() -> None:
        admin = await connect(a, "a1")
        teacher = await connect(b, "t1")  # st2's teacher, on the node st2 leaves
        await subscribed(a)
        await subscribed(b)
        laptop = await connect(b, "st2")
        online = await admin.expect("user:online", lambda f: f["data"]["userId"] == "st2")
        assert online["data"] == {"userId": "st2", "name": "Sue Student", "role": "student"}
        listed = await admin.ok("presence:list", {})
        assert "st2" in [x["userId"] for x in listed]
        assert [x["userId"] for x in await admin.ok("presence:list", {"classId": "c1"})] == ["st2", "t1"]
        # the student on node B sees the admin on node A (the relation is symmetric)
        assert [x["userId"] for x in await laptop.ok("presence:list", {})] == ["a1", "t1"]
        phone = await connect(a, "st2")
        await phone.ok("ping")
        await laptop.close()  # the phone is still open on the other node: st2 stays online
        await connect(b, "st3")  # barrier: node B announces presence in order
        await admin.expect("user:online", lambda f: f["data"]["userId"] == "st3")
        assert _of_user(admin, "user:offline", "st2") == []
        assert len(_of_user(admin, "user:online", "st2")) == 1
        assert _of_user(teacher, "user:offline", "st2") == []
        assert "st2" in [x["userId"] for x in await teacher.ok("presence:list", {})]  # online on node A
        await phone.close()  # the last socket anywhere
        offline = await admin.expect("user:offline", lambda f: f["data"]["userId"] == "st2")
        assert offline["data"]["lastSeen"].endswith("Z")
        assert "st2" not in [x["userId"] for x in await admin.ok("presence:list", {})]

        # typing from a socket on node A reaches the other participant on node B, and ends
        # there when the typist's message arrives
        st1 = await connect(a, "st1")
        st2 = await connect(b, "st2")
        await subscribed(a)
        await subscribed(b)
        conv = await Api(a.url).conversation("st1", "direct", ["st2"])
        await st1.ok("typing:start", {"conversationId": conv["id"]})
        start = await st2.expect("typing:start", lambda f: f["data"]["conversationId"] == conv["id"])
        assert start["data"]["userId"] == "st1"
        await st1.ok("message:send", {"conversationId": conv["id"], "text": "hi"})
        await st2.expect("typing:stop", lambda f: f["data"]["userId"] == "st1")
        await st2.expect("message:new", lambda f: f["data"]["text"] == "hi")
    run(main())


def test_a_killed_node_takes_its_users_offline_within_the_ttl_and_they_resync_elsewhere(cluster):
    a, b = cluster.start(2, cluster_node_ttl=3)

    async def main() -> None:
        admin, st1 = await connect(a, "a1"), await connect(a, "st1")
        await subscribed(a)
        st2 = await connect(b, "st2")
        await admin.expect("user:online", lambda f: f["data"]["userId"] == "st2")
        await subscribed(b)
        conv = await Api(a.url).conversation("st1", "direct", ["st2"])
        first = await st1.ok("message:send", {"conversationId": conv["id"], "text": "before"})
        await st2.expect("message:new", lambda f: f["data"]["seq"] == first["seq"])
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(10)
        acked = [first["seq"]]
        for i in range(5):  # sent while node B is dead
            acked.append((await st1.ok("message:send", {"conversationId": conv["id"], "text": "m%d" % i}))["seq"])
        offline = await admin.expect("user:offline", lambda f: f["data"]["userId"] == "st2", timeout=60)
        assert offline["data"]["lastSeen"].endswith("Z")
        async def reaped() -> bool:  # the reaper counts a node once all its users are handled
            return bool((await health(a))["redis"]["reaped"] == 1)
        await eventually(reaped, what="node B reaped")
        # the client reconnects to the surviving node and syncs from what it had
        again = await connect(a, "st2")
        reply = await again.ok("sync", {"conversations": {conv["id"]: first["seq"]}})
        assert [m["seq"] for m in reply["messages"]] == acked[1:]
        await admin.expect("user:online", lambda f: f["data"]["userId"] == "st2")  # the first was taken above
    run(main())


# ---------------------------------------------------------------------- 5b. limits across nodes
async def settled(node: ServerProc, shared: Optional[int] = None) -> None:
    """Barrier: the node's socket opens and closes are settled in Redis (and, with ``shared``,
    that many users have their limits split between nodes)."""
    async def check() -> bool:
        link = (await health(node))["redis"]
        return link["presencePending"] == 0 and (shared is None or link["sharedLimits"] == shared)
    await eventually(check, what="presence of %s settled" % node.url)


def test_socket_cap_and_send_rate_hold_across_nodes(cluster):
    a, b = cluster.start(2, max_sockets_per_user=2, rate_messages=0.001, rate_messages_burst=10)

    async def main() -> None:
        on_a = await connect(a, "st1")
        await settled(a)
        on_b = await connect(b, "st1")
        await settled(b, shared=1)
        await settled(a, shared=1)
        third = await connect(a, "st1")  # the local count (1) allows it; the cluster's (3) does not
        error = await third.expect("error")
        assert error["error"]["code"] == "rate_limited"
        await asyncio.wait_for(third.closed.wait(), 30)
        assert third.close_code == 4029
        await settled(a)
        conv = await Api(a.url).conversation("st1", "direct", ["st2"])
        accepted = 0
        for ws in (on_a, on_b):  # each node allows half of the burst of 10
            for _ in range(8):
                reply = await ws.request("message:send", {"conversationId": conv["id"], "text": "x"})
                if reply["ok"]:
                    accepted += 1
                else:
                    assert reply["error"]["code"] == "rate_limited"
        assert accepted == 10
    run(main())


def test_a_member_added_on_one_node_gets_messages_sent_through_another(cluster):
    a, b = cluster.start(2)

    async def main() -> None:
        st1, st2 = await connect(b, "st1"), await connect(a, "st2")
        await subscribed(a)
        await subscribed(b)
        api_a = Api(a.url)
        conv = await api_a.conversation("t1", "group", ["st1"], title="grows")
        await st1.expect("conversation:created", lambda f: f["data"]["id"] == conv["id"])
        await st1.ok("message:send", {"conversationId": conv["id"], "text": "before"})  # node B caches it
        status, _ = await api_a.post("/api/conversations/%s/participants" % conv["id"], "t1", {"userIds": ["st2"]})
        assert status == 200
        await st2.expect("conversation:created", lambda f: f["data"]["id"] == conv["id"])
        await st1.expect("conversation:updated", lambda f: f["data"]["id"] == conv["id"])
        sent = await st1.ok("message:send", {"conversationId": conv["id"], "text": "after"})
        got = await st2.expect("message:new", lambda f: f["data"]["id"] == sent["id"])
        assert got["data"]["text"] == "after"
    run(main())


def test_a_user_who_left_during_a_redis_outage_goes_offline_everywhere_after_it(cluster):
    a, b = cluster.start(2, cluster_node_ttl=3)

    async def main() -> None:
        admin = await connect(a, "a1")
        await subscribed(a)
        st2 = await connect(b, "st2")
        await admin.expect("user:online", lambda f: f["data"]["userId"] == "st2")
        cluster.redis.stop()
        await eventually(lambda: _link_down(a, b), what="both nodes to see redis down")
        await st2.close()  # node B cannot tell anyone
        await settled_local(b)
        cluster.redis.start()  # back, and empty
        offline = await admin.expect("user:offline", lambda f: f["data"]["userId"] == "st2", timeout=60)
        assert offline["data"]["lastSeen"].endswith("Z")
        assert "st2" not in [x["userId"] for x in await admin.ok("presence:list", {})]
        await admin.expect("session:resync", timeout=60)
    run(main())


async def settled_local(node: ServerProc) -> None:
    """Barrier: the node has no socket open any more, and its presence work is done."""
    async def check() -> bool:
        data = await health(node)
        return data["connections"] == 0 and data["redis"]["presencePending"] == 0
    await eventually(check, what="%s idle" % node.url)


def test_a_node_stopped_cleanly_takes_its_users_offline_at_once(cluster):
    # a TTL far beyond the test: only the clean shutdown can make the user go offline
    a, b = cluster.start(2, cluster_node_ttl=600)

    async def main() -> None:
        admin = await connect(a, "a1")
        await subscribed(a)
        st2 = await connect(b, "st2")
        await admin.expect("user:online", lambda f: f["data"]["userId"] == "st2")
        b.proc.send_signal(signal.SIGTERM)
        await admin.expect("user:offline", lambda f: f["data"]["userId"] == "st2", timeout=60)
        await asyncio.wait_for(st2.closed.wait(), 30)
        assert st2.close_code == 1001
    run(main())
    assert b.proc.wait(30) == 0


def test_a_quick_redis_restart_is_noticed_and_clients_resync(cluster):
    a, b = cluster.start(2)

    async def main() -> None:
        st1, st2 = await connect(a, "st1"), await connect(b, "st2")
        await subscribed(a)
        await subscribed(b)
        conv = await Api(a.url).conversation("st1", "direct", ["st2"])
        cluster.redis.stop()
        cluster.redis.start()  # back at once: no node may paper over the gap
        sent = await st1.ok("message:send", {"conversationId": conv["id"], "text": "in the gap"})
        await st2.expect("session:resync", timeout=60)
        for node in (a, b):
            await eventually(lambda node=node: _restored(node), what="the link of %s back" % node.url)
        reply = await st2.ok("sync", {"conversations": {conv["id"]: 0}})
        assert [m["id"] for m in reply["messages"]] == [sent["id"]]
    run(main())


def test_contacts_made_through_one_node_count_for_presence_on_the_other(cluster):
    """A group created over REST on node A makes its members contacts on node B too, for the
    sockets B already has and for those opened there afterwards (B heard of the group only
    through Redis: its own contacts index was read before the group existed)."""
    a, b = cluster.start(2)

    def ids(listed: List[Dict[str, Any]]) -> List[str]:
        return [x["userId"] for x in listed]

    async def main() -> None:
        st1 = await connect(a, "st1")
        st3 = await connect(b, "st3")  # Art 7B: shares no class with st1
        st2 = await connect(b, "st2")
        await subscribed(a)
        await subscribed(b)
        assert "st1" not in ids(await st3.ok("presence:list", {}))
        group = await Api(a.url).conversation("st1", "group", ["st2", "st3"], title="Project")
        await st3.expect("conversation:created", lambda f: f["data"]["id"] == group["id"])
        assert ids(await st3.ok("presence:list", {})) == ["st1", "st2"]
        assert "st3" in ids(await st1.ok("presence:list", {}))
        await st3.close()
        await st1.expect("user:offline", lambda f: f["data"]["userId"] == "st3")
        late = await connect(b, "st3")  # a new session on the node that did not make the group
        await st1.expect("user:online", lambda f: f["data"]["userId"] == "st3")
        assert ids(await late.ok("presence:list", {})) == ["st1", "st2"]
        await st2.close()
    run(main())
