"""The Redis link and the ordering buffer as Prometheus gauges (for a ``/metrics`` registry).

Read when scraped from :meth:`chat.cluster.broker.RedisBroker.stats`; nothing here counts on its
own. ``prometheus_client`` is imported only when a registry asks for these gauges.
"""
from __future__ import annotations

from typing import Any, Callable, Dict

#: gauge name -> (stats key, help)
GAUGES = {
    "chat_redis_up": ("up", "1 while the node's Redis link is up"),
    "chat_redis_restores": ("restores", "Times the Redis link came back (each followed by a client resync)"),
    "chat_redis_channels": ("channels", "Redis channels the node subscribes to for its local users"),
    "chat_redis_published": ("published", "Publishes written to Redis"),
    "chat_redis_dropped": ("dropped", "Publishes dropped while Redis was unreachable"),
    "chat_redis_received": ("received", "Messages received from Redis"),
    "chat_cluster_resyncs": ("resyncs", "Times this node told its clients to resync"),
    "chat_cluster_nodes_reaped": ("reaped", "Dead nodes whose users this node took offline"),
    "chat_cluster_remote_online": ("remoteOnline", "Users online only on other nodes, as this node knows them"),
    "chat_cluster_order_held": ("held", "Messages that waited for an earlier seq"),
    "chat_cluster_order_filled": ("filled", "Messages read from the database to fill a gap"),
    "chat_cluster_order_late": ("late", "Messages delivered after a later seq (skipped, then arrived)"),
    "chat_cluster_order_jumped": ("jumped", "Seqs of gaps too wide to push, left to the clients' sync"),
}


def register(registry: Any, stats: Callable[[], Dict[str, Any]]) -> None:
    """Add the cluster gauges to a ``prometheus_client`` registry."""
    from prometheus_client import Gauge

    def reader(key: str) -> Callable[[], float]:
        return lambda: float(stats().get(key, 0))

    for name, (key, help_text) in GAUGES.items():
        Gauge(name, help_text, registry=registry).set_function(reader(key))
