"""Seq reservation of a whole writer batch in one storage job (cluster)."""
from __future__ import annotations

import asyncio
from typing import Dict, List

from chat.cluster.seqs import SeqReserver


class Counters:
    """``lastSeq`` per conversation; ``jobs`` records each storage job's conversations."""

    def __init__(self, start: Dict[str, int]) -> None:
        self.last = dict(start)
        self.jobs: List[List[str]] = []

    async def reserve_seqs(self, conversation_id: str, count: int) -> int:
        self.jobs.append([conversation_id])
        self.last[conversation_id] = self.last.get(conversation_id, 0) + count
        return self.last[conversation_id] - count + 1

    async def reserve_seqs_many(self, counts: Dict[str, int]) -> Dict[str, int]:
        self.jobs.append(list(counts))
        firsts = {}
        for cid, count in counts.items():
            self.last[cid] = self.last.get(cid, 0) + count
            firsts[cid] = self.last[cid] - count + 1
        return firsts

    async def give_back_seqs(self, conversation_id: str, top: int, count: int) -> bool:
        return False


def test_a_batch_reserves_all_its_conversations_in_one_job_and_moves_a_lagging_counter():
    async def main() -> None:
        counters = Counters({"a": 0, "b": 3, "c": 7})  # b's lastSeq lags: seq 9 is stored
        reserver = SeqReserver(counters, counters.reserve_seqs_many)
        firsts = await reserver.reserve({"a": 2, "b": 1, "c": 3}, {"a": 0, "b": 9, "c": 7})
        assert firsts == {"a": 1, "b": 10, "c": 8}
        assert counters.jobs[0] == ["a", "b", "c"]            # one job for the batch
        assert all(job == ["b"] for job in counters.jobs[1:])  # only the lagging one again
        assert counters.last == {"a": 2, "b": 10, "c": 10}
        # the next batch continues where these ended, nothing handed out twice
        assert await reserver.reserve({"b": 2, "c": 1}, {"b": 10, "c": 10}) == {"b": 11, "c": 11}
    asyncio.run(main())
