"""The embedded MongoDB: an nx-27017 child process (MongoDB wire protocol over SQLite).

The child is started on a free loopback port with its database, pid file and log file
inside the data directory. It can never outlive the server: it gets ``PR_SET_PDEATHSIG``
with SIGKILL (so even a SIGKILLed server takes it along) and is stopped on exit and on signals. A state
file (``<data-dir>/mongo.json``) tells other commands (``import-roster``) where the running
server's database is, so they never open the same SQLite file a second time.

Ownership of a data dir is an exclusive ``flock`` on ``<data-dir>/server.lock``. The child
inherits the locked descriptor, so the lock is released only when the server *and* its child
are completely gone (the kernel drops it with the last open file of the last thread). Pid
probes cannot promise that: PDEATHSIG is delivered asynchronously, and a process whose main
thread is already a zombie may still hold its database and pid file.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from typing import IO, Any, Dict, List, Optional

from chat.store import ping_uri

log = logging.getLogger("chat.embedded")

STATE_FILE = "mongo.json"
LOCK_FILE = "server.lock"
LOG_FILE = "nx-27017.log"
PID_FILE = "nx-27017.pid"
# The hidden first argument that makes the frozen executable run the database instead of the server.
CHILD_COMMAND = "_nx-27017"


class EmbeddedError(RuntimeError):
    """The embedded database could not be started."""


class DataDirInUse(EmbeddedError):
    """Another server (or a command such as ``import-roster``) uses the data dir."""


class DataDirLock:
    """The exclusive lock that says who owns a data dir (see the module docstring)."""

    def __init__(self, data_dir: str) -> None:
        self.path = os.path.join(os.path.abspath(data_dir), LOCK_FILE)
        self.fd: Optional[int] = None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; False when someone holds it."""
        if self.fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False
            raise
        self.fd = fd
        return True

    def release(self) -> None:
        """Drop our descriptor (a child that inherited it keeps the lock until it exits)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def data_dir_in_use(data_dir: str) -> bool:
    """True while a server, its database child or another command uses ``data_dir``."""
    if not os.path.exists(os.path.join(data_dir, LOCK_FILE)):
        return False
    probe = DataDirLock(data_dir)
    if probe.try_acquire():
        probe.release()
        return False
    return True


def tail(path: str, lines: int = 3) -> str:
    """The last non-empty lines of a text file ("" when unreadable)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4096))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return " | ".join([line.strip() for line in text.splitlines() if line.strip()][-lines:])


def rotate_log(path: str, max_bytes: int, backups: int) -> bool:
    """Copy-and-truncate ``path`` into ``path.1`` .. ``path.N`` once it passes ``max_bytes``.

    The child writes with O_APPEND through a descriptor we cannot reopen, so the file is copied
    and truncated in place rather than renamed; lines written between the two steps are lost.
    """
    try:
        if max_bytes <= 0 or os.path.getsize(path) <= max_bytes:
            return False
    except OSError:
        return False
    if backups <= 0:
        os.truncate(path, 0)
        return True
    for index in range(backups - 1, 0, -1):
        older = "%s.%d" % (path, index)
        if os.path.exists(older):
            os.replace(older, "%s.%d" % (path, index + 1))
    with open(path, "rb") as src, open(path + ".1", "wb") as dst:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            dst.write(chunk)
    os.truncate(path, 0)
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """An unused TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def database_port(host: str = "127.0.0.1", rng: Optional[random.Random] = None) -> int:
    """A free port for the database child, chosen below the kernel's ephemeral range.

    The child binds the port a moment (a Python start-up) after we chose it. A port from
    the ephemeral range can be taken meanwhile as the local end of any outgoing connection
    on the machine; one below it can only be taken by an explicit bind.
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as fh:
            low = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return free_port(host)
    pick = rng or random.SystemRandom()
    for _ in range(50):
        port = pick.randrange(10000, low) if low > 11000 else 0
        if port == 0:
            break
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    return free_port(host)


def child_argv() -> List[str]:
    """How to start the database child: this interpreter with the nx-27017 module, or, inside the
    one-file executable (which has no separate Python), the executable itself with a hidden command."""
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_COMMAND]
    # chat/ops/embedded_db.py: nx-27017 with one commit per insert command (importable from any cwd)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # above chat/
    return [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from chat.ops.embedded_db import main; sys.exit(main(sys.argv[1:]))", root]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux only: kill the child when the thread that forked it dies, even on SIGKILL.
    # SIGKILL, not SIGTERM: nx-27017 answers SIGTERM with sys.exit() from its signal handler,
    # which can fire inside an asyncio callback. When the server dies, all its connections hit
    # EOF at the same moment, and that SystemExit then left the child half shut down, alive for
    # good, still holding the database, its pid file and the data-dir lock: the next start
    # failed ("nx-27017 exited with code 1": "already running"). A dead server waits for
    # nothing, and SQLite loses no committed write when its process is killed.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except OSError:
        pass
    os.setpgrp()  # not in the terminal's process group: Ctrl-C reaches the server, which stops us


def follow_launcher() -> None:
    """Inside the one-file executable, the server runs as the child of a small launcher process
    (the one systemd or a shell started). SIGTERM us when the launcher dies, even by SIGKILL,
    so that no server (and so no database child) outlives it."""
    launcher = os.getppid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except OSError:
        return
    if os.getppid() != launcher:  # it died before the prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


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
            state: Dict[str, Any] = json.load(fh)
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
                 write_state: bool = True, start_timeout: float = 15.0,
                 log_max_bytes: int = 10 * 1024 * 1024, log_backups: int = 3) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.mode = mode
        self.port = port or database_port()
        self._fixed_port = port is not None
        self.write_state = write_state
        self.start_timeout = start_timeout
        self.log_max_bytes = log_max_bytes
        self.log_backups = log_backups
        self.log_path = os.path.join(self.data_dir, LOG_FILE)
        self.lock: Optional[DataDirLock] = DataDirLock(self.data_dir) if write_state else None
        self._owns_state = False
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
        # nx-27017 writes its log both to stderr and to --log-file: stderr (our file) is the one
        # kept, so the log exists once and a start-up failure's reason is in it.
        return [*child_argv(), *where, "--host", "127.0.0.1", "-p", str(self.port),
                "--pid-file", os.path.join(self.data_dir, PID_FILE), "--log-file", os.devnull]

    def start(self) -> None:
        """Start the child and wait until a ping answers; raise :class:`EmbeddedError` otherwise
        (:class:`DataDirInUse` when another live server owns the data dir)."""
        os.makedirs(self.data_dir, exist_ok=True)
        if self.lock is not None:
            self._acquire_data_dir()
        try:
            self._spawn()
            deadline = time.monotonic() + self.start_timeout
            attempts = 1
            while not ping_uri(self.uri, 300):
                if self.proc is not None and self.proc.poll() is not None:
                    reason = tail(self.log_path)
                    if "Errno 98" in reason and not self._fixed_port and attempts < 3:
                        # someone bound the port between our choice and the child's bind: choose again
                        log.warning("port %d was taken before nx-27017 bound it; trying another", self.port)
                        attempts += 1
                        self.port = database_port()
                        self._spawn()
                        continue
                    raise EmbeddedError("nx-27017 exited with code %s%s (log: %s)" % (
                        self.proc.returncode, ": " + reason if reason else "", self.log_path))
                if time.monotonic() > deadline:
                    raise EmbeddedError("nx-27017 did not answer within %.0f s (log: %s)" % (
                        self.start_timeout, self.log_path))
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        self._write_state()

    def _acquire_data_dir(self) -> None:
        """Own the data dir, waiting for the remains of a crashed server to finish exiting."""
        assert self.lock is not None
        if self.lock.try_acquire():
            self._clear_stale_files(PID_FILE, STATE_FILE)
            return
        live = read_state(self.data_dir)
        if live is not None and live.get("serverPid") != os.getpid():
            raise DataDirInUse("another server (pid %s) is using the data dir %s" % (live["serverPid"], self.data_dir))
        # No live server owns it: a crashed server's child is still exiting, or another command
        # (import-roster, restore) is working on the data dir; both let go soon.
        log.warning("the data dir %s is still locked by an exiting process; waiting up to %.0f s",
                    self.data_dir, self.start_timeout)
        deadline = time.monotonic() + self.start_timeout
        while not self.lock.try_acquire():
            if time.monotonic() > deadline:
                raise DataDirInUse("the data dir %s is in use by another process (lock %s)" % (
                    self.data_dir, self.lock.path))
            time.sleep(0.05)
        self._clear_stale_files(PID_FILE, STATE_FILE)

    def _clear_stale_files(self, *names: str) -> None:
        # We own the lock, so no database child of this data dir is alive: a pid file left by one
        # that was killed would make nx-27017 refuse to start (it treats a zombie pid as running).
        for name in names:
            try:
                os.remove(os.path.join(self.data_dir, name))
            except FileNotFoundError:
                pass

    def _spawn(self) -> None:
        if self._log is None:
            rotate_log(self.log_path, self.log_max_bytes, self.log_backups)
            self._log = open(self.log_path, "ab")
        keep = (self.lock.fd,) if self.lock is not None and self.lock.fd is not None else ()
        # stdout/stderr go to a file: nx-27017 logs every command, a pipe nobody reads would fill up.
        # The child inherits the data-dir lock (see the module docstring).
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, close_fds=True,
                                     pass_fds=keep)
        self._started_at = time.monotonic()

    def _write_state(self) -> None:
        if not self.write_state or self.proc is None:
            return
        path = os.path.join(self.data_dir, STATE_FILE)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"uri": self.uri, "pid": self.proc.pid, "serverPid": os.getpid(), "port": self.port}, fh)
        os.replace(tmp, path)
        self._owns_state = True

    def check(self) -> None:
        """Supervise: call periodically; restarts a dead child with exponential backoff."""
        if self.proc is None:
            return
        now = time.monotonic()
        if self.proc.poll() is None:
            if self._log is not None and rotate_log(self.log_path, self.log_max_bytes, self.log_backups):
                log.info("rotated %s", self.log_path)
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
            if self.lock is not None:
                self._clear_stale_files(PID_FILE)  # the dead child is reaped and we hold the lock
            self._spawn()
            self._write_state()
        except OSError as exc:
            log.error("could not restart the embedded database: %s", exc)

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL), remove the state file we wrote, let go of the data dir."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._owns_state:  # never the file of the server that made our start refuse
            self._owns_state = False
            try:
                os.remove(os.path.join(self.data_dir, STATE_FILE))
            except FileNotFoundError:
                pass
        if self.lock is not None:
            self.lock.release()
        if self._log is not None:
            self._log.close()
            self._log = None
