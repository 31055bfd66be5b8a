"""Sending missed-message email over SMTP without ever blocking the event loop.

Emails wait in a bounded queue (``email_queue``); one worker hands each to ``smtplib`` in a
thread of its own (never the storage executor), so neither the loop nor a send waits on a mail
server. A failure is retried ``email_retry_seconds`` later, doubling, on the injected clock,
up to ``email_retries`` attempts; every outcome is counted (``chat_email_*`` in ``/metrics``).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any, Awaitable, Callable, Optional

from prometheus_client import CollectorRegistry, Counter, Gauge

from chat.clock import Clock
from chat.settings import Settings

log = logging.getLogger("chat.email")


@dataclasses.dataclass
class Outgoing:
    """One email on its way, and the claim in storage it settles."""

    user_id: str
    claim_id: str
    retry_at: int
    message: EmailMessage
    attempts: int = 0


class EmailMetrics:
    """``chat_email_sent_total``, ``chat_email_failures_total{outcome="retried"|"given_up"}``,
    ``chat_email_looks_total`` and the ``chat_email_queue`` gauge (no address or text in a label)."""

    def __init__(self, registry: Optional[CollectorRegistry]) -> None:
        r = registry or CollectorRegistry()
        self.sent = Counter("chat_email_sent", "Missed-message emails the SMTP server accepted", registry=r)
        self.failures = Counter("chat_email_failures", "Failed attempts to send a missed-message email, by "
                                "outcome (retried: tried again later; given_up: after email_retries attempts)",
                                ["outcome"], registry=r)
        for outcome in ("retried", "given_up"):
            self.failures.labels(outcome=outcome)
        self.looks = Counter("chat_email_looks", "Looks for due missed-message email this node made "
                             "(with the lease or not)", registry=r)
        self.queued = Gauge("chat_email_queue", "Missed-message emails waiting to be sent", registry=r)


class SmtpSender:
    """The queue and its worker (see the module doc). ``on_done(item, sent)`` runs on the loop
    after the last attempt of each email."""

    def __init__(self, settings: Settings, clock: Clock, metrics: EmailMetrics,
                 on_done: Callable[[Outgoing, bool], Awaitable[None]]) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.on_done = on_done
        self.queue: "asyncio.Queue[Outgoing]" = asyncio.Queue(maxsize=settings.email_queue)
        self.waiting = 0  # queued, or waiting for a retry
        self._executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._worker: Optional["asyncio.Task[None]"] = None
        self._busy: Optional["asyncio.Future[None]"] = None
        self._password: Optional[str] = None
        metrics.queued.set_function(lambda: self.waiting)

    # ------------------------------------------------------------------ the queue
    def room(self) -> int:
        """How many more emails the queue takes now."""
        return max(0, self.settings.email_queue - self.waiting)

    def offer(self, item: Outgoing) -> bool:
        """Queue an email; False when the queue is full (the caller leaves it for a later look)."""
        if self.room() <= 0:
            return False
        self.queue.put_nowait(item)
        self.waiting += 1
        self._ensure_worker()
        return True

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._work())

    async def _work(self) -> None:
        while True:
            item = await self.queue.get()
            done: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
            self._busy = done
            try:
                await self._attempt(item)
            finally:
                done.set_result(None)
                self._busy = None

    async def _attempt(self, item: Outgoing) -> None:
        item.attempts += 1
        try:
            await asyncio.get_running_loop().run_in_executor(self._pool(), self._send_blocking, item.message)
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            if item.attempts >= self.settings.email_retries:
                self.metrics.failures.labels(outcome="given_up").inc()
                log.warning("missed-message email given up after %d attempts: %s", item.attempts,
                            exc.__class__.__name__)
                self.waiting -= 1
                await self._settle(item, False)
                return
            self.metrics.failures.labels(outcome="retried").inc()
            delay = self.settings.email_retry_seconds * (2 ** (item.attempts - 1))
            log.info("missed-message email failed (%s); retrying in %.0f s", exc.__class__.__name__, delay)
            self.clock.call_later(delay, self._retry, item)
            return
        self.metrics.sent.inc()
        self.waiting -= 1
        await self._settle(item, True)

    def _retry(self, item: Outgoing) -> None:
        self.queue.put_nowait(item)  # counted in ``waiting`` all along: always has room
        self._ensure_worker()

    async def _settle(self, item: Outgoing, sent: bool) -> None:
        try:
            await self.on_done(item, sent)
        except Exception:  # storage down: the claim runs out and a later look sends it again
            log.warning("could not record a missed-message email as %s", "sent" if sent else "given up")

    async def idle(self) -> None:
        """Wait until nothing is queued or being sent (tests; retries waiting on the clock aside)."""
        while not self.queue.empty() or self._busy is not None:
            if self._busy is not None:
                await asyncio.shield(self._busy)
            else:
                await asyncio.sleep(0)

    async def close(self) -> None:
        """Stop the worker (what is still queued is sent again by a later look: its claim runs out)."""
        if self._worker is not None:
            if self._busy is not None:
                await asyncio.shield(self._busy)
            self._worker.cancel()
            self._worker = None
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    # ------------------------------------------------------------------ SMTP, in its own thread
    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="smtp")
        return self._executor

    def _secret(self) -> Optional[str]:
        if not self.settings.smtp_user:
            return None
        if self._password is None:
            path = self.settings.smtp_password_file
            if path:
                with open(path, "r", encoding="utf-8") as fh:
                    self._password = fh.readline().rstrip("\r\n")
            else:
                self._password = ""
        return self._password

    def _send_blocking(self, message: EmailMessage) -> None:
        s = self.settings
        smtp: Any
        if s.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        with smtp:
            if s.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            password = self._secret()
            if s.smtp_user:
                smtp.login(s.smtp_user, password or "")
            smtp.send_message(message)
