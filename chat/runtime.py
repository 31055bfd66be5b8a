"""The object graph of one server: settings, clock, store, verifier, service, sockets.

Built once (by ``server.py`` or a test fixture) and handed to the Tornado application,
whose handlers receive it through ``initialize()``; nothing lives in module globals. The
wiring reads top to bottom: the connection manager and typing tracker exist first, the
socket event sink is built on them, the service is built with that sink, and the real-time
tier on the service.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Optional

from chat.auth import TokenVerifier
from chat.clock import Clock, SystemClock
from chat.cluster.limits import SharedRateLimiter
from chat.cluster.node import ClusterConnections, ClusterEvents, ClusterNode, typing_relay
from chat.connections import ConnectionManager
from chat.embedded import EmbeddedMongo
from chat.errors import ChatError
from chat.events import Fanout
from chat.metrics import Metrics, MetricsEvents
from chat.people import PeopleIndex
from chat.presence import PresenceService
from chat.push import SocketEvents, typing_announcer
from chat.ratelimit import Limit, RateLimiter
from chat.realtime import Realtime
from chat.service import ChatService
from chat.settings import Settings
from chat.store import Store
from chat.typing_state import TypingTracker
from chat.uploads import UploadsService, build_uploads

log = logging.getLogger("chat.runtime")


@dataclasses.dataclass
class Runtime:
    settings: Settings
    clock: Clock
    store: Store
    verifier: TokenVerifier
    service: ChatService
    manager: ConnectionManager
    presence: PresenceService
    limiter: RateLimiter
    events: Fanout
    realtime: Realtime
    storage_label: str
    uploads: UploadsService
    metrics: Metrics
    embedded: Optional[EmbeddedMongo] = None
    cluster: Optional[ClusterNode] = None
    started_at: float = dataclasses.field(default_factory=time.time)
    draining: bool = False

    async def start(self) -> None:
        """Start what runs in the background (the Redis link of a cluster node) and read what
        handshakes need into memory before the first one arrives."""
        if self.cluster is not None:
            await self.cluster.start()
        try:
            # after a restart the whole school reconnects at once: the first hundred handshakes
            # should not all wait on these reads
            await self.service.directory.load()
            await self.presence.people.ready()
        except ChatError as exc:
            log.warning("could not read the directory ahead (%s); the first handshakes will", exc.message)

    async def close(self) -> None:
        """Finish queued sends and write everything written behind (at shutdown)."""
        try:
            await self.service.close()
        finally:
            self.uploads.images.close()
            await self.presence.close()
            if self.cluster is not None:
                await self.cluster.close()


def build_runtime(settings: Settings, uri: str, embedded: Optional[EmbeddedMongo] = None,
                  clock: Optional[Clock] = None) -> Runtime:
    """Wire the components together (the transport is installed by the socket tier). With
    ``redis_url`` the node of a cluster: its connection manager, typing, event sink and rate
    limiter are the cluster's (see chat/cluster)."""
    clock = clock or SystemClock()
    manager = ClusterConnections() if settings.redis_url else ConnectionManager()
    metrics = Metrics(manager.stats, (lambda: embedded.restarts) if embedded is not None else None)
    store = Store(uri, settings.db_name, settings.db_workers, settings.db_timeout_ms,
                  on_error=metrics.storage_error)
    cluster = ClusterNode(settings, manager, store, clock) if isinstance(manager, ClusterConnections) else None
    announce = typing_relay(cluster) if cluster is not None else typing_announcer(manager)
    typing = TypingTracker(announce, clock, settings.typing_timeout, settings.typing_debounce)
    people = PeopleIndex(store, clock, settings.roster_refresh)
    pushes = ClusterEvents(cluster) if cluster is not None else SocketEvents(manager, typing, metrics.delivered)
    events = Fanout([pushes, people, MetricsEvents(metrics)])
    limiter = SharedRateLimiter(settings, clock) if cluster is not None else RateLimiter(settings, clock)
    uploads = build_uploads(settings, store, take_send_token=lambda user_id: limiter.take(user_id, Limit.SEND))
    service = ChatService(settings, store, events, online=manager.is_online, clock=clock, uploads=uploads,
                          metrics=metrics, single_writer=cluster is None)
    verifier = TokenVerifier(settings)
    presence = PresenceService(store, manager, people, clock, settings.last_seen_flush)
    realtime = Realtime(settings, service, manager, verifier, presence, typing, limiter, clock,
                        on_rate_limit_close=metrics.rate_limit_closed)
    if cluster is not None:
        cluster.wire(service, typing, limiter, realtime, metrics.registry, metrics.delivered)
    label = "embedded nx-27017 (%s)" % embedded.db_path if embedded is not None else "mongodb (%s)" % _redact(uri)
    return Runtime(settings=settings, clock=clock, store=store, verifier=verifier, service=service,
                   manager=manager, presence=presence, limiter=limiter, events=events, realtime=realtime,
                   storage_label=label, uploads=uploads, metrics=metrics, embedded=embedded, cluster=cluster)


def _redact(uri: str) -> str:
    """Hide credentials in a MongoDB URI for logs and /api/health."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return scheme + "://***@" + rest.split("@", 1)[1]
    return uri
