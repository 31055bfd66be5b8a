"""The cluster's pure parts, with an injected clock: the ordering buffer and seq reservation."""
from __future__ import annotations

import asyncio
from typing import Dict, List

from chat.clock import ManualClock
from chat.cluster.order import MAX_FILL, OrderBuffer
from chat.cluster.seqs import SeqReserver
from chat.realtime.broker import Delivery, DeliveryKind


def env(seq: int, cid: str = "c1") -> Delivery:
    return Delivery(DeliveryKind.MESSAGE, "frame-%d" % seq, ("u1",), "s1", cid, seq, "u2")


class Harness:
    def __init__(self, stored: List[int]) -> None:
        self.clock = ManualClock()
        self.out: List[int] = []
        self.stored = stored
        self.fetches: List[tuple] = []
        self.buffer = OrderBuffer(lambda e: self.out.append(e.seq), self.fetch, self.clock, 0.5)

    async def fetch(self, cid: str, after: int, before: int, sample: Delivery) -> List[Delivery]:
        self.fetches.append((cid, after, before))
        return [env(s, cid) for s in self.stored if after < s < before]

    async def timeout(self) -> None:
        """Let the gap timer fire, then let the fill (a task) run to its end."""
        self.clock.advance(0.5)
        for _ in range(5):
            await asyncio.sleep(0)


def test_in_order_messages_pass_straight_through_and_duplicates_are_dropped():
    async def main() -> None:
        h = Harness([])
        for s in (1, 2, 3, 2, 3):
            h.buffer.offer(env(s))
        assert h.out == [1, 2, 3] and h.clock.pending() == 0
    asyncio.run(main())


def test_an_early_message_waits_for_the_missing_one():
    async def main() -> None:
        h = Harness([])
        h.buffer.offer(env(1))
        h.buffer.offer(env(3))
        h.buffer.offer(env(4))
        assert h.out == [1] and h.clock.pending() == 1
        h.buffer.offer(env(2))
        assert h.out == [1, 2, 3, 4] and h.clock.pending() == 0  # the gap timer was cancelled
        assert h.fetches == []
    asyncio.run(main())


def test_a_gap_still_open_at_the_timeout_is_filled_from_the_database():
    async def main() -> None:
        h = Harness(stored=[2, 3])
        h.buffer.offer(env(1))
        h.buffer.offer(env(4))
        await h.timeout()
        assert h.fetches == [("c1", 1, 4)]
        assert h.out == [1, 2, 3, 4]
        h.buffer.offer(env(2))  # the relayed copy arriving after all: already delivered
        h.buffer.offer(env(3))
        assert h.out == [1, 2, 3, 4]
        assert h.buffer.stats()["filled"] == 2
    asyncio.run(main())


def test_a_gap_wider_than_a_fill_reads_only_its_newest_seqs():
    async def main() -> None:
        width = MAX_FILL * 50
        h = Harness(stored=list(range(2, width + 2)))  # an import of 50,000 this node never saw
        h.buffer.offer(env(1))
        h.buffer.offer(env(width + 2))
        await h.timeout()
        assert h.fetches == [("c1", width + 1 - MAX_FILL, width + 2)]  # one bounded read
        assert h.out == [1] + list(range(width + 2 - MAX_FILL, width + 3))
        assert h.buffer.stats()["jumped"] == width - MAX_FILL and h.buffer.stats()["filled"] == MAX_FILL
    asyncio.run(main())


def test_a_seq_the_database_lacks_is_skipped_and_still_delivered_if_it_comes_late():
    async def main() -> None:
        h = Harness(stored=[3])  # seq 2 is not stored (yet)
        h.buffer.offer(env(1))
        h.buffer.offer(env(4))
        await h.timeout()
        assert h.out == [1, 3, 4]
        h.buffer.offer(env(2))  # late beats lost
        h.buffer.offer(env(2))  # but only once
        assert h.out == [1, 3, 4, 2]
        h.buffer.offer(env(5))
        assert h.out == [1, 3, 4, 2, 5]
    asyncio.run(main())


def test_conversations_are_ordered_independently():
    async def main() -> None:
        h = Harness([])
        h.buffer.offer(env(1, "a"))
        h.buffer.offer(env(7, "b"))  # the first seen of b starts its window
        h.buffer.offer(env(3, "a"))
        h.buffer.offer(env(8, "b"))
        assert h.out == [1, 7, 8]
        h.buffer.offer(env(2, "a"))
        assert h.out == [1, 7, 8, 2, 3]
    asyncio.run(main())


class Counter:
    """One school's counter document: ``commands`` records each storage command."""

    def __init__(self, start: int) -> None:
        self.value = start
        self.commands: List[str] = []

    async def reserve(self, counts: Dict[str, Dict[str, int]]) -> Dict[str, int]:
        self.commands.append("inc")
        (per_conv,) = counts.values()
        self.value += per_conv["c"]
        return {"c": self.value - per_conv["c"] + 1}

    async def raise_to(self, floors: Dict[str, Dict[str, int]]) -> None:
        self.commands.append("max")
        (per_conv,) = floors.values()
        self.value = max(self.value, per_conv["c"])

    async def give_back(self, school: str, conversation_id: str, top: int, count: int) -> bool:
        return False


def test_reservation_raises_a_lagging_counter_to_the_stored_messages_first():
    async def main() -> None:
        counter = Counter(start=3)  # no reservation since seq 10 was stored (one process wrote it)
        reserver = SeqReserver(counter)
        assert await reserver.reserve({"c": 5}, {"c": 10}, {"c": "s1"}) == {"c": 11}
        assert counter.value == 15 and counter.commands == ["max", "inc"]  # raised once, on first use
        assert await reserver.reserve({"c": 2}, {"c": 15}, {"c": "s1"}) == {"c": 16}
        assert counter.commands == ["max", "inc", "inc"]
        counter.value = 12  # written behind the counter's back meanwhile (seq 17 is stored)
        assert await reserver.reserve({"c": 1}, {"c": 17}, {"c": "s1"}) == {"c": 18}
        assert counter.commands[3:] == ["inc", "max", "inc"]  # found lagging: raised, reserved again
    asyncio.run(main())


def test_an_earlier_seq_in_flight_when_the_window_started_is_delivered_late_once():
    async def main() -> None:
        h = Harness([])
        h.buffer.offer(env(101))  # first sight of the conversation
        h.buffer.offer(env(100))  # sent at the same time from another node
        h.buffer.offer(env(100))
        h.buffer.offer(env(102))
        assert h.out == [101, 100, 102]
    asyncio.run(main())


def test_cluster_gauges_read_the_node_stats_when_scraped():
    prometheus = __import__("pytest").importorskip("prometheus_client")
    from chat.cluster.metrics import GAUGES, register
    registry = prometheus.CollectorRegistry()
    stats = {"up": True, "restores": 2, "filled": 7}
    register(registry, lambda: stats)
    text = prometheus.generate_latest(registry).decode()
    assert "chat_redis_up 1.0" in text and "chat_redis_restores 2.0" in text
    assert "chat_cluster_order_filled 7.0" in text and "chat_redis_dropped 0.0" in text
    stats["up"] = False
    assert "chat_redis_up 0.0" in prometheus.generate_latest(registry).decode()
    assert len(GAUGES) == len([line for line in text.splitlines() if line.startswith("# TYPE chat_")])
