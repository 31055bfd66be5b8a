"""The order of a graceful shutdown with a fake server and runtime (tests/e2e/test_shutdown.py
sends SIGTERM to the real process mid-burst)."""
from __future__ import annotations

import asyncio


def test_state_written_behind_is_written_even_when_closing_connections_times_out():
    import types

    from handlers.lifecycle import graceful_shutdown

    calls = []

    class Server:
        def stop(self):
            calls.append("stop")

        async def close_all_connections(self):
            await asyncio.Event().wait()  # a connection that never closes

    async def drain():
        calls.append("drain")

    async def close():
        calls.append("close")

    runtime = types.SimpleNamespace(
        draining=False, close=close,
        realtime=types.SimpleNamespace(drain=lambda: calls.append("refuse frames"),
                                       close_all=lambda: calls.append("1001")),
        service=types.SimpleNamespace(drain=drain))
    hub = types.SimpleNamespace(inflight=0, handlers={})
    asyncio.run(graceful_shutdown(Server(), hub, runtime, timeout=0.05))
    assert calls == ["refuse frames", "stop", "drain", "1001", "close"] and runtime.draining
