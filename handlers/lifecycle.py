"""Graceful shutdown: no answer is lost.

The order matters: new connections and new frames are refused first; frames already taken
(sends among them) finish and are answered; the writer is drained; then sockets close with
1001 and HTTP connections are closed; whatever was written behind (conversation state,
``lastSeenAt``) is written last, even when closing connections ran out of time.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from chat.runtime import Runtime

log = logging.getLogger("chat.server")


async def _until(done: Callable[[], bool], deadline: float) -> bool:
    loop = asyncio.get_running_loop()
    while not done():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def graceful_shutdown(server: Any, hub: Any, runtime: Runtime, timeout: float = 5.0) -> None:
    """Stop ``server`` (a Tornado HTTPServer) and the sockets of ``hub`` (handlers.ws.SocketHub)
    within about ``timeout`` seconds per phase, then write everything written behind."""
    loop = asyncio.get_running_loop()
    runtime.draining = True          # new sockets: 503 before the upgrade
    runtime.realtime.drain()         # new frames: "unavailable"
    server.stop()                    # no new connections
    try:
        if hub is not None and not await _until(lambda: hub.inflight == 0, loop.time() + timeout):
            log.warning("shutdown: %d frames still running after %.0f s", hub.inflight, timeout)
        await asyncio.wait_for(runtime.service.drain(), timeout)  # every queued send answered
    except asyncio.TimeoutError:
        log.warning("shutdown: the writer did not finish within %.0f s", timeout)
    finally:
        try:
            if hub is not None:
                runtime.realtime.close_all()  # 1001 to every socket
                await _until(lambda: not hub.handlers, loop.time() + timeout)
            await asyncio.wait_for(server.close_all_connections(), timeout)
        except asyncio.TimeoutError:
            log.warning("shutdown: connections still open after %.0f s", timeout)
        finally:
            try:
                await runtime.close()  # conversation state and lastSeenAt: written even after a timeout
            except Exception:
                log.exception("could not write the state written behind at shutdown")
