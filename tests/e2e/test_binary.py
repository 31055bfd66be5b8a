"""The deployment artefacts: the systemd unit, and the one-file executable once built."""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = os.path.join(ROOT, "deploy", "school-chat.service")
BINARY = os.path.join(ROOT, "dist", "school-chat")


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    with open(UNIT, encoding="utf-8") as fh:
        parser.read_string(fh.read())
    return parser


# in CI (.ci/run installs systemd and builds the executable first) nothing here may be skipped
IN_CI = bool(os.environ.get("CI"))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None and not IN_CI,
                    reason="needs systemd-analyze (Debian package systemd; CI installs it)")
def test_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    # verify also checks that ExecStart exists: point it at a stand-in for the installed binary
    fake = tmp_path / "school-chat"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    with open(UNIT, encoding="utf-8") as fh:
        text = fh.read().replace("/usr/local/bin/school-chat", str(fake))
    copy = tmp_path / "school-chat.service"
    copy.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "school-chat.service" not in result.stderr, result.stderr  # no warning about our unit either


def test_systemd_unit_runs_sandboxed_as_its_own_user_with_a_config_check():
    service = dict(unit()["Service"])
    assert service["User"] == "school-chat" and service["StateDirectory"] == "school-chat"
    assert service["ExecStartPre"] == "/usr/local/bin/school-chat check-config"
    assert service["ExecStart"] == "/usr/local/bin/school-chat serve"
    assert service["Restart"] == "on-failure" and int(service["LimitNOFILE"]) >= 65536
    for key, value in (("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"), ("PrivateTmp", "yes"),
                       ("KillMode", "mixed")):
        assert service[key] == value, key
    writable = service["ReadWritePaths"].split()
    assert "/var/lib/school-chat" in writable
    # the one-file executable unpacks into TMPDIR and runs code from there: it must be a
    # writable directory outside /tmp and /run (often mounted noexec)
    with open(UNIT, encoding="utf-8") as fh:
        pairs = [line.strip().split("=", 1)[1] for line in fh if line.startswith("Environment=")]
    env = dict(pair.split("=", 1) for pair in pairs)
    assert env["TMPDIR"] in writable and not env["TMPDIR"].startswith(("/tmp", "/run")), env
    assert env["CHAT_CONFIG"] == "/etc/school-chat/config.toml"


@pytest.mark.skipif(not os.path.exists(BINARY) and not IN_CI, reason="dist/school-chat not built (deploy/build-binary.sh)")
def test_the_built_executable_passes_the_smoke_test():
    sys.path.insert(0, os.path.join(ROOT, "deploy"))
    try:
        from smoke_test import smoke
    finally:
        sys.path.pop(0)
    result = smoke(BINARY)
    assert result["bytes"] < 60 * 1024 * 1024


@pytest.mark.skipif(not os.path.exists(BINARY) and not IN_CI, reason="dist/school-chat not built (deploy/build-binary.sh)")
def test_sigkill_of_the_executable_leaves_no_server_or_database_behind(tmp_path):
    """The one-file executable is a launcher with the server as its child: killing the launcher
    (what a process supervisor's last resort does) must take the server and its database along."""
    import signal
    import time
    import urllib.request

    sys.path.insert(0, os.path.join(ROOT, "deploy"))
    try:
        from smoke_test import _zombie, descendants, free_port
    finally:
        sys.path.pop(0)
    port = free_port()
    proc = subprocess.Popen([BINARY, "--port", str(port), "--data-dir", str(tmp_path / "data")], cwd=str(tmp_path),
                            env={}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    below = []
    try:
        while True:
            assert proc.poll() is None
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/api/health" % port, timeout=10) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        below = descendants(proc.pid)
        assert len(below) >= 2  # the server and its database child
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 30  # generous: a survivor would never go away
        while any(os.path.exists("/proc/%d" % pid) and not _zombie(pid) for pid in below):
            assert time.monotonic() < deadline, "left running: %s" % below
            time.sleep(0.05)
    finally:
        for pid in below:
            if os.path.exists("/proc/%d" % pid) and not _zombie(pid):
                os.kill(pid, signal.SIGKILL)
