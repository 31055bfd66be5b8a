"""The message writer: group commit with exact outcomes.

Every send queued while a batch is being written goes into the next batch, which costs one
``insert_many`` whatever its size. Seqs are assigned when the batch is formed, from the
conversation state resolved *then* by id (so a state reloaded while messages of it were
queued can never hand out a seq twice), and each stored message is broadcast once, in seq
order, before its sender is answered.

What each sender is told (the writer's contract, tested with a fault-injecting store):

- a message the database refuses fails alone: ``bad_request`` when it cannot be stored as
  given, and the rest of its batch is still stored, broadcast and acknowledged (the refused
  message's seq is given to the next one, so seqs stay gap-free);
- a retry (same sender and ``clientMsgId``) stores nothing twice and is answered with the
  stored message, never with a refused document;
- when storage fails mid-batch, what was stored is read back: those messages are broadcast
  and acknowledged exactly once, the rest answered ``unavailable``; if even that read fails,
  all of them are answered ``unavailable`` and remembered, so that a retry finding one of them
  stored broadcasts it then (once);
- an acknowledged message is durable (see :mod:`chat.store.db` for the write concern).

Seqs stay 1, 2, 3... A conversation's ``last_seq`` counts stored messages only, so in one
process a failed batch gives its seqs back by never having taken them. With shared seqs (a
cluster) a batch reserves them in the database; those it did not store (failed, refused, or
moved on) are *owed* and settled before the next batch once storage answers: what an unknown
outcome did store is read back and kept, the rest goes back to the counter when nobody
reserved after it, or else is filled with a tombstone (a deleted ``system`` message with
``meta.event == "gap"``), so history still reads 1, 2, 3. A tombstone and a late real insert
of the same seq cannot both be stored (the unique ``seqKey``): the message is then written
again with a new seq.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Protocol, Sequence, Set, Tuple

from chat.errors import BadRequest, ChatError, Unavailable
from chat.events import EventSink
from chat.live.convcache import ConversationCache, ConvState
from chat.rules import render
from chat.store import InsertOutcome, new_id
from chat.timeutil import now_ms

log = logging.getLogger("chat.writer")

MAX_BATCH = 1000
RECENT_IDS = 50000  # (sender, clientMsgId) of recent stores: most retries are answered from memory
MAX_REQUEUES = 3

Key = Tuple[str, str]
Result = Tuple[Dict[str, Any], bool]
#: (messages per conversation, seq floor per conversation, school per conversation) -> first
#: reserved seq per conversation
ReserveSeqs = Callable[[Mapping[str, int], Mapping[str, int], Mapping[str, str]], Awaitable[Dict[str, int]]]
#: (conversation, top seq, count) -> whether the counter moved back from top by count
GiveBackSeqs = Callable[[str, int, int], Awaitable[bool]]


class SharedSeqs(Protocol):
    """Seqs shared by several processes (:class:`chat.cluster.seqs.SeqReserver`)."""

    async def reserve(self, counts: Mapping[str, int], floors: Mapping[str, int],
                      schools: Mapping[str, str]) -> Dict[str, int]: ...

    async def give_back(self, conversation_id: str, top: int, count: int) -> bool: ...
GAP = "gap"  # ``meta.event`` of a tombstone


def tombstone(conversation_id: str, seq: int, now: int) -> Dict[str, Any]:
    """The stand-in for a seq that was handed out and never stored: a deleted system message
    (never unread, never shown), so that a conversation's seqs have no hole."""
    return {"id": new_id(), "conversationId": conversation_id, "seq": seq, "senderId": "system",
            "senderName": "system", "type": "system", "text": None, "attachments": [], "replyTo": None,
            "clientMsgId": "gap-%s-%d" % (conversation_id, seq), "createdAt": now, "editedAt": None,
            "deletedAt": now, "meta": {"event": GAP}}


def is_tombstone(doc: Mapping[str, Any]) -> bool:
    """True for a gap tombstone (see :func:`tombstone`)."""
    return doc.get("type") == "system" and (doc.get("meta") or {}).get("event") == GAP


class MessageLog(Protocol):
    """The storage the writer needs (``chat.store.Messages``; tests inject faults)."""

    async def insert_batch(self, docs: Sequence[Dict[str, Any]]) -> InsertOutcome: ...

    async def stored_ids(self, message_ids: Sequence[str]) -> Set[str]: ...

    async def find_by_client_id(self, sender_id: str, client_msg_id: str) -> Optional[Dict[str, Any]]: ...


@dataclasses.dataclass
class _Send:
    conversation_id: str
    doc: Dict[str, Any]
    check_duplicate: bool
    future: "asyncio.Future[Result]"
    requeues: int = 0

    @property
    def key(self) -> Key:
        return (self.doc["senderId"], self.doc["clientMsgId"])


class MessageWriter:
    """One writer per process (see the module doc)."""

    def __init__(self, cache: ConversationCache, log_: MessageLog, events: EventSink,
                 on_stored: Callable[[], None], linger: float = 0.0,
                 observe_batch: Optional[Callable[[int], None]] = None,
                 observe_latency: Optional[Callable[[float], None]] = None) -> None:
        self.cache = cache
        self.log = log_
        self.events = events
        self.on_stored = on_stored
        self.linger = linger
        self.observe_batch = observe_batch
        self.observe_latency = observe_latency
        self._queue: List[_Send] = []
        self._recent: "collections.OrderedDict[Key, Dict[str, Any]]" = collections.OrderedDict()
        self._unsure: Dict[Key, str] = {}  # answered unavailable, maybe stored: key -> message id
        self._task: Optional["asyncio.Task[None]"] = None
        self._last_write = 0.0
        self._reserve: Optional[ReserveSeqs] = None
        self._give_back: Optional[GiveBackSeqs] = None
        # shared seqs reserved and not (known to be) stored: conversation -> seq -> the id of
        # the message written with it when its outcome is unknown, else None
        self._owed: Dict[str, Dict[int, Optional[str]]] = {}
        self.tombstones = 0  # seqs filled with a tombstone (metrics, tests)
        self.given_back = 0  # seqs returned to the shared counter
        # this batch's seqs that are stored (by it or, found taken, by someone else), and those
        # written with an unknown outcome: (conversation, seq) -> message id
        self._taken: Set[Tuple[str, int]] = set()
        self._maybe: Dict[Tuple[str, int], str] = {}

    def use_shared_seqs(self, reserve: ReserveSeqs, give_back: Optional[GiveBackSeqs] = None) -> None:
        """Several processes write this database: take each batch's seqs from ``reserve``
        (atomic in the database) instead of counting them in memory, and return unstored
        ones with ``give_back`` (see the module doc)."""
        self._reserve = reserve
        self._give_back = give_back

    async def reserve_shared(self, conversation_id: str, count: int) -> Optional[int]:
        """The first of ``count`` seqs past the stored ones, reserved in the shared counter
        (an import in a cluster); None with one process, whose caller counts them itself."""
        if self._reserve is None:
            return None
        state = await self.cache.get(conversation_id)
        firsts = await self._reserve({conversation_id: count}, {conversation_id: state.last_seq},
                                     {conversation_id: state.school})
        return firsts[conversation_id]

    @property
    def owed(self) -> int:
        """Reserved seqs not settled yet (storage has not answered since they failed)."""
        return sum(len(seqs) for seqs in self._owed.values())

    @property
    def busy(self) -> bool:
        return self._task is not None

    async def submit(self, conversation_id: str, doc: Dict[str, Any], check_duplicate: bool) -> Result:
        """Queue a message; resolves with (stored doc, created) once it is durably stored and
        broadcast, or raises a :class:`ChatError` (see the module doc)."""
        loop = asyncio.get_running_loop()
        future: "asyncio.Future[Result]" = loop.create_future()
        started = loop.time()
        self.cache.pin(conversation_id)
        self._queue.append(_Send(conversation_id, doc, check_duplicate, future))
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        try:
            result = await future
            if self.observe_latency is not None:
                self.observe_latency(loop.time() - started)
            return result
        finally:
            self.cache.unpin(conversation_id)

    async def drain(self) -> None:
        """Wait until everything queued is written and answered."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                if self.linger and len(self._queue) < MAX_BATCH and loop.time() - self._last_write < 0.05:
                    # busy: let the batch fill a little; a batch costs the database about as much
                    # as two messages, so small batches would spend most of it on overhead
                    await asyncio.sleep(self.linger)
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    await self._write(batch)
                except Exception as exc:  # never leave a sender waiting
                    log.exception("writing a batch of %d messages failed", len(batch))
                    error = exc if isinstance(exc, ChatError) else Unavailable()
                    for item in batch:
                        _fail(item, error)
                self._last_write = loop.time()
        finally:
            self._task = None

    # ------------------------------------------------------------------ one batch
    async def _write(self, batch: List[_Send]) -> None:
        fresh: List[_Send] = []
        first_of: Dict[Key, _Send] = {}
        followers: List[_Send] = []
        for item in batch:
            known = self._recent.get(item.key) if item.check_duplicate else None
            if known is not None:
                _ok(item, known, False)
            elif item.key in first_of:
                followers.append(item)  # a duplicate inside the batch follows its first
            else:
                first_of[item.key] = item
                fresh.append(item)
        reserved: Dict[str, Tuple[int, int]] = {}
        self._taken.clear()
        self._maybe.clear()
        try:
            if self._owed and fresh:
                try:
                    await self.settle()
                except ChatError:
                    log.warning("storage unavailable: %d reserved seqs stay owed", self.owed)
            states = await self._states(fresh)
            fresh = [item for item in fresh if not item.future.done()]
            # a state's last_seq counts stored messages only (it moves in _accept): a batch that
            # fails gives its seqs back by never having taken them, and the write-behind of
            # lastSeq can never get ahead of what is stored
            top = {cid: state.last_seq for cid, state in states.items()}
            if self._reserve is not None and fresh:
                counts = collections.Counter(item.conversation_id for item in fresh)
                firsts = await self._reserve(counts, {cid: states[cid].last_seq for cid in counts},
                                             {cid: states[cid].school for cid in counts})
                for cid, first_seq in firsts.items():
                    top[cid] = first_seq - 1  # the loop below hands out first, first + 1, ...
                    reserved[cid] = (first_seq, first_seq + counts[cid] - 1)
            for item in fresh:
                top[item.conversation_id] += 1
                item.doc["seq"] = top[item.conversation_id]
            if self.observe_batch is not None and fresh:
                self.observe_batch(len(fresh))
            await self._insert(fresh, states)
        except BaseException:
            for item in fresh:  # failed in an unforeseen way: what was stored is unknown
                if item.doc.get("seq") is not None and (item.conversation_id, item.doc["seq"]) not in self._taken:
                    self._maybe[(item.conversation_id, item.doc["seq"])] = item.doc["id"]
            raise
        finally:
            if reserved:
                self._owe(reserved)
            for item in followers:
                first = first_of[item.key]
                if first.future.done() and not first.future.cancelled() and first.future.exception() is None:
                    _ok(item, first.future.result()[0], False)
                elif first.future.done() and not first.future.cancelled():
                    _fail(item, first.future.exception() or Unavailable())
                else:
                    _fail(item, Unavailable())
            self.on_stored()

    def _owe(self, reserved: Dict[str, Tuple[int, int]]) -> None:
        """Note the reserved seqs this batch did not store (see the module doc)."""
        for cid, (first, last) in reserved.items():
            for seq in range(first, last + 1):
                if (cid, seq) not in self._taken:
                    self._owed.setdefault(cid, {})[seq] = self._maybe.get((cid, seq))

    async def settle(self) -> None:
        """Settle owed seqs (see the module doc); raises ``ChatError`` while storage is away
        (what is left stays owed)."""
        for cid in list(self._owed):
            owed = self._owed[cid]
            maybe = [mid for mid in owed.values() if mid is not None]
            if maybe:
                stored = await self.log.stored_ids(maybe)
                for seq in [s for s, mid in owed.items() if mid in stored]:
                    del owed[seq]  # an unknown outcome that was stored: its retry answers it
            seqs = sorted(owed)
            run = 0
            while run < len(seqs) and seqs[-1 - run] == seqs[-1] - run:
                run += 1
            if run and self._give_back is not None and await self._give_back(cid, seqs[-1], run):
                self.given_back += run
                seqs = seqs[:-run]
            now = now_ms()
            stones = [tombstone(cid, seq, now) for seq in seqs]
            while stones:
                outcome = await self.log.insert_batch(stones)
                self.tombstones += outcome.stored
                if outcome.refused is None:
                    break
                stones = stones[outcome.refused + 1:]  # that seq is stored after all
            del self._owed[cid]

    async def _states(self, items: List[_Send]) -> Dict[str, ConvState]:
        """Resolve each conversation's state now, by id; a conversation that cannot be loaded
        fails only its own messages."""
        states: Dict[str, ConvState] = {}
        for cid in dict.fromkeys(item.conversation_id for item in items):
            try:
                states[cid] = await self.cache.get(cid)
            except ChatError as exc:
                for item in items:
                    if item.conversation_id == cid:
                        _fail(item, exc)
        return states

    async def _insert(self, pending: List[_Send], states: Dict[str, ConvState]) -> None:
        while pending:
            try:
                outcome = await self.log.insert_batch([item.doc for item in pending])
            except ChatError:
                await self._after_failure(pending, states)
                return
            self._accept(pending[:outcome.stored], states)
            if outcome.refused is None:
                return
            refused = pending[outcome.refused]
            rest = pending[outcome.refused + 1:]
            if outcome.reason == "duplicate_seq":
                # the seq was taken behind our back (an import, another writer): reload the state
                # and write this conversation's messages again in a later batch
                self._taken.add((refused.conversation_id, refused.doc["seq"]))
                again = [refused] + [item for item in rest if item.conversation_id == refused.conversation_id]
                rest = [item for item in rest if item.conversation_id != refused.conversation_id]
                self.cache.invalidate(refused.conversation_id)
                self._requeue(again)
            else:
                # the refused message's seq goes to the next message of its conversation
                for item in rest:
                    if item.conversation_id == refused.conversation_id:
                        item.doc["seq"] -= 1
                if outcome.reason == "duplicate_client":
                    await self._answer_retry(refused)
                else:
                    _fail(refused, BadRequest("the message cannot be stored as given"))
            pending = rest

    async def _answer_retry(self, item: _Send) -> None:
        original = await self.log.find_by_client_id(*item.key)
        if original is None:
            _fail(item, Unavailable("retry"))
            return
        if self._unsure.pop(item.key, None) is not None:
            # stored by a write whose sender was told "unavailable": never broadcast until now
            state = self.cache.peek(original["conversationId"])
            if state is not None:
                self.events.message_stored(render.message(original), state.audience())
        self._remember(original)
        _ok(item, original, False)

    async def _after_failure(self, pending: List[_Send], states: Dict[str, ConvState]) -> None:
        """Storage failed and what it stored is unknown: read it back."""
        try:
            stored = await self.log.stored_ids([item.doc["id"] for item in pending])
        except ChatError:
            stored = None
        if stored is None:
            for item in pending:
                self._unsure[item.key] = item.doc["id"]
                self._maybe[(item.conversation_id, item.doc["seq"])] = item.doc["id"]
            done: List[_Send] = []
            lost = pending
        else:
            done = [item for item in pending if item.doc["id"] in stored]
            lost = [item for item in pending if item.doc["id"] not in stored]
        self._accept(done, states)
        for cid in {item.conversation_id for item in lost}:
            self.cache.invalidate(cid)  # the reload counts seqs from what is really stored
        for item in lost:
            _fail(item, Unavailable())
        if len(self._unsure) > RECENT_IDS:
            for key in list(self._unsure)[:len(self._unsure) - RECENT_IDS]:
                del self._unsure[key]

    def _accept(self, items: List[_Send], states: Dict[str, ConvState]) -> None:
        """Stored: update the state, broadcast in seq order, answer."""
        for item in items:
            state = states[item.conversation_id]
            if self.cache.peek(item.conversation_id) is not state:
                # reloaded while this batch was written: that copy may not count these seqs yet
                self.cache.invalidate(item.conversation_id)
            state.stored(item.doc)
            self._taken.add((item.conversation_id, item.doc["seq"]))
            self._remember(item.doc)
            self.events.message_stored(render.message(item.doc), state.audience())
            _ok(item, item.doc, True)

    def _requeue(self, items: List[_Send]) -> None:
        retry = []
        for item in items:
            item.requeues += 1
            item.doc.pop("seq", None)
            if item.requeues > MAX_REQUEUES:
                _fail(item, Unavailable("the conversation changed underneath; retry"))
            else:
                retry.append(item)
        self._queue[:0] = retry

    def _remember(self, doc: Dict[str, Any]) -> None:
        self._recent[(doc["senderId"], doc["clientMsgId"])] = doc
        if len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)


def _fail(item: _Send, error: BaseException) -> None:
    if not item.future.done():
        item.future.set_exception(error)


def _ok(item: _Send, doc: Dict[str, Any], created: bool) -> None:
    if not item.future.done():  # a sender that went away cancelled its future
        item.future.set_result((doc, created))
