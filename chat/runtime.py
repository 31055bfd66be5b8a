"""The object graph of one server: settings, clock, store, verifier, service, sockets.

Built once (by ``server.py`` or a test fixture) and handed to the Tornado application,
whose handlers receive it through ``initialize()``; nothing lives in module globals. The
wiring reads top to bottom, and one process and a cluster node differ only in the broker and
the presence backend they are given (:func:`_backends`): the connection manager exists first,
the socket event sink publishes through the broker, the service is built with that sink, the
real-time tier on the service, and last the node's endpoint is attached to the broker.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable, Optional, Sequence, Tuple

from chat.auth import TokenVerifier
from chat.clock import Clock, SystemClock
from chat.cluster.broker import RedisBroker
from chat.cluster.quota import RedisQuota
from chat.domain.service import ChatService
from chat.errors import ChatError
from chat.events import Fanout
from chat.metrics import Metrics, MetricsEvents
from chat.ops.embedded import EmbeddedMongo
from chat.presence.backend import LocalPresence, PresenceBackend
from chat.presence.contacts import PeopleIndex
from chat.presence.service import PresenceService
from chat.ratelimit import Limit, RateLimiter
from chat.realtime.broker import Broker, LocalBroker
from chat.realtime.connections import ConnectionManager
from chat.realtime.push import LocalDelivery, SocketEvents, presence_announcer, typing_announcer
from chat.realtime.sessions import Realtime
from chat.realtime.typing import TypingTracker
from chat.settings import Settings, mask_uri
from chat.store import Store
from chat.uploads import UploadsService, build_uploads
from chat.uploads.quota import Quota, UsedSince

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
    broker: Broker
    presence_backend: PresenceBackend
    embedded: Optional[EmbeddedMongo] = None
    started_at: float = dataclasses.field(default_factory=time.time)
    draining: bool = False

    @property
    def clustered(self) -> bool:
        return bool(self.settings.redis_url)

    async def start(self) -> None:
        """Start what runs in the background (a cluster node's Redis link and heartbeat) and
        read what handshakes need into memory before the first one arrives."""
        await self.broker.start()
        await self.presence_backend.start()
        await self.service.start_background(alone=not self.clustered)
        try:
            await self.service.start()
            await self.presence.people.ready()
        except ChatError as exc:
            log.warning("could not read the directory ahead (%s); the first handshakes will", exc.message)

    async def close(self) -> None:
        """Finish queued sends and write everything written behind (at shutdown)."""
        try:
            await self.service.stop_background()
            await self.service.close()
        finally:
            self.uploads.images.close()
            await self.presence.close()
            await self.presence_backend.close()
            await self.broker.close()


def _backends(settings: Settings, store: Store, limiter: RateLimiter, clock: Clock, manager: ConnectionManager,
              people: PeopleIndex, refuse: Callable[[str], None]
              ) -> Tuple[Broker, PresenceBackend, Optional[Callable[[UsedSince], Quota]]]:
    """The one place one process and a cluster node differ: which broker carries deliveries,
    which backend decides who is online, and where the daily upload quota is counted (None:
    in this process)."""
    announce = presence_announcer(manager)
    if not settings.redis_url:
        return LocalBroker(), LocalPresence(manager.online, people.contacts_of, announce), None
    broker = RedisBroker(settings, store, limiter, clock)

    def quota(used_since: UsedSince) -> Quota:
        return RedisQuota(broker.link, broker.prefix, broker.node_id, settings.upload_quota_bytes, used_since)
    return broker, broker.presence_backend(manager, people.contacts_of, announce, refuse), quota


def build_runtime(settings: Settings, uri: str, embedded: Optional[EmbeddedMongo] = None,
                  clock: Optional[Clock] = None) -> Runtime:
    """Wire the components together (the transport is installed by the socket tier). With
    ``redis_url`` the node of a cluster (see :func:`_backends`)."""
    clock = clock or SystemClock()
    manager = ConnectionManager()
    metrics = Metrics(manager.stats, (lambda: embedded.restarts) if embedded is not None else None)
    store = Store(uri, settings.db_name, settings.db_workers, settings.db_timeout_ms,
                  on_error=metrics.storage_error)
    limiter = RateLimiter(settings, clock)
    people = PeopleIndex(store, clock, settings.roster_refresh)
    realtime: Optional[Realtime] = None

    def refuse(conn_id: str) -> None:  # a socket over the cap across nodes (the session tier closes it)
        if realtime is not None:
            realtime.refuse_socket(conn_id)

    broker, backend, quota = _backends(settings, store, limiter, clock, manager, people, refuse)
    typing = TypingTracker(typing_announcer(broker), clock, settings.typing_timeout, settings.typing_debounce)
    events = Fanout([SocketEvents(broker), people, MetricsEvents(metrics)])
    uploads = build_uploads(settings, store, take_send_token=lambda user_id: limiter.take(user_id, Limit.SEND),
                            quota=quota)
    service = ChatService(settings, store, events, online=backend.is_online, clock=clock, uploads=uploads,
                          metrics=metrics, shared_seqs=broker.shared_seqs())
    service.scheduled_sender.limit_by(lambda user_id: limiter.take(user_id, Limit.SEND))
    verifier = TokenVerifier(settings)
    presence = PresenceService(store, manager.online, backend, people, clock, settings.last_seen_flush)
    realtime = Realtime(settings, service, manager, verifier, presence, typing, limiter, clock,
                        on_rate_limit_close=metrics.rate_limit_closed)

    def conversation_elsewhere(conversation_id: str, school: str, members: Optional[Sequence[str]]) -> None:
        service.conversation_changed_elsewhere(conversation_id)
        if members is not None:
            people.set_members(conversation_id, school, members)

    broker.attach(LocalDelivery(manager, typing, metrics.delivered, conversation_elsewhere,
                                service.message_stored_elsewhere, service.safety_changed_elsewhere))
    broker.register_metrics(metrics.registry)
    label = "embedded nx-27017 (%s)" % embedded.db_path if embedded is not None else "mongodb (%s)" % _redact(uri)
    return Runtime(settings=settings, clock=clock, store=store, verifier=verifier, service=service,
                   manager=manager, presence=presence, limiter=limiter, events=events, realtime=realtime,
                   storage_label=label, uploads=uploads, metrics=metrics, broker=broker,
                   presence_backend=backend, embedded=embedded)


def _redact(uri: str) -> str:
    """Hide credentials in a MongoDB URI for logs."""
    return mask_uri(uri)
