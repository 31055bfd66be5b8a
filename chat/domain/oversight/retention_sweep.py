"""The retention sweep: message content past a school's retention becomes a tombstone.

Every ``retention_sweep_interval`` seconds (on the injected clock) the node holding the lease
(:meth:`chat.store.retention_repo.RetentionStore.take_lease`: one node of a cluster at a time)
does one bounded pass:

1. pending deletions (a member's own deletes, and what a hold or a case kept before): each is
   purged unless a hold still covers it or a case still keeps it;
2. for each school with a retention: its conversations after the school's cursor, and in each
   the messages after its mark, ``retention_batch`` per storage call, oldest first, until the
   first one still inside the retention. A due message is purged (text, edits, reactions,
   attachments' files; ``seq``, ``deletedAt`` and ``deletedReason: "retention"`` stay, so
   history and sync stay contiguous), or, when a hold or an open case keeps it, recorded as
   pending and counted as kept;
3. files of the school's deleted messages past its upload retention are removed.

At most ``retention_tick_batches`` batches per pass, yielding to the event loop between them
(nx-27017 has one lock: no call holds it long, so sends of other schools stay fast); the
cursor and marks are stored, so the next pass, or a restarted server, resumes where it stopped.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Set

from chat.domain.oversight.audit import AuditAction
from chat.domain.oversight.holds import HeldSet
from chat.domain.oversight.retention import DAY_MS, RetentionPolicy
from chat.domain.oversight.upload_holds import upload_held
from chat.domain.periodic import Periodic
from chat.errors import ChatError
from chat.uploads.lifecycle import remove_upload

if TYPE_CHECKING:
    from chat.domain.core import Core
    from chat.metrics import Metrics
    from chat.uploads import UploadsService

log = logging.getLogger("chat.retention")

#: the most moderation cases of one school a pass reads to decide what is evidence
MAX_CASES = 100_000
#: schools read per storage call
SCHOOL_PAGE = 100


class Budget:
    """How many more batches this pass may do."""

    def __init__(self, batches: int) -> None:
        self.left = batches
        self.used = 0

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        self.used += 1
        return True


class Pass:
    """What one pass did (for metrics, logs and the audit)."""

    def __init__(self) -> None:
        self.messages: Dict[str, int] = {}  # school -> messages purged
        self.files = 0
        self.kept_hold = 0
        self.kept_case = 0

    def purged(self, school: str, count: int) -> None:
        if count:
            self.messages[school] = self.messages.get(school, 0) + count


class RetentionSweeper:
    """Runs the sweep on the clock (see the module doc)."""

    def __init__(self, core: "Core", uploads: Optional["UploadsService"] = None,
                 metrics: Optional["Metrics"] = None) -> None:
        self.core = core
        self.repo = core.store.retention
        self.uploads = uploads
        self.metrics = metrics
        self.node_id = uuid.uuid4().hex
        self.passes = 0
        self._periodic = Periodic(core.clock, lambda: self.interval, self.run_once, "retention sweep")
        self._leased = False  # whether this node ever took the lease (only then is there one to give up)
        self._next_school = ""  # schools are taken in turn across passes
        self._next_pending = ""  # and pending deletions: a large hold never starves the schools

    # ------------------------------------------------------------------ scheduling
    @property
    def interval(self) -> float:
        return float(self.core.settings.retention_sweep_interval)

    def start(self) -> None:
        """Sweep every interval from now on (0: never)."""
        self._periodic.start()

    async def settled(self) -> None:
        """Wait for the pass under way, if any (tests, after advancing the clock)."""
        await self._periodic.settled()

    async def stop(self) -> None:
        """No further passes; wait for the one under way; give the lease up."""
        await self._periodic.stop()
        if not self._leased:
            return
        try:
            await self.repo.release_lease(self.node_id)
            self._leased = False
        except ChatError:
            pass

    # ------------------------------------------------------------------ one pass
    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    async def run_once(self) -> bool:
        """One pass, if this node holds the lease; returns whether it swept."""
        settings = self.core.settings
        ttl = int(max(60.0, 3 * self.interval) * 1000)
        if not await self.repo.take_lease(self.node_id, self._now(), ttl):
            return False
        self._leased = True
        budget = Budget(settings.retention_tick_batches)
        done = Pass()
        # pending deletions get at most half of the pass (what holds keep is read again each pass)
        share = Budget(max(1, budget.left // 2))
        await self._pending(share, done)
        budget.left -= share.used
        await self._schools(budget, done)
        self.passes += 1
        await self._report(done)
        return True

    async def _report(self, done: Pass) -> None:
        total = sum(done.messages.values())
        if self.metrics is not None:
            self.metrics.retention_pass(total, done.files, done.kept_hold, done.kept_case)
        for school, count in done.messages.items():
            await self.core.audit.record("system", AuditAction.RETENTION_SWEEP, school, {"schoolId": school},
                                         {"messages": count})
        if total or done.files:
            log.info("retention: %d messages and %d files deleted; %d kept by holds, %d by cases",
                     total, done.files, done.kept_hold, done.kept_case)

    async def _schools(self, budget: Budget, done: Pass) -> None:
        visited: Set[str] = set()
        after = self._next_school
        while budget.left > 0:
            docs = await self.repo.schools(after, SCHOOL_PAGE)
            if not docs:
                if not after:
                    return
                after = ""  # round to the first school again
                continue
            for doc in docs:
                school = doc["id"]
                if school in visited:
                    self._next_school = ""
                    return
                visited.add(school)
                finished = await self._school(school, RetentionPolicy.of(doc, self.core.settings), budget, done)
                if not finished:
                    self._next_school = _before(school)  # this school again first next time
                    return
            after = docs[-1]["id"]

    async def _school(self, school: str, policy: RetentionPolicy, budget: Budget, done: Pass) -> bool:
        """Sweep one school as far as the budget goes; True when it is done for this pass."""
        now = self._now()
        await self._uploads(school, policy, now, budget, done)
        if not policy.sweeps_messages:
            return True
        held = await self.core.holds.snapshot(school)
        evidence = await self._evidence(school, policy, now)
        after = await self.repo.cursor(school)
        batch = self.core.settings.retention_batch
        while True:
            if not budget.take():
                return False
            convs = await self.repo.conversations_after(school, after, batch)
            for conv in convs:
                days = policy.days_for(str(conv.get("type") or ""))
                if days and not await self._conversation(school, conv, now - days * DAY_MS, held, evidence,
                                                         budget, done):
                    await self.repo.set_cursor(school, after, now)
                    return False
                after = conv["id"]
            if len(convs) < batch:
                await self.repo.set_cursor(school, "", now)  # a whole pass over the school: next from the start
                return True
            await self.repo.set_cursor(school, after, now)
            await asyncio.sleep(0)

    async def _conversation(self, school: str, conv: Dict[str, Any], cutoff: int, held: HeldSet,
                            evidence: Set[str], budget: Budget, done: Pass) -> bool:
        """Purge the due messages of one conversation; True when none is left for this pass."""
        batch = self.core.settings.retention_batch
        mark = await self.repo.mark(conv["id"])
        while True:
            if not budget.take():
                return False
            page = await self.repo.page(conv["id"], mark, batch)
            due: List[Dict[str, Any]] = []
            for msg in page:
                if int(msg.get("createdAt") or 0) >= cutoff:
                    break
                due.append(msg)
            live = [m for m in due if m.get("purgedAt") is None]
            kept = [m for m in live if held.covers(m.get("senderId"), m["conversationId"]) or m["id"] in evidence]
            if kept:
                by_hold = sum(1 for m in kept if held.covers(m.get("senderId"), m["conversationId"]))
                done.kept_hold += by_hold
                done.kept_case += len(kept) - by_hold
                await self.repo.add_pending([{
                    "messageId": m["id"], "school": school, "conversationId": m["conversationId"],
                    "senderId": m.get("senderId"), "type": conv.get("type"), "kind": "retention",
                    "createdAt": m.get("createdAt"), "at": self._now()} for m in kept])
            kept_ids = {m["id"] for m in kept}
            await self.purge(school, [m for m in live if m["id"] not in kept_ids], "retention", done)
            if due:
                mark = int(due[-1]["seq"])
                await self.repo.set_mark(conv["id"], mark)
            await asyncio.sleep(0)
            if len(due) < len(page) or len(page) < batch:
                return True

    async def _pending(self, budget: Budget, done: Pass) -> None:
        """Deletions that waited: purge those no hold or case keeps any more."""
        batch = self.core.settings.retention_batch
        after = self._next_pending
        holds: Dict[str, HeldSet] = {}
        evidence: Dict[str, Set[str]] = {}
        policies: Dict[str, RetentionPolicy] = {}
        now = self._now()
        while budget.take():
            docs = await self.repo.pending_after(after, batch)
            self._next_pending = docs[-1]["id"] if len(docs) == batch else ""
            if not docs:
                return
            found = {m["id"]: m for m in await self.repo.messages_by_id([d["id"] for d in docs])}
            settled: List[str] = []
            ready: Dict[str, List[Dict[str, Any]]] = {}
            for doc in docs:
                msg = found.get(doc["id"])
                if msg is None or msg.get("purgedAt") is not None:
                    settled.append(doc["id"])
                    continue
                school = str(doc.get("school") or "")
                if school not in holds:
                    holds[school] = await self.core.holds.snapshot(school)
                    policies[school] = RetentionPolicy.of(await self.repo.get_settings(school), self.core.settings)
                    evidence[school] = await self._evidence(school, policies[school], now)
                if holds[school].covers(msg.get("senderId"), msg["conversationId"]):
                    done.kept_hold += 1
                    continue
                if msg["id"] in evidence[school]:
                    done.kept_case += 1
                    continue
                if doc.get("kind") == "retention":
                    days = policies[school].days_for(str(doc.get("type") or ""))
                    if not days or int(msg.get("createdAt") or 0) >= now - days * DAY_MS:
                        continue  # the school keeps it longer now: it waits
                reason = "deleted" if doc.get("kind") == "delete" else "retention"
                ready.setdefault(school + "\n" + reason, []).append(msg)
            for key, msgs in ready.items():
                school, reason = key.split("\n", 1)
                await self.purge(school, msgs, reason, done)
                settled.extend(m["id"] for m in msgs)
            await self.repo.drop_pending(settled)
            after = docs[-1]["id"]
            await asyncio.sleep(0)
            if len(docs) < batch:
                return

    async def _evidence(self, school: str, policy: RetentionPolicy, now: int) -> Set[str]:
        """Ids of messages a case of the school keeps: open, or resolved less than
        ``caseRetentionDays`` ago."""
        keep: Set[str] = set()
        for case in await self.repo.evidence(school, MAX_CASES):
            if case.get("status") != "resolved" or int(case.get("updatedAt") or 0) + policy.case_days * DAY_MS > now:
                if case.get("messageId"):
                    keep.add(str(case["messageId"]))
        return keep

    async def _uploads(self, school: str, policy: RetentionPolicy, now: int, budget: Budget, done: Pass) -> None:
        """Files of the school's deleted messages past its upload retention (a school keeping
        them shorter than the server's ``upload_retention_days``; the upload sweep does the rest)."""
        if self.uploads is None or policy.upload_days >= self.core.settings.upload_retention_days:
            return
        if not budget.take():
            return
        held = await self.core.holds.snapshot(school)
        for meta in await self.repo.expired_uploads(school, now - policy.upload_days * DAY_MS,
                                                    self.core.settings.retention_batch):
            if await upload_held(held, self.core.store.forwards, meta):
                done.kept_hold += 1
                continue
            await remove_upload(self.uploads, meta)
            done.files += 1

    # ------------------------------------------------------------------ purging
    async def purge(self, school: str, messages: Sequence[Dict[str, Any]], reason: str, done: Pass) -> None:
        """Tombstone these messages (one storage call), remove their files, and tell the
        participants of those that were still shown."""
        if not messages:
            return
        purged = set(await self.repo.purge(messages, reason, self._now()))
        done.purged(school, len(purged))
        held: Optional[HeldSet] = None
        for msg in messages:
            if msg["id"] not in purged:
                continue
            await self._forget(msg, reason)
            # a forward's files are its original's (notifications: forwarding)
            for attachment in [] if msg.get("forwarded") else msg.get("attachments") or []:
                upload_id = attachment.get("id") if isinstance(attachment, dict) else None
                if self.uploads is None or not isinstance(upload_id, str):
                    continue
                meta = await self.uploads.repo.get(upload_id)
                if meta is None:
                    continue
                held = held if held is not None else await self.core.holds.snapshot(school)
                if await upload_held(held, self.core.store.forwards, meta):  # a held forward carries it
                    continue
                await remove_upload(self.uploads, meta)
                done.files += 1

    async def _forget(self, msg: Dict[str, Any], reason: str) -> None:
        """The live state drops the purged message's preview; participants of a message still
        shown are told it is gone (``message:deleted`` with the reason)."""
        cached = self.core.cache.cached([msg["conversationId"]]).get(msg["conversationId"])
        if cached is not None and cached.last_message and cached.last_message.get("id") == msg["id"]:
            cached.last_message = dict(cached.last_message, preview=None, deleted=1)
            cached.dirty = True
            self.core.flusher.schedule()
        if msg.get("deletedAt") is not None:
            return  # its readers already see it deleted: nothing they see changes
        try:
            state = cached or await self.core.cache.get(msg["conversationId"])
        except ChatError:  # the conversation is gone
            return
        # also what tells the kept sync pages of this process that the conversation changed
        self.core.events.message_deleted({"messageId": msg["id"], "conversationId": msg["conversationId"],
                                          "seq": msg["seq"], "reason": reason}, state.audience())


def _before(school: str) -> str:
    """A key just before ``school`` in ``_id`` order (the school is read again first)."""
    return school[:-1] + chr(ord(school[-1]) - 1) + "\uffff" if school else ""
