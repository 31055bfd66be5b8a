"""Missed-message email (README "Missed-message email"): one email to a user whose direct
messages, mentions or announcement posts stay unread, with no socket open, for ``email_after``
minutes; then none until they read or ``email_digest`` minutes pass.

- Noting: every stored message (an event of the node that stored it) that counts for a member
  (:func:`chat.rules.email_digest.kind_of`) sets that member's ``due`` in ``email_state`` to
  now + ``email_after``, unless it is already earlier (one batched write).
- Looking: every ``email_scan_interval`` seconds (on the injected clock) the node holding the
  lease (``email_lease``: one node of a cluster at a time) reads the states that are due and
  asks :func:`chat.rules.email_digest.decide` with what it finds: the unread messages that count
  (muted and archived conversations, other schools' and blocked users' messages left out, and
  what an earlier email told of), the user's preference and address, a socket open anywhere
  in the cluster, the school's quiet hours for the user's role (the email waits for their end)
  and the last email.
- Sending: the email is claimed in storage first (a conditional update of the state read, so
  it is taken once), then queued for :class:`chat.domain.notify.email_sender.SmtpSender`; its
  delivery clears the claim. A claim not cleared in time (the node stopped) is sent again by a
  later look, so a restart loses no email.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set, Tuple

from chat.auth import Identity, resolve_secret
from chat.domain.notify.email_sender import EmailMetrics, Outgoing, SmtpSender
from chat.domain.periodic import Periodic
from chat.errors import ChatError
from chat.events import Audience, NullEvents
from chat.rules import email_digest as digest
from chat.vocab import is_staff

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from chat.domain.core import Core

log = logging.getLogger("chat.email")

#: unread messages read per conversation for one email
PER_CONVERSATION = 100
#: due users one look reads
LOOK_BATCH = 200


def link_key(settings: Any) -> bytes:
    """The key of unsubscribe signatures, derived from the server's secret (usable for nothing else)."""
    return hmac.new(resolve_secret(settings).encode("utf-8"), b"chat unsubscribe links v1", hashlib.sha256).digest()


class MissedEmail(NullEvents):
    """Notes what counts, looks for due users, claims and queues their email (see the module doc).
    An event sink of the service: only ``message_stored`` matters."""

    def __init__(self, core: "Core", registry: Optional["CollectorRegistry"] = None) -> None:
        self.core = core
        self.settings = core.settings
        self.repo = core.store.email
        self.enabled = bool(core.settings.smtp_host)
        self.node_id = uuid.uuid4().hex
        self.metrics = EmailMetrics(registry)
        self.sender = SmtpSender(core.settings, core.clock, self.metrics, self._done)
        self.looks = 0
        self._key: Optional[bytes] = None
        self._noted: Dict[str, int] = {}  # user -> the due noted here (skip writing a later one before it)
        self._rows: Dict[str, Dict[str, Any]] = {}
        self._flushing: Optional["asyncio.Task[None]"] = None
        self._periodic = Periodic(core.clock, lambda: float(self.settings.email_scan_interval), self.look,
                                  "missed-message email look")
        self._leased = False

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = link_key(self.settings)
        return self._key

    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    # ------------------------------------------------------------------ noting
    def message_stored(self, message: Dict[str, Any], audience: Audience) -> None:
        if not self.enabled:
            return
        state = self.core.cache.cached([message["conversationId"]]).get(message["conversationId"])
        if state is None:
            return
        now = self._now()
        due = now + int(self.settings.email_after * 60_000)
        for user_id in audience.user_ids:
            if digest.kind_of(message, state.type, user_id) is None:
                continue
            noted = self._noted.get(user_id)
            if noted is not None and now < noted <= due:
                continue  # already due earlier, and not yet looked at
            self._noted[user_id] = due
            self._rows[user_id] = {"userId": user_id, "school": audience.school, "due": due}
        if len(self._noted) > 100_000:
            self._noted.clear()
        if self._rows and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        while self._rows:
            rows, self._rows = list(self._rows.values()), {}
            try:
                await self.repo.note_due(rows)
            except ChatError as exc:
                log.warning("missed-message email: could not note %d users (%s)", len(rows), exc.message)
                for row in rows:
                    self._noted.pop(row["userId"], None)

    # ------------------------------------------------------------------ scheduling
    def start(self) -> None:
        if self.enabled:
            self._periodic.start()

    async def _tasks_done(self) -> None:
        while True:
            await self._periodic.settled()
            if self._flushing is None or self._flushing.done():
                return
            await asyncio.shield(self._flushing)

    async def settled(self) -> None:
        """Wait for noting, the look under way and the queue (tests, after advancing the clock)."""
        await self._tasks_done()
        await self.sender.idle()

    async def stop(self) -> None:
        """No more looks; what was noted is written; the email being sent finishes, the queued ones
        are left to their claims (a later look, here or on another node, sends them)."""
        await self._periodic.stop()
        await self._tasks_done()
        await self.sender.close()
        if self._leased:
            try:
                await self.repo.release_lease(self.node_id)
                self._leased = False
            except ChatError:
                pass

    # ------------------------------------------------------------------ looking
    async def look(self) -> int:
        """One look, if this node holds the lease: returns how many emails it queued."""
        self.metrics.looks.inc()
        self.looks += 1
        now = self._now()
        ttl = int(3 * self.settings.email_scan_interval * 1000)
        if not await self.repo.take_lease(self.node_id, now, ttl):
            return 0
        self._leased = True
        room = self.sender.room()
        if room <= 0:
            return 0
        queued = 0
        for state in await self.repo.due_users(now, min(LOOK_BATCH, room)):
            if self.sender.room() <= 0:
                break
            try:
                queued += await self._consider(state, now)
            except ChatError as exc:
                log.warning("missed-message email: user skipped this look (%s)", exc.message)
        return queued

    async def _consider(self, state: Dict[str, Any], now: int) -> int:
        user_id, seen_due = str(state["_id"]), int(state["due"])
        if state.get("claim"):  # its email was never recorded as sent (the node stopped): as if unclaimed
            state = dict(state, marks=state.get("prevMarks") or [], lastEmailAt=state.get("prevEmailAt"),
                         readSum=state.get("prevReadSum") or 0)
        self._noted.pop(user_id, None)
        user = await self.core.store.directory.get_user(user_id)
        if user is None or user.get("erasedAt"):  # unknown, or erased (oversight: export and erasure)
            await self.repo.set_due(user_id, seen_due, None)
            return 0
        school, role = str(user.get("school") or state.get("school")), str(user.get("role") or "student")
        name = str(user.get("name") or user_id)
        address = user.get("email") or user.get("tokenEmail")
        prefs = await self.repo.get_prefs(user_id)
        previews = is_staff(role) and prefs.get("previewsAt") is not None and \
            (await self.repo.get_school(school)).get("staffPreviewsAt") is not None
        groups, marks, read_since, read_sum = await self._unread(user_id, school, state, previews)
        facts = digest.Facts(
            now=now, has_unread=bool(groups), enabled=prefs.get("offAt") is None,
            has_address=digest.valid_address(address), online=self.core.online(user_id),
            last_email_at=state.get("lastEmailAt"), read_since_email=read_since,
            quiet_opens_at=await self._quiet_until(Identity(user_id, role, school, name, 0), school),
            after_ms=int(self.settings.email_after * 60_000), digest_ms=int(self.settings.email_digest * 60_000))
        verdict, when = digest.decide(facts)
        if verdict == digest.WAIT:
            await self.repo.set_due(user_id, seen_due, when)
            return 0
        if verdict == digest.DROP:
            await self.repo.set_due(user_id, seen_due, None)
            return 0
        claim_id = uuid.uuid4().hex
        retry_at = now + self._claim_ms()
        message = digest.compose(
            to=str(address), name=name, groups=groups, from_addr=self.settings.email_from,
            base_url=self.settings.email_base_url,
            unsubscribe=digest.unsubscribe_url(self.settings.email_base_url, self.key, user_id),
            now_ms=now, message_id="%s.%s" % (claim_id, now))
        if not await self.repo.claim(user_id, seen_due, claim_id, retry_at, now, marks, read_sum, state):
            return 0  # a new message moved it meanwhile: the next look
        return 1 if self.sender.offer(Outgoing(user_id, claim_id, retry_at, message)) else 0

    def _claim_ms(self) -> int:
        """How long a claim waits for its delivery before a later look sends again: every retry's
        backoff, and ten minutes more."""
        s = self.settings
        backoff = s.email_retry_seconds * (2 ** s.email_retries - 1)
        return int((backoff + 600 + s.smtp_timeout * s.email_retries) * 1000)

    async def _done(self, item: Outgoing, sent: bool) -> None:
        # given up after every retry: counted, and not tried again until a new message counts
        await self.repo.delivered(item.user_id, item.claim_id, item.retry_at)

    async def _unread(self, user_id: str, school: str, state: Dict[str, Any], previews: bool
                      ) -> Tuple[List[digest.Group], List[str], bool, int]:
        """The groups to email, the marks after it, whether the user read since the last email, and
        the sum of the user's read markers."""
        from chat.domain.safety.blocks import rule_of  # the block rule's cached blocks

        marks: Dict[str, int] = {}
        for entry in state.get("marks") or []:
            cid, _, seq = str(entry).rpartition(":")
            if seq.isdigit():
                marks[cid] = int(seq)
        memberships = {m["conversationId"]: m
                       for m in await self.core.store.conversations.memberships_of_user(user_id)}
        # read since the last email: a read marker moved on since (markers only move forward; their
        # sum at the email is kept with it, so no clock is compared)
        read_sum = sum(int(m.get("lastReadSeq") or 0) for m in memberships.values())
        read_since = state.get("lastEmailAt") is None or read_sum > int(state.get("readSum") or 0)
        active = [cid for cid, m in memberships.items() if m.get("archivedAt") is None and m.get("mutedUntil") is None]
        blocked: Set[str] = set((await rule_of(self.core).book.of_user(user_id)).made)
        groups: List[digest.Group] = []
        for conv in await self.core.live_docs(active):
            if conv.get("school") != school:
                continue
            cid = str(conv["id"])
            floor = max(int(memberships[cid].get("lastReadSeq") or 0), marks.get(cid, 0))
            last_seq = int(conv.get("lastSeq") or 0)
            if last_seq <= floor:
                continue
            messages = await self.core.store.messages.history(cid, None, floor, PER_CONVERSATION)
            group = digest.summarise(cid, await self._title(conv, messages, user_id), str(conv["type"]), user_id,
                                     messages, blocked, previews)
            if messages:
                marks[cid] = max(int(m.get("seq") or 0) for m in messages)
            if group is not None:
                groups.append(group)
        groups.sort(key=lambda g: g.conversation_id)
        return groups, sorted("%s:%d" % (cid, seq) for cid, seq in marks.items()), read_since, read_sum

    async def _quiet_until(self, ident: Identity, school: str) -> Optional[int]:
        """When the school's quiet hours for the user's role end, if they hold now."""
        from chat.domain.oversight.quiet_hours import QuietHoursRule

        for rule in self.core.safety.rules:
            if isinstance(rule, QuietHoursRule):
                refusal = await rule.closed(ident, school)
                if refusal is not None:
                    return refusal.opens_at_ms if refusal.opens_at_ms is not None else self._now() + 86_400_000
        return None

    async def _title(self, conv: Dict[str, Any], messages: List[Dict[str, Any]], user_id: str) -> str:
        """What the email calls the conversation: its title, its class's name, or (direct) the other person."""
        if conv.get("title"):
            return str(conv["title"])
        if conv.get("classId"):
            klass = await self.core.store.directory.get_class(str(conv["classId"]))
            if klass and klass.get("name"):
                return str(klass["name"])
        return _other(messages, user_id)


def _other(messages: List[Dict[str, Any]], user_id: str) -> str:
    for m in messages:
        if m.get("senderId") != user_id:
            return str(m.get("senderName") or m.get("senderId"))
    return "a conversation"
