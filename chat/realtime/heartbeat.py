"""WebSocket keep-alive for every socket from one timer.

Tornado's own pinging runs a task with its own sleeping timer per socket: about a kilobyte per
idle connection, a fifth of what one costs here. Instead one timer fires every ``interval``
seconds: every socket open then gets a ping, and a socket that has not answered with a pong
``timeout`` seconds later is closed (a peer that vanished without closing: NAT timeout, a
laptop lid). No sockets here: the transport hands in how to list, ping and close connections.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable, Iterable, List, Optional, Set

from chat.clock import Clock, Timer

log = logging.getLogger("chat.heartbeat")

CHUNK = 500  # pings written per event-loop turn: a round never stalls other work for long


class Heartbeat:
    def __init__(self, clock: Clock, interval: float, timeout: float, ids: Callable[[], Iterable[str]],
                 ping: Callable[[str], None], close: Callable[[str], None]) -> None:
        self.clock = clock
        self.interval = interval
        self.timeout = min(timeout, interval) if timeout > 0 else interval
        self.ids = ids
        self.ping = ping
        self.close = close
        self._waiting: Set[str] = set()   # pinged this round, no pong yet
        self._round_timer: Optional[Timer] = None
        self._deadline: Optional[Timer] = None

    @property
    def running(self) -> bool:
        return self._round_timer is not None

    def start(self) -> None:
        """Arm the first round (needs the running loop; nothing when the interval is 0)."""
        if self.interval > 0 and self._round_timer is None:
            self._round_timer = self.clock.call_later(self.interval, self._round)

    def stop(self) -> None:
        for timer in (self._round_timer, self._deadline):
            if timer is not None:
                timer.cancel()
        self._round_timer = self._deadline = None
        self._waiting.clear()

    def pong(self, conn_id: str) -> None:
        """The socket answered (any pong counts)."""
        self._waiting.discard(conn_id)

    def _round(self) -> None:
        self._round_timer = self.clock.call_later(self.interval, self._round)
        if self._deadline is not None:  # a timeout equal to the interval: judge the last round first
            self._deadline.cancel()
            self._expire()
        targets = list(self.ids())
        self._waiting = set(targets)
        self._send(targets, 0)
        self._deadline = self.clock.call_later(self.timeout, self._expire)

    def _send(self, targets: List[str], start: int) -> None:
        waiting = self._waiting
        for conn_id in targets[start:start + CHUNK]:
            if conn_id in waiting:
                try:
                    self.ping(conn_id)
                except Exception:  # one socket's failure must not leave the rest unpinged
                    log.exception("pinging %s failed", conn_id)
        if start + CHUNK < len(targets):
            asyncio.get_running_loop().call_soon(self._send, targets, start + CHUNK)

    def _expire(self) -> None:
        self._deadline = None
        late, self._waiting = self._waiting, set()
        for conn_id in late:
            try:
                self.close(conn_id)
            except Exception:
                log.exception("closing %s failed", conn_id)
