"""Sending scheduled messages at their time, exactly once across restarts and cluster nodes.

Every ``scheduled_interval`` seconds (on the injected clock) a node looks for due messages and
takes each by a claim in the store (:meth:`chat.store.scheduled_repo.ScheduledMessages.claim`:
``scheduled`` -> ``sending`` by one node; a ``sending`` claim older than
``scheduled_claim_seconds`` is a node that stopped, and is taken over). It then sends through
the ordinary send path (:meth:`chat.domain.messages.MessageActions.send`: policy, filters, quiet
hours, blocks and mutes apply as to a person typing) with the scheduled id as ``clientMsgId``:
a send repeated after a crash between the claim and its record is answered with the stored
message by the writer's idempotency, so one message is stored whatever happens.

A refusal (``quiet_hours``, ``content_blocked``, ``policy_forbidden``, ...) is recorded as
``failed`` with the error for its author, and never retried; storage failures are retried on
later looks, at most ``scheduled_max_attempts`` claims in all.

The author is read from the directory at its time (role, school, name): one erased, gone or
moved to another school is refused (``sender_erased`` / ``sender_gone``, an erased one's text
blanked). Each send takes a token of the author's send rate limit (:class:`chat.ratelimit.Limit`
``SEND``, as a REST or socket send does): none left, it waits for the next look (not refused).
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from chat.auth import Identity
from chat.domain.periodic import Periodic
from chat.errors import ChatError, NotFound, Unavailable
from chat.rules.validation import NewMessage

if TYPE_CHECKING:
    from chat.domain.core import Core
    from chat.domain.messages import MessageActions

log = logging.getLogger("chat.scheduled")

#: due messages one look reads per status
BATCH = 100


class SenderGone(NotFound):
    """The author is no longer in the directory, or is in another school now."""
    code = "sender_gone"


class SenderErased(NotFound):
    """The author's data was erased."""
    code = "sender_erased"


class ScheduledSender:
    """Runs the looks on the clock (see the module doc)."""

    def __init__(self, core: "Core", messages: "MessageActions") -> None:
        self.core = core
        self.messages = messages
        self.repo = core.store.scheduled
        self.node_id = uuid.uuid4().hex
        self.looks = 0
        self._periodic = Periodic(core.clock, lambda: self.interval, self.run_once, "scheduled messages")
        self._take: Callable[[str], bool] = lambda _user_id: True

    def limit_by(self, take_send_token: Callable[[str], bool]) -> None:
        """Take a send token of the author's rate limit per send (the runtime's limiter)."""
        self._take = take_send_token

    @property
    def interval(self) -> float:
        return float(self.core.settings.scheduled_interval)

    def start(self) -> None:
        """Look every interval from now on (0: never)."""
        self._periodic.start()

    async def settled(self) -> None:
        """Wait for the look under way, if any (tests, after advancing the clock)."""
        await self._periodic.settled()

    async def stop(self) -> None:
        """No further looks; wait for the one under way."""
        await self._periodic.stop()

    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    async def run_once(self) -> int:
        """One look: claim and send what is due; returns how many this node sent or recorded."""
        now = self._now()
        stale = now - int(self.core.settings.scheduled_claim_seconds * 1000)
        due = await self.repo.due("scheduled", now, BATCH) + await self.repo.due("sending", stale, BATCH)
        handled = 0
        for doc in due:
            claimed = await self.repo.claim(doc["id"], self.node_id, now, stale)
            if claimed is not None:
                await self.send(claimed)
                handled += 1
        self.looks += 1
        return handled

    async def send(self, doc: Dict[str, Any]) -> None:
        """Send one claimed message and record the outcome (see the module doc)."""
        now = self._now()
        user = await self.core.store.directory.get_user(doc["senderId"])
        if user is None or user.get("school") != doc.get("school"):
            await self._failed(doc, SenderGone("the author is no longer in this school"), now)
            return
        if user.get("erasedAt") is not None:
            await self._failed(doc, SenderErased("the author's data was erased"), now, {"text": None, "mentions": []})
            return
        if not self._take(doc["senderId"]):  # over the send rate: the next look tries again
            await self.repo.finish(doc["id"], self.node_id, {"status": "scheduled", "claimedBy": None,
                                                             "claimedAt": None, "updatedAt": now,
                                                             "attempts": max(0, int(doc.get("attempts") or 1) - 1)})
            return
        ident = Identity(doc["senderId"], str(user.get("role") or ""), str(user.get("school") or ""),
                         str(user.get("name") or doc["senderId"]), 0)
        req = NewMessage(str(doc.get("text") or ""), str(doc.get("type") or "text"), [], doc["id"],
                         doc.get("replyTo"), list(doc.get("mentions") or []))
        try:
            try:
                message, _created = await self.messages.send(ident, doc["conversationId"], req)
            except (ChatError, asyncio.CancelledError):
                raise
            except Exception:
                log.exception("scheduled message %s: the send failed", doc["id"])
                raise Unavailable("the send failed") from None
        except Unavailable as exc:
            if int(doc.get("attempts") or 0) >= self.core.settings.scheduled_max_attempts:
                await self._failed(doc, exc, now)
            else:  # waits for the next look
                await self.repo.finish(doc["id"], self.node_id, {"status": "scheduled", "claimedBy": None,
                                                                 "claimedAt": None, "updatedAt": now})
            return
        except ChatError as exc:  # a refusal of the send path: recorded for its author, never retried
            await self._failed(doc, exc, now)
            return
        # the text now lives in the message alone (its retention, holds and deletes govern it)
        await self.repo.finish(doc["id"], self.node_id, {"status": "sent", "messageId": message["id"],
                                                         "sentAt": now, "error": None, "updatedAt": now,
                                                         "text": None, "mentions": []})

    async def _failed(self, doc: Dict[str, Any], exc: ChatError, now: int,
                      extra: Optional[Dict[str, Any]] = None) -> None:
        log.info("scheduled message %s not sent: %s", doc["id"], exc.code)  # never its text
        await self.repo.finish(doc["id"], self.node_id, dict({"status": "failed", "error": exc.to_dict(),
                                                              "updatedAt": now}, **(extra or {})))
