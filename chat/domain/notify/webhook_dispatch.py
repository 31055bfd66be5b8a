"""Webhook delivery: the outbox in storage is the queue, and each webhook has its own worker.

- An event the school's webhooks subscribe to is written to the outbox (one document per
  webhook, :mod:`chat.store.webhook_repo`) by the node where it happened, off the request
  that caused it; nothing is sent before it is stored.
- Every node runs one worker per enabled webhook. A worker claims the webhook's next due
  delivery by a conditional update (a lease), POSTs it (:mod:`chat.domain.notify.http_post`,
  bounded by ``webhook_timeout``), and deletes it when answered 2xx; otherwise it records the
  failure and the time of the next attempt (:mod:`chat.rules.retry_backoff`), and after
  ``webhook_max_attempts`` the delivery is a dead letter an admin can list and replay.
  One claim is made by one node, so a cluster delivers each event once (at least once when a
  node dies mid-POST: the receiver drops a ``X-Chat-Delivery`` it has seen).
- A worker makes one attempt at a time: a slow or hanging endpoint delays only its own
  webhook's deliveries, never another webhook's, never a send.
- A node wakes its worker at once for what it queued, and every ``webhook_poll_interval``
  seconds looks for retries due and deliveries another node left (a stopped node gives its
  claims back; a killed one's run out after the lease). What was queued when the server stopped
  is in storage, and the next start delivers it.
- A delivery is stored without message text (``textOf`` names the message): the text is added
  when an attempt is made, only if the webhook's ``includeText`` and ``webhook_allow_text`` allow
  it then and the message is still there and not deleted (erased, purged) - both re-read each time.
- Bounded: a webhook with ``webhook_max_pending`` deliveries waiting takes new events straight
  into its dead letters (counted approximately per node, re-read from storage every poll).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import random
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

import ujson

from chat.clock import Clock, Timer
from chat.domain.notify.http_post import PostResult, post
from chat.errors import ChatError
from chat.rules import retry_backoff
from chat.rules.render import dumps
from chat.rules.webhook_sign import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from chat.settings import Settings
from chat.store.webhook_repo import DEAD, PENDING, Webhooks
from chat.version import __version__

log = logging.getLogger("chat.webhooks")

Transport = Callable[[str, Dict[str, str], bytes, float], Awaitable[PostResult]]
#: reads a stored message by id (None when it is gone)
MessageReader = Callable[[str], Awaitable[Optional[Dict[str, Any]]]]


class _Wakeup:
    """An event a worker waits on, set by new work or by a timer on the injected clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.event = asyncio.Event()

    def set(self) -> None:
        self.event.set()

    async def wait(self, seconds: float) -> None:
        timer: Optional[Timer] = self.clock.call_later(max(0.0, seconds), self.event.set)
        try:
            await self.event.wait()
        finally:
            if timer is not None:
                timer.cancel()
            self.event.clear()


class HookWorker:
    """Delivers one webhook's outbox, one attempt at a time."""

    def __init__(self, dispatcher: "WebhookDispatcher", hook_id: str) -> None:
        self.dispatcher = dispatcher
        self.hook_id = hook_id
        self.wakeup = _Wakeup(dispatcher.clock)
        self.soonest: Optional[float] = None  # epoch seconds of a retry this worker scheduled
        self.task: Optional[asyncio.Task[None]] = None
        self.stopped = False

    def start(self) -> None:
        self.task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Stop the worker (an attempt in flight is abandoned: its claim is given back)."""
        self.stopped = True
        self.wakeup.set()
        task = self.task
        while task is not None and not task.done():
            task.cancel()  # again if a cancellation was lost in a finishing await
            await asyncio.wait([task], timeout=1.0)
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.error("webhook %s: worker failed", self.hook_id, exc_info=task.exception())

    async def _run(self) -> None:
        d = self.dispatcher
        while not self.stopped:
            try:
                claimed = await d.store.claim(self.hook_id, d.node, d.now_ms(), d.lease_ms)
            except ChatError as exc:
                log.warning("webhook %s: outbox unavailable (%s)", self.hook_id, exc.message)
                claimed = None
            if claimed is None:
                await self.wakeup.wait(self._idle_seconds())
                continue
            hook = d.hooks.get(self.hook_id)
            if hook is None:
                return
            try:
                await self._attempt(hook, claimed)
            except ChatError as exc:
                log.warning("webhook %s: could not record an attempt (%s)", self.hook_id, exc.message)
            except Exception:  # a bug must not end the webhook's deliveries: its lease runs out, it is tried again
                log.exception("webhook %s: attempt of %s failed", self.hook_id, claimed.get("id"))
                await self.wakeup.wait(d.settings.webhook_poll_interval)

    def _idle_seconds(self) -> float:
        poll = self.dispatcher.settings.webhook_poll_interval
        if self.soonest is None:
            return poll
        wait = self.soonest - self.dispatcher.clock.time()
        if wait <= 0:
            self.soonest = None
            return 0.0
        return min(poll, wait)

    async def _attempt(self, hook: Dict[str, Any], delivery: Dict[str, Any]) -> None:
        d = self.dispatcher
        body = (await d.body_of(hook, delivery)).encode("utf-8")
        stamp = int(d.clock.time())
        headers = {"Content-Type": "application/json", "User-Agent": "school-chat-webhooks/" + __version__,
                   EVENT_HEADER: str(delivery["event"]), DELIVERY_HEADER: delivery["id"],
                   TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(hook["secret"], stamp, body)}
        result = await d.transport(hook["url"], headers, body, d.settings.webhook_timeout)
        if result.ok:
            await d.store.delivered(delivery["id"], d.node)
            d.counted(self.hook_id, -1)
            d.delivered += 1
            return
        attempts = int(delivery.get("attempts") or 0) + 1
        error = result.error or "answered %d" % result.status
        now = d.now_ms()
        if retry_backoff.exhausted(attempts, d.settings.webhook_max_attempts):
            await d.store.failed(delivery["id"], d.node, {
                "state": DEAD, "attempts": attempts, "lastStatus": result.status, "lastError": error,
                "deadAt": now, "leaseUntil": 0, "owner": None})
            d.counted(self.hook_id, -1)
            log.warning("webhook %s: delivery %s given up after %d attempts (%s)", self.hook_id, delivery["id"],
                        attempts, error)
            return
        wait = retry_backoff.delay(attempts, d.settings.webhook_backoff, d.settings.webhook_backoff_max, d.rand)
        next_at = now + int(wait * 1000)
        await d.store.failed(delivery["id"], d.node, {
            "attempts": attempts, "lastStatus": result.status, "lastError": error, "nextAt": next_at,
            "leaseUntil": 0, "owner": None})
        due = next_at / 1000.0
        self.soonest = due if self.soonest is None else min(self.soonest, due)


class WebhookDispatcher:
    """The node's webhook workers, the webhooks they deliver for, and the outbox writes."""

    def __init__(self, settings: Settings, store: Webhooks, clock: Clock, transport: Optional[Transport] = None,
                 node_id: Optional[str] = None, rand: Callable[[], float] = random.random,
                 messages: Optional[MessageReader] = None) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.transport: Transport = transport or functools.partial(
            post, allow_private=settings.webhook_allow_private)
        self.messages = messages
        self.node = node_id or uuid.uuid4().hex
        self.rand = rand
        self.hooks: Dict[str, Dict[str, Any]] = {}
        self.workers: Dict[str, HookWorker] = {}
        self.pending: Dict[str, int] = {}
        self.delivered = 0
        self._writes: Set["asyncio.Task[None]"] = set()
        self._poller: Optional[asyncio.Task[None]] = None
        self._poll_wakeup = _Wakeup(clock)
        self._running = False
        # a delivery is held while an attempt may still be running
        self.lease_ms = int(max(settings.webhook_lease, 2 * settings.webhook_timeout) * 1000)

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Read the webhooks and start their workers (what the outbox holds goes out now)."""
        self._running = True
        try:
            await self.refresh()
        except ChatError as exc:
            log.warning("could not read the webhooks (%s); retrying every %gs", exc.message,
                        self.settings.webhook_poll_interval)
        self._poller = asyncio.ensure_future(self._poll())

    async def stop(self) -> None:
        """Finish the outbox writes queued so far, stop the workers and give their claims back."""
        self._running = False
        if self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except (asyncio.CancelledError, Exception):
                pass
        await asyncio.gather(*(w.stop() for w in self.workers.values()), return_exceptions=True)
        self.workers.clear()
        try:
            await self.store.release(self.node)
        except ChatError as exc:
            log.warning("could not give the webhook claims back (%s); they run out after the lease", exc.message)

    async def _poll(self) -> None:
        while self._running:
            await self._poll_wakeup.wait(self.settings.webhook_poll_interval)
            try:
                await self.refresh()
            except ChatError as exc:
                log.warning("could not read the webhooks (%s)", exc.message)
            for worker in self.workers.values():
                worker.wakeup.set()

    async def refresh(self) -> None:
        """Follow the stored webhooks (another node's changes) and their pending counts."""
        hooks = {h["id"]: h for h in await self.store.all_hooks() if h.get("enabled", 1)}
        for hook_id in hooks:
            self.pending[hook_id] = await self.store.pending_count(hook_id)
        self._use(hooks)

    def _use(self, hooks: Dict[str, Dict[str, Any]]) -> None:
        self.hooks = hooks
        if not self._running:
            return
        for hook_id in list(self.workers):
            if hook_id not in hooks:
                asyncio.ensure_future(self.workers.pop(hook_id).stop())
        for hook_id in hooks:
            if hook_id not in self.workers:
                worker = HookWorker(self, hook_id)
                self.workers[hook_id] = worker
                worker.start()

    def hook_changed(self, hook: Dict[str, Any]) -> None:
        """A webhook created or changed here: used at once."""
        hooks = dict(self.hooks)
        if hook.get("enabled", 1):
            hooks[hook["id"]] = hook
            self.pending.setdefault(hook["id"], 0)
        else:
            hooks.pop(hook["id"], None)
        self._use(hooks)

    def hook_removed(self, hook_id: str) -> None:
        hooks = dict(self.hooks)
        hooks.pop(hook_id, None)
        self.pending.pop(hook_id, None)
        self._use(hooks)

    def wake(self, hook_id: str) -> None:
        worker = self.workers.get(hook_id)
        if worker is not None:
            worker.wakeup.set()

    def counted(self, hook_id: str, change: int) -> None:
        if hook_id in self.pending:
            self.pending[hook_id] = max(0, self.pending[hook_id] + change)

    async def body_of(self, hook: Dict[str, Any], delivery: Dict[str, Any]) -> str:
        """The body to send now: the stored one (no message text), with the message's text only
        when the webhook and the server allow it now and the message is still live (a group's
        title in ``conversation.created`` is dropped when text is not allowed now)."""
        body = str(delivery["body"])
        message_id = delivery.get("textOf")
        if not message_id and delivery.get("event") != "conversation.created":
            return body
        payload = ujson.loads(body)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            return body
        data.pop("text", None)  # (a delivery stored before text was left out of storage)
        allowed = bool(hook.get("includeText")) and self.settings.webhook_allow_text
        if allowed:
            fresh = await self.store.get_hook(str(hook["id"]))  # (turned off here or on another node just now)
            allowed = fresh is not None and bool(fresh.get("includeText"))
        if not allowed:
            data.pop("title", None)
        elif message_id and self.messages is not None:
            message = await self.messages(str(message_id))
            if message is not None and message.get("deletedAt") is None and message.get("text") is not None:
                data["text"] = message.get("text")
        return dumps(payload)

    # ------------------------------------------------------------------ events in
    def subscribers(self, school: str, event: str) -> List[Dict[str, Any]]:
        return [h for h in self.hooks.values() if h.get("school") == school and event in (h.get("events") or [])]

    def queue(self, school: str, event: str, bodies: Callable[[Dict[str, Any]], str],
              text_of: Optional[str] = None) -> None:
        """Queue ``event`` for each of the school's webhooks subscribed to it; ``bodies(hook)``
        is the JSON body that webhook receives, without message text (``text_of``: the message
        whose text an attempt may add). Written off the caller's path (never raises)."""
        hooks = self.subscribers(school, event)
        if not hooks:
            return
        now = self.now_ms()
        docs: List[Dict[str, Any]] = []
        for hook in hooks:
            full = self.pending.get(hook["id"], 0) >= self.settings.webhook_max_pending
            docs.append({"school": school, "hookId": hook["id"], "event": event, "body": bodies(hook),
                         "state": DEAD if full else PENDING, "attempts": 0, "nextAt": now, "leaseUntil": 0,
                         "owner": None, "createdAt": now, "lastStatus": None,
                         "lastError": "backlog over webhook_max_pending" if full else None,
                         "deadAt": now if full else None, "textOf": text_of})
            if not full:
                self.counted(hook["id"], +1)
        task = asyncio.ensure_future(self._write(docs))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, docs: List[Dict[str, Any]]) -> None:
        try:
            await self.store.enqueue(docs)
        except ChatError as exc:
            log.error("webhook events lost: the outbox could not be written (%s)", exc.message)
            return
        for doc in docs:
            if doc["state"] == PENDING:
                self.wake(doc["hookId"])
