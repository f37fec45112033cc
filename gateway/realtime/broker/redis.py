"""The Redis broker: rooms spread over Redis nodes, one pub/sub connection per node.

Each shard (a standalone node, or a cluster primary) has one redis-py ``PubSub`` connection,
one reader task and one lock. Reader tasks stop by cancellation and reconnect with backoff.
Pub/sub is at most once, so the broker says when messages may have been missed: after a
reconnect, a canary timeout or a slot move it calls ``resync(channels)``, and the registry
backfills those rooms from storage.

**Canary.** Every ``canary_interval`` each shard gets a message on a channel of its own. A
shard whose canary has not come back within ``canary_timeout`` (a connection that died
silently, or was killed) is marked unhealthy (``healthy`` is False, ``/readyz`` answers 503)
and its connection is rebuilt. A shard is healthy again, and its rooms are resynced, when a
canary arrives: the canary channel is subscribed after the rooms, on the same connection, so
its arrival proves the rooms' subscriptions are live.

**Publishing.** ``publish_many`` sends the items of each node in one pipeline
(``transaction=False``: one write, one wake-up of Redis, one read of the replies), the nodes
side by side, each bounded by ``PUBLISH_TIMEOUT``. In a cluster that is one cluster pipeline
per primary: redis-py would split a pipeline spanning primaries by node itself, but answer
only once every node had, so a primary that stopped answering would hold the others' items.

**Slot moves.** In a cluster, a ``MOVED`` answer to ``SSUBSCRIBE`` or a server-pushed
``sunsubscribe`` (the slot left this primary) makes the broker re-read the slot map and move
the affected channels to their new primary, then resync them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any

import redis.exceptions as redis_errors
from redis.asyncio.client import PubSub
from redis.asyncio.connection import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot

from gateway.realtime.broker.base import BrokerError, Deliver, Resync
from gateway.shards.layouts import Layout, NodeAddress

__all__ = ["RedisBroker"]

log = logging.getLogger(__name__)

#: Seconds a subscribe waits for Redis to confirm it.
CONFIRM_TIMEOUT = 5.0
#: Seconds a publish (one node's pipeline) may take before it counts as failed.
PUBLISH_TIMEOUT = 1.0
#: Reconnect backoff bounds (seconds).
BACKOFF_MIN, BACKOFF_MAX = 0.05, 2.0
#: Failed reconnects after which a cluster's slot map is read again (failover?).
REFRESH_AFTER_FAILURES = 3
_FAILURES = (
    redis_errors.RedisError,
    redis_errors.RedisClusterException,  # not a RedisError: no reachable node, no slot map
    OSError,
    TimeoutError,
)


class RedisBroker:
    """The ``Broker`` on Redis (standalone nodes or a cluster; see ``layouts``).

    Args:
        layout: where channels live.
        canary_interval: seconds between canary messages per shard.
        canary_timeout: seconds without a canary after which a shard is unhealthy.
        confirm_timeout: seconds a subscribe waits for Redis to confirm it.
    """

    def __init__(
        self,
        layout: Layout,
        *,
        canary_interval: float = 0.5,
        canary_timeout: float = 2.0,
        confirm_timeout: float = CONFIRM_TIMEOUT,
    ) -> None:
        self.layout = layout
        self.confirm_timeout = confirm_timeout
        self.node_id = uuid.uuid4().hex
        self.canary_interval = canary_interval
        self.canary_timeout = canary_timeout
        self.shards: dict[str, _Shard] = {}
        self.reconnects = 0
        self.canary_failures = 0
        self._deliver: Deliver | None = None
        self._resync: Resync | None = None
        self._wanted: set[str] = set()
        self._placement: dict[str, _Shard] = {}
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._rehome_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._canary_task: asyncio.Task[None] | None = None

    # -- Broker ---------------------------------------------------------------------------

    async def start(self, deliver: Deliver, resync: Resync | None = None) -> None:
        if self._deliver is not None:
            raise RuntimeError("RedisBroker.start() called twice")
        self._deliver = deliver
        self._resync = resync
        try:
            await self.layout.start()
            for node in self.layout.nodes():
                await self._add_shard(node)
        except _FAILURES as exc:
            await self.aclose()
            raise BrokerError(f"cannot reach Redis: {exc}") from exc
        self._canary_task = asyncio.create_task(self._canary_loop())

    async def aclose(self) -> None:
        if self._canary_task is not None:
            self._canary_task.cancel()
            await asyncio.gather(self._canary_task, return_exceptions=True)
            self._canary_task = None
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for shard in tuple(self.shards.values()):
            await shard.aclose()
        self.shards.clear()
        await self.layout.aclose()
        self._deliver = None

    async def subscribe(self, channel: str) -> None:
        self._wanted.add(channel)
        if channel in self._placement:
            return
        try:
            await self._place(channel)
        except BaseException:
            self._wanted.discard(channel)
            raise

    async def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        shard = self._placement.pop(channel, None)
        if shard is not None:
            await shard.unsubscribe(channel)

    async def publish(self, channel: str, payload: bytes) -> None:
        (outcome,) = await self.publish_many(((channel, payload),))
        if outcome is not None:
            raise outcome

    async def publish_many(self, items: Sequence[tuple[str, bytes]]) -> list[BrokerError | None]:
        outcomes: list[BrokerError | None] = [None] * len(items)
        by_node: dict[str, list[int]] = {}
        for index, (channel, _) in enumerate(items):
            try:
                by_node.setdefault(self.layout.owner(channel), []).append(index)
            except (*_FAILURES, RuntimeError) as exc:  # RuntimeError: no primary serves it
                outcomes[index] = BrokerError(f"publish to {channel} failed: {exc!r}")
        sends = [
            self._pipeline(node, items, indices, outcomes) for node, indices in by_node.items()
        ]
        if len(sends) == 1:
            await sends[0]
        elif sends:
            await asyncio.gather(*sends)
        return outcomes

    async def _pipeline(
        self,
        node: str,
        items: Sequence[tuple[str, bytes]],
        indices: list[int],
        outcomes: list[BrokerError | None],
    ) -> None:
        """Publish ``items[indices]`` (channels ``node`` owns) in one pipeline; write each
        one's outcome."""
        # Bounded: the changes are already stored, and a hung node must not hold the
        # publisher's channels of this node for a whole socket timeout.
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                replies = await self.layout.publish_many(node, [items[i] for i in indices])
        except (*_FAILURES, RuntimeError) as exc:  # RuntimeError: no primary serves a slot
            for index in indices:
                outcomes[index] = BrokerError(f"publish to {items[index][0]} failed: {exc!r}")
            return
        for index, reply in zip(indices, replies, strict=True):
            if isinstance(reply, BaseException):
                outcomes[index] = BrokerError(f"publish to {items[index][0]} failed: {reply!r}")

    def shard_of(self, channel: str) -> str:
        try:
            return self.layout.owner(channel)
        except (*_FAILURES, RuntimeError):
            return ""  # no node serves it now: its publish fails, then is retried

    @property
    def healthy(self) -> bool:
        return bool(self.shards) and all(s.healthy for s in self.shards.values())

    spans_processes = True

    # -- placement ------------------------------------------------------------------------

    async def _place(self, channel: str) -> None:
        """Subscribe ``channel`` on its owner and wait for Redis to confirm."""
        try:
            shard = self.shards.get(self.layout.owner(channel))
            if shard is None:
                await self._rehome()
                shard = self.shards.get(self.layout.owner(channel))
        except (*_FAILURES, RuntimeError) as exc:  # RuntimeError: no primary serves the slot
            raise BrokerError(f"no shard for {channel}: {exc}") from exc
        if shard is None:
            raise BrokerError(f"the Redis node that owns {channel} is not reachable")
        confirmed = self._confirmations.setdefault(
            channel, asyncio.get_running_loop().create_future()
        )
        self._placement[channel] = shard
        try:
            # The whole of it is bounded: the shard's lock may be held by a reconnect to a
            # node that accepts connections but never answers (SIGSTOP).
            async with asyncio.timeout(self.confirm_timeout):
                await shard.subscribe(channel)
                await asyncio.shield(confirmed)
        except _FAILURES as exc:
            self._placement.pop(channel, None)
            raise BrokerError(f"subscribe to {channel} failed: {exc}") from exc
        finally:
            if self._confirmations.get(channel) is confirmed and confirmed.done():
                del self._confirmations[channel]

    def _confirmed(self, shard: _Shard, channel: str) -> None:
        future = self._confirmations.get(channel)
        if future is not None and self._placement.get(channel) is shard and not future.done():
            future.set_result(None)

    async def _add_shard(self, node: NodeAddress) -> _Shard:
        shard = _Shard(self, node, self.layout.canary_channel(node, self.node_id))
        self.shards[node.name] = shard
        await shard.start()
        return shard

    async def _rehome(self) -> None:
        """Re-read the layout; move channels whose owner changed; resync them."""
        async with self._rehome_lock:
            try:
                await self.layout.refresh()
            except _FAILURES as exc:
                log.warning("reading the Redis topology failed: %s", exc)
                return
            current = {node.name: node for node in self.layout.nodes()}
            for name in set(current) - set(self.shards):
                try:
                    await self._add_shard(current[name])
                except _FAILURES as exc:
                    self.shards.pop(name, None)
                    log.warning("new Redis node %s is not reachable yet: %s", name, exc)
            moved: list[str] = []
            for channel in tuple(self._wanted):
                shard = self._placement.get(channel)
                owner = self.layout.owner(channel)
                if shard is not None and shard.name == owner and shard.has(channel):
                    continue
                if shard is not None:
                    await shard.forget(channel)
                self._placement.pop(channel, None)
                moved.append(channel)
            for name in set(self.shards) - set(current):
                await self.shards.pop(name).aclose()
        for channel in moved:
            try:
                await self._place(channel)
            except BrokerError as exc:
                log.warning("moving %s to its new shard failed: %s", channel, exc)
        if moved:
            self.resync(moved)

    def schedule_rehome(self) -> None:
        self._spawn(self._rehome())

    # -- callbacks from shards ------------------------------------------------------------

    def deliver(self, channel: str, payload: bytes) -> None:
        if self._deliver is not None:
            self._deliver(channel, payload)

    def resync(self, channels: Iterable[str]) -> None:
        wanted = [c for c in channels if c in self._wanted]
        if wanted and self._resync is not None:
            self._resync(wanted)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    async def _canary_loop(self) -> None:
        while True:
            await asyncio.sleep(self.canary_interval)
            for shard in tuple(self.shards.values()):
                await shard.check_canary()


class _Shard:
    """One Redis node's pub/sub connection, its reader, and its canary.

    After any failure the connection is rebuilt from scratch: a new ``PubSub`` subscribes
    this shard's channels (one command per hash slot in a cluster, where one command may not
    span slots) and then the canary, so a canary's arrival proves every subscription is live.
    """

    def __init__(self, broker: RedisBroker, node: NodeAddress, canary: str) -> None:
        self.broker = broker
        self.node = node
        self.name = node.name
        self.canary = canary
        self.sharded = broker.layout.sharded
        # No retries inside redis-py: a transparent retry would hide the messages lost
        # meanwhile. Every failure reaches the reader, which rebuilds and then resyncs.
        self.pool = ConnectionPool(
            host=node.host,
            port=node.port,
            db=node.db,
            username=node.username,
            password=node.password,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=2,
        )
        self.pubsub = PubSub(connection_pool=self.pool)
        self.lock = asyncio.Lock()
        self.channels: set[str] = set()
        self.healthy = False
        self.broken = False
        self.resync_pending = False
        self.last_canary = time.monotonic()
        self.failures = 0
        self.reader: asyncio.Task[None] | None = None
        self.canary_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self.lock:
            await self._connect()
        self.reader = asyncio.create_task(self._read())
        await self.ping_canary()

    async def aclose(self) -> None:
        for task in (self.reader, self.canary_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()
        await self.pool.aclose()

    def has(self, channel: str) -> bool:
        return channel in self.channels

    async def subscribe(self, channel: str) -> None:
        async with self.lock:
            self.channels.add(channel)
            if self.broken:
                return  # subscribed with the others when the connection is rebuilt
            try:
                await self._command("subscribe", [channel])
            except BaseException:
                self.channels.discard(channel)
                raise

    async def unsubscribe(self, channel: str) -> None:
        async with self.lock:
            self.channels.discard(channel)
            if not self.broken:
                with contextlib.suppress(*_FAILURES):
                    await self._command("unsubscribe", [channel])

    async def forget(self, channel: str) -> None:
        """Drop a channel that lives elsewhere now, without asking this node (which may
        answer MOVED, or be gone)."""
        async with self.lock:
            self.channels.discard(channel)

    async def _connect(self) -> None:
        """A fresh pub/sub connection with every channel of this shard, canary last."""
        old, self.pubsub = self.pubsub, PubSub(connection_pool=self.pool)
        with contextlib.suppress(Exception):
            await old.aclose()
        for group in self._groups(self.channels):
            await self._command("subscribe", group)
        await self._command("subscribe", [self.canary])

    def _groups(self, channels: Iterable[str]) -> list[list[str]]:
        if not self.sharded:
            ordered = sorted(channels)
            return [ordered[i : i + 500] for i in range(0, len(ordered), 500)]
        by_slot: dict[int, list[str]] = {}
        for channel in channels:
            by_slot.setdefault(key_slot(channel.encode()), []).append(channel)
        return list(by_slot.values())

    async def _command(self, verb: str, channels: list[str]) -> None:
        prefix = "s" if self.sharded else ""
        send: Any = getattr(self.pubsub, prefix + verb)
        await send(*channels)

    # -- reading --------------------------------------------------------------------------

    async def _read(self) -> None:
        backoff = BACKOFF_MIN
        while True:
            if self.broken:
                try:
                    async with self.lock:
                        await self._connect()
                except _FAILURES as exc:
                    await self._lost(exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    continue
                self.broken = False
                await self.ping_canary()  # healthy, and resynced, as soon as it comes back
            try:
                message = await self.pubsub.get_message(timeout=None)
            except redis_errors.MovedError:
                self.broker.schedule_rehome()
                continue
            except _FAILURES as exc:
                await self._lost(exc)
                continue
            backoff = BACKOFF_MIN
            if message is not None:
                self._on_message(message)

    async def _lost(self, exc: BaseException) -> None:
        if self.healthy:
            log.warning("Redis %s pub/sub connection lost: %s", self.name, exc)
        self.healthy = False
        self.broken = True
        self.resync_pending = True
        self.failures += 1
        self.broker.reconnects += 1
        if self.sharded and self.failures % REFRESH_AFTER_FAILURES == 0:
            self.broker.schedule_rehome()  # the primary may have failed over

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel = _text(message["channel"])
        if kind in ("message", "smessage"):
            if channel == self.canary:
                self._canary_arrived()
            else:
                self.broker.deliver(channel, message["data"])
        elif kind in ("subscribe", "ssubscribe"):
            self.broker._confirmed(self, channel)
        elif kind == "sunsubscribe" and channel in self.channels:
            # Redis pushed this: the channel's slot moved to another primary.
            log.info("Redis %s dropped %s (slot moved)", self.name, channel)
            self.broker.schedule_rehome()

    def _canary_arrived(self) -> None:
        self.last_canary = time.monotonic()
        self.failures = 0
        if not self.healthy:
            self.healthy = True
            log.info("Redis %s pub/sub is healthy", self.name)
        if self.resync_pending:
            self.resync_pending = False
            self.broker.resync(tuple(self.channels))

    async def check_canary(self) -> None:
        if self.healthy and time.monotonic() - self.last_canary > self.broker.canary_timeout:
            log.warning("Redis %s canary missing; rebuilding the connection", self.name)
            self.broker.canary_failures += 1
            if self.reader is not None:
                self.reader.cancel()
                await asyncio.gather(self.reader, return_exceptions=True)
            await self._lost(BrokerError("canary timeout"))
            self.reader = asyncio.create_task(self._read())
        if self.canary_task is None or self.canary_task.done():
            # A node that stopped answering must not stall the checks of the others (or
            # this one's next check): publish on the side, bounded by the timeout.
            self.canary_task = asyncio.create_task(self.ping_canary())

    async def ping_canary(self) -> None:
        with contextlib.suppress(*_FAILURES):
            async with asyncio.timeout(self.broker.canary_timeout):
                await self.broker.layout.publish_to(self.name, self.canary, b"canary")


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Redis broker task failed", exc_info=task.exception())


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
