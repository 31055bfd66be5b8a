"""The Redis link of one node: publishing, subscriptions, and surviving Redis outages.

Redis carries live events only (MongoDB stays the source of truth), so the link never makes a
send wait or fail: publishes are queued and written in one pipeline per loop turn, and while
Redis is unreachable they are dropped and counted. The subscriber reconnects with backoff; when
the link is back every wanted channel is subscribed again (logged) and ``on_restore`` runs, which
tells clients to resync: whatever was dropped meanwhile is in MongoDB and comes back by ``sync``.
A publish that failed while the subscriber still looked up has the same effect once a publish
gets through again.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Union

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from chat.settings import mask_uri

log = logging.getLogger("chat.cluster.link")

RETRY_FIRST = 0.1
RETRY_MAX = 2.0

#: (channel, payload) of one received message
OnMessage = Callable[[str, bytes], None]

MAX_ROUTED = 256  # payloads per routing script call (Redis runs a script without interruption)


class RouteBatch:
    """Payloads of one loop turn routed by one Lua script call: ``KEYS`` each key once,
    ``ARGV`` the script's fixed arguments, then per payload the payload and the 1-based
    indices of its keys, space-separated. One call instead of one per push: the script text,
    the receivers' keys (a conversation's pushes share them) and a command's overhead travel
    once per turn."""

    __slots__ = ("script", "fixed", "keys", "args", "count")

    def __init__(self, script: str, fixed: Sequence[str]) -> None:
        self.script = script
        self.fixed = list(fixed)
        self.keys: Dict[str, int] = {}
        self.args: List[str] = []
        self.count = 0

    def add(self, keys: Sequence[str], payload: str) -> None:
        index = self.keys
        positions = []
        for key in keys:
            at = index.get(key)
            if at is None:
                at = index[key] = len(index) + 1
            positions.append(at)
        self.args.append(payload)
        self.args.append(" ".join(map(str, positions)))
        self.count += 1

    def command(self) -> List[Any]:
        return ["EVAL", self.script, len(self.keys), *self.keys, *self.fixed, *self.args]


class RedisLink:
    """One node's connection to Redis (see the module doc)."""

    def __init__(self, url: str, on_message: OnMessage, on_restore: Callable[[], None],
                 always: Sequence[str] = ()) -> None:
        self.url = url
        self.on_message = on_message
        self.on_restore = on_restore
        self.always = list(always)          # channels subscribed for the link's whole life
        self.wanted: Dict[str, int] = {}    # channel -> references (local users needing it)
        self.pending: Set[str] = set()      # subscribed, not yet confirmed by Redis
        self._waiters: Dict[str, List["asyncio.Future[None]"]] = {}
        self.up = False
        self.restores = 0
        self.published = 0
        self.dropped = 0
        self.received = 0
        self.client: Optional[aioredis.Redis] = None
        self._sub_client: Optional[aioredis.Redis] = None
        self._pubsub: Any = None
        self._queue: List[Union[List[Any], RouteBatch]] = []  # commands, in the order they were queued
        self._flushing: Optional["asyncio.Task[None]"] = None
        self._task: Optional["asyncio.Task[None]"] = None
        self._missed = False
        self._closing = False
        self._connected = asyncio.Event()

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        """Connect in the background (the server serves even while Redis is down)."""
        try:
            self.client = aioredis.from_url(self.url, socket_connect_timeout=2, socket_timeout=2)
        except ValueError as exc:
            log.error("--redis-url %s is not usable: %s", _redact(self.url), exc)
            raise SystemExit(2) from exc
        # the subscriber waits for messages indefinitely: no read timeout on its connection; and
        # no silent reconnect by the client library either (it would resubscribe on its own, and
        # nobody would learn that messages were missed in between: a lost link must surface here)
        self._sub_client = aioredis.from_url(self.url, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))
        self._task = asyncio.ensure_future(self._run())

    async def wait_up(self, timeout: float) -> bool:
        """True once the link is up (start-up waits a little so the first pushes are not lost)."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def close(self) -> None:
        self._closing = True
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._drop_pubsub()
        for client in (self.client, self._sub_client):
            if client is not None:
                await client.aclose()

    def stats(self) -> Dict[str, Any]:
        return {"up": self.up, "restores": self.restores, "channels": len(self.wanted),
                "subscribing": len(self.pending),
                "published": self.published, "dropped": self.dropped, "received": self.received}

    # ------------------------------------------------------------------ subscriptions
    def want(self, channel: str) -> None:
        """Reference a channel; subscribed on the first reference."""
        refs = self.wanted.get(channel, 0)
        self.wanted[channel] = refs + 1
        if refs == 0 and self.up:
            self.pending.add(channel)
            asyncio.ensure_future(self._command("subscribe", channel))

    async def confirmed(self, channel: str, timeout: float = 10.0) -> None:
        """Return once Redis has confirmed the subscription (at once when it is not pending):
        a snapshot read after this cannot miss a change published on the channel."""
        if channel not in self.pending:
            return
        waiter: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            pass

    def _confirm(self, channel: str) -> None:
        self.pending.discard(channel)
        for waiter in self._waiters.pop(channel, ()):
            if not waiter.done():
                waiter.set_result(None)

    def unwant(self, channel: str) -> None:
        """Drop a reference; unsubscribed after the last one."""
        refs = self.wanted.get(channel, 0) - 1
        if refs > 0:
            self.wanted[channel] = refs
            return
        self.wanted.pop(channel, None)
        self.pending.discard(channel)
        if self.up:
            asyncio.ensure_future(self._command("unsubscribe", channel))

    async def _command(self, name: str, channel: str) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            return
        try:
            await getattr(pubsub, name)(channel)
        except (RedisError, OSError) as exc:
            # the reader notices the broken link and resubscribes everything when it is back
            log.debug("%s %s failed: %s", name, channel, exc)

    # ------------------------------------------------------------------ publishing
    def publish(self, channels: Sequence[str], payload: str) -> None:
        """Queue one payload for these channels; written with everything queued this turn."""
        for channel in channels:
            self._queue.append(["PUBLISH", channel, payload])
        self._schedule()

    def route(self, script: str, fixed: Sequence[str], keys: Sequence[str], payload: str) -> None:
        """Queue a payload for a Lua script that publishes it (fan-out routed in Redis, see
        :class:`RouteBatch`); consecutive routes of one turn share one script call, and
        everything keeps the order it was queued in."""
        last = self._queue[-1] if self._queue else None
        if (not isinstance(last, RouteBatch) or last.script is not script or last.fixed != list(fixed)
                or last.count >= MAX_ROUTED):
            last = RouteBatch(script, fixed)
            self._queue.append(last)
        last.add(keys, payload)
        self._schedule()

    def _schedule(self) -> None:
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                count = sum(entry.count if isinstance(entry, RouteBatch) else 1 for entry in batch)
                if not self.up or self.client is None:
                    self._lost(count)
                    continue
                pipe = self.client.pipeline(transaction=False)
                for entry in batch:
                    pipe.execute_command(*(entry.command() if isinstance(entry, RouteBatch) else entry))
                try:
                    await pipe.execute()
                except (RedisError, OSError) as exc:
                    log.warning("publishing to redis failed (%s); clients will resync", exc)
                    self._lost(count)
                    continue
                self.published += count
                if self._missed and self.up:
                    self._missed = False
                    self.on_restore()
        finally:
            self._flushing = None

    def _lost(self, count: int) -> None:
        self.dropped += count
        self._missed = True

    # ------------------------------------------------------------------ the reader
    async def _run(self) -> None:
        delay = RETRY_FIRST
        first = True
        while not self._closing:
            try:
                await self._connect()
            except (RedisError, OSError) as exc:
                if first:
                    log.warning("redis at %s does not answer (%s); retrying", _redact(self.url), exc)
                    first = False  # the first failure is logged once, then every restore
                await self._drop_pubsub()
                await asyncio.sleep(delay)  # reconnect backoff, not a wait for a result
                delay = min(delay * 2, RETRY_MAX)
                continue
            delay = RETRY_FIRST
            if first:
                log.info("redis link up (%s), %d channels", _redact(self.url), len(self.wanted))
                first = False
            else:
                self.restores += 1
                log.warning("redis link restored; resubscribed to %d channels; clients told to resync",
                            len(self.wanted))
            self.up = True
            self._connected.set()
            if self.restores or self._missed:
                self._missed = False
                self.on_restore()
            try:
                await self._read()
            except (RedisError, OSError) as exc:
                if not self._closing:
                    log.warning("redis link down (%s); sends are still stored and delivered locally", exc)
            finally:
                self.up = False
                self._missed = True
                await self._drop_pubsub()

    async def _connect(self) -> None:
        assert self.client is not None and self._sub_client is not None
        await self.client.ping()
        pubsub = self._sub_client.pubsub()
        self._pubsub = pubsub
        channels = self.always + list(self.wanted)
        self.pending = set(channels)
        await pubsub.subscribe(*channels)

    async def _read(self) -> None:
        pubsub = self._pubsub
        while not self._closing:
            msg = await pubsub.get_message(timeout=None)
            if msg is None:
                continue
            channel = msg["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            if msg.get("type") == "subscribe":
                self._confirm(channel)  # Redis registered it: publishes from now on reach us
                continue
            if msg.get("type") != "message":
                continue
            self.received += 1
            try:
                self.on_message(channel, msg["data"])
            except Exception:  # one bad message must not take the link down
                log.exception("handling a message from redis failed")

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except (RedisError, OSError):
                pass


def _redact(url: str) -> str:
    """Hide a password in a Redis URL for logs and health."""
    return mask_uri(url)
