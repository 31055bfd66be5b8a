"""The object graph of one server: settings, store, verifier, service, connection manager.

Built once (by ``server.py`` or a test fixture) and handed to the Tornado application,
whose handlers receive it through ``initialize()``; nothing lives in module globals.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Optional

from chat.auth import TokenVerifier
from chat.connections import ConnectionManager
from chat.embedded import EmbeddedMongo
from chat.realtime import Realtime
from chat.service import ChatService
from chat.settings import Settings
from chat.store import Store


@dataclasses.dataclass
class Runtime:
    settings: Settings
    store: Store
    verifier: TokenVerifier
    service: ChatService
    manager: ConnectionManager
    realtime: Realtime
    storage_label: str
    embedded: Optional[EmbeddedMongo] = None
    started_at: float = dataclasses.field(default_factory=time.time)
    draining: bool = False


def build_runtime(settings: Settings, uri: str, embedded: Optional[EmbeddedMongo] = None) -> Runtime:
    """Wire the components together (the transport is installed by the socket tier)."""
    store = Store(uri, settings.db_name, settings.db_workers, settings.db_timeout_ms)
    manager = ConnectionManager()
    service = ChatService(settings, store, online=manager.is_online)
    verifier = TokenVerifier(settings)
    realtime = Realtime(settings, service, manager, verifier)  # installs itself as the service's publisher
    label = "embedded nx-27017 (%s)" % embedded.db_path if embedded is not None else "mongodb (%s)" % _redact(uri)
    return Runtime(settings=settings, store=store, verifier=verifier, service=service, manager=manager,
                   realtime=realtime, storage_label=label, embedded=embedded)


def _redact(uri: str) -> str:
    """Hide credentials in a MongoDB URI for logs and /api/health."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return scheme + "://***@" + rest.split("@", 1)[1]
    return uri
