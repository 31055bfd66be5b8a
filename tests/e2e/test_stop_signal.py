"""SIGTERM is never lost, even when storage completions flood the event loop's wakeup pipe
(each one writes a byte to it; once it is full, a signal's wakeup byte used to be dropped and
its handler never ran)."""
from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

from chat.auth import mint_token
from chat.settings import Settings
from handlers.http_server import install_stop_signals
from tests.conftest import SECRET
from tests.e2e.test_process import ServerProc

SOCKETS = 2000


def _run_until_stopped(arrange) -> bool:
    """Run a fresh loop with the stop signals installed until the callback runs;
    ``arrange(loop)`` makes a SIGTERM arrive. True when the signal, not the 60 s bound, ended
    the run: the bound's callback is queued before the loop wakes, so if only the bound wakes
    the loop, it runs first."""
    loop = asyncio.new_event_loop()
    order = []
    before = signal.getsignal(signal.SIGTERM)

    def end(what):
        order.append(what)
        loop.stop()
    uninstall = install_stop_signals(loop, lambda: end("signal"), (signal.SIGTERM,))
    finished = threading.Event()

    def bound():
        if not finished.wait(60):
            loop.call_soon_threadsafe(end, "bound")
    threading.Thread(target=bound, daemon=True).start()
    try:
        arrange(loop)
        loop.run_forever()
    finally:
        finished.set()
        uninstall()
        loop.close()
    assert signal.getsignal(signal.SIGTERM) is before  # put back
    return order[0] == "signal"


def test_a_stop_signal_survives_a_full_loop_wakeup_pipe():
    def arrange(loop):
        for _ in range(5000):  # the loop's self-pipe holds a few hundred wakeups: now it is full
            loop.call_soon_threadsafe(lambda: None)
        os.kill(os.getpid(), signal.SIGTERM)  # with loop.add_signal_handler this one is dropped
    assert _run_until_stopped(arrange)


def test_an_idle_loop_wakes_for_a_signal_another_thread_receives():
    def arrange(loop):
        # the C-level handler runs in that thread; only the wakeup byte tells the main thread,
        # blocked in the loop's poll, to run the Python-level handler
        def later():
            time.sleep(0.3)  # not a wait for anything: lets the loop go idle first (it passes either way)
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        threading.Thread(target=later).start()
    assert _run_until_stopped(arrange)


@pytest.fixture
def secret_server(tmp_path):
    """The real server process with a known JWT secret (tokens are minted here, not by a CLI
    call per user)."""
    proc = ServerProc(str(tmp_path / "data"), env={"CHAT_JWT_SECRET": SECRET})
    try:
        proc.wait_ready(60)
        yield proc
    finally:
        proc.stop()


async def _open(port: int, tok: str) -> asyncio.StreamWriter:
    """A WebSocket handshake on a raw connection; returns once ``session:ready`` arrived."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(("GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n" % (tok, port)).encode())
    await reader.readuntil(b"session:ready")
    return writer


def test_one_sigterm_stops_the_server_while_thousands_of_sockets_close(secret_server):
    """End to end with the real process. Whether the wakeup pipe actually fills here depends on
    the machine; the two tests above reproduce the lost signal deterministically."""
    settings = Settings(jwt_secret=SECRET)
    # distinct users: every last close of a user is a storage write (lastSeen) whose completion
    # wakes the loop, so closing them together floods its wakeup pipe
    tokens = [mint_token(settings, "u%d" % i, "student", "s1") for i in range(SOCKETS)]

    async def scenario() -> None:
        gate = asyncio.Semaphore(64)

        async def one(tok: str) -> asyncio.StreamWriter:
            async with gate:
                return await asyncio.wait_for(_open(secret_server.port, tok), 120)
        writers = await asyncio.gather(*[one(t) for t in tokens])
        for writer in writers:  # all at once: connection resets, no closing handshakes
            writer.transport.abort()
        secret_server.proc.send_signal(signal.SIGTERM)
    asyncio.run(scenario())
    # a liveness bound: a lost signal would leave the server running forever
    deadline = time.monotonic() + 120
    while secret_server.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert secret_server.proc.poll() == 0, secret_server.output()[-3000:]
    assert "shutting down" in secret_server.output()
