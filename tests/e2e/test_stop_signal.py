"""SIGTERM is never lost, even when storage completions flood the event loop's wakeup pipe
(each one writes a byte to it; once it is full, a signal's wakeup byte used to be dropped and
its handler never ran)."""
from __future__ import annotations

import asyncio
import signal
import time

import pytest

from chat.auth import mint_token
from chat.settings import Settings
from tests.conftest import SECRET
from tests.e2e.test_process import ServerProc

SOCKETS = 2000


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
    the machine; tests/unit/test_stop_signal.py reproduces the lost signal deterministically."""
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
