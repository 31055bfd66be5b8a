"""The server as a process: start-up, the embedded database child's life, signals, CLI commands."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple

import pytest

from chat.ops.embedded import free_port, pid_alive

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def http(method: str, url: str, tok: Optional[str] = None, body: Any = None) -> Tuple[int, Dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if tok:
        req.add_header("Authorization", "Bearer " + tok)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


class ServerProc:
    def __init__(self, data_dir: str, *extra: str, env: Optional[Dict[str, str]] = None,
                 port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.child: Optional[int] = None
        self.data_dir = data_dir
        self.url = "http://127.0.0.1:%d" % self.port
        full_env = dict(os.environ, PYTHONUNBUFFERED="1")
        full_env.pop("MONGODB_URI", None)
        full_env.update(env or {})
        self.log_path = os.path.join(data_dir, "server.out")
        os.makedirs(data_dir, exist_ok=True)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "server.py", "--port", str(self.port), "--data-dir", data_dir,
                                      *extra], cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited: %s" % self.output())
            try:
                status, _ = http("GET", self.url + "/api/health")
                if status == 200:
                    try:
                        self.child = int(self.state()["pid"])  # its own database child
                    except (OSError, ValueError, KeyError):
                        self.child = None
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("server not ready: %s" % self.output())

    def output(self) -> str:
        with open(self.log_path, "r", encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def state(self) -> Dict[str, Any]:
        with open(os.path.join(self.data_dir, "mongo.json"), encoding="utf-8") as fh:
            return json.load(fh)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env.pop("MONGODB_URI", None)
        return subprocess.run([sys.executable, "server.py", *args, "--data-dir", self.data_dir], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    def stop(self) -> None:
        """Kill the server and, should it have been left behind, its database child."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()
        if self.child is not None and pid_alive(self.child):
            try:
                os.kill(self.child, signal.SIGKILL)
            except OSError:
                pass


def wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def server(tmp_path):
    proc = ServerProc(str(tmp_path / "data"))
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def test_start_logs_url_and_storage_then_sigterm_stops_everything(server):
    out = server.output()
    assert "serving %s/" % server.url in out and "storage: embedded nx-27017" in out
    state = server.state()
    child = state["pid"]
    assert state["serverPid"] == server.proc.pid and pid_alive(child)
    assert os.path.exists(os.path.join(server.data_dir, "chat.db"))
    assert os.path.exists(os.path.join(server.data_dir, "nx-27017.pid"))
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(15) == 0
    assert wait_gone(child), "the embedded database outlived the server"
    assert not os.path.exists(os.path.join(server.data_dir, "mongo.json"))


def test_sigkill_of_the_server_takes_the_child_along(server):
    child = server.state()["pid"]
    server.proc.kill()
    server.proc.wait(10)
    assert wait_gone(child), "orphaned nx-27017 after SIGKILL"


def test_jwt_secret_file_is_private_and_token_command_is_accepted(server):
    path = os.path.join(server.data_dir, "jwt-secret")
    assert os.stat(path).st_mode & 0o777 == 0o600
    result = server.cli("token", "--user", "u1", "--role", "teacher", "--school", "s1", "--name", "Alice", "--ttl", "60")
    assert result.returncode == 0, result.stderr
    status, data = http("GET", server.url + "/api/me", result.stdout.strip())
    assert status == 200 and data["data"] == {"id": "u1", "name": "Alice", "role": "teacher", "school": "s1"}
    bad = server.cli("token", "--user", "u1", "--role", "janitor", "--school", "s1")
    assert bad.returncode != 0


def test_import_roster_into_the_running_server(server, tmp_path):
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps({
        "users": [{"id": "t1", "name": "Tom", "role": "teacher", "school": "s1"},
                  {"id": "st1", "name": "Sam", "role": "student", "school": "s1"}],
        "classes": [{"id": "c1", "school": "s1", "name": "Maths", "teacherIds": ["t1"], "studentIds": ["st1"]}]}))
    children_before = server.state()["pid"]
    result = server.cli("import-roster", str(roster))
    assert result.returncode == 0, result.stderr
    assert "imported 2 users (2 new), 1 classes (1 new)" in result.stdout
    again = server.cli("import-roster", str(roster))
    assert "imported 2 users (0 new), 1 classes (0 new)" in again.stdout
    assert server.state()["pid"] == children_before  # it used the running database, started none
    tok = server.cli("token", "--user", "t1", "--role", "teacher", "--school", "s1").stdout.strip()
    status, data = http("POST", server.url + "/api/conversations", tok, {"type": "class", "classId": "c1"})
    assert status == 201, data
    assert {p["name"] for p in data["data"]["participants"]} == {"Tom", "Sam"}
    csv_file = tmp_path / "users.csv"
    csv_file.write_text("id,name,role,school\nst2,Sue,student,s1\n")
    assert "imported 1 users (1 new)" in server.cli("import-roster", str(csv_file)).stdout
    broken = tmp_path / "broken.json"
    broken.write_text('{"users": [{"id": "x", "role": "pirate", "school": "s1", "name": "X"}]}')
    result = server.cli("import-roster", str(broken))
    assert result.returncode == 2 and "role" in result.stderr


def test_a_dead_database_child_gives_503_then_is_restarted(server):
    tok = server.cli("token", "--user", "u1", "--role", "student", "--school", "s1").stdout.strip()
    assert http("GET", server.url + "/api/conversations", tok)[0] == 200
    child = server.state()["pid"]
    os.kill(child, signal.SIGKILL)
    assert wait_gone(child)
    status, data = http("GET", server.url + "/api/health")
    if status == 503:  # the restart can win the race; when it does not, the answer is a clean 503
        assert data["data"]["storageUp"] is False
    deadline = time.time() + 20
    while time.time() < deadline:
        status, data = http("GET", server.url + "/api/conversations", tok)
        if status == 200:
            break
        assert status == 503 and data["error"]["code"] == "unavailable"
        time.sleep(0.2)
    assert status == 200
    assert server.state()["pid"] != child
    assert "restarting" in server.output()
    assert http("GET", server.url + "/api/health")[1]["data"]["embeddedRestarts"] >= 1
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as resp:
        restarts = [line for line in resp.read().decode().splitlines() if line.startswith("chat_embedded_restarts ")]
    assert restarts and float(restarts[0].split()[1]) >= 1


def test_external_mongodb_starts_nothing(tmp_path, mongo_uri):
    proc = ServerProc(str(tmp_path / "ext"), env={"MONGODB_URI": mongo_uri, "CHAT_DB_NAME": "ext_test"})
    try:
        proc.wait_ready()
        assert not os.path.exists(os.path.join(proc.data_dir, "mongo.json"))
        assert not os.path.exists(os.path.join(proc.data_dir, "chat.db"))
        assert "storage: mongodb" in proc.output()
        proc.proc.send_signal(signal.SIGINT)
        assert proc.proc.wait(15) == 0
    finally:
        proc.stop()


def test_unreachable_mongodb_is_a_clear_error(tmp_path):
    dead = "mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=300" % free_port()
    proc = ServerProc(str(tmp_path / "dead"), "--db-timeout-ms", "300", env={"MONGODB_URI": dead})
    try:
        assert proc.proc.wait(30) == 3
        assert "does not answer" in proc.output()
    finally:
        proc.stop()


def test_a_second_server_on_the_same_data_dir_refuses(server, tmp_path):
    state_before = server.state()
    other = ServerProc(server.data_dir)
    try:
        assert other.proc.wait(30) == 3
        assert "another server (pid %d)" % server.proc.pid in other.output()
    finally:
        other.stop()
    assert http("GET", server.url + "/api/health")[0] == 200
    assert server.state() == state_before  # the refused start left the running server's state file alone
    roster = tmp_path / "r.json"
    roster.write_text(json.dumps({"users": [{"id": "t9", "name": "T", "role": "teacher", "school": "s1"}]}))
    result = server.cli("import-roster", str(roster))
    assert result.returncode == 0 and "imported 1 users" in result.stdout, result.stderr


def test_a_busy_port_is_one_line_and_exit_4_with_nothing_written(tmp_path):
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    data_dir = tmp_path / "never"
    env = dict(os.environ)
    env.pop("MONGODB_URI", None)
    try:
        result = subprocess.run([sys.executable, "server.py", "--port", str(port),
                                 "--data-dir", str(data_dir)], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=60)
    finally:
        holder.close()
    assert result.returncode == 4
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot listen on 127.0.0.1:%d" % port in lines[0], lines
    assert not data_dir.exists()


def test_the_database_child_holds_the_data_dir_lock_too(server):
    """A SIGKILLed server's child lives on until its PDEATHSIG is acted on: holding the lock
    itself, it keeps the data dir owned until it has really exited."""
    child = server.state()["pid"]
    lock = os.path.join(server.data_dir, "server.lock")
    held = [os.readlink("/proc/%d/fd/%s" % (child, fd)) for fd in os.listdir("/proc/%d/fd" % child)]
    assert lock in held


def test_restart_waits_while_an_exiting_process_still_holds_the_data_dir(server):
    """Stands in for a killed server's database child that has not exited yet (the kernel gives
    no bound on that): the new server must wait for it, not fail nor open the database beside it."""
    tok = server.cli("token", "--user", "u1", "--role", "student", "--school", "s1").stdout.strip()
    assert http("GET", server.url + "/api/me", tok)[0] == 200
    child = server.state()["pid"]
    server.proc.kill()
    server.proc.wait(10)
    assert wait_gone(child)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"), os.path.join(server.data_dir, "server.lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        again = ServerProc(server.data_dir)
        try:
            marker = "still locked by an exiting process"
            while marker not in again.output():
                assert again.proc.poll() is None, again.output()
                try:
                    assert http("GET", again.url + "/api/health")[0] != 200, "started beside the lock holder"
                except OSError:
                    pass
                time.sleep(0.05)
            holder.stdin.close()  # the holder exits: the data dir is free
            assert holder.wait(10) == 0
            again.wait_ready()
            assert http("GET", again.url + "/api/me", tok)[1]["data"]["id"] == "u1"
        finally:
            again.stop()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_embedded_database_log_is_written_once(server):
    names = os.listdir(server.data_dir)
    assert "nx-27017.log" in names and "nx-27017.out" not in names
    with open(os.path.join(server.data_dir, "nx-27017.log"), encoding="utf-8") as fh:
        assert "Starting NX-27017" in fh.read()


def test_sigterm_closes_sockets_with_1001_and_exits_0(server):
    import asyncio

    import tornado.websocket

    tok = server.cli("token", "--user", "u1", "--role", "student", "--school", "s1").stdout.strip()
    child = server.state()["pid"]

    async def scenario():
        url = server.url.replace("http://", "ws://") + "/ws?token=" + tok
        conns = [await tornado.websocket.websocket_connect(url) for _ in range(3)]
        for conn in conns:
            assert json.loads(await conn.read_message())["event"] == "session:ready"
        conns[0].write_message(json.dumps({"event": "ping", "ref": "last"}))
        assert json.loads(await conns[0].read_message())["event"] == "pong"
        server.proc.send_signal(signal.SIGTERM)
        for conn in conns:
            while await asyncio.wait_for(conn.read_message(), 10) is not None:
                pass
        return [c.close_code for c in conns]
    assert asyncio.run(scenario()) == [1001, 1001, 1001]
    assert server.proc.wait(15) == 0
    assert wait_gone(child)
    assert "shutting down" in server.output()


def test_unflushed_conversation_state_is_recovered_after_sigkill(server, tmp_path):
    tok = server.cli("token", "--user", "u1", "--role", "student", "--school", "s1").stdout.strip()
    http("GET", server.url + "/api/me", server.cli("token", "--user", "u2", "--role", "student", "--school",
                                                    "s1").stdout.strip())
    status, conv = http("POST", server.url + "/api/conversations", tok, {"type": "direct", "participantIds": ["u2"]})
    assert status == 201
    path = "/api/conversations/%s/messages" % conv["data"]["id"]
    for i in range(5):
        assert http("POST", server.url + path, tok, {"text": "m%d" % i})[0] == 201
    server.proc.kill()  # before the write-behind of lastSeq/lastMessage
    server.proc.wait(10)
    assert wait_gone(server.state()["pid"])
    again = ServerProc(server.data_dir)
    try:
        again.wait_ready()
        status, data = http("POST", again.url + path, tok, {"text": "after the crash"})
        assert status == 201 and data["data"]["seq"] == 6
        _, listed = http("GET", again.url + "/api/conversations", tok)
        assert listed["data"][0]["lastSeq"] == 6 and listed["data"][0]["lastMessage"]["preview"] == "after the crash"
        _, hist = http("GET", again.url + path + "?limit=100", tok)
        assert [m["seq"] for m in hist["data"]] == [1, 2, 3, 4, 5, 6]
    finally:
        again.stop()


def test_storage_outage_during_sends_is_unavailable_and_broadcasts_nothing(server):
    import asyncio

    import tornado.websocket

    tok = server.cli("token", "--user", "u1", "--role", "student", "--school", "s1").stdout.strip()
    tok2 = server.cli("token", "--user", "u2", "--role", "student", "--school", "s1").stdout.strip()
    http("GET", server.url + "/api/me", tok2)
    _, conv = http("POST", server.url + "/api/conversations", tok, {"type": "direct", "participantIds": ["u2"]})
    cid = conv["data"]["id"]

    async def scenario():
        base = server.url.replace("http://", "ws://") + "/ws?token="
        sender = await tornado.websocket.websocket_connect(base + tok)
        reader = await tornado.websocket.websocket_connect(base + tok2)
        for conn in (sender, reader):
            assert json.loads(await conn.read_message())["event"] == "session:ready"

        async def send(text, ref):
            sender.write_message(json.dumps({"event": "message:send", "ref": ref, "data": {
                "conversationId": cid, "text": text, "clientMsgId": ref}}))
            while True:
                frame = json.loads(await asyncio.wait_for(sender.read_message(), 15))
                if frame["event"] == "reply" and frame["ref"] == ref:
                    return frame

        async def next_message():
            while True:
                frame = json.loads(await asyncio.wait_for(reader.read_message(), 5))
                if frame["event"] == "message:new":  # skip presence pushes
                    return frame

        assert (await send("before", "c1"))["ok"]
        assert (await next_message())["data"]["seq"] == 1
        db = server.state()["pid"]
        os.kill(db, signal.SIGSTOP)  # the database hangs (a dead one is restarted too fast to notice)
        try:
            failed = await send("during", "c2")  # an answer, not a hang (send's reads are bounded)
            assert failed["ok"] is False and failed["error"]["code"] == "unavailable"
            with pytest.raises(asyncio.TimeoutError):  # nothing was broadcast for it
                await asyncio.wait_for(next_message(), 0.5)
        finally:
            os.kill(db, signal.SIGCONT)
        deadline = time.time() + 20
        while True:  # the client retries with the same clientMsgId
            reply = await send("during", "c2")
            if reply["ok"]:
                break
            assert time.time() < deadline, reply
            await asyncio.sleep(0.3)
        assert reply["data"]["seq"] == 2
        after = await send("after", "c3")
        assert after["ok"] and after["data"]["seq"] == 3
        seen = []
        while not seen or seen[-1] != 3:
            seen.append((await next_message())["data"]["seq"])
        assert seen[-1] == 3 and len(seen) == len(set(seen))  # the later send is pushed live, nothing twice
        _, hist = http("GET", server.url + "/api/conversations/%s/messages" % cid, tok)
        assert [(m["seq"], m["text"]) for m in hist["data"]] == [(1, "before"), (2, "during"), (3, "after")]
        sender.close()
        reader.close()
    asyncio.run(scenario())
