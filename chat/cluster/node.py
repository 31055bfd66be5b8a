"""One node of a cluster: pushes between server processes through Redis.

Every push becomes an envelope: the frame serialized once by the node where the event happened,
its audience (school + user ids) and, for ``message:new``, its conversation and seq. The node
delivers it to its own sockets directly, and one Lua script in Redis routes it to the other
nodes holding sockets of its receivers: the presence registry (``online:<user>``: node ->
sockets, see :mod:`chat.cluster.presence`) is the routing table, and each such node gets the
envelope once, on its own channel (``<prefix>n:<node>``), whatever the number of its
receivers. A node therefore receives only what its sockets need, and writes the same bytes to
every local socket.

``message:new`` passes through :class:`chat.cluster.order.OrderBuffer` on every node, so a
receiver never sees seq n+1 of a conversation before n. Membership and title changes are also
announced on the cluster-wide channel (``<prefix>all``, rare events), so every node re-reads
the conversation it has cached; the same channel carries "resync" after a Redis outage.
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set

import ujson

from chat import protocol as p, render
from chat.clock import Clock
from chat.cluster.limits import SharedRateLimiter
from chat.cluster.link import RedisLink
from chat.cluster.order import Envelope, OrderBuffer
from chat.cluster.presence import ClusterPresence
from chat.cluster.seqs import SeqReserver
from chat.connections import ConnectionManager, Presence
from chat.convcache import ConversationCache
from chat.errors import ChatError, RateLimited
from chat.events import Audience
from chat.ratelimit import RateLimiter
from chat.realtime import CLOSE_TOO_MANY_SOCKETS
from chat.settings import Settings
from chat.store import Store
from chat.timeutil import now_ms
from chat.typing_state import TypingTracker
from chat.writer import is_tombstone, tombstone

log = logging.getLogger("chat.cluster.node")

RESYNC = "session:resync"  # push: the client answers with ``sync`` (events may have been missed)
SEEN_IDS = 20000

# KEYS: online:<user> of each receiver; ARGV: origin node, key prefix, payload. Publishes the
# payload once to every other node holding a socket of any receiver; returns how many.
_ROUTE = """
local sent, count = {}, 0
for _, key in ipairs(KEYS) do
  for _, node in ipairs(redis.call('HKEYS', key)) do
    if node ~= ARGV[1] and not sent[node] then
      sent[node] = true
      redis.call('PUBLISH', ARGV[2] .. 'n:' .. node, ARGV[3])
      count = count + 1
    end
  end
end
return count
"""


class ClusterNode:
    """See the module doc."""

    def __init__(self, settings: Settings, manager: ConnectionManager, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.manager = manager
        if isinstance(manager, ClusterConnections):
            manager.node = self
        self.store = store
        self.node_id = uuid.uuid4().hex[:12]
        self.prefix = "chat:%s:" % settings.db_name
        self.all_channel = self.prefix + "all"
        self.node_channel = self.prefix + "n:" + self.node_id
        self.link = RedisLink(settings.redis_url, self._on_message, self._on_restore,
                              always=[self.all_channel, self.node_channel])
        self.order = OrderBuffer(self._deliver, self._fetch, clock, settings.cluster_gap_timeout, self._on_missing)
        self.clock = clock
        self.presence = ClusterPresence(self, manager, clock, settings.cluster_node_ttl, settings.max_sockets_per_user)
        self.reserver: Optional[SeqReserver] = None  # the writer's seq reservations
        self.delivered: Optional[Callable[[int], None]] = None
        self.gaps_filled = 0  # seqs of a dead writer filled with tombstones
        self.limiter: Optional[SharedRateLimiter] = None
        self.transport: Optional[Callable[[], Any]] = None
        self.cache: Optional[ConversationCache] = None
        self.typing: Optional[TypingTracker] = None
        self.resyncs = 0
        self._ids = itertools.count(1)
        self._seen: "collections.OrderedDict[str, None]" = collections.OrderedDict()

    def wire(self, service: Any, typing: TypingTracker, limiter: RateLimiter, realtime: Any,
             metrics_registry: Any = None, delivered: Optional[Callable[[int], None]] = None) -> None:
        """Connect the parts built after the node: the service's conversation cache and writer
        (whose seqs are then reserved in the database, batch by batch, so no two processes hand
        out one), the typing tracker, the rate limiter, the session tier (its transport is
        installed later by the socket tier), and optionally a Prometheus registry and a counter
        of ``message:new`` frames written to local sockets."""
        self.cache = service.core.cache
        self.typing = typing
        self.limiter = limiter if isinstance(limiter, SharedRateLimiter) else None
        self.transport = lambda: realtime.transport
        self.delivered = delivered
        self.reserver = SeqReserver(self.store.conversations)
        service.core.writer.use_shared_seqs(self.reserver.reserve, self.reserver.give_back)
        if metrics_registry is not None:
            from chat.cluster.metrics import register
            register(metrics_registry, self.stats)

    async def start(self) -> None:
        """Connect to Redis (waiting a little, so the first pushes are not dropped) and start
        the heartbeat; the server serves meanwhile whatever Redis does."""
        self.link.start()
        if not await self.link.wait_up(5.0):
            log.warning("serving without redis for now: pushes reach local sockets only until it answers")
        self.presence.start()

    async def close(self) -> None:
        """At shutdown, after the sockets closed: settle presence, then close the link."""
        await self.presence.close()
        await self.link.close()

    # ------------------------------------------------------------------ limits across nodes
    def holders_changed(self, user_id: str, nodes: int) -> None:
        """The number of nodes holding sockets of a user changed: each of them gets an equal
        share of the user's rate limits, so together they allow what one process would."""
        self._apply_share(user_id, nodes)
        self.route([user_id], ujson.dumps({"t": "hold", "n": self.node_id, "u": user_id, "k": nodes}))

    def _apply_share(self, user_id: str, nodes: int) -> None:
        if self.limiter is not None:
            self.limiter.share(user_id, nodes)

    def refuse_socket(self, conn_id: str, cap: int) -> None:
        """The user holds more than ``cap`` sockets over all nodes: close this new one (4029)."""
        if self.transport is None:
            return
        transport = self.transport()
        transport.send(conn_id, p.error_frame(RateLimited("at most %d open sockets per user" % cap), None))
        transport.close(conn_id, CLOSE_TOO_MANY_SOCKETS, "too many sockets")

    def route(self, user_ids: Sequence[str], payload: str) -> None:
        """Publish to every other node holding a socket of any of these users (once each)."""
        self.link.run_script(_ROUTE, [self.prefix + "online:" + u for u in user_ids],
                             [self.node_id, self.prefix, payload])

    def stats(self) -> Dict[str, Any]:
        return dict(self.link.stats(), node=self.node_id, resyncs=self.resyncs, reaped=self.presence.reaped,
                    remoteOnline=len(self.presence.remote.users), presencePending=self.presence.pending,
                    sharedLimits=self.limiter.shared if self.limiter is not None else 0,
                    seqReservations=self.reserver.reservations if self.reserver is not None else 0,
                    **self.order.stats())

    # ------------------------------------------------------------------ sending
    def relay(self, event: str, data: Dict[str, Any], user_ids: Iterable[str], school: Optional[str],
              **extra: Any) -> None:
        """Deliver a push to its receivers' sockets on every node (this one directly)."""
        users = list(user_ids)
        if not users:
            return
        env: Envelope = {"n": self.node_id, "i": "%s:%d" % (self.node_id, next(self._ids)), "e": event,
                         "f": p.push(event, data), "u": users, "s": school}
        env.update(extra)
        self._receive(env)
        self.route(users, ujson.dumps(env))

    def conversation_touched(self, conversation_id: str) -> None:
        """Participants or title changed here: other nodes re-read their cached copy."""
        self.link.publish([self.all_channel], ujson.dumps({"t": "conv", "n": self.node_id, "c": conversation_id}))

    # ------------------------------------------------------------------ receiving
    def _on_message(self, channel: str, payload: bytes) -> None:
        env = ujson.loads(payload)
        if env.get("n") == self.node_id:
            return  # delivered locally when it was relayed
        kind = env.get("t")
        if kind == "conv":
            state = self.cache.peek(env["c"]) if self.cache is not None else None
            if state is not None:
                state.stale = True  # re-read before its next use, however soon that is
            return
        if kind == "resync":
            self._tell_resync()
            return
        if kind in ("on", "off"):
            self.presence.received(env)
            return
        if kind == "hold":
            self._apply_share(env["u"], int(env["k"]))
            return
        event_id = env["i"]
        if event_id in self._seen:
            return  # the same envelope on another local receiver's channel
        self._seen[event_id] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        if env["e"] == p.Message.NEW and self.cache is not None:
            state = self.cache.peek(env["c"])
            if state is not None and env["q"] > state.last_seq:
                state.last_seq = env["q"]  # stored by another node: markers may move up to it
        self._receive(env)

    def _receive(self, env: Envelope) -> None:
        if "q" in env:
            self.order.offer(env)
        else:
            self._deliver(env)

    def _deliver(self, env: Envelope) -> None:
        written = self.manager.publish_frame(env["f"], env["u"], env["s"])
        event = env["e"]
        if event == p.Message.NEW and self.delivered is not None:
            self.delivered(written)
        if event == p.Message.NEW and self.typing is not None:
            # the typist's node ends its typing when its message arrives (from any node)
            if self.typing.is_typing(env["c"], env["w"]):
                self.typing.stop(env["c"], env["w"])
        elif event == p.Conversation.CREATED and env.get("p"):
            self.manager.link(env["p"])

    async def _fetch(self, cid: str, after: int, before: int, sample: Envelope) -> List[Envelope]:
        docs = await self.store.messages.history(cid, before, after, max(1, before - after - 1))
        # a tombstone fills its seq but is never pushed: the buffer skips it like a refused seq
        return [self._envelope_of(render.message(doc), sample) for doc in docs if not is_tombstone(doc)]

    def _on_missing(self, cid: str, seqs: List[int]) -> None:
        """Seqs handed out and not stored when the gap timed out: the writer that holds them
        settles them itself (given back or tombstoned); one that died cannot, so after the
        node TTL (it is then known dead) they are filled here. A message stored meanwhile wins
        (the unique seq index), and a late insert of one of them is written again, later."""
        self.clock.call_later(self.settings.cluster_node_ttl,
                              lambda: asyncio.ensure_future(self.fill_gaps(cid, seqs)))

    async def fill_gaps(self, cid: str, seqs: List[int]) -> int:
        """Tombstones for those of ``seqs`` still not stored; how many were written."""
        stones = [tombstone(cid, seq, now_ms()) for seq in seqs]
        written = 0
        try:
            while stones:
                outcome = await self.store.messages.insert_batch(stones)
                written += outcome.stored
                if outcome.refused is None:
                    break
                stones = stones[outcome.refused + 1:]  # stored after all
        except ChatError:
            log.warning("could not fill %d missing seqs of %s", len(stones), cid)
        self.gaps_filled += written
        return written

    def _envelope_of(self, view: Dict[str, Any], sample: Envelope) -> Envelope:
        return {"n": self.node_id, "i": "%s:%d" % (self.node_id, next(self._ids)), "e": p.Message.NEW,
                "f": p.push(p.Message.NEW, view), "u": sample["u"], "s": sample["s"],
                "c": view["conversationId"], "q": view["seq"], "w": view["senderId"]}

    # ------------------------------------------------------------------ outages
    def _on_restore(self) -> None:
        """Redis is back (or a publish failed earlier): every client of every node resyncs."""
        self.presence.restored()
        self._tell_resync()
        self.link.publish([self.all_channel], ujson.dumps({"t": "resync", "n": self.node_id}))

    def _tell_resync(self) -> None:
        self.resyncs += 1
        everyone = [str(u) for u in self.manager.by_user]
        self.manager.publish(RESYNC, {"reason": "events may have been missed; send sync"}, everyone)


class ClusterEvents:
    """:class:`chat.events.EventSink` of a cluster node: pushes through :meth:`ClusterNode.relay`
    (the socket-side effects of an event happen where it is delivered)."""

    def __init__(self, node: ClusterNode) -> None:
        self.node = node

    def message_stored(self, message: Dict[str, Any], audience: Audience) -> None:
        self.node.relay(p.Message.NEW, message, audience.user_ids, audience.school,
                        c=message["conversationId"], q=message["seq"], w=message["senderId"])

    def message_updated(self, message: Dict[str, Any], audience: Audience) -> None:
        self.node.relay(p.Message.UPDATED, message, audience.user_ids, audience.school)

    def message_deleted(self, data: Dict[str, Any], audience: Audience) -> None:
        self.node.relay(p.Message.DELETED, data, audience.user_ids, audience.school)

    def marker_moved(self, data: Dict[str, Any], audience: Audience) -> None:
        self.node.relay(p.Message.STATUS, data, audience.user_ids, audience.school)

    def unread_changed(self, data: Dict[str, Any], audience: Audience) -> None:
        self.node.relay(p.Message.UNREAD, data, audience.user_ids, audience.school)

    def conversation_joined(self, view: Dict[str, Any], audience: Audience) -> None:
        contacts: List[str] = []
        if view.get("type") in ("direct", "group"):  # they become contacts for presence
            contacts = [x["userId"] for x in view.get("participants", ())]
        # the change first: a node that hears of it has marked its copy stale before its users
        # see the push (one publisher connection, so Redis keeps this order)
        self.node.conversation_touched(view["id"])
        self.node.relay(p.Conversation.CREATED, view, audience.user_ids, audience.school, p=contacts)

    def conversation_changed(self, view: Dict[str, Any], audience: Audience) -> None:
        self.node.conversation_touched(view["id"])
        self.node.relay(p.Conversation.UPDATED, view, audience.user_ids, audience.school)

    def conversation_left(self, conversation_id: str, audience: Audience) -> None:
        self.node.conversation_touched(conversation_id)
        self.node.relay(p.Conversation.REMOVED, {"conversationId": conversation_id}, audience.user_ids,
                        audience.school)


class ClusterConnections(ConnectionManager):
    """The connection manager of a cluster node: every local socket is registered in Redis
    (presence, routing, the socket cap), and its close too. ``user:online``/``user:offline`` are decided cluster-wide
    (:mod:`chat.cluster.presence`), so the ones the session tier publishes for local sockets
    are left out, and presence rules also see users online on other nodes."""

    def __init__(self) -> None:
        super().__init__()
        self.node: Optional[ClusterNode] = None  # set by the node built on this manager

    def _node(self) -> ClusterNode:
        assert self.node is not None, "a ClusterNode binds itself to its manager"
        return self.node

    def add(self, conn_id: str, presence: Presence, school: Optional[str] = None) -> bool:
        first = super().add(conn_id, presence, school)
        self._node().presence.opened(conn_id, self.users[presence.user_id], first)
        return first

    def remove(self, conn_id: str) -> "tuple[Optional[Presence], bool]":
        presence, last = super().remove(conn_id)
        if presence is not None:
            self._node().presence.closed(conn_id, presence, last)
        return presence, last

    def publish(self, event: str, data: Dict[str, Any], user_ids: Iterable[str], school: Optional[str] = None) -> int:
        if event in (p.User.ONLINE, p.User.OFFLINE):
            return 0
        return super().publish(event, data, user_ids, school)

    def peers(self, school: str, role: str, class_ids: Iterable[str], contacts: Iterable[str],
              user_id: str) -> Set[str]:
        classes, people = list(class_ids), list(contacts)
        out = super().peers(school, role, classes, people, user_id)
        return out | self._node().presence.remote.peers(school, role, classes, people, user_id)

    def is_online(self, user_id: str) -> bool:
        return user_id in self.by_user or user_id in self._node().presence.remote.users

    def peer(self, user_id: str) -> Optional[Presence]:
        return self.users.get(user_id) or self._node().presence.remote.users.get(user_id)


def typing_relay(node: ClusterNode) -> Callable[[bool, Dict[str, Any], Sequence[str]], None]:
    """The typing tracker's announcer in a cluster: to the fellow participants on every node."""
    def announce(started: bool, data: Dict[str, Any], receivers: Sequence[str]) -> None:
        node.relay(p.Typing.START if started else p.Typing.STOP, data, receivers, None)
    return announce
