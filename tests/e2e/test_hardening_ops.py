"""Operations hardening: secrets never printed or logged, every setting range-checked, config
files read safely, certificate validity warned about, restore refuses what it cannot verify,
/metrics only for loopback (or allowed) clients, no paths in /api/health."""
from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tarfile
import time
from typing import Dict, List, Optional, Tuple

import pytest
import tornado.httpclient

from chat.ops.config_file import read_config
from chat.settings import SettingsError
from tests.e2e.test_ops import ROOT, effective, run

SECRET = "a-secret-that-is-long-enough-for-hs256-signing"
URL_SECRET = "upload-links-signing-key-0123456789abcdef"


# ------------------------------------------------------------------ item 8: secrets masked
def test_check_config_masks_every_secret(tmp_path):
    config = tmp_path / "chat.toml"
    config.write_text('jwt_secret = "%s"\n' % SECRET)
    result = run("check-config", "--config", str(config), "--data-dir", str(tmp_path / "d"),
                 "--upload-url-secret", URL_SECRET,
                 env={"CHAT_REDIS_URL": "redis://chat:hunter2@redis.school:6379/0"})
    assert result.returncode == 0, result.stderr
    shown = result.stdout + result.stderr
    for secret in (SECRET, URL_SECRET, "hunter2"):
        assert secret not in shown
    rows = effective(result.stdout)
    assert rows["upload_url_secret"] == '"***" # flag'
    assert rows["redis_url"] == '"redis://***@redis.school:6379/0" # env CHAT_REDIS_URL'
    # a password given as a query parameter is a password too
    query = run("check-config", "--data-dir", str(tmp_path / "d"),
                "--redis-url", "redis://redis.school:6379/0?password=hunter2&db=1")
    assert query.returncode == 0, query.stderr
    assert "hunter2" not in query.stdout and "password=***&db=1" in query.stdout


# ------------------------------------------------------------------ item 9: ranges


@pytest.mark.parametrize("args, message", [
    (["--rate-messages", "-1"], "rate_messages must be above 0"),
    (["--rate-messages", "nan"], "rate_messages must be a finite number, not nan"),
    (["--upload-url-ttl", "-5"], "upload_url_ttl must be 1..604800, not -5"),
    (["--max-upload-bytes", "-1"], "max_upload_bytes must be 1.."),
    (["--max-sockets-per-user", "0"], "max_sockets_per_user must be 1.."),
    (["--upload-max-pixels", "0"], "upload_max_pixels must be 1.."),
    (["--http-header-timeout", "-1"], "http_header_timeout must be above 0"),
    (["--http-header-timeout", "inf"], "http_header_timeout must be a finite number, not inf"),
    (["--ws-max-frame-bytes", "300000"], "ws_max_frame_bytes (300000) cannot be above ws_max_message_size (262144)"),
    (["--upload-backend", "s3"], "upload_backend must be fs or gridfs, not 's3'"),
    (["--metrics-allow", "10.0.0.0/8,nonsense"], "metrics_allow: 'nonsense' is not an address or CIDR"),
    (["--upload-url-secret", "short"], "upload_url_secret is shorter than 32 characters"),
])
def test_check_config_refuses_out_of_range_values(tmp_path, args, message):
    result = run("check-config", "--data-dir", str(tmp_path / "d"), *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_toml_nan_is_refused_too(tmp_path):
    config = tmp_path / "chat.toml"
    config.write_text("rate_frames = nan\nws_ping_interval = inf\n")
    result = run("check-config", "--config", str(config), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert "rate_frames must be a finite number" in result.stderr
    assert "ws_ping_interval must be a finite number" in result.stderr


def test_serve_with_an_unknown_upload_backend_exits_2_in_one_line(tmp_path):
    data = tmp_path / "d"
    result = run("--data-dir", str(data), "--upload-backend", "s3")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == ["error: upload_backend must be fs or gridfs, not 's3'"]
    assert not data.exists()  # refused before anything was written


@pytest.mark.parametrize("word", ["maybe", "tru", "2"])
def test_a_boolean_environment_variable_takes_only_documented_words(tmp_path, word):
    result = run("check-config", "--data-dir", str(tmp_path / "d"), env={"CHAT_DEMO": word})
    assert result.returncode == 2 and "CHAT_DEMO=%r" % word in result.stderr, result.stderr
    for yes in ("TRUE", "on"):
        ok = run("check-config", "--data-dir", str(tmp_path / "d"), env={"CHAT_DEMO": yes})
        assert ok.returncode == 0 and effective(ok.stdout)["demo"] == "true # env CHAT_DEMO"
    off = run("check-config", "--data-dir", str(tmp_path / "d"), env={"CHAT_DEMO": "No"})
    assert off.returncode == 0 and effective(off.stdout)["demo"] == "false # env CHAT_DEMO"


def test_a_config_file_with_a_utf8_bom_is_accepted(tmp_path):
    config = tmp_path / "chat.toml"
    config.write_bytes(b"\xef\xbb\xbfport = 9001\n")
    assert read_config(str(config)) == {"port": 9001}
    result = run("check-config", "--config", str(config), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 0 and effective(result.stdout)["port"] == "9001 # file", result.stderr


def _limited() -> None:
    """The child may not take more than 2 GiB: the old reader of /dev/zero fails instead of
    taking the machine's memory."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("kind", ["device", "fifo", "directory", "huge"])
def test_a_config_that_is_not_a_small_regular_file_is_refused_at_once(tmp_path, kind):
    if kind == "device":
        path = "/dev/zero"
    elif kind == "fifo":
        path = str(tmp_path / "pipe")
        os.mkfifo(path)  # nobody writes: opening it for reading would wait forever
    elif kind == "directory":
        path = str(tmp_path)
    else:
        path = str(tmp_path / "huge.toml")
        with open(path, "wb") as fh:
            fh.truncate(64 << 20)  # sparse: no disk used
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_") and k != "MONGODB_URI"}
    result = subprocess.run([sys.executable, os.path.join(ROOT, "server.py"), "check-config", "--config", path],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, preexec_fn=_limited)
    assert result.returncode == 2, result.stderr
    expected = "is larger than" if kind == "huge" else "is not a regular file"
    assert expected in result.stderr and path in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(SettingsError, match=expected):
        read_config(path)  # in-process too, and without blocking on the FIFO


def _certificate(directory, not_before: datetime.datetime, not_after: datetime.datetime) -> Tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


UTC = datetime.timezone.utc


@pytest.mark.parametrize("window, words", [
    ((datetime.datetime(2001, 1, 1, tzinfo=UTC), datetime.datetime(2002, 1, 1, tzinfo=UTC)), "expired on 2002-01-01"),
    ((datetime.datetime(2099, 1, 1, tzinfo=UTC), datetime.datetime(2100, 1, 1, tzinfo=UTC)),
     "is not valid before 2099-01-01"),
])
def test_check_config_warns_about_a_certificate_outside_its_validity(tmp_path, window, words):
    cert, key = _certificate(tmp_path, *window)
    result = run("check-config", "--data-dir", str(tmp_path / "d"), "--tls-cert", cert, "--tls-key", key)
    assert result.returncode == 0, result.stderr  # a warning, not an error: the server still starts
    assert "warning: tls_cert %s %s" % (cert, words) in result.stderr


def test_serve_logs_a_warning_for_an_expired_certificate(tmp_path):
    from tests.e2e.test_process import ServerProc

    cert, key = _certificate(tmp_path, datetime.datetime(2001, 1, 1, tzinfo=UTC),
                             datetime.datetime(2002, 1, 1, tzinfo=UTC))
    server = ServerProc(str(tmp_path / "data"), "--tls-cert", cert, "--tls-key", key)
    try:
        deadline = time.time() + 60  # readiness only: the start-up line is in the log
        while "serving https://" not in server.output():
            assert server.proc.poll() is None and time.time() < deadline, server.output()
            time.sleep(0.1)
        lines = [line for line in server.output().splitlines() if "expired on 2002-01-01" in line]
        assert len(lines) == 1 and "WARNING" in lines[0].upper(), server.output()
    finally:
        server.stop()


# ------------------------------------------------------------------ item 11: restore verifies
def _archive(path, members: Dict[str, bytes], listed: Optional[Dict[str, bytes]] = None,
             extra: Optional[List[tarfile.TarInfo]] = None) -> str:
    """A backup-shaped archive: ``members`` as files, a backup.json listing ``listed`` (default:
    the chat.db/jwt-secret among them) with their true checksums."""
    listed = listed if listed is not None else {k: v for k, v in members.items() if k in ("chat.db", "jwt-secret")}
    manifest = {"format": 1, "version": "0.0.0", "createdAt": "2026-01-01T00:00:00Z", "dataDir": "/x",
                "files": {name: {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
                          for name, body in listed.items()}}
    with tarfile.open(str(path), "w:gz") as tar:
        for name, body in list(members.items()) + [("backup.json", json.dumps(manifest).encode())]:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(body), 0o600
            tar.addfile(info, io.BytesIO(body))
        for info in extra or []:
            tar.addfile(info)
    return str(path)


def _sqlite_bytes(tmp_path) -> bytes:
    db = tmp_path / "made.db"
    conn = sqlite3.connect(str(db))
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, doc TEXT)")
    conn.execute("INSERT INTO messages (doc) VALUES ('{}')")
    conn.commit()
    conn.close()
    return db.read_bytes()


def _restore(archive: str, data_dir) -> subprocess.CompletedProcess:
    return run("restore", archive, "--data-dir", str(data_dir))


def _assert_refused(result: subprocess.CompletedProcess, data_dir, words: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
    assert not os.path.exists(os.path.join(str(data_dir), "chat.db"))  # nothing was written
    if os.path.isdir(str(data_dir)):
        assert not [n for n in os.listdir(str(data_dir)) if n.startswith(".restore-")]  # no work dir left


@pytest.mark.parametrize("keep", [0.5, 0.9, -4])
def test_a_truncated_archive_is_one_line_and_exit_1(tmp_path, keep):
    body = _sqlite_bytes(tmp_path)
    whole = _archive(tmp_path / "whole.tar.gz", {"chat.db": body, "uploads/ab/f1": os.urandom(200_000)})
    with open(whole, "rb") as fh:
        data = fh.read()
    cut_path = tmp_path / "cut.tar.gz"
    cut_path.write_bytes(data[:keep] if isinstance(keep, int) else data[:int(len(data) * keep)])
    _assert_refused(_restore(str(cut_path), tmp_path / "data"), tmp_path / "data", "cut.tar.gz")


@pytest.mark.parametrize("name", ["uploads/../../evil.txt", "../evil.txt", "/tmp/evil.txt", "uploads/../chat.db"])
def test_an_archive_with_an_escaping_member_is_refused_in_one_line(tmp_path, name):
    body = _sqlite_bytes(tmp_path)
    archive = _archive(tmp_path / "evil.tar.gz", {"chat.db": body, name: b"gotcha"})
    _assert_refused(_restore(archive, tmp_path / "data" / "inner"), tmp_path / "data" / "inner", repr(name))
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "data" / "evil.txt").exists()


def test_an_archive_with_a_link_member_is_refused(tmp_path):
    link = tarfile.TarInfo("uploads/ab/link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive = _archive(tmp_path / "link.tar.gz", {"chat.db": _sqlite_bytes(tmp_path)}, extra=[link])
    _assert_refused(_restore(archive, tmp_path / "data"), tmp_path / "data", "is not a plain file")


def test_a_chat_db_that_is_not_sqlite_is_refused_although_its_checksum_matches(tmp_path):
    body = _sqlite_bytes(tmp_path)  # first, a sound archive of the same shape restores
    sound = _archive(tmp_path / "ok.tar.gz", {"chat.db": body, "uploads/ab/f1": b"file"})
    result = _restore(sound, tmp_path / "good")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "good" / "chat.db").read_bytes() == body
    assert (tmp_path / "good" / "uploads" / "ab" / "f1").read_bytes() == b"file"
    archive = _archive(tmp_path / "junk.tar.gz", {"chat.db": b"this is not a database at all" * 100,
                                                   "jwt-secret": b"s" * 40})
    _assert_refused(_restore(archive, tmp_path / "data"), tmp_path / "data", "chat.db is not a usable database")
    assert not (tmp_path / "data" / "jwt-secret").exists()


def test_a_corrupt_sqlite_chat_db_is_refused(tmp_path):
    body = bytearray(_sqlite_bytes(tmp_path))
    page = 4096
    body[page + 8:page * 2] = b"\xff" * (page - 8)  # the table's page: garbage after its header
    archive = _archive(tmp_path / "corrupt.tar.gz", {"chat.db": bytes(body)})
    result = _restore(archive, tmp_path / "data")
    _assert_refused(result, tmp_path / "data", "chat.db")


def test_a_manifest_listing_a_missing_file_is_refused(tmp_path):
    body = _sqlite_bytes(tmp_path)
    archive = _archive(tmp_path / "lacking.tar.gz", {"chat.db": body},
                       listed={"chat.db": body, "jwt-secret": b"s" * 40})
    _assert_refused(_restore(archive, tmp_path / "data"), tmp_path / "data", "lacks jwt-secret")


# ------------------------------------------------------------------ item 14: metrics and health
def _metrics_app(runtime, settings):
    """The app behind the trusted-proxy rules for loopback (the test client plays the proxy)."""
    from chat.ops.proxies import ProxyRules
    from handlers.http_server import build_http_server
    from handlers.proxy import TrustedProxies
    from handlers.routes import make_app

    return build_http_server(TrustedProxies(make_app(runtime), ProxyRules(["127.0.0.1/32", "::1"])), settings)


async def _metrics_status(base_url: str, headers: Optional[Dict[str, str]] = None) -> int:
    response = await tornado.httpclient.AsyncHTTPClient().fetch(base_url + "/metrics", headers=headers or {},
                                                                raise_error=False, request_timeout=30)
    return response.code


@pytest.fixture
def proxied_server(io_loop, _unused_port, runtime, settings):
    server = _metrics_app(runtime, settings)
    server.add_socket(_unused_port[0])
    yield server
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=30)


@pytest.mark.gen_test(timeout=60)
async def test_metrics_on_the_main_port_answer_loopback_clients_only(proxied_server, base_url):
    assert await _metrics_status(base_url) == 200  # the client itself, on loopback
    # a client the trusted proxy speaks for is not loopback
    assert await _metrics_status(base_url, {"X-Forwarded-For": "203.0.113.7"}) == 404


@pytest.mark.settings(metrics_allow=["203.0.113.0/24"])
@pytest.mark.gen_test(timeout=60)
async def test_metrics_allow_opens_the_main_port_to_chosen_networks(proxied_server, base_url):
    assert await _metrics_status(base_url, {"X-Forwarded-For": "203.0.113.7"}) == 200
    assert await _metrics_status(base_url, {"X-Forwarded-For": "198.51.100.9"}) == 404


@pytest.mark.gen_test(timeout=60)
async def test_metrics_relayed_by_an_untrusted_proxy_are_refused(http_server, base_url):
    # no trusted_proxies: the peer is loopback, but the request names another client
    assert await _metrics_status(base_url) == 200
    assert await _metrics_status(base_url, {"X-Forwarded-For": "203.0.113.7"}) == 404
    assert await _metrics_status(base_url, {"X-Real-Ip": "203.0.113.7"}) == 404


def test_health_shows_no_path_and_no_secret_is_logged(tmp_path):
    from tests.e2e.test_process import ServerProc, http

    data = str(tmp_path / "data")
    server = ServerProc(data, "--log-level", "debug", "--upload-url-secret", URL_SECRET,
                        env={"CHAT_JWT_SECRET": SECRET})
    try:
        server.wait_ready()
        status, health = http("GET", server.url + "/api/health")
        assert status == 200 and health["data"]["storage"] == "embedded nx-27017"
        body = json.dumps(health)
        assert data not in body and str(tmp_path) not in body and "chat.db" not in body
    finally:
        server.stop()
    out = server.output()
    assert "storage: embedded nx-27017" in out  # the operator's log keeps the path
    assert SECRET not in out and URL_SECRET not in out
