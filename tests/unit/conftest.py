"""The unit tier's rule, enforced: a test here opens no socket and starts no process.

While a test of this folder sets up and runs, connecting, binding or sending on a socket and
starting a process (``subprocess``, ``os.fork``/``posix_spawn``/``system``, ``multiprocessing``)
raise :class:`UnitTierViolation`, and the test fails even if the code under test swallowed
that error. A test that needs any of it belongs in ``tests/e2e/``. Fixtures that stand for a
server or a database (``runtime``, ``mongo_uri``, ...) are refused by name before they start.

The guard applies to the test's own thread and to the threads it starts, so a thread left
behind by an earlier end-to-end test in the same run (a database client's monitor, say) is
not blamed for a unit test. ``asyncio`` loops still work: their wakeup pipe is a
``socketpair``, which connects nothing.
"""
from __future__ import annotations

import _posixsubprocess  # type: ignore[import-not-found]
import asyncio
import multiprocessing.process
import os
import socket
import subprocess
import threading
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest

# fixtures of tests/conftest.py and pytest-tornado that start a server or a database
E2E_FIXTURES = {"mongo_uri", "runtime", "app", "http_server", "api", "ws", "school", "store",
                "base_url", "_unused_port", "http_port", "http_client"}

# (owner, attribute): every way this code base, or a library under it, opens a socket or a process
GUARDED: List[Tuple[Any, str]] = [
    (socket.socket, "connect"), (socket.socket, "connect_ex"), (socket.socket, "bind"),
    (socket.socket, "sendto"), (socket, "create_connection"), (socket, "create_server"),
    (asyncio, "open_connection"), (asyncio, "open_unix_connection"), (asyncio, "start_server"),
    (subprocess.Popen, "__init__"), (_posixsubprocess, "fork_exec"),
    (os, "fork"), (os, "forkpty"), (os, "posix_spawn"), (os, "posix_spawnp"), (os, "system"),
    (multiprocessing.process.BaseProcess, "start"),
]


class UnitTierViolation(AssertionError):
    """A unit test opened a socket or started a process."""


class _Guard:
    """Swaps the guarded callables for refusing ones while a unit test's phase runs."""

    def __init__(self) -> None:
        self.violations: List[str] = []
        self._saved: List[Tuple[Any, str, Any]] = []

    @staticmethod
    def _guarded_thread() -> bool:
        current = threading.current_thread()
        return current is threading.main_thread() or getattr(current, "_unit_tier_guarded", False)

    def _refusing(self, label: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            if not self._guarded_thread():
                return original(*args, **kwargs)
            message = ("%s in a unit test: tests/unit/ opens no socket and starts no process; "
                       "move this test to tests/e2e/" % label)
            self.violations.append(message)
            raise UnitTierViolation(message)
        return refuse

    def __enter__(self) -> "_Guard":
        for owner, name in GUARDED:
            original = getattr(owner, name, None)
            if original is None:
                continue
            self._saved.append((owner, name, original))
            label = "%s.%s" % (getattr(owner, "__name__", owner), name)
            setattr(owner, name, self._refusing(label, original))
        start = threading.Thread.start
        self._saved.append((threading.Thread, "start", start))
        guarded_thread = self._guarded_thread

        def start_marked(thread: threading.Thread) -> None:
            if guarded_thread():
                thread._unit_tier_guarded = True  # type: ignore[attr-defined]
            start(thread)
        threading.Thread.start = start_marked  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()


def _guarded(item: pytest.Item) -> Iterator[None]:
    guard = _Guard()
    with guard:
        outcome = yield
    if guard.violations:  # also when the code under test caught the exception
        pytest.fail("%s: %s" % (item.nodeid, guard.violations[0]), pytrace=False)
    return outcome


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    wanted = sorted(E2E_FIXTURES & set(getattr(item, "fixturenames", ())))
    if wanted:
        pytest.fail("%s uses %s, which start a server or a database: it belongs in tests/e2e/"
                    % (item.nodeid, ", ".join(wanted)), pytrace=False)
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: Optional[pytest.Item]) -> Iterator[None]:
    if nextitem is None:
        # the run's last test: session fixtures an end-to-end test started are torn down here
        return (yield)
    return (yield from _guarded(item))
