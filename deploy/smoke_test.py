#!/usr/bin/env python3
"""Smoke test of the built executable, run the way a school's VM runs it: an empty environment,
an empty working directory, no Python or source checkout involved in the server itself (this
script is only the client).

    python deploy/smoke_test.py [dist/school-chat]

Checks: --version, check-config, serve on a fresh data dir, /api/health 200, a WebSocket
session:ready, a message sent and read back, backup, SIGTERM -> exit 0 with no process left.
Prints the executable's size and its time from start to serving. Exit 0 when all pass.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Dict, List, Optional, Tuple


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, tok: Optional[str] = None, body: Any = None) -> Tuple[int, Dict[str, Any]]:
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method)
    if tok:
        req.add_header("Authorization", "Bearer " + tok)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def descendants(pid: int) -> List[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, encoding="ascii", errors="replace") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Smoke:
    def __init__(self, binary: str, work: str) -> None:
        self.binary = os.path.abspath(binary)
        self.work = work
        self.steps: List[str] = []

    def run(self, *args: str) -> subprocess.CompletedProcess:
        # env={}: nothing from the build machine (no PATH, no PYTHONPATH) reaches the executable
        return subprocess.run([self.binary, *args], cwd=self.work, env={}, capture_output=True, text=True,
                              timeout=120)

    def ok(self, what: str, cond: bool, detail: Any = "") -> None:
        if not cond:
            raise AssertionError("%s failed: %s" % (what, detail))
        self.steps.append(what)
        print("ok  %s" % what, flush=True)

    def main(self) -> Dict[str, Any]:
        version = self.run("--version")
        self.ok("--version", version.returncode == 0 and version.stdout.startswith("school-chat "), version)
        check = self.run("check-config", "--data-dir", "data")
        self.ok("check-config", check.returncode == 0 and "configuration OK" in check.stdout, check)
        port = free_port()
        log = open(os.path.join(self.work, "server.log"), "wb")
        started = time.monotonic()
        proc = subprocess.Popen([self.binary, "serve", "--port", str(port), "--data-dir", "data"], cwd=self.work,
                                env={}, stdout=log, stderr=subprocess.STDOUT)
        url = "http://127.0.0.1:%d" % port
        try:
            while True:
                assert proc.poll() is None, "server exited: %s" % self.log()
                try:
                    if http("GET", url + "/api/health")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.02)
            ready = time.monotonic() - started
            self.ok("serve + /api/health 200 (%.2f s)" % ready, True)
            tokens = {}
            for user in ("alice", "bob"):
                result = self.run("token", "--user", user, "--role", "student", "--school", "s1", "--name", user,
                                  "--data-dir", "data")
                self.ok("token " + user, result.returncode == 0, result)
                tokens[user] = result.stdout.strip()
            http("GET", url + "/api/me", tokens["bob"])
            status, conv = http("POST", url + "/api/conversations", tokens["alice"],
                                {"type": "direct", "participantIds": ["bob"]})
            self.ok("create conversation", status == 201, conv)
            cid = conv["data"]["id"]
            seq = asyncio.run(self.websocket(url, tokens["alice"], cid))
            self.ok("websocket session:ready + message:send", seq == 1, seq)
            status, hist = http("GET", url + "/api/conversations/%s/messages" % cid, tokens["bob"])
            self.ok("message read back", status == 200 and [m["text"] for m in hist["data"]] == ["hello from smoke"],
                    hist)
            static = urllib.request.urlopen(url + "/", timeout=10).read()
            self.ok("web client served", b"<html" in static.lower())
            backup = self.run("backup", "backup.tar.gz", "--data-dir", "data")
            self.ok("backup", backup.returncode == 0 and os.path.getsize(os.path.join(self.work, "backup.tar.gz")) > 0,
                    backup)
            below = descendants(proc.pid)
            self.ok("database child running", len(below) >= 1, below)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
            self.ok("SIGTERM -> exit 0", code == 0, self.log())
            deadline = time.monotonic() + 10
            while any(os.path.exists("/proc/%d" % pid) and not _zombie(pid) for pid in below):
                assert time.monotonic() < deadline, "left running: %s" % below
                time.sleep(0.05)
            self.ok("no process left", True)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
        size = os.path.getsize(self.binary)
        print("binary: %.1f MB; start to serving: %.2f s" % (size / 1e6, ready))
        return {"bytes": size, "readySeconds": ready}

    async def websocket(self, url: str, tok: str, cid: str) -> int:
        import tornado.websocket

        sock = await tornado.websocket.websocket_connect(url.replace("http://", "ws://") + "/ws?token=" + tok)
        ready = json.loads(await sock.read_message())
        assert ready["event"] == "session:ready", ready
        sock.write_message(json.dumps({"event": "message:send", "ref": "s1", "data": {
            "conversationId": cid, "text": "hello from smoke", "clientMsgId": "smoke-1"}}))
        while True:
            frame = json.loads(await asyncio.wait_for(sock.read_message(), 30))
            if frame.get("event") == "reply" and frame.get("ref") == "s1":
                sock.close()
                assert frame["ok"], frame
                return int(frame["data"]["seq"])

    def log(self) -> str:
        with open(os.path.join(self.work, "server.log"), encoding="utf-8", errors="replace") as fh:
            return fh.read()[-3000:]


def _zombie(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def smoke(binary: str) -> Dict[str, Any]:
    """Run every check in a fresh empty directory; raises AssertionError on the first failure."""
    with tempfile.TemporaryDirectory(prefix="school-chat-smoke-") as work:
        return Smoke(binary, work).main()


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "dist",
                                                                 "school-chat")
    try:
        smoke(target)
    except AssertionError as exc:
        print("FAIL %s" % exc, file=sys.stderr)
        sys.exit(1)
    print("smoke test passed")
