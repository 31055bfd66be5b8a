"""Prometheus metrics of one server (``GET /metrics``, text exposition format).

One :class:`Metrics` per runtime, on its own registry (nothing process-global, so tests can
build several). The core reports events through plain methods; gauges that mirror live state
(sockets, users online, embedded restarts) are read when scraped, through callbacks.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

from chat.events import Audience, NullEvents
from chat.version import __version__

# Sends are acknowledged in a few ms when idle and tens of ms under load; the top buckets show
# storage trouble (the storage timeout is seconds).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class MetricsEvents(NullEvents):
    """The metrics' event sink: counts stored messages as the service reports them."""

    def __init__(self, metrics: "Metrics") -> None:
        self.metrics = metrics

    def message_stored(self, message: Dict[str, Any], audience: Audience) -> None:
        self.metrics.messages_stored(1)


class Metrics:
    """The server's counters, gauges and histograms; the ``*`` methods are what the core calls."""

    def __init__(self, stats: Optional[Callable[[], Dict[str, int]]] = None,
                 embedded_restarts: Optional[Callable[[], int]] = None, process: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        info = Gauge("chat_build_info", "Always 1; the release in the label", ["version"], registry=r)
        info.labels(version=__version__).set(1)
        self._sockets = Gauge("chat_sockets", "Open WebSocket connections", registry=r)
        self._users = Gauge("chat_users_online", "Users with at least one open socket", registry=r)
        self._restarts = Gauge("chat_embedded_restarts", "Times the embedded database child was restarted",
                               registry=r)
        self._stored = Counter("chat_messages_stored", "Messages written to storage", registry=r)
        self._deliveries = Counter("chat_deliveries", "Message pushes written to receiving sockets", registry=r)
        self._batch = Histogram("chat_writer_batch_size", "Messages per storage write of the send writer",
                                buckets=BATCH_BUCKETS, registry=r)
        self._latency = Histogram("chat_send_latency_seconds", "From a send's arrival to its acknowledgement",
                                  buckets=LATENCY_BUCKETS, registry=r)
        self._storage_errors = Counter("chat_storage_errors", "Storage operations that failed or timed out",
                                       registry=r)
        self._ws_frames = Counter("chat_ws_frames", "WebSocket frames the server queued to sockets", registry=r)
        self._ws_writes = Counter("chat_ws_writes", "Socket writes that carried them (a socket's frames of one "
                                  "event-loop turn go in one write)", registry=r)
        self._closes = Counter("chat_socket_closes", "Sockets the server closed, by reason", ["reason"], registry=r)
        for reason in ("slow_consumer", "rate_limit"):
            self._closes.labels(reason=reason)  # present (at 0) before the first one
        # --- oversight: retention and holds (add below)
        self._retention_passes = Counter("chat_retention_sweeps", "Retention sweeps this node ran", registry=r)
        self._retention_deleted = Counter("chat_retention_deleted", "What retention sweeps deleted, by kind "
                                          "(message: content left as a tombstone; file: an upload's bytes)",
                                          ["kind"], registry=r)
        self._retention_kept = Counter("chat_retention_kept", "Due deletions a sweep skipped, by what kept them "
                                       "(hold: a legal hold; case: a moderation case's evidence), counted each sweep",
                                       ["by"], registry=r)
        for kind in ("message", "file"):
            self._retention_deleted.labels(kind=kind)
        for by in ("hold", "case"):
            self._retention_kept.labels(by=by)
        if process:
            ProcessCollector(registry=r)  # process_resident_memory_bytes, process_open_fds, ...
        self.bind(stats, embedded_restarts)

    def bind(self, stats: Optional[Callable[[], Dict[str, int]]],
             embedded_restarts: Optional[Callable[[], int]] = None) -> None:
        """Where the live gauges read from: ``stats()`` -> {"connections", "users"}; restarts count."""
        if stats is not None:
            self._sockets.set_function(lambda: stats().get("connections", 0))
            self._users.set_function(lambda: stats().get("users", 0))
        if embedded_restarts is not None:
            self._restarts.set_function(embedded_restarts)

    # -- called by the core -------------------------------------------------------------------
    def messages_stored(self, count: int = 1) -> None:
        """``count`` messages were written (one call per writer batch is enough)."""
        self._stored.inc(count)

    def delivered(self, count: int = 1) -> None:
        """``count`` pushes of new messages were written to receivers' sockets."""
        self._deliveries.inc(count)

    def writer_batch(self, size: int) -> None:
        """The send writer stored one batch of ``size`` messages."""
        self._batch.observe(size)

    def send_latency(self, seconds: float) -> None:
        """One send was acknowledged ``seconds`` after it arrived."""
        self._latency.observe(seconds)

    def storage_error(self) -> None:
        """A storage call failed or timed out."""
        self._storage_errors.inc()

    def socket_writes(self, frames: int, writes: int) -> None:
        """One turn's flush wrote ``frames`` frames to sockets in ``writes`` writes."""
        self._ws_frames.inc(frames)
        self._ws_writes.inc(writes)

    def slow_consumer_closed(self) -> None:
        """A socket was closed because its unsent data passed ws_max_pending_bytes."""
        self._closes.labels(reason="slow_consumer").inc()

    def rate_limit_closed(self) -> None:
        """A socket was closed after rate_strikes rate-limited frames in a row."""
        self._closes.labels(reason="rate_limit").inc()

    def retention_pass(self, messages: int, files: int, kept_hold: int, kept_case: int) -> None:
        """One retention sweep ran: what it deleted and what holds and cases kept (counts only)."""
        self._retention_passes.inc()
        self._retention_deleted.labels(kind="message").inc(messages)
        self._retention_deleted.labels(kind="file").inc(files)
        self._retention_kept.labels(by="hold").inc(kept_hold)
        self._retention_kept.labels(by="case").inc(kept_case)

    # -- exposition ---------------------------------------------------------------------------
    def render(self) -> bytes:
        """The text exposition of every metric (``Content-Type``: :data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
