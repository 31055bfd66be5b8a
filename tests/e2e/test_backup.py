"""Backup while the server runs and writes; restore into a new data dir; refusals."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tarfile

import pytest
import tornado.websocket

from tests.e2e.test_process import ROOT, ServerProc, http

UNLIMITED = ("--rate-messages", "1e6", "--rate-messages-burst", "1e6", "--rate-frames", "1e6",
             "--rate-frames-burst", "1e6")


@pytest.fixture
def running(tmp_path):
    proc = ServerProc(str(tmp_path / "data"))
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def busy_server(tmp_path):
    """A server whose rate limits let one client send back to back."""
    proc = ServerProc(str(tmp_path / "data"), *UNLIMITED)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_") and k != "MONGODB_URI"}
    return subprocess.run([sys.executable, "server.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


async def _send_burst_across_a_backup(server_url: str, tok: str, cid: str, archive: str, data_dir: str):
    """Sends back to back; the backup starts once some are acknowledged and the burst goes on
    while it runs. Returns (acked before the backup began, acked in all, backup result)."""
    sock = await tornado.websocket.websocket_connect(server_url.replace("http://", "ws://") + "/ws?token=" + tok)
    assert json.loads(await sock.read_message())["event"] == "session:ready"
    acked = {}
    counter = 0
    before = None
    backup_proc = None

    async def send_one():
        nonlocal counter
        counter += 1
        ref = "m%d" % counter
        sock.write_message(json.dumps({"event": "message:send", "ref": ref,
                                       "data": {"conversationId": cid, "text": ref, "clientMsgId": ref}}))
        while True:
            frame = json.loads(await asyncio.wait_for(sock.read_message(), 30))
            if frame.get("event") == "reply" and frame.get("ref") == ref:
                assert frame["ok"], frame
                acked[ref] = frame["data"]["seq"]
                return

    for _ in range(20):
        await send_one()
    before = dict(acked)  # everything acknowledged before the backup begins
    backup_proc = await asyncio.create_subprocess_exec(
        sys.executable, "server.py", "backup", archive, "--data-dir", data_dir, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    during = 0
    while backup_proc.returncode is None or during < 5:  # sends keep going while it copies
        await send_one()
        during += 1
        if during % 5 == 0:
            await asyncio.sleep(0)  # let the subprocess watcher notice the exit
    out, err = await backup_proc.communicate()
    sock.close()
    return before, dict(acked), (backup_proc.returncode, out.decode(), err.decode())


def test_backup_during_a_send_burst_then_restore_into_a_new_data_dir(busy_server, tmp_path):
    server = busy_server
    tok = server.cli("token", "--user", "u1", "--role", "student", "--school", "s1").stdout.strip()
    tok2 = server.cli("token", "--user", "u2", "--role", "student", "--school", "s1").stdout.strip()
    http("GET", server.url + "/api/me", tok2)
    status, conv = http("POST", server.url + "/api/conversations", tok, {"type": "direct", "participantIds": ["u2"]})
    assert status == 201
    cid = conv["data"]["id"]
    archive = str(tmp_path / "backups" / "chat.tar.gz")
    before, _all, (code, out, err) = asyncio.run(
        _send_burst_across_a_backup(server.url, tok, cid, archive, server.data_dir))
    assert code == 0, err
    assert "wrote %s" % archive in out
    assert os.stat(archive).st_mode & 0o777 == 0o600
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["backup.json", "chat.db", "jwt-secret"]

    # a restore into the live data dir is refused, and changes nothing
    refused = cli("restore", archive, "--data-dir", server.data_dir, "--force")
    assert refused.returncode == 1 and "in use by a running server" in refused.stderr
    assert http("GET", server.url + "/api/health")[0] == 200

    fresh = str(tmp_path / "restored")
    restored = cli("restore", archive, "--data-dir", fresh)
    assert restored.returncode == 0, restored.stderr
    server.proc.send_signal(signal.SIGTERM)  # the original stops; the restored copy takes over
    assert server.proc.wait(15) == 0
    again = ServerProc(fresh, *UNLIMITED)
    try:
        again.wait_ready()
        # the same secret came back: the old tokens are accepted
        stored = {}
        after = 0
        while True:  # every page: a slow backup lets the burst run long
            status, hist = http("GET", again.url + "/api/conversations/%s/messages?limit=100&after=%d"
                                % (cid, after), tok)
            assert status == 200, hist
            stored.update({m["text"]: m["seq"] for m in hist["data"]})
            if not hist["hasMore"]:
                break
            after = hist["next"]
        for text, seq in before.items():
            assert stored.get(text) == seq, (text, seq, stored.get(text))
        seqs = sorted(stored.values())
        assert seqs == list(range(1, len(seqs) + 1))  # a gap-free prefix of what was sent
        status, sent = http("POST", again.url + "/api/conversations/%s/messages" % cid, tok, {"text": "after"})
        assert status == 201 and sent["data"]["seq"] == seqs[-1] + 1  # no seq clash
        status, listed = http("GET", again.url + "/api/conversations", tok)
        assert listed["data"][0]["lastSeq"] == seqs[-1] + 1
    finally:
        again.stop()


def test_restore_refuses_a_non_empty_data_dir_and_a_non_backup(running, tmp_path):
    server = running
    stored = os.path.join(server.data_dir, "uploads", "ab")  # files of uploads stored in the data dir
    os.makedirs(stored)
    with open(os.path.join(stored, "f1"), "wb") as fh:
        fh.write(b"\x89PNG picture")
    archive = str(tmp_path / "b.tar.gz")
    made = cli("backup", archive, "--data-dir", server.data_dir)
    assert made.returncode == 0, made.stderr
    other = tmp_path / "other"
    assert cli("restore", archive, "--data-dir", str(other)).returncode == 0
    assert (other / "uploads" / "ab" / "f1").read_bytes() == b"\x89PNG picture"
    again = cli("restore", archive, "--data-dir", str(other))
    assert again.returncode == 1 and "already holds a database" in again.stderr
    forced = cli("restore", archive, "--data-dir", str(other), "--force")
    assert forced.returncode == 0, forced.stderr
    assert any(name.startswith("chat.db.before-restore-") for name in os.listdir(other))
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    bad = cli("restore", str(junk), "--data-dir", str(tmp_path / "x"))
    assert bad.returncode == 1 and "is not a school-chat backup" in bad.stderr
    missing = cli("backup", str(tmp_path / "y.tar.gz"), "--data-dir", str(tmp_path / "empty"))
    assert missing.returncode == 1 and "no embedded database" in missing.stderr
    external = cli("backup", str(tmp_path / "z.tar.gz"), "--mongodb-uri", "mongodb://db.example:27017/")
    assert external.returncode == 2 and "mongodump" in external.stderr
