"""Presence across nodes: online while any node has a socket of the user, offline after the last.

Redis holds, per user, the nodes with a socket of theirs (``online:<user>``: node -> sockets)
and, per node, a heartbeat key that expires after ``cluster_node_ttl`` seconds unless renewed
(every third of it); the same registry routes pushes (:mod:`chat.cluster.broker`) and counts
sockets for the cap. Every socket open and close runs a Lua script that counts the *live* nodes
holding the user atomically, so a phone on one node
and a laptop on another never make the user flap: ``user:online`` goes out when the first node
gets the user, ``user:offline`` when the last one lets go. The online users of a school, with
what presence rules need (role, classes), are kept in ``presence:<school>``, and
changes go out on ``p:<school>``; a node subscribes to the schools of its local users and keeps
the others' online users in a second index, so ``presence:list`` and the rules see everyone.

A node that dies stops renewing its heartbeat: after the TTL another node claims it (one
``SET NX``), takes its users offline where no live node holds them, and announces it.
While Redis is away presence works as in one process (local sockets only); when it is back each
node registers its sockets again (announcing its users if its heartbeat had lapsed), takes the
users who left meanwhile offline, and drops remote users nobody registers any more.
"""
from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
from typing import Any, Callable, Dict, List, Optional, Protocol, Set

import ujson

from chat.clock import Clock, Timer
from chat.presence.backend import Announce
from chat.presence.relation import ContactsOf, OnlineIndex, Presence
from chat.presence.serial import SerialWork
from chat.timeutil import now_ms

log = logging.getLogger("chat.cluster.presence")

# Every script: KEYS online:<user> (node -> its sockets of the user), users:<node> (user -> presence
# json), presence:<school> (user -> presence json); ARGV node, key prefix, user[, presence json].
# A field of a node whose heartbeat key is gone is dropped wherever it is met.
_LIVE = """
local function live(key, node, prefix)
  local nodes, sockets = 0, 0
  for _, n in ipairs(redis.call('HKEYS', key)) do
    if n == node or redis.call('EXISTS', prefix .. 'node:' .. n) == 1 then
      local c = tonumber(redis.call('HGET', key, n)) or 0
      if c > 0 then nodes = nodes + 1; sockets = sockets + c end
    else
      redis.call('HDEL', key, n)
    end
  end
  return nodes, sockets
end
"""
# a socket opened: returns {1 if the user was offline everywhere, the user's sockets everywhere,
# nodes holding the user}
_OPEN = _LIVE + """
local before = live(KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
local nodes, sockets = live(KEYS[1], ARGV[1], ARGV[2])
local first = 0
if before == 0 then
  first = 1
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
end
return {first, sockets, nodes}
"""
# a socket closed (ARGV[4] = 1: all of the node's sockets of the user, a dead node's):
# returns {1 if the user is now offline everywhere, nodes still holding the user}
_CLOSE = _LIVE + """
local mine = 0
if ARGV[4] ~= '1' then mine = redis.call('HINCRBY', KEYS[1], ARGV[1], -1) end
if mine <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]); redis.call('HDEL', KEYS[2], ARGV[3]) end
local nodes = live(KEYS[1], ARGV[1], ARGV[2])
if nodes == 0 then redis.call('HDEL', KEYS[3], ARGV[3]); return {1, 0} end
return {0, nodes}
"""
# after Redis came back empty: the node's sockets of the user, registered again silently
_HOLD = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


def _doc(presence: Presence) -> Dict[str, Any]:
    return {"userId": presence.user_id, "name": presence.name, "role": presence.role,
            "school": presence.school, "classIds": sorted(presence.class_ids), "since": presence.since}


def _presence(doc: Dict[str, Any]) -> Presence:
    return Presence(doc["userId"], doc["name"], doc["role"], doc["school"], frozenset(doc["classIds"]),
                    int(doc.get("since", 0)))


class Change(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


@dataclasses.dataclass(slots=True, frozen=True)
class PresenceChange:
    """What a node publishes on ``p:<school>`` when a user comes online or goes offline."""

    change: Change
    node: str
    presence: Presence
    at: int

    def encode(self) -> str:
        return ujson.dumps({"change": self.change.value, "node": self.node, "presence": _doc(self.presence),
                            "at": self.at})

    @classmethod
    def decode(cls, payload: bytes) -> "PresenceChange":
        raw = ujson.loads(payload)
        return cls(Change(raw["change"]), raw["node"], _presence(raw["presence"]), int(raw["at"]))


class Link(Protocol):
    """What the backend needs of the Redis link (:class:`chat.cluster.link.RedisLink`)."""

    up: bool
    client: Any

    def publish(self, channels: Any, payload: str) -> None: ...

    def want(self, channel: str) -> None: ...

    def unwant(self, channel: str) -> None: ...

    async def confirmed(self, channel: str, timeout: float = 10.0) -> None: ...


class LocalSockets(Protocol):
    """What the backend needs of this node's connection manager."""

    online: OnlineIndex

    def sockets_of(self, user_id: str) -> int: ...

    def is_open(self, conn_id: str) -> bool: ...


class SharedPresence:
    """The :class:`chat.presence.backend.PresenceBackend` of a cluster node (see the module doc).

    ``sockets`` is the node's connection manager (its own sockets and their users), ``remote``
    indexes users online only on other nodes. ``refuse`` closes a socket over the cap;
    ``holders_changed`` hears how many nodes hold a user's sockets (for shared rate limits)."""

    def __init__(self, link: Link, prefix: str, node_id: str, sockets: LocalSockets, contacts_of: ContactsOf,
                 announce: Announce, refuse: Callable[[str], None], holders_changed: Callable[[str, int], None],
                 clock: Clock, ttl: float, max_sockets: int) -> None:
        self.link = link
        self.prefix = prefix
        self.node_id = node_id
        self.sockets = sockets
        self.local = sockets.online
        self.remote = OnlineIndex()
        self.contacts_of = contacts_of
        self.announce = announce
        self.refuse = refuse
        self.holders_changed = holders_changed
        self.clock = clock
        self.ttl = max(ttl, 0.3)  # the heartbeat runs every third of it
        self.max_sockets = max_sockets
        self.reaped = 0
        self._beaten = False
        self._missing: Dict[str, int] = {}
        self._loading = 0  # school snapshots being read
        self._ops = SerialWork(self._run)  # in order: a user's open and close never overtake each other
        self._opening: Dict[str, "asyncio.Future[None]"] = {}  # conn id -> its open settled in Redis
        self._beat: Optional[Timer] = None
        self._schools: Dict[str, int] = {}

    # ------------------------------------------------------------------ what presence rules ask
    def is_online(self, user_id: str) -> bool:
        return user_id in self.local or user_id in self.remote

    def peer(self, user_id: str) -> Optional[Presence]:
        return self.local.peer(user_id) or self.remote.peer(user_id)

    def peers(self, presence: Presence) -> Set[str]:
        contacts = self.contacts_of(presence.user_id, presence.school)
        return self.local.peers(presence, contacts) | self.remote.peers(presence, contacts)

    def _local_peers(self, presence: Presence) -> Set[str]:
        return self.local.peers(presence, self.contacts_of(presence.user_id, presence.school))

    def stats(self) -> Dict[str, Any]:
        return {"reaped": self.reaped, "remoteOnline": len(self.remote), "presencePending": self.pending}

    # ------------------------------------------------------------------ local sockets
    def opened(self, conn_id: str, presence: Presence, first_here: bool) -> None:
        """A socket of the user opened on this node."""
        if first_here:
            self._want_school(presence.school)
        done = self._ops.put(("open", conn_id, presence, first_here))
        self._opening[conn_id] = done
        done.add_done_callback(lambda _f: self._opening.pop(conn_id, None))

    async def registered(self, conn_id: str) -> None:
        """Wait (at most a heartbeat period) until Redis counts the socket. Without it a
        client could open a phone here, have an answer on it and close its laptop on another
        node, which, not seeing the phone yet, would take the user offline for a moment."""
        done = self._opening.get(conn_id)
        if done is None:
            return
        gave_up: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
        def give_up() -> None:
            if not gave_up.done():
                gave_up.set_result(None)
        timer = self.clock.call_later(self.ttl / 3, give_up)  # the injected clock
        try:
            await asyncio.wait([done, gave_up], return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if not done.done():
            log.info("presence of socket %s not settled in redis yet; going on", conn_id)

    def closed(self, conn_id: str, presence: Presence, last_here: bool) -> None:
        """A socket of the user closed on this node."""
        self._ops.put(("close", conn_id, presence, last_here))

    async def _run(self, ops: List[Any]) -> None:
        """Socket opens and closes, in order, in one pipeline of scripts (each atomic in Redis)."""
        try:
            client = self._client()
            pipe = client.pipeline(transaction=False)
            for kind, _conn_id, presence, _edge in ops:
                pipe.eval(_OPEN if kind == "open" else _CLOSE, 3, *self._keys(presence, self.node_id),
                          self.node_id, self.prefix, presence.user_id,
                          ujson.dumps(_doc(presence)) if kind == "open" else "0")
            results: List[Any] = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # Redis away: as in one process, local sockets only
            results = [exc] * len(ops)
        for op, result in zip(ops, results, strict=True):
            kind, conn_id, presence, edge = op
            try:
                if isinstance(result, Exception):
                    log.info("presence through redis failed (%s); told local sockets only", result)
                    if edge:  # the first socket here opened, or the last one closed
                        self.announce(kind == "open", presence, self._local_peers(presence), None)
                elif kind == "open":
                    self._opened(conn_id, presence, edge, result)
                else:
                    self._closed(presence, edge, result)
            except Exception:  # one socket's trouble must not leave the others of the batch unsettled
                log.exception("presence of %s not settled", presence.user_id)
            if kind == "close" and edge:
                self._unwant_school(presence.school)

    @property
    def pending(self) -> int:
        """Socket opens and closes not yet settled in Redis, and school snapshots being read
        (metrics, test barriers)."""
        return self._ops.pending + self._loading

    def _keys(self, presence: Presence, node_id: str) -> list:
        return [self.prefix + "online:" + presence.user_id, self.prefix + "users:" + node_id,
                self.prefix + "presence:" + presence.school]

    def _opened(self, conn_id: str, presence: Presence, first_here: bool, result: Any) -> None:
        """What the open script answered: {first anywhere, sockets anywhere, nodes}."""
        first, sockets, nodes = result
        if int(sockets) > self.max_sockets and self.sockets.is_open(conn_id):
            self.refuse(conn_id)
        if int(first):
            self._announce(Change.ONLINE, presence, self.node_id)
        if first_here:
            self.holders_changed(presence.user_id, int(nodes))

    def _closed(self, presence: Presence, last_here: bool, result: Any) -> None:
        """What the close script answered: {gone everywhere, nodes still holding the user}."""
        gone, nodes = result
        if int(gone) and last_here:
            self._announce(Change.OFFLINE, presence, self.node_id)
        elif last_here:
            self.remote.add(presence)  # still online on another node
        if last_here:
            self.holders_changed(presence.user_id, int(nodes))

    def _client(self) -> Any:
        if not self.link.up or self.link.client is None:
            raise ConnectionError("redis link down")
        return self.link.client

    def _announce(self, change: Change, presence: Presence, node_id: str) -> None:
        when = now_ms()
        if node_id == self.node_id:  # this node's user: its local peers hear it from here
            known = self.remote.remove(presence.user_id) is not None
            if not (change is Change.ONLINE and known):  # (known online elsewhere: they heard already)
                self.announce(change is Change.ONLINE, presence, self._local_peers(presence), when)
        else:  # a dead node's user
            self._apply(change, presence, when)
        self.link.publish([self.prefix + "p:" + presence.school],
                          PresenceChange(change, self.node_id, presence, when).encode())

    # ------------------------------------------------------------------ other nodes' changes
    def received(self, payload: bytes) -> None:
        """A presence change published by a node (this node's own are left out)."""
        message = PresenceChange.decode(payload)
        if message.node != self.node_id:
            self._apply(message.change, message.presence, message.at)

    def _apply(self, change: Change, presence: Presence, when: int) -> None:
        """Another node's user changed. Local peers hear of a change only once: a node whose
        heartbeat lapsed registers its users again and says they are online, which for a user
        already known online here changes nothing."""
        uid = presence.user_id
        if change is Change.ONLINE:
            known = uid in self.remote
            self.remote.add(presence)  # kept also for a local user, for after it leaves here
            if known or uid in self.local:
                return  # local sockets saw it come online already
            self.announce(True, presence, self._local_peers(presence), None)
        else:
            known = self.remote.remove(uid) is not None
            if not known or uid in self.local:
                return
            self.announce(False, presence, self._local_peers(presence), when)

    # ------------------------------------------------------------------ schools
    def _want_school(self, school: str) -> None:
        refs = self._schools.get(school, 0)
        self._schools[school] = refs + 1
        if refs == 0:
            self.link.want(self.prefix + "p:" + school)
            asyncio.ensure_future(self._load_school(school))

    def _unwant_school(self, school: str) -> None:
        refs = self._schools.get(school, 0) - 1
        if refs > 0:
            self._schools[school] = refs
            return
        self._schools.pop(school, None)
        self.link.unwant(self.prefix + "p:" + school)
        for uid in [u for u, pr in self.remote.users.items() if pr.school == school]:
            self.remote.remove(uid)

    async def _load_school(self, school: str) -> None:
        """Who is online elsewhere in a school this node just started serving (read once the
        school's channel is subscribed, so no change falls between the two)."""
        self._loading += 1
        try:
            await self.link.confirmed(self.prefix + "p:" + school)
            rows = await self._client().hgetall(self.prefix + "presence:" + school)
        except Exception:
            return  # loaded again when the link is restored
        finally:
            self._loading -= 1
        for raw in rows.values():
            presence = _presence(ujson.loads(raw))
            if presence.user_id not in self.local and presence.user_id not in self.remote:
                self.remote.add(presence)

    def restored(self) -> None:
        """The link is back (Redis may have restarted empty): register the local users again
        and reload the schools (changes published meanwhile were missed)."""
        asyncio.ensure_future(self._restore())

    async def _restore(self) -> None:
        await self._beat_once()  # a Redis that came back empty lost the heartbeat: users registered again
        try:
            await self._reconcile(self._client())
        except Exception as exc:
            log.info("could not reconcile presence yet: %s", exc)
        for school in list(self._schools):
            await self._load_school(school)

    async def _reconcile(self, client: Any) -> None:
        """After an outage: this node's socket counts as they are now, and the users whose last
        socket closed meanwhile (Redis never heard) taken offline."""
        for uid, presence in list(self.local.users.items()):
            await client.eval(_HOLD, 3, *self._keys(presence, self.node_id), self.node_id, self.prefix, uid,
                              ujson.dumps(_doc(presence)), self.sockets.sockets_of(uid))
        held = await client.hgetall(self.prefix + "users:" + self.node_id)
        for raw_uid, raw_doc in held.items():
            uid = raw_uid.decode() if isinstance(raw_uid, bytes) else raw_uid
            if uid in self.local:
                continue
            presence = _presence(ujson.loads(raw_doc))
            gone, nodes = await client.eval(_CLOSE, 3, *self._keys(presence, self.node_id), self.node_id,
                                            self.prefix, uid, "1")
            if int(gone):
                self._announce(Change.OFFLINE, presence, self.node_id)

    async def _verify(self, client: Any) -> None:
        """Users this node believes online elsewhere but whom no node has registered for two
        heartbeats in a row (an announcement lost in an outage) are taken offline here."""
        for school in list(self._schools):
            uids = [u for u, pr in self.remote.users.items() if pr.school == school]
            if not uids:
                continue
            found = await client.hmget(self.prefix + "presence:" + school, uids)
            for uid, doc in zip(uids, found, strict=True):
                if doc is not None:
                    self._missing.pop(uid, None)
                    continue
                self._missing[uid] = self._missing.get(uid, 0) + 1
                if self._missing[uid] >= 2:
                    del self._missing[uid]
                    presence = self.remote.peer(uid)
                    if presence is not None:
                        self._apply(Change.OFFLINE, presence, now_ms())

    # ------------------------------------------------------------------ heartbeat and reaping
    async def start(self) -> None:
        """The first heartbeat before the first socket: another node meeting this node's
        sockets in the registry before its heartbeat key exists would take them for a dead
        node's and drop them."""
        await self._beat_once()
        self._beat = self.clock.call_later(self.ttl / 3, self._heartbeat)

    def stop(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None

    async def close(self, timeout: float = 5.0) -> None:
        """At shutdown: settle the socket closes in Redis (their users go offline now, not
        after the TTL), stop the heartbeat and drop this node's key."""
        self.stop()
        await asyncio.sleep(0)  # the session closes the transport scheduled run first
        if not await self._ops.settle(timeout):
            log.warning("presence of %d sockets not settled at shutdown; the TTL will", self._ops.pending)
        try:
            client = self._client()
            await client.delete(self.prefix + "node:" + self.node_id)
            await client.srem(self.prefix + "nodes", self.node_id)
        except Exception as exc:
            log.info("could not remove this node's heartbeat: %s", exc)

    def _heartbeat(self) -> None:
        self._beat = self.clock.call_later(self.ttl / 3, self._heartbeat)
        asyncio.ensure_future(self._beat_once())

    async def _beat_once(self) -> None:
        try:
            client = self._client()
            before = await client.set(self.prefix + "node:" + self.node_id, "1", px=int(self.ttl * 1000), get=True)
            await client.sadd(self.prefix + "nodes", self.node_id)
            if before is None and self._beaten:
                await self._lapsed(client)
            self._beaten = True
            await self._reap(client)
            await self._verify(client)
        except Exception as exc:
            log.debug("heartbeat skipped: %s", exc)

    async def _lapsed(self, client: Any) -> None:
        """This node's heartbeat expired (a long stall, or Redis restarted): other nodes may have
        taken its users offline. Register them again and say they are online."""
        log.warning("heartbeat lapsed; registering %d local users again", len(self.local.users))
        for uid, presence in list(self.local.users.items()):
            await client.eval(_HOLD, 3, *self._keys(presence, self.node_id), self.node_id, self.prefix, uid,
                              ujson.dumps(_doc(presence)), self.sockets.sockets_of(uid))
            self.link.publish([self.prefix + "p:" + presence.school],
                              PresenceChange(Change.ONLINE, self.node_id, presence, now_ms()).encode())

    async def _reap(self, client: Any) -> None:
        """Take the users of nodes whose heartbeat expired offline (one node does it)."""
        for raw in await client.smembers(self.prefix + "nodes"):
            dead = raw.decode() if isinstance(raw, bytes) else raw
            if dead == self.node_id or await client.exists(self.prefix + "node:" + dead):
                continue
            if not await client.set(self.prefix + "reap:" + dead, self.node_id, nx=True, px=int(self.ttl * 1000)):
                continue
            users = await client.hgetall(self.prefix + "users:" + dead)
            for raw_doc in users.values():
                presence = _presence(ujson.loads(raw_doc))
                gone, nodes = await client.eval(_CLOSE, 3, *self._keys(presence, dead), dead, self.prefix,
                                                presence.user_id, "1")
                if int(gone):
                    self._announce(Change.OFFLINE, presence, dead)
                self.holders_changed(presence.user_id, int(nodes))
            await client.delete(self.prefix + "users:" + dead)
            await client.srem(self.prefix + "nodes", dead)
            self.reaped += 1
            log.warning("node %s stopped answering: %d of its users handled", dead, len(users))
