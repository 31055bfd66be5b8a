"""The daily upload quota shared by every node of a cluster, in Redis.

One hash per user and UTC day (``<prefix>upq:<user>:<day>``, expiring two days later): the field
``used`` (the bytes stored that day, read from the database the first time and counted here
from then on) and one field per upload in flight, ``<node>:<upload>``, its reservation. One Lua
script sums them and takes a reservation only when the sum stays within the quota, so uploads
of one user on several nodes are checked and taken atomically. A reservation of a node whose
heartbeat key is gone (the node died mid-upload) is dropped by the next check, as presence
drops its sockets.

While Redis is unreachable when an upload starts, the node keeps that upload's reservation in
its own ledger (:class:`chat.uploads.quota.LocalQuota`): uploads go on, checked against the
database and the node's own uploads in flight. A Redis failure in the middle of an upload held
in Redis refuses it with ``unavailable``.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from redis.exceptions import RedisError

from chat.errors import Unavailable
from chat.uploads.quota import DAY_MS, Hold, LocalQuota, UsedSince

log = logging.getLogger("chat.cluster.quota")

KEEP_SECONDS = 2 * 86400

# KEYS[1] the hash; ARGV field, amount, quota, key prefix, this node, seconds to keep.
# Returns -1 when the hash has no `used` yet (read it from the database, then SEED), 0 when
# refused, 1 when taken.
_RESERVE = """
if redis.call('HEXISTS', KEYS[1], 'used') == 0 then return -1 end
local total, flat = 0, redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  local field, value = flat[i], tonumber(flat[i + 1]) or 0
  if field ~= 'used' then
    local node = string.match(field, '^([^:]+):')
    if node ~= ARGV[5] and redis.call('EXISTS', ARGV[4] .. 'node:' .. node) == 0 then
      redis.call('HDEL', KEYS[1], field)
      value = 0
    end
  end
  total = total + value
end
if total + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""
# KEYS[1] the hash; ARGV bytes stored before today's first reservation, seconds to keep
_SEED = """
redis.call('HSETNX', KEYS[1], 'used', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
# KEYS[1] the hash; ARGV field, bytes stored (0: none). A hash made again meanwhile (Redis lost
# it) still gets the stored bytes: counted twice at worst, never missed.
_SETTLE = """
redis.call('HDEL', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and redis.call('HEXISTS', KEYS[1], 'used') == 1 then
  redis.call('HINCRBY', KEYS[1], 'used', ARGV[2])
end
return 1
"""


class RedisQuota:
    """:class:`chat.uploads.quota.Quota` over the node's Redis link (see the module doc)."""

    def __init__(self, link: Any, prefix: str, node_id: str, limit: int, used_since: UsedSince) -> None:
        self.link = link
        self.prefix = prefix
        self.node_id = node_id
        self.limit = limit
        self._used_since = used_since
        self.local = LocalQuota(limit, used_since)

    def open(self, user_id: str) -> Hold:
        hold = self.local.open(user_id)
        hold.local = not self.link.up or self.link.client is None
        return hold

    async def reserve(self, hold: Hold, amount: int) -> bool:
        if hold.local:
            return await self.local.reserve(hold, amount)
        key, field = self._key(hold), self._field(hold)
        try:
            taken = await self._reserve(key, field, amount)
            if taken < 0:
                used = await self._used_since(hold.user_id, hold.day * DAY_MS)
                await self.link.client.eval(_SEED, 1, key, used, KEEP_SECONDS)
                taken = await self._reserve(key, field, amount)
        except (RedisError, OSError) as exc:
            log.warning("upload quota: redis failed (%s); the upload is refused", exc)
            raise Unavailable("the upload quota cannot be checked now, try again") from exc
        if taken != 1:
            return False
        hold.held += amount
        if hold.settled:  # ended while Redis answered: give this back too
            hold.settled = False
            await self.settle(hold, None)
        return True

    async def settle(self, hold: Hold, stored: Optional[int]) -> None:
        if hold.local:
            await self.local.settle(hold, stored)
            return
        if hold.settled:
            return
        hold.settled = True
        try:
            await self.link.client.eval(_SETTLE, 1, self._key(hold), self._field(hold), stored or 0)
        except (RedisError, OSError) as exc:
            # the reservation stays counted until the key expires: the user may upload less today
            log.warning("upload quota: a reservation of %d bytes could not be given back (%s)", hold.held, exc)

    async def _reserve(self, key: str, field: str, amount: int) -> int:
        return int(await self.link.client.eval(_RESERVE, 1, key, field, amount, self.limit, self.prefix,
                                               self.node_id, KEEP_SECONDS))

    def _key(self, hold: Hold) -> str:
        return "%supq:%s:%d" % (self.prefix, hold.user_id, hold.day)

    def _field(self, hold: Hold) -> str:
        return "%s:%s" % (self.node_id, hold.key)

