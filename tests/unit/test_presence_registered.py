"""A socket's open is counted in Redis before the session reads its first frame (no flap when a
user opens a phone on one node and closes a laptop on another right after)."""
from __future__ import annotations

import asyncio
from typing import Any, List, Optional

from chat.clock import Clock, ManualClock, SystemClock
from chat.presence.relation import OnlineIndex, Presence
from chat.presence.serial import SerialWork
from chat.presence.shared import SharedPresence


class _Pipeline:
    def __init__(self, client: "_Client") -> None:
        self.client = client
        self.queued: List[Any] = []

    def eval(self, script: str, nkeys: int, *args: Any) -> None:
        self.queued.append(args)

    async def execute(self, raise_on_error: bool = True) -> List[Any]:
        await self.client.gate.wait()
        self.client.evals.extend(self.queued)
        self.client.pipelines += 1
        return [[1, 1, 1] for _ in self.queued]


class _Client:
    """Redis whose pipelines wait until the test lets them go."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.evals: List[Any] = []
        self.pipelines = 0

    def pipeline(self, transaction: bool = True) -> _Pipeline:
        return _Pipeline(self)


class _Link:
    def __init__(self, client: _Client) -> None:
        self.up = True
        self.client = client
        self.published: List[Any] = []

    def publish(self, channels: Any, payload: str) -> None:
        self.published.append((channels, payload))

    def want(self, channel: str) -> None:
        pass

    def unwant(self, channel: str) -> None:
        pass

    async def confirmed(self, channel: str, timeout: float = 10.0) -> None:
        raise ConnectionError("not in this test")


class _Sockets:
    def __init__(self) -> None:
        self.online = OnlineIndex()

    def sockets_of(self, user_id: str) -> int:
        return 1

    def is_open(self, conn_id: str) -> bool:
        return True


def _backend(client: _Client, ttl: float = 30.0, clock: Optional[Clock] = None) -> SharedPresence:
    return SharedPresence(_Link(client), "t:", "n1", _Sockets(), lambda u, s: set(), lambda *a: None,
                          lambda c: None, lambda u, n: None, clock or SystemClock(), ttl, 10)


def test_registered_returns_only_after_redis_counted_the_socket() -> None:
    async def main() -> None:
        client = _Client()
        backend = _backend(client)
        who = Presence("st2", "Sue", "student", "s1", frozenset(), 0)
        backend.opened("c1", who, True)
        waiting = asyncio.ensure_future(backend.registered("c1"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done() and client.evals == []  # Redis has not counted it: still waiting
        client.gate.set()
        await waiting
        assert len(client.evals) == 1 and client.evals[0][0] == "t:online:st2"
        await backend.registered("c1")  # settled: returns at once
        assert backend._opening == {}
    asyncio.run(main())


def test_registered_is_bounded_when_redis_hangs() -> None:
    async def main() -> None:
        client = _Client()  # the gate never opens
        clock = ManualClock()
        backend = _backend(client, ttl=0.3, clock=clock)
        backend.opened("c1", Presence("st2", "Sue", "student", "s1", frozenset(), 0), True)
        waiting = asyncio.ensure_future(backend.registered("c1"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done()
        clock.advance(0.1)  # a heartbeat period (a third of the TTL) on the injected clock
        await waiting  # gave up waiting
        assert client.evals == []
    asyncio.run(main())


def test_serial_work_future_is_done_even_when_the_call_raises() -> None:
    async def main() -> None:
        ran: List[int] = []

        async def run(items: List[int]) -> None:
            ran.extend(items)
            if 1 in items:
                raise RuntimeError("boom")

        work = SerialWork(run)
        first, second = work.put(1), work.put(2)
        await second
        assert first.done() and ran == [1, 2]
        await work.put(3)  # and what is queued afterwards still runs
        assert ran == [1, 2, 3]
    asyncio.run(main())


def test_opens_queued_meanwhile_reach_redis_in_one_pipeline_in_order() -> None:
    async def main() -> None:
        client = _Client()
        backend = _backend(client)
        users = [Presence("u%d" % i, "U", "student", "s1", frozenset(), 0) for i in range(50)]
        backend.opened("c0", users[0], True)  # its pipeline waits for the gate
        await asyncio.sleep(0)
        for i, who in enumerate(users[1:], 1):
            backend.opened("c%d" % i, who, True)
        client.gate.set()
        await asyncio.gather(*(backend.registered("c%d" % i) for i in range(50)))
        assert [args[0] for args in client.evals] == ["t:online:u%d" % i for i in range(50)]
        assert client.pipelines == 2  # the first alone, the 49 queued behind it together
    asyncio.run(main())
