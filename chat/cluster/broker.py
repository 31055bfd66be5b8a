"""The broker of a cluster node: deliveries between server processes through Redis.

:meth:`RedisBroker.publish` delivers to this node's sockets directly, and a Lua script in
Redis routes the delivery's envelope (:mod:`chat.cluster.envelope`: the frame as serialized
once, behind a small routing header; one script call carries all of a loop turn's, see
:class:`chat.cluster.link.RouteBatch`, and each node gets them as one bundle) to the other
nodes holding sockets of its receivers: the
presence registry (``online:<user>``: node -> sockets, see :mod:`chat.presence.shared`) is the
routing table, and each such node gets the envelope once, on its own channel
(``<prefix>n:<node>``), whatever the number of its receivers. A node therefore receives only
what its sockets need, and writes the same bytes to every local socket.

Message deliveries pass through :class:`chat.cluster.order.OrderBuffer` on every node, so a
receiver never sees seq n+1 of a conversation before n. Participant and title changes are
announced on the cluster-wide channel (``<prefix>all``, rare events), so every node re-reads
the conversation it has cached and keeps its presence contacts current; the same channel
carries "resync" after a Redis outage, and safeguarding changes (a policy, filter lists, a
block or a mute: every node drops its cached copy at once). Whatever a delivery implies on a node happens in the
node's endpoint (:class:`chat.realtime.push.LocalDelivery`), as in one process.
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence

from chat.clock import Clock
from chat.cluster.envelope import Envelope, Kind, unbundle
from chat.cluster.link import RedisLink
from chat.cluster.order import OrderBuffer
from chat.cluster.seqs import SeqReserver
from chat.errors import ChatError
from chat.live.writer import SharedSeqs, is_tombstone, tombstone
from chat.presence.backend import Announce
from chat.presence.relation import ContactsOf
from chat.presence.shared import LocalSockets, SharedPresence
from chat.ratelimit import RateLimiter
from chat.realtime import protocol as p
from chat.realtime.broker import UNATTACHED, Delivery, DeliveryKind, NodeEndpoint
from chat.rules import render
from chat.settings import Settings
from chat.store import Store
from chat.store.seq_repo import SeqCounters
from chat.timeutil import now_ms

log = logging.getLogger("chat.cluster.node")

SEEN_IDS = 20000

# KEYS: online:<user> of the receivers of a turn's pushes, each once; ARGV: origin node, key
# prefix, then per push its payload and the indices of its receivers' keys ("1 2 5"). Sends
# each payload once to every other node holding a socket of any of its receivers, in order: one
# PUBLISH per node, the payload itself or, for several, a bundle of them (chat/cluster/envelope.py:
# "*", then per payload its byte length, ":" and its bytes). Returns how many publishes. A key's
# nodes are read once per call (a script runs atomically).
_ROUTE = """
local nodes_of, out, order, count = {}, {}, {}, 0
for i = 3, #ARGV, 2 do
  local sent = {}
  for at in string.gmatch(ARGV[i + 1], '%d+') do
    local k = tonumber(at)
    local nodes = nodes_of[k]
    if nodes == nil then
      nodes = redis.call('HKEYS', KEYS[k])
      nodes_of[k] = nodes
    end
    for _, node in ipairs(nodes) do
      if node ~= ARGV[1] and not sent[node] then
        sent[node] = true
        local list = out[node]
        if list == nil then
          list = {}
          out[node] = list
          order[#order + 1] = node
        end
        list[#list + 1] = ARGV[i]
      end
    end
  end
end
for _, node in ipairs(order) do
  local list = out[node]
  local payload = list[1]
  if #list > 1 then
    local parts = {'*'}
    for _, one in ipairs(list) do
      parts[#parts + 1] = #one .. ':' .. one
    end
    payload = table.concat(parts)
  end
  redis.call('PUBLISH', ARGV[2] .. 'n:' .. node, payload)
  count = count + 1
end
return count
"""


class RedisBroker:
    """The :class:`chat.realtime.broker.Broker` of a cluster node (see the module doc)."""

    def __init__(self, settings: Settings, store: Store, limiter: RateLimiter, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.limiter = limiter
        self.clock = clock
        self.node_id = uuid.uuid4().hex[:12]
        self.prefix = "chat:%s:" % settings.db_name
        self.all_channel = self.prefix + "all"
        self.node_channel = self.prefix + "n:" + self.node_id
        self.presence_channels = self.prefix + "p:"
        self._route_args = [self.node_id, self.prefix]
        self.link = RedisLink(settings.redis_url, self._on_message, self._on_restore,
                              always=[self.all_channel, self.node_channel])
        self.order = OrderBuffer(self._deliver, self._fetch, clock, settings.cluster_gap_timeout, self._on_missing)
        self.seqs = SeqReserver(SeqCounters(store.db))
        self.endpoint: NodeEndpoint = UNATTACHED
        self.presence: Optional[SharedPresence] = None
        self.resyncs = 0
        self.gaps_filled = 0  # seqs of a dead writer filled with tombstones
        self._ids = itertools.count(1)
        self._seen: "collections.OrderedDict[str, None]" = collections.OrderedDict()
        self._handlers: Dict[Kind, Callable[[Envelope], None]] = {
            Kind.PUSH: self._on_push,
            Kind.CONVERSATION: self._on_conversation,
            Kind.RESYNC: self._on_resync,
            Kind.HOLD: self._on_hold,
            Kind.SAFETY: self._on_safety,
        }

    def presence_backend(self, sockets: LocalSockets, contacts_of: ContactsOf, announce: Announce,
                         refuse: Callable[[str], None]) -> SharedPresence:
        """The presence backend that shares this node's Redis link (built once, while wiring)."""
        s = self.settings
        self.presence = SharedPresence(self.link, self.prefix, self.node_id, sockets, contacts_of, announce,
                                       refuse, self.holders_changed, self.clock, s.cluster_node_ttl,
                                       s.max_sockets_per_user)
        return self.presence

    def attach(self, endpoint: NodeEndpoint) -> None:
        self.endpoint = endpoint

    def shared_seqs(self) -> Optional[SharedSeqs]:
        return self.seqs

    async def start(self) -> None:
        """Connect to Redis (waiting a little, so the first pushes are not dropped); the server
        serves meanwhile whatever Redis does."""
        self.link.start()
        if not await self.link.wait_up(5.0):
            log.warning("serving without redis for now: pushes reach local sockets only until it answers")

    async def close(self) -> None:
        """At shutdown, after the sockets closed and presence settled."""
        await self.link.close()

    def stats(self) -> Optional[Dict[str, Any]]:
        presence = self.presence.stats() if self.presence is not None else {}
        return dict(self.link.stats(), node=self.node_id, resyncs=self.resyncs, sharedLimits=self.limiter.shared,
                    seqReservations=self.seqs.reservations, gapsFilled=self.gaps_filled, **presence,
                    **self.order.stats())

    def register_metrics(self, registry: Any) -> None:
        """The cluster's gauges on a Prometheus registry."""
        from chat.cluster.metrics import register
        register(registry, lambda: self.stats() or {})

    # ------------------------------------------------------------------ sending
    def publish(self, delivery: Delivery) -> None:
        if not delivery.users:
            return
        envelope = Envelope(Kind.PUSH, self.node_id, "%s:%d" % (self.node_id, next(self._ids)), delivery)
        self._receive(delivery)
        self._route(delivery.users, envelope.encode())

    def conversation_changed(self, conversation_id: str, school: str, members: Optional[Sequence[str]]) -> None:
        envelope = Envelope(Kind.CONVERSATION, self.node_id, conversation_id=conversation_id, school=school,
                            members=tuple(members) if members is not None else None)
        self.link.publish([self.all_channel], envelope.encode())

    def safety_changed(self, kind: str, key: str) -> None:
        """On the cluster-wide channel, like a conversation change: every node drops its copy."""
        self.link.publish([self.all_channel], Envelope(Kind.SAFETY, self.node_id, topic=kind, key=key).encode())

    def holders_changed(self, user_id: str, nodes: int) -> None:
        """Each node holding sockets of the user gets an equal share of its rate limits, so
        together they allow what one process would."""
        self.limiter.share(user_id, nodes)
        self._route([user_id], Envelope(Kind.HOLD, self.node_id, user_id=user_id, nodes=nodes).encode())

    def _route(self, user_ids: Sequence[str], payload: str) -> None:
        """Publish to every other node holding a socket of any of these users (once each)."""
        self.link.route(_ROUTE, self._route_args, [self.prefix + "online:" + u for u in user_ids], payload)

    # ------------------------------------------------------------------ receiving
    def _on_message(self, channel: str, payload: bytes) -> None:
        if channel.startswith(self.presence_channels):
            if self.presence is not None:
                self.presence.received(payload)
            return
        for one in unbundle(payload):
            try:
                envelope = Envelope.decode(one)
            except (ValueError, KeyError):  # one bad envelope must not cost the others of its bundle
                log.warning("an envelope no node wrote was dropped")
                continue
            if envelope.origin != self.node_id:  # this node's own were handled when sent
                self._handlers[envelope.kind](envelope)

    def _on_push(self, envelope: Envelope) -> None:
        if envelope.id in self._seen:
            return  # the same envelope on another local receiver's channel
        self._seen[envelope.id] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        delivery = envelope.delivery
        assert delivery is not None
        if delivery.kind is DeliveryKind.MESSAGE and delivery.conversation_id is not None:
            # stored by another node: markers here may move up to it
            self.endpoint.message_stored_elsewhere(delivery.conversation_id, delivery.seq)
        self._receive(delivery)

    def _on_conversation(self, envelope: Envelope) -> None:
        if envelope.conversation_id is not None:
            self.endpoint.conversation_changed_elsewhere(envelope.conversation_id, envelope.school or "",
                                                         envelope.members)

    def _on_safety(self, envelope: Envelope) -> None:
        if envelope.topic is not None and envelope.key is not None:
            self.endpoint.safety_changed_elsewhere(envelope.topic, envelope.key)

    def _on_resync(self, envelope: Envelope) -> None:
        self._tell_resync()

    def _on_hold(self, envelope: Envelope) -> None:
        if envelope.user_id is not None:
            self.limiter.share(envelope.user_id, envelope.nodes)

    def _receive(self, delivery: Delivery) -> None:
        if delivery.kind is DeliveryKind.MESSAGE:
            self.order.offer(delivery)
        else:
            self.endpoint.deliver(delivery)

    def _deliver(self, delivery: Delivery) -> None:
        self.endpoint.deliver(delivery)

    async def _fetch(self, cid: str, after: int, before: int, sample: Delivery) -> List[Delivery]:
        docs = await self.store.messages.history(cid, before, after, max(1, before - after - 1))
        out = []
        for doc in docs:
            if is_tombstone(doc):
                continue  # fills its seq but is never pushed: the buffer skips it like a refused seq
            view = render.message(doc)
            out.append(Delivery(DeliveryKind.MESSAGE, p.push(p.Message.NEW, view), sample.users, sample.school,
                                view["conversationId"], view["seq"], view["senderId"]))
        return out

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

    # ------------------------------------------------------------------ outages
    def _on_restore(self) -> None:
        """Redis is back (or a publish failed earlier): every client of every node resyncs."""
        if self.presence is not None:
            self.presence.restored()
        self._tell_resync()
        self.link.publish([self.all_channel], Envelope(Kind.RESYNC, self.node_id).encode())

    def _tell_resync(self) -> None:
        self.resyncs += 1
        self.endpoint.resync_all()
