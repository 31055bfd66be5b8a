"""Settings, config files, masking, ranges and metrics rendering, in this process (the server's
command line and a running server are driven by tests/e2e/test_ops.py and test_hardening_ops.py)."""
from __future__ import annotations

import math
import os
import re
import sys
import tomllib
from typing import Dict, List

import pytest

from chat import settings as settings_mod
from chat.ops.config_file import read_config, validate
from chat.settings import OPTIONS, RANGES, Settings, SettingsError, mask
from chat.version import __version__

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "a-secret-that-is-long-enough-for-hs256-signing"
URL_SECRET = "upload-links-signing-key-0123456789abcdef"


def test_example_config_documents_every_setting_and_is_current():
    sys.path.insert(0, os.path.join(ROOT, "deploy"))
    try:
        from gen_config_example import render
    finally:
        sys.path.pop(0)
    path = os.path.join(ROOT, "deploy", "config.example.toml")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    assert text == render(), "run python deploy/gen_config_example.py"
    # uncommented, every line is a valid setting holding its default
    live = "\n".join(line[2:] for line in text.splitlines() if re.match(r"^# \w+ = ", line))
    values = tomllib.loads(live)
    assert set(values) == {name for name, *_ in OPTIONS}
    tmp = os.path.join(os.path.dirname(path), ".example-uncommented.toml")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(live)
        loaded = settings_mod.load(None, environ={}, file_values=read_config(tmp))
    finally:
        os.remove(tmp)
    assert loaded.replace(data_dir="./data") == settings_mod.Settings()


def test_a_relative_data_dir_in_a_file_is_relative_to_the_file(tmp_path):
    config = tmp_path / "etc" / "chat.toml"
    config.parent.mkdir()
    config.write_text('data_dir = "var"\n')
    assert read_config(str(config))["data_dir"] == str(tmp_path / "etc" / "var")
    with pytest.raises(SettingsError, match="cannot read the config file"):
        read_config(str(tmp_path / "missing.toml"))


def _families(text: str) -> Dict[str, object]:
    from prometheus_client.parser import text_string_to_metric_families

    return {family.name: family for family in text_string_to_metric_families(text)}


def _sample(families: Dict[str, object], name: str, **labels: str) -> float:
    for family in families.values():
        for sample in family.samples:  # type: ignore[attr-defined]
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError("no sample %s%r" % (name, labels))


def test_metrics_methods_count_what_the_core_reports():
    from chat.metrics import Metrics

    metrics = Metrics(lambda: {"connections": 3, "users": 2}, lambda: 4, process=False)
    metrics.messages_stored(5)
    metrics.delivered(7)
    metrics.writer_batch(5)
    metrics.send_latency(0.003)
    metrics.storage_error()
    metrics.slow_consumer_closed()
    metrics.rate_limit_closed()
    metrics.rate_limit_closed()
    fam = _families(metrics.render().decode())
    assert _sample(fam, "chat_sockets") == 3 and _sample(fam, "chat_users_online") == 2
    assert _sample(fam, "chat_embedded_restarts") == 4
    assert _sample(fam, "chat_messages_stored_total") == 5 and _sample(fam, "chat_deliveries_total") == 7
    assert _sample(fam, "chat_writer_batch_size_count") == 1 and _sample(fam, "chat_writer_batch_size_sum") == 5
    assert _sample(fam, "chat_send_latency_seconds_bucket", le="0.005") == 1
    assert _sample(fam, "chat_storage_errors_total") == 1
    assert _sample(fam, "chat_socket_closes_total", reason="slow_consumer") == 1
    assert _sample(fam, "chat_socket_closes_total", reason="rate_limit") == 2
    assert _sample(fam, "chat_build_info", version=__version__) == 1


def test_readme_configuration_table_is_the_settings_table():
    sys.path.insert(0, os.path.join(ROOT, "deploy"))
    try:
        from gen_config_example import readme_table
    finally:
        sys.path.pop(0)
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        assert readme_table() in fh.read()


def test_embedded_log_rotation_keeps_n_copies(tmp_path):
    from chat.ops.embedded import rotate_log

    log = tmp_path / "nx-27017.log"
    with open(log, "ab") as writer:  # the child's descriptor, O_APPEND, stays open across rotations
        for generation in range(4):
            writer.write(b"g%d" % generation + b"x" * 100 + b"\n")
            writer.flush()
            assert rotate_log(str(log), 50, 2) is True
        writer.write(b"after\n")
        writer.flush()
    assert log.read_bytes() == b"after\n"  # appended at the start of the truncated file
    assert (tmp_path / "nx-27017.log.1").read_bytes().startswith(b"g3")
    assert (tmp_path / "nx-27017.log.2").read_bytes().startswith(b"g2")
    assert not (tmp_path / "nx-27017.log.3").exists()
    assert rotate_log(str(log), 50, 2) is False  # small enough: left alone
    assert rotate_log(str(log), 0, 2) is False  # 0: never rotated


def test_the_readme_links_the_projects_own_protocol_reference():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    assert "](docs/PROTOCOL.md)" in readme and "../shared/" not in readme
    with open(os.path.join(ROOT, "docs", "PROTOCOL.md"), encoding="utf-8") as fh:
        protocol = fh.read()
    for section in ("## 1. Identity and authentication", "## 7. REST API", "## Operations endpoints",
                    "HEAD /api/health", "/metrics"):
        assert section in protocol


def test_settings_repr_and_every_secret_like_setting_are_masked():
    settings = Settings(jwt_secret=SECRET, upload_url_secret=URL_SECRET,
                        redis_url="redis://:hunter2@127.0.0.1:6379/0", mongodb_uri="mongodb://u:pw@db:27017/")
    text = repr(settings) + str(settings)
    for secret in (SECRET, URL_SECRET, "hunter2", ":pw@"):
        assert secret not in text
    assert "redis://***@127.0.0.1:6379/0" in text
    # any setting named like a secret (a future smtp_password, say) is masked as a whole
    assert mask("smtp_password", "pa55") == "***" and mask("webhook_token", "t0k") == "***"
    assert mask("redis_url", "rediss://:p%40ss@h:6380/0") == "rediss://***@h:6380/0"


def test_the_redis_link_logs_no_password_from_the_query():
    from chat.cluster.link import _redact

    assert "hunter2" not in _redact("redis://127.0.0.1:6379/0?password=hunter2")
    assert _redact("redis://user:hunter2@127.0.0.1:6379/0") == "redis://***@127.0.0.1:6379/0"


def test_every_numeric_setting_has_a_documented_range():
    numeric = {name for name, _env, conv, _d, _h in OPTIONS if conv in (int, float)}
    assert numeric <= set(RANGES), "add a Range to chat.settings.RANGES for %s" % sorted(numeric - set(RANGES))
    defaults = Settings()
    for name in numeric:
        assert RANGES[name].holds(getattr(defaults, name)), name  # every default is in its range
    sys.path.insert(0, os.path.join(ROOT, "deploy"))
    try:
        from gen_config_example import readme_ranges
    finally:
        sys.path.pop(0)
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        assert readme_ranges() in fh.read()


def _outside(name: str) -> List[float]:
    limits = RANGES[name]
    conv = next(c for n, _e, c, _d, _h in OPTIONS if n == name)
    bad: List[float] = [limits.lo if limits.above else limits.lo - 1, limits.hi + 1]
    if conv is float:
        bad += [math.nan, math.inf, -math.inf]
    return bad


def test_every_numeric_setting_refuses_values_outside_its_range(tmp_path):
    base = Settings(data_dir=str(tmp_path), event_loop="asyncio")
    assert validate(base) == []
    accepted = []
    for name in sorted(RANGES):
        for value in _outside(name):
            problems = validate(base.replace(**{name: value}))
            if not any(p.startswith(name + " ") for p in problems):
                accepted.append((name, value))
    assert accepted == []
