"""Operations: commands, --version, the TOML config file and check-config, the example config."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from typing import Dict, Optional

import pytest

from chat.version import __version__
from tests.unit.test_config import _families, _sample

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "a-secret-that-is-long-enough-for-hs256-signing"


def run(*args: str, env: Optional[Dict[str, str]] = None, cwd: str = ROOT) -> subprocess.CompletedProcess:
    """``python server.py ARGS`` with no CHAT_* variables but those given."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_") and k != "MONGODB_URI"}
    base.update(env or {})
    return subprocess.run([sys.executable, os.path.join(ROOT, "server.py"), *args], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=60)


def effective(output: str) -> Dict[str, str]:
    """check-config's ``name = value # source`` lines as {name: "value # source"}."""
    rows = {}
    for line in output.splitlines():
        match = re.match(r"^(\w+)\s+= (.*?)\s+# (.*)$", line)
        if match:
            rows[match.group(1)] = "%s # %s" % (match.group(2), match.group(3))
    return rows


def test_version_matches_pyproject():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        assert tomllib.load(fh)["project"]["version"] == __version__
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == "school-chat %s" % __version__


def test_help_lists_every_command_and_unknown_commands_are_refused():
    out = run("--help").stdout
    for command in ("serve", "token", "import-roster", "check-config", "backup", "restore", "--version"):
        assert command in out
    bad = run("frobnicate")
    assert bad.returncode == 2 and "unknown command 'frobnicate'" in bad.stderr


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path):
    config = tmp_path / "chat.toml"
    config.write_text('port = 7001\nhost = "0.0.0.0"\nrate_messages = 5\nallowed_origins = ["https://lms.example"]\n'
                      'jwt_secret = "%s"\n' % SECRET)
    result = run("check-config", "--config", str(config), "--port", "7003",
                 env={"CHAT_PORT": "7002", "CHAT_HOST": "127.0.0.2", "CHAT_DATA_DIR": str(tmp_path / "d")})
    assert result.returncode == 0, result.stderr
    rows = effective(result.stdout)
    assert rows["port"] == "7003 # flag"
    assert rows["host"] == '"127.0.0.2" # env CHAT_HOST'
    assert rows["rate_messages"] == "5.0 # file"
    assert rows["allowed_origins"] == '["https://lms.example"] # file'
    assert rows["max_text"] == "4000 # default"
    assert rows["jwt_secret"] == '"***" # file' and SECRET not in result.stdout  # masked
    assert "configuration OK" in result.stdout
    # the config file may also come from the environment
    via_env = run("check-config", env={"CHAT_CONFIG": str(config), "CHAT_DATA_DIR": str(tmp_path / "d")})
    assert effective(via_env.stdout)["port"] == "7001 # file"


@pytest.mark.parametrize("text, message", [
    ("prot = 80\n", "unknown setting 'prot' (did you mean 'port'?)"),
    ('port = "80"\n', "port must be an integer, not '80'"),
    ("demo = 1\n", "demo must be true or false"),
    ("allowed_origins = [1]\n", "allowed_origins must be a list of strings"),
    ("port = \n", "is not valid TOML"),
])
def test_bad_config_files_are_refused_with_a_precise_message(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    for command in (["check-config"], []):  # serve refuses the same way, before doing anything
        result = run(*command, "--config", str(config), "--data-dir", str(tmp_path / "d"))
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and str(config) in result.stderr
        assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "port must be 0..65535"),
    (["--log-format", "xml"], "log_format must be text or json"),
    (["--tls-cert", "/nonexistent.pem"], "tls_cert and tls_key go together"),
    (["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"], "tls_cert/tls_key cannot be loaded"),
    (["--trusted-proxies", "10.0.0.0/8,not-a-net"], "'not-a-net' is not an address or CIDR"),
    (["--jwt-secret", "short"], "jwt_secret is shorter than 32 characters"),
    (["--mongodb-uri", "http://x"], "mongodb_uri must start with mongodb://"),
    (["--ws-ping-timeout", "60"], "ws_ping_timeout (60) cannot be longer than ws_ping_interval (25)"),
])
def test_check_config_names_the_bad_setting(tmp_path, args, message):
    result = run("check-config", "--data-dir", str(tmp_path / "d"), *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_check_config_rejects_a_bad_environment_value(tmp_path):
    result = run("check-config", env={"CHAT_PORT": "eighty"})
    assert result.returncode == 2 and "CHAT_PORT='eighty'" in result.stderr


def test_mongodb_uri_password_is_masked(tmp_path):
    result = run("check-config", "--mongodb-uri", "mongodb://chat:hunter2@db.school:27017/")
    assert result.returncode == 0 and "hunter2" not in result.stdout
    assert "mongodb://***@db.school:27017/" in result.stdout


# -- observability ------------------------------------------------------------------------------


def _server(tmp_path, *extra: str):
    from tests.e2e.test_process import ServerProc

    proc = ServerProc(str(tmp_path / "data"), *extra)
    proc.wait_ready()
    return proc


def test_metrics_on_the_main_port_see_a_live_socket(tmp_path):
    import asyncio
    import json
    import urllib.request

    import tornado.websocket

    server = _server(tmp_path)
    try:
        tok = server.cli("token", "--user", "u1", "--role", "student", "--school", "s1").stdout.strip()

        async def scenario() -> str:
            sock = await tornado.websocket.websocket_connect(server.url.replace("http", "ws") + "/ws?token=" + tok)
            ready = json.loads(await sock.read_message())
            assert ready["event"] == "session:ready"
            with urllib.request.urlopen(server.url + "/metrics", timeout=10) as resp:
                assert resp.headers["Content-Type"].startswith("text/plain")
                text = resp.read().decode()
            sock.close()
            return text
        fam = _families(asyncio.run(scenario()))
        assert _sample(fam, "chat_sockets") == 1 and _sample(fam, "chat_users_online") == 1
        assert _sample(fam, "chat_embedded_restarts") == 0
        for name in ("chat_messages_stored", "chat_deliveries", "chat_writer_batch_size", "chat_send_latency_seconds",
                     "chat_storage_errors", "chat_socket_closes", "process_resident_memory_bytes"):
            assert name in fam, name
    finally:
        server.stop()


def test_metrics_on_their_own_loopback_port_only(tmp_path):
    import urllib.request

    from chat.ops.embedded import free_port
    from tests.e2e.test_process import http

    port = free_port()
    server = _server(tmp_path, "--metrics-port", str(port))
    try:
        status, body = http("GET", server.url + "/metrics")
        assert status == 404 and body["error"]["code"] == "not_found"
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as resp:
            assert "chat_sockets" in resp.read().decode()
    finally:
        server.stop()


def test_json_logs_health_version_head_and_no_token_in_any_log_line(tmp_path):
    import json
    import urllib.error
    import urllib.request

    from tests.e2e.test_process import http

    server = _server(tmp_path, "--log-format", "json", "--log-level", "info")
    try:
        tok = server.cli("token", "--user", "u1", "--role", "student", "--school", "s1").stdout.strip()
        assert http("GET", server.url + "/api/me?token=" + tok)[0] in (200, 401)
        assert http("GET", server.url + "/api/me?x=1&access_token=" + tok)[0] in (200, 401)
        # signed links are credentials too: their signature and signer stay out of the access log
        signed = ["/api/exports/%s/download?u=a1secret&r=admin&s=s1&e=9&sig=feedface01" % ("0" * 24),
                  "/api/uploads/%s?u=a1secret&e=9&sig=feedface02" % ("0" * 24),
                  "/api/notifications/unsubscribe?u=a1secret&sig=feedface03"]
        for path in signed:
            try:
                urllib.request.urlopen(server.url + path, timeout=10).close()
            except urllib.error.HTTPError as exc:  # a forged link: refused, but logged
                exc.close()
        status, health = http("GET", server.url + "/api/health")
        assert status == 200 and health["data"]["version"] == __version__
        with urllib.request.urlopen(urllib.request.Request(server.url + "/api/health", method="HEAD"),
                                    timeout=10) as resp:
            assert resp.status == 200 and resp.read() == b""
    finally:
        server.stop()
    lines = [line for line in server.output().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(r["logger"] == "chat.server" and r["message"].startswith("serving ") for r in records)
    access = [r["message"] for r in records if r["logger"] == "tornado.access"]
    assert any("/api/me?token=***" in m for m in access) and any("access_token=***" in m for m in access)
    assert tok not in server.output()
    for path in signed:
        assert any(path.split("?")[0] + "?" in m for m in access), (path, access)
    assert "feedface" not in server.output() and "a1secret" not in server.output()
    assert any("u=***&r=admin&s=s1&e=9&sig=***" in m for m in access), access


# -- upgrades -----------------------------------------------------------------------------------

def test_migrations_stamp_new_data_resume_and_refuse_newer(mongo_uri):
    import uuid

    import pymongo

    from chat.ops.migrations import SchemaTooNew, migrate, stored_version

    client = pymongo.MongoClient(mongo_uri)
    names = []
    try:
        fresh = client["mig_" + uuid.uuid4().hex[:10]]
        names.append(fresh.name)
        assert stored_version(fresh) is None
        assert migrate(fresh, target=3, migrations={}) == (None, 3)  # new data: stamped, nothing run
        assert stored_version(fresh) == 3

        legacy = client["mig_" + uuid.uuid4().hex[:10]]
        names.append(legacy.name)
        legacy.users.insert_one({"_id": "u1", "name": "Ann"})
        ran = []

        def add_flag(db):
            ran.append(2)
            db.users.update_many({"flag": {"$exists": False}}, {"$set": {"flag": "yes"}})

        steps = {1: lambda db: ran.append(1), 2: add_flag}
        assert migrate(legacy, target=2, migrations=steps) == (0, 2)
        assert ran == [1, 2] and legacy.users.find_one({"_id": "u1"})["flag"] == "yes"
        assert migrate(legacy, target=2, migrations=steps) == (2, 2) and ran == [1, 2]  # idempotent: nothing re-run
        with pytest.raises(SchemaTooNew, match="schema version 2; this release, schema 1"):
            migrate(legacy, target=1, migrations=steps)
    finally:
        for name in names:
            client.drop_database(name)
        client.close()


def test_a_server_refuses_data_from_a_newer_release(tmp_path):
    import json
    import signal

    import pymongo

    from chat.version import SCHEMA_VERSION
    from tests.e2e.test_process import ServerProc

    server = _server(tmp_path)
    with open(os.path.join(server.data_dir, "mongo.json"), encoding="utf-8") as fh:
        uri = json.load(fh)["uri"]
    client = pymongo.MongoClient(uri)
    try:
        assert client["chat"]["meta"].find_one({"_id": "schema"})["version"] == SCHEMA_VERSION
        client["chat"]["meta"].update_one({"_id": "schema"}, {"$set": {"version": SCHEMA_VERSION + 1}})
    finally:
        client.close()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(15) == 0
    server.stop()
    again = ServerProc(server.data_dir)
    try:
        assert again.proc.wait(60) == 5
        assert "written by a newer release (schema version %d" % (SCHEMA_VERSION + 1) in again.output()
    finally:
        again.stop()


def test_the_hidden_database_command_runs_nx_27017(tmp_path):
    from chat.ops.embedded import CHILD_COMMAND

    result = run(CHILD_COMMAND, "--help")
    assert result.returncode == 0 and "--pid-file" in result.stdout


def test_the_database_child_gets_another_port_when_its_port_is_taken_first(tmp_path):
    import socket

    from chat.ops.embedded import EmbeddedMongo
    from chat.store import ping_uri

    mongo = EmbeddedMongo(str(tmp_path / "d"))
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", mongo.port))  # taken between the choice and the child's bind
    squatter.listen(1)
    chosen = mongo.port
    try:
        mongo.start()
        assert mongo.port != chosen and ping_uri(mongo.uri, 2000)
        with open(mongo.log_path, encoding="utf-8") as fh:
            assert "Errno 98" in fh.read()
    finally:
        mongo.stop()
        squatter.close()


def test_database_ports_are_chosen_below_the_ephemeral_range():
    import random

    from chat.ops.embedded import database_port

    with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as fh:
        low = int(fh.read().split()[0])
    ports = {database_port(rng=random.Random(seed)) for seed in range(20)}
    assert all(10000 <= port < low for port in ports) and len(ports) > 1


def test_the_listen_backlog_is_the_setting():
    """A school reconnecting at once must queue in the kernel, not overflow into SYN retries."""
    import socket

    import server
    from chat.settings import Settings

    sockets = server._bind(Settings(port=0, listen_backlog=777))
    try:
        port = sockets[0].getsockname()[1]
        # for a listening socket, ss prints the accept queue's limit as Send-Q
        out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port], capture_output=True, text=True,
                             check=True).stdout.split()
        assert sockets[0].family in (socket.AF_INET, socket.AF_INET6)
        assert out[0] == "LISTEN" and out[2] == "777", out
    finally:
        for sock in sockets:
            sock.close()
