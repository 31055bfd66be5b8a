"""TLS served directly (HTTPS + WSS), and X-Forwarded-* believed only from trusted proxies."""
from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
import time
import urllib.error
import urllib.request
from typing import Dict, Optional, Tuple

import pytest
import tornado.httpclient
import tornado.websocket

from tests.e2e.test_process import ServerProc, http


def make_certificate(directory) -> Tuple[str, str]:
    """A self-signed certificate for localhost/127.0.0.1 (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_https_and_wss_with_the_configured_certificate(tmp_path):
    cert, key = make_certificate(tmp_path)
    server = ServerProc(str(tmp_path / "data"), "--tls-cert", cert, "--tls-key", key)
    trust = ssl.create_default_context(cafile=cert)
    url = "https://127.0.0.1:%d" % server.port
    try:
        while True:  # ready: the HTTPS health check answers
            assert server.proc.poll() is None, server.output()
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=10, context=trust) as resp:
                    assert resp.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        assert "serving https://127.0.0.1:%d/" % server.port in server.output()
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # plain HTTP is not spoken on a TLS port
            urllib.request.urlopen("http://127.0.0.1:%d/api/health" % server.port, timeout=10)
        tok = server.cli("token", "--user", "u1", "--role", "student", "--school", "s1").stdout.strip()

        async def wss() -> str:
            request = tornado.httpclient.HTTPRequest("wss://127.0.0.1:%d/ws?token=%s" % (server.port, tok),
                                                     ssl_options=trust)
            sock = await tornado.websocket.websocket_connect(request)
            frame = json.loads(await sock.read_message())
            sock.close()
            return frame["event"]
        assert asyncio.run(wss()) == "session:ready"
    finally:
        server.stop()


def get(url: str, headers: Dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def ws_status(server: ServerProc, tok: str, headers: Dict[str, str]) -> Optional[int]:
    """None when the socket opens (session:ready), else the HTTP status of the refusal."""
    request = tornado.httpclient.HTTPRequest(server.url.replace("http", "ws") + "/ws?token=" + tok, headers=headers)
    try:
        sock = await tornado.websocket.websocket_connect(request)
    except tornado.httpclient.HTTPClientError as exc:
        return exc.code
    assert json.loads(await sock.read_message())["event"] == "session:ready"
    sock.close()
    return None


@pytest.fixture
def proxied(tmp_path):
    """A demo server that trusts a proxy on loopback (the test client plays that proxy)."""
    server = ServerProc(str(tmp_path / "p"), "--demo", "--trusted-proxies", "127.0.0.1/32, ::1")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_a_trusted_proxy_sets_client_address_scheme_and_host(proxied):
    demo = proxied.url + "/api/demo/users"
    outside = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    assert get(demo, outside) == 404  # a remote client behind the local proxy is not loopback
    assert get(demo, {"X-Forwarded-For": "127.0.0.1"}) == 200  # a local one is
    assert get(demo, {}) == 200
    assert "(203.0.113.7)" in proxied.output()  # the access log names the real client
    tok = proxied.cli("token", "--user", "u1", "--role", "student", "--school", "s1").stdout.strip()
    public = {"Origin": "https://chat.school.example", "X-Forwarded-Host": "chat.school.example",
              "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    assert asyncio.run(ws_status(proxied, tok, public)) is None  # the proxy rewrote Host: no 403
    forged = {"Origin": "https://evil.example", "X-Forwarded-Host": "chat.school.example"}
    assert asyncio.run(ws_status(proxied, tok, forged)) == 403


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(tmp_path):
    server = ServerProc(str(tmp_path / "u"), "--demo", "--trusted-proxies", "10.99.0.0/16")
    try:
        server.wait_ready()
        demo = server.url + "/api/demo/users"
        assert get(demo, {}) == 200
        # an unknown proxy in front: its client could be anyone, so not loopback
        assert get(demo, {"X-Forwarded-For": "127.0.0.1"}) == 404
        tok = server.cli("token", "--user", "u1", "--role", "student", "--school", "s1").stdout.strip()
        claimed = {"Origin": "https://chat.school.example", "X-Forwarded-Host": "chat.school.example"}
        assert asyncio.run(ws_status(server, tok, claimed)) == 403
        assert "(127.0.0.1)" in server.output() and "203.0.113" not in server.output()
        assert http("GET", server.url + "/api/health")[0] == 200
    finally:
        server.stop()
