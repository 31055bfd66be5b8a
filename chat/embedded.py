"""The embedded MongoDB: an nx-27017 child process (MongoDB wire protocol over SQLite).

The child is started on a free loopback port with its database, pid file and log file
inside the data directory. It can never outlive the server: it gets ``PR_SET_PDEATHSIG``
(so even a SIGKILLed server takes it along) and is stopped on exit and on signals. A state
file (``<data-dir>/mongo.json``) tells other commands (``import-roster``) where the running
server's database is, so they never open the same SQLite file a second time.
"""
from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import IO, Any, Dict, List, Optional

from chat.store import ping_uri

log = logging.getLogger("chat.embedded")

STATE_FILE = "mongo.json"


class EmbeddedError(RuntimeError):
    """The embedded database could not be started."""


def free_port(host: str = "127.0.0.1") -> int:
    """An unused TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux only: SIGTERM the child when the thread that forked it dies, even on SIGKILL.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except OSError:
        pass
    os.setpgrp()  # not in the terminal's process group: Ctrl-C reaches the server, which stops us


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (and is not a zombie we could reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid, "r", encoding="ascii") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def read_state(data_dir: str) -> Optional[Dict[str, Any]]:
    """The running server's embedded-database state, or None when none is live."""
    path = os.path.join(data_dir, STATE_FILE)
    try:
        with open(path, "r", encoding="utf-8") as fh:
            state = json.load(fh)
    except (OSError, ValueError):
        return None
    if not pid_alive(int(state.get("serverPid", 0))) or not pid_alive(int(state.get("pid", 0))):
        return None
    return state


class EmbeddedMongo:
    """Starts, supervises (restart with backoff) and stops one nx-27017 child.

    ``mode="file"`` keeps every database in ``<dir>/chat.db`` (the server); ``mode="dir"``
    keeps one file per logical database (the test suite, where each test uses its own).
    """

    def __init__(self, data_dir: str, mode: str = "file", port: Optional[int] = None,
                 write_state: bool = True, start_timeout: float = 15.0) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.mode = mode
        self.port = port or free_port()
        self.write_state = write_state
        self.start_timeout = start_timeout
        self.proc: Optional[subprocess.Popen] = None
        self.restarts = 0
        self._backoff = 0.5
        self._next_try = 0.0
        self._started_at = 0.0
        self._log: Optional[IO[bytes]] = None

    @property
    def uri(self) -> str:
        return "mongodb://127.0.0.1:%d/?directConnection=true" % self.port

    @property
    def db_path(self) -> str:
        return os.path.join(self.data_dir, "chat.db") if self.mode == "file" else self.data_dir

    def command(self) -> List[str]:
        """The child's command line."""
        where = ["--db", self.db_path] if self.mode == "file" else ["--data-dir", self.db_path]
        return [sys.executable, "-m", "nx_27017.nx_27017", *where, "--host", "127.0.0.1", "-p", str(self.port),
                "--pid-file", os.path.join(self.data_dir, "nx-27017.pid"),
                "--log-file", os.path.join(self.data_dir, "nx-27017.log")]

    def start(self) -> None:
        """Start the child and wait until a ping answers; raise :class:`EmbeddedError` otherwise."""
        os.makedirs(self.data_dir, exist_ok=True)
        live = read_state(self.data_dir)
        if self.write_state and live is not None and live.get("serverPid") != os.getpid():
            raise EmbeddedError("another server (pid %s) is using the data dir %s" % (live["serverPid"], self.data_dir))
        self._spawn()
        deadline = time.monotonic() + self.start_timeout
        while not ping_uri(self.uri, 300):
            if self.proc is not None and self.proc.poll() is not None:
                raise EmbeddedError("nx-27017 exited with code %s; see %s" % (
                    self.proc.returncode, os.path.join(self.data_dir, "nx-27017.log")))
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedError("nx-27017 did not answer within %.0f s" % self.start_timeout)
            time.sleep(0.05)
        self._write_state()

    def _spawn(self) -> None:
        if self._log is None:
            self._log = open(os.path.join(self.data_dir, "nx-27017.out"), "ab")
        # stdout/stderr go to a file: nx-27017 logs every command, a pipe nobody reads would fill up
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, close_fds=True)
        self._started_at = time.monotonic()

    def _write_state(self) -> None:
        if not self.write_state or self.proc is None:
            return
        path = os.path.join(self.data_dir, STATE_FILE)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"uri": self.uri, "pid": self.proc.pid, "serverPid": os.getpid(), "port": self.port}, fh)
        os.replace(tmp, path)

    def check(self) -> None:
        """Supervise: call periodically; restarts a dead child with exponential backoff."""
        if self.proc is None:
            return
        now = time.monotonic()
        if self.proc.poll() is None:
            if now - self._started_at > 10:
                self._backoff = 0.5  # it stayed up: the next failure starts the backoff afresh
            return
        if now < self._next_try:
            return
        log.error("embedded database exited with code %s; restarting (attempt %d, next backoff %.1fs)",
                  self.proc.returncode, self.restarts + 1, self._backoff)
        self.restarts += 1
        self._next_try = now + self._backoff
        self._backoff = min(self._backoff * 2, 30.0)
        try:
            self._spawn()
            self._write_state()
        except OSError as exc:
            log.error("could not restart the embedded database: %s", exc)

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL) and remove the state file."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self.write_state and proc is not None:  # never the state of another process (a refused start)
            try:
                os.remove(os.path.join(self.data_dir, STATE_FILE))
            except FileNotFoundError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None
