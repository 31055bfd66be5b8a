"""Fast unit tests of the pure modules: settings, auth, validation, rendering, roster parsing,
proxy rules, storage keys."""
from __future__ import annotations

import argparse
import os
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from chat import settings as settings_mod
from chat.auth import TokenVerifier, mint_token, resolve_secret
from chat.errors import BadRequest, Unauthorized
from chat.ops.roster import RosterError, parse_roster
from chat.rules import validation as v
from chat.settings import Settings
from chat.store import seq_key
from chat.store.db import oid
from chat.timeutil import iso, parse_iso


def test_settings_defaults_env_and_flags():
    s = settings_mod.load(environ={})
    assert (s.host, s.port, s.data_dir, s.mongodb_uri, s.db_name) == ("127.0.0.1", 8888, "./data", "", "chat")
    env = {"CHAT_PORT": "9000", "MONGODB_URI": "mongodb://x", "CHAT_DEMO": "true", "CHAT_ALLOWED_ORIGINS": "a, b"}
    s = settings_mod.load(environ=env)
    assert (s.port, s.mongodb_uri, s.demo, s.allowed_origins) == (9000, "mongodb://x", True, ["a", "b"])
    parser = argparse.ArgumentParser()
    settings_mod.add_arguments(parser)
    s = settings_mod.load(parser.parse_args(["--port", "9100", "--data-dir", "/tmp/x"]), environ=env)
    assert (s.port, s.data_dir, s.mongodb_uri) == (9100, "/tmp/x", "mongodb://x")  # flags beat env
    assert {f.name for f in Settings.__dataclass_fields__.values()} == {o[0] for o in settings_mod.OPTIONS}
    for name, _env, _conv, default, _help in settings_mod.OPTIONS:
        assert getattr(Settings(), name) == default, name


def test_secret_is_generated_once(tmp_path):
    s = Settings(data_dir=str(tmp_path / "d"))
    first = resolve_secret(s)
    assert len(first) > 40 and resolve_secret(s) == first
    assert os.stat(tmp_path / "d" / "jwt-secret").st_mode & 0o777 == 0o600
    assert resolve_secret(s.replace(jwt_secret="explicit")) == "explicit"


def test_hs256_round_trip_and_failures(tmp_path):
    s = Settings(data_dir=str(tmp_path), jwt_secret="k" * 40)
    verifier = TokenVerifier(s)
    ident = verifier.verify(mint_token(s, "u1", "teacher", "s1", "Alice"))
    assert (ident.user_id, ident.role, ident.school, ident.name) == ("u1", "teacher", "s1", "Alice")
    with pytest.raises(Unauthorized):
        verifier.verify(mint_token(s, "u1", "teacher", "s1", ttl=-100))
    with pytest.raises(Unauthorized):
        verifier.verify(mint_token(s.replace(jwt_secret="z" * 40), "u1", "teacher", "s1"))
    with pytest.raises(Unauthorized):
        verifier.verify("")
    with pytest.raises(ValueError):
        mint_token(s, "u1", "janitor", "s1")


def test_issuer_and_audience_are_checked_when_configured(tmp_path):
    s = Settings(data_dir=str(tmp_path), jwt_secret="k" * 40, jwt_issuer="lms", jwt_audience="chat")
    verifier = TokenVerifier(s)
    assert verifier.verify(mint_token(s, "u1", "student", "s1")).user_id == "u1"
    plain = Settings(data_dir=str(tmp_path), jwt_secret="k" * 40)
    with pytest.raises(Unauthorized):
        verifier.verify(mint_token(plain, "u1", "student", "s1"))
    wrong = jwt.encode({"sub": "u", "role": "student", "school": "s", "exp": time.time() + 60, "iss": "other",
                        "aud": "chat"}, "k" * 40, "HS256")
    with pytest.raises(Unauthorized):
        verifier.verify(wrong)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_public_key_verification(tmp_path, kind):
    key = rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    priv = tmp_path / "priv.pem"
    pub = tmp_path / "pub.pem"
    priv.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    s = Settings(data_dir=str(tmp_path), jwt_public_key_file=str(pub), jwt_private_key_file=str(priv))
    tok = mint_token(s, "u1", "admin", "s1")
    assert jwt.get_unverified_header(tok)["alg"] == ("RS256" if kind == "rsa" else "ES256")
    assert TokenVerifier(s).verify(tok).role == "admin"
    # an HS256 token signed with the public key text must not pass (algorithm confusion)
    forged = jwt.encode({"sub": "u1", "role": "admin", "school": "s1", "exp": time.time() + 60}, "x" * 40, "HS256")
    with pytest.raises(Unauthorized):
        TokenVerifier(s).verify(forged)
    with pytest.raises(ValueError):
        mint_token(s.replace(jwt_private_key_file=""), "u1", "admin", "s1")


def test_iso_times():
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(1700000000123) == "2023-11-14T22:13:20.123Z"
    assert parse_iso("2023-11-14T22:13:20.123Z") == 1700000000123
    assert parse_iso("2023-11-14T23:13:20.123+01:00") == 1700000000123
    assert iso(None) is None
    with pytest.raises(ValueError):
        parse_iso("yesterday")


def test_message_validation_limits():
    s = Settings()
    msg = v.parse_new_message({"text": "  hi  ", "clientMsgId": "c1"}, s)
    assert (msg.text, msg.type, msg.client_msg_id, msg.attachments) == ("hi", "text", "c1", [])
    att = {"name": "a.png", "size": 10, "mimeType": "image/png", "url": "https://x.example/a.png"}
    assert v.parse_new_message({"type": "image", "attachments": [att]}, s).text == ""
    bad = [
        {}, {"text": "   "}, {"text": "x" * 4001}, {"text": 5}, {"text": "x", "type": "system"},
        {"text": "x", "clientMsgId": "c" * 65}, {"text": "x", "clientMsgId": 7},
        {"attachments": [att] * 11}, {"attachments": [dict(att, url="javascript:alert(1)")]},
        {"attachments": [dict(att, size="big")]}, {"attachments": "a"}, {"attachments": [5]},
        {"text": "x", "replyTo": 5}, [],
    ]
    for body in bad:
        with pytest.raises(BadRequest):
            v.parse_new_message(body, s)
    assert v.parse_new_message({"text": "x" * 4000}, s).text == "x" * 4000
    assert v.parse_new_message({"text": "ok"}, s.replace(max_text=2)).text == "ok"


def test_emoji_validation():
    for ok in ["\U0001F44D", "\u2764\ufe0f", "\U0001F44D\U0001F3FD", "\U0001F469\u200d\U0001F4BB",
               "\U0001F1EB\U0001F1F7", "\U0001F389", "\u2705", "1\ufe0f\u20e3"]:
        assert v.valid_emoji(ok) == ok, ascii(ok)
    for bad in ["", "a", "ab", "\U0001F44D\U0001F44D", "<script>", "x" * 20, 5, None, "\U0001F1EB",
                "\U0001F468\u200d\U0001F469\u200d\U0001F467",  # one grapheme, but 18 bytes
                "\U0001F469\u200d\U0001F4BB\U0001F44D"]:
        with pytest.raises(BadRequest):
            v.valid_emoji(bad)


def test_query_helpers():
    assert v.query_int(None, "limit", 50, 1, 100) == 50
    assert v.query_int("7", "limit", 50, 1, 100) == 7
    for raw in ("0", "101", "x", "1.5"):
        with pytest.raises(BadRequest):
            v.query_int(raw, "limit", 50, 1, 100)
    assert v.query_bool("true", "a") is True and v.query_bool("0", "a") is False and v.query_bool("", "a") is None
    with pytest.raises(BadRequest):
        v.query_bool("perhaps", "a")
    with pytest.raises(BadRequest):
        v.parse_seq({"seq": True})
    with pytest.raises(BadRequest):
        v.parse_seq({"seq": -1})


def test_roster_parsing():
    users, classes = parse_roster('{"users": [{"id": "u", "name": "U", "role": "student", "school": "s"}],'
                                  ' "classes": [{"id": "c", "school": "s", "name": "C", "teacherIds": ["t"],'
                                  ' "studentIds": ["u", "u"]}]}')
    assert users == [{"id": "u", "name": "U", "role": "student", "school": "s"}]
    assert classes[0]["studentIds"] == ["u"]
    _, classes = parse_roster("id,school,name,teacherIds,studentIds\nc,s,C,t1;t2,u1;u2\n", "classes.csv")
    assert classes == [{"id": "c", "school": "s", "name": "C", "teacherIds": ["t1", "t2"], "studentIds": ["u1", "u2"]}]
    for bad in ("{", "[]", '{"users": [{"id": "u"}]}', '{"users": 5}', "foo,bar\n1,2\n",
                '{"classes": [{"id": "c", "school": "s", "name": "n", "teacherIds": 5}]}'):
        with pytest.raises(RosterError):
            parse_roster(bad)


def test_demo_routes_accept_only_loopback_addresses():
    from handlers.api import is_loopback
    for ip in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        assert is_loopback(ip), ip
    for ip in ("10.0.0.5", "192.168.1.20", "8.8.8.8", "::ffff:10.0.0.1", "fe80::1", "", "localhost", "garbage"):
        assert not is_loopback(ip), ip


def test_proxy_rules_read_the_forwarded_chain_from_the_right():
    from chat.ops.proxies import ProxyRules

    rules = ProxyRules(["10.0.0.0/8", "127.0.0.1"])
    assert rules.client_ip("10.0.0.1", "198.51.100.1, 203.0.113.9, 10.1.1.1") == "203.0.113.9"
    assert rules.client_ip("10.0.0.1", "") == "10.0.0.1"
    assert rules.client_ip("10.0.0.1", "garbage, 10.2.2.2") == "10.2.2.2"
    assert rules.forwarded("192.0.2.1", {"X-Forwarded-For": "127.0.0.1"}) is None
    assert rules.forwarded("::ffff:127.0.0.1", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "a.example"}) == {
        "remote_ip": "::ffff:127.0.0.1", "protocol": "https", "host": "a.example"}


def test_oid_and_seq_key_are_pure():
    assert oid("0" * 24) is not None and oid("zz" * 12) is None and oid(5) is None and oid("abc") is None
    assert seq_key("c", 5) < seq_key("c", 40) < seq_key("c", 1000)


def test_the_unicode_scans_of_validation_miss_nothing_past_plane_1():
    """Whitespace and emoji symbols are looked for in planes 0 and 1 only (a quicker start):
    on this Python's Unicode tables the whole range gives the same code points."""
    from chat.rules import validation
    assert validation.SPACE_CODES == [c for c in range(0x110000) if chr(c).isspace()]
    assert validation.symbol_codes() == validation.symbol_codes(0x110000)


def test_the_database_child_finds_the_package_from_any_working_directory():
    """The child is started with the folder above ``chat/`` on its path, not the cwd's."""
    import os

    from chat.ops.embedded import child_argv
    argv = child_argv()
    root = argv[-1]
    assert os.path.isfile(os.path.join(root, "chat", "ops", "embedded_db.py")), root
