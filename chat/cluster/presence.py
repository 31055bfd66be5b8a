"""Presence across nodes: online while any node has a socket of the user, offline after the last.

Redis holds, per user, the nodes with a socket of theirs (``online:<user>``: node -> sockets)
and, per node, a heartbeat key that expires after ``cluster_node_ttl`` seconds unless renewed
(every third of it); the same registry routes pushes (:mod:`chat.cluster.node`) and counts
sockets for the cap. Every socket open and close runs a Lua script that counts the *live* nodes
holding the user atomically, so a phone on one node
and a laptop on another never make the user flap: ``user:online`` goes out when the first node
gets the user, ``user:offline`` when the last one lets go. The online users of a school, with
what presence rules need (role, classes, contacts), are kept in ``presence:<school>``, and
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
import logging
from typing import Any, Dict, Optional

import ujson

from chat import protocol as p
from chat.clock import Clock, Timer
from chat.connections import ConnectionManager, Presence
from chat.timeutil import iso, now_ms

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


def _doc(presence: Presence) -> str:
    return ujson.dumps({"userId": presence.user_id, "name": presence.name, "role": presence.role,
                        "school": presence.school, "classIds": sorted(presence.class_ids),
                        "contacts": sorted(presence.contacts), "since": presence.since})


def _presence(doc: Dict[str, Any]) -> Presence:
    return Presence(doc["userId"], doc["name"], doc["role"], doc["school"], frozenset(doc["classIds"]),
                    frozenset(doc["contacts"]), int(doc.get("since", 0)))


class ClusterPresence:
    """See the module doc. ``local`` is the node's connection manager (its own sockets);
    ``remote`` indexes users online only on other nodes."""

    def __init__(self, node: Any, local: ConnectionManager, clock: Clock, ttl: float, max_sockets: int) -> None:
        self.node = node
        self.link = node.link
        self.prefix = node.prefix
        self.node_id = node.node_id
        self.local = local
        self.remote = ConnectionManager()
        self.clock = clock
        self.ttl = max(ttl, 0.3)  # the heartbeat runs every third of it
        self.max_sockets = max_sockets
        self.reaped = 0
        self._beaten = False
        self._missing: Dict[str, int] = {}
        self._loading = 0  # school snapshots being read
        self._ops: "asyncio.Queue[Any]" = asyncio.Queue()
        self._worker: Optional["asyncio.Task[None]"] = None
        self._beat: Optional[Timer] = None
        self._schools: Dict[str, int] = {}

    # ------------------------------------------------------------------ local sockets
    def opened(self, conn_id: str, presence: Presence, first_here: bool) -> None:
        """A socket of the user opened on this node."""
        if first_here:
            self._want_school(presence.school)
        self._enqueue(("open", conn_id, presence, first_here))

    def closed(self, conn_id: str, presence: Presence, last_here: bool) -> None:
        """A socket of the user closed on this node."""
        self._enqueue(("close", conn_id, presence, last_here))

    def _enqueue(self, op: Any) -> None:
        # one worker, in order: an open and a close of one user never overtake each other
        self._ops.put_nowait(op)
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._work())

    async def _work(self) -> None:
        try:
            while not self._ops.empty():
                op = self._ops.get_nowait()
                presence = op[2]
                try:
                    await (self._open(op[1], presence, op[3]) if op[0] == "open" else self._close(presence, op[3]))
                except Exception as exc:  # Redis away: as in one process, local sockets only
                    log.info("presence through redis failed (%s); told local sockets only", exc)
                    if op[3]:  # the first socket here opened, or the last one closed
                        kind = "on" if op[0] == "open" else "off"
                        self._tell_local(kind, presence, self.local.audience(presence))
                if op[0] == "close" and op[3]:
                    self._unwant_school(presence.school)
        finally:
            self._worker = None

    @property
    def pending(self) -> int:
        """Socket opens and closes not yet settled in Redis, and school snapshots being read
        (metrics, test barriers)."""
        return self._ops.qsize() + (1 if self._worker is not None else 0) + self._loading

    def _keys(self, presence: Presence, node_id: str) -> list:
        return [self.prefix + "online:" + presence.user_id, self.prefix + "users:" + node_id,
                self.prefix + "presence:" + presence.school]

    async def _open(self, conn_id: str, presence: Presence, first_here: bool) -> None:
        client = self._client()
        first, sockets, nodes = await client.eval(_OPEN, 3, *self._keys(presence, self.node_id), self.node_id,
                                                  self.prefix, presence.user_id, _doc(presence))
        if int(sockets) > self.max_sockets and conn_id in self.local.connections:
            self.node.refuse_socket(conn_id, self.max_sockets)
        if int(first):
            self._announce("on", presence, self.node_id)
        if first_here:
            self.node.holders_changed(presence.user_id, int(nodes))

    async def _close(self, presence: Presence, last_here: bool) -> None:
        client = self._client()
        gone, nodes = await client.eval(_CLOSE, 3, *self._keys(presence, self.node_id), self.node_id, self.prefix,
                                        presence.user_id, "0")
        if int(gone) and last_here:
            self._announce("off", presence, self.node_id)
        elif last_here:
            self.remote.add("remote:" + presence.user_id, presence)  # still online on another node
        if last_here:
            self.node.holders_changed(presence.user_id, int(nodes))

    def _client(self) -> Any:
        if not self.link.up or self.link.client is None:
            raise ConnectionError("redis link down")
        return self.link.client

    def _announce(self, kind: str, presence: Presence, node_id: str) -> None:
        when = now_ms()
        if node_id == self.node_id:  # this node's user: its local peers hear it from here
            self.remote.remove("remote:" + presence.user_id)
            peers = self.local.peers(presence.school, presence.role, presence.class_ids, presence.contacts,
                                     presence.user_id)
            self._tell_local(kind, presence, peers, when)
        else:  # a dead node's user
            self._apply(kind, presence, when)
        self.link.publish([self.prefix + "p:" + presence.school],
                          ujson.dumps({"t": kind, "n": self.node_id, "d": ujson.loads(_doc(presence)), "at": when}))

    # ------------------------------------------------------------------ other nodes' changes
    def received(self, env: Dict[str, Any]) -> None:
        """A presence change announced by another node."""
        self._apply(env["t"], _presence(env["d"]), int(env.get("at") or now_ms()))

    def _apply(self, kind: str, presence: Presence, when: int) -> None:
        uid = presence.user_id
        if kind == "on":
            self.remote.add("remote:" + uid, presence)  # kept also for a local user, for after it leaves here
            if uid in self.local.users:
                return  # online here already: local sockets saw it come online
            self._tell_local("on", presence, self.local.peers(presence.school, presence.role, presence.class_ids,
                                                              presence.contacts, uid))
        else:
            self.remote.remove("remote:" + uid)
            if uid in self.local.users:
                return
            self._tell_local("off", presence, self.local.peers(presence.school, presence.role, presence.class_ids,
                                                               presence.contacts, uid), when)

    def _tell_local(self, kind: str, presence: Presence, receivers: Any, when: Optional[int] = None) -> None:
        if kind == "on":
            self.local.publish_frame(p.push(p.User.ONLINE, presence.public()), receivers)
        else:
            data = dict(presence.public(), lastSeen=iso(when or now_ms()))
            self.local.publish_frame(p.push(p.User.OFFLINE, data), receivers)

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
            self.remote.remove("remote:" + uid)

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
            if presence.user_id not in self.local.users and presence.user_id not in self.remote.users:
                self.remote.add("remote:" + presence.user_id, presence)

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
                              _doc(presence), len(self.local.by_user.get(uid, ())))
        held = await client.hgetall(self.prefix + "users:" + self.node_id)
        for raw_uid, raw_doc in held.items():
            uid = raw_uid.decode() if isinstance(raw_uid, bytes) else raw_uid
            if uid in self.local.users:
                continue
            presence = _presence(ujson.loads(raw_doc))
            gone, nodes = await client.eval(_CLOSE, 3, *self._keys(presence, self.node_id), self.node_id,
                                            self.prefix, uid, "1")
            if int(gone):
                self._announce("off", presence, self.node_id)

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
                    presence = self.remote.users.get(uid)
                    if presence is not None:
                        self._apply("off", presence, now_ms())

    # ------------------------------------------------------------------ heartbeat and reaping
    def start(self) -> None:
        self._heartbeat()

    def stop(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None

    async def close(self, timeout: float = 5.0) -> None:
        """At shutdown: settle the socket closes in Redis (their users go offline now, not
        after the TTL), stop the heartbeat and drop this node's key."""
        self.stop()
        await asyncio.sleep(0)  # the session closes the transport scheduled run first
        worker = self._worker
        if worker is not None:
            try:
                await asyncio.wait_for(asyncio.shield(worker), timeout)
            except asyncio.TimeoutError:
                log.warning("presence of %d sockets not settled at shutdown; the TTL will", self._ops.qsize())
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
                              _doc(presence), len(self.local.by_user.get(uid, ())))
            self.link.publish([self.prefix + "p:" + presence.school],
                              ujson.dumps({"t": "on", "n": self.node_id, "d": ujson.loads(_doc(presence)),
                                           "at": now_ms()}))

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
                    self._announce("off", presence, dead)
                self.node.holders_changed(presence.user_id, int(nodes))
            await client.delete(self.prefix + "users:" + dead)
            await client.srem(self.prefix + "nodes", dead)
            self.reaped += 1
            log.warning("node %s stopped answering: %d of its users handled", dead, len(users))
