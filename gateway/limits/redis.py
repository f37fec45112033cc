"""The ``RateLimiter`` in Redis: GCRA in one Lua script, shared by every gateway process.

The script mirrors ``gcra.gcra`` line by line (same integer-microsecond math, same
rounding), with two differences: ``now`` is the Redis server's clock (``TIME``), so gateway
hosts with skewed clocks agree, and the TAT lives under the key with an expiry equal to the
time until the bucket is full, so idle keys disappear by themselves.

Placement: on standalone nodes a key lives on its rendezvous node (``layouts.rendezvous``,
the broker's stable hash); on a cluster, on its slot's primary. Each script call touches
exactly one key, so its slot is always well defined.

A node that did not answer within the timeout (stopped, or its host stalled) is skipped: hits
for its keys raise ``RateLimiterUnavailable`` at once, without waiting on it again, while one
background probe pings it every ``PROBE_INTERVAL``; the first answer ends the skip. So a
silent node costs the requests in flight when it stopped one timeout, and nothing after.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import cast

import redis.asyncio as redis
import redis.exceptions as redis_errors
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from gateway.limits.gcra import Decision, Rate, RateLimiterUnavailable
from gateway.shards.layouts import (
    ClusterLayout,
    NodeAddress,
    cluster_client,
    parse_redis_url,
    rendezvous,
)

__all__ = ["GCRA_SCRIPT", "KEY_PREFIX", "TIMEOUT", "RedisRateLimiter"]

#: Redis keys are ``chatgate:rl:<key>``. No hash tag is added on purpose: buckets spread
#: over the cluster's slots. A ``{...}`` inside the caller's key does act as a hash tag in a
#: cluster, which is harmless because every script call touches that one key only.
KEY_PREFIX = "chatgate:rl:"
#: Seconds a hit may take, connecting included, before Redis counts as unavailable.
TIMEOUT = 1.0
#: Seconds between two probes of a node that stopped answering.
PROBE_INTERVAL = 0.5

#: KEYS[1]: the bucket. ARGV: emission interval T (µs), tolerance limit * T (µs), cost.
#: Returns {allowed (0/1), remaining, reset_after (µs), retry_after (µs, -1 = never), now (µs)}.
#: Numbers are doubles in Lua; every value here is an integer below 2^53, so exact.
GCRA_SCRIPT = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - tolerance
if allow_at <= now then
  local reset = new_tat - now
  -- '%d': tostring() would print 14 significant digits and lose the microseconds.
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil(reset / 1000))
  return {1, math.floor((now - allow_at) / interval), reset, 0, now}
end
local retry_after = -1
if interval * cost <= tolerance then retry_after = allow_at - now end
local remaining = math.max(0, math.floor((now - (tat - tolerance)) / interval))
return {0, remaining, tat - now, retry_after, now}
"""

_MICROS = 1_000_000
_FAILURES = (
    redis_errors.RedisError,
    redis_errors.RedisClusterException,  # not a RedisError: no reachable node, no slot map
    OSError,
)


class RedisRateLimiter:
    """The ``RateLimiter`` on Redis, shared by every limiter on the same deployment.

    ``start`` does not connect: the limiter comes up while Redis is down, and each ``hit``
    raises ``RateLimiterUnavailable`` until Redis answers again.

    Args:
        url: the broker's URL: ``redis://a:6379,redis://b:6379`` (standalone nodes) or
            ``redis+cluster://a:7000[,b:7001]`` (a cluster's seed nodes).
        timeout: seconds a hit may take (each socket operation, and the hit as a whole).

    Raises:
        ValueError: ``url`` is malformed.
    """

    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        self._nodes, self._clustered = _addresses(url)
        self._names = tuple(node.name for node in self._nodes)
        self._timeout = timeout
        self._clients: dict[str, redis.Redis] = {}
        self._cluster: RedisCluster | None = None
        self._cluster_lock = asyncio.Lock()
        self._script: AsyncScript | None = None
        #: Nodes that stopped answering, each with the task probing it.
        self._silent: dict[str, asyncio.Task[None]] = {}

    async def __aenter__(self) -> RedisRateLimiter:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        if self._script is not None:
            raise RuntimeError("the rate limiter is already started")
        # One quick retry: a pooled connection may have been closed by a restarted server.
        retry = Retry(NoBackoff(), 1)
        if self._clustered:
            self._cluster = cluster_client(
                self._nodes, connect_timeout=self._timeout, timeout=self._timeout, retry=retry
            )
            self._script = self._cluster.register_script(GCRA_SCRIPT)
            return
        for node in self._nodes:
            self._clients[node.name] = node.client(
                connect_timeout=self._timeout, timeout=self._timeout, retry=retry
            )
        # One Script for every node: it loads itself on a node that lacks it (NOSCRIPT).
        self._script = self._clients[self._names[0]].register_script(GCRA_SCRIPT)

    async def aclose(self) -> None:
        self._script = None
        probes, self._silent = list(self._silent.values()), {}
        for probe in probes:
            probe.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
        if self._cluster is not None:
            cluster, self._cluster = self._cluster, None
            await cluster.aclose()

    def node_for(self, key: str) -> str:
        """The standalone node (``host:port``) that holds ``key``'s bucket.

        Raises:
            RuntimeError: the limiter is on a cluster (Redis places keys by slot).
        """
        if self._clustered:
            raise RuntimeError("a cluster places keys by hash slot, not by rendezvous")
        return rendezvous(KEY_PREFIX + key, self._names)

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        decision, _ = await self._evaluate(key, rate, cost)
        return decision

    async def _initialize_cluster(self, cluster: RedisCluster) -> None:
        # The async RedisCluster must be initialized before concurrent use: commands that
        # race its lazy initialization fail ("Connection closed by server", AttributeError
        # on a closed node; redis-py 8.1, see redis/redis-py#3032). One at a time, then;
        # a no-op (no await) once initialized, and again after redis-py resets it.
        async with self._cluster_lock:
            await cluster.initialize()

    async def _evaluate(self, key: str, rate: Rate, cost: int) -> tuple[Decision, float]:
        """The decision and the server time it was taken at (seconds)."""
        if cost < 1:
            raise ValueError(f"a hit costs at least 1, not {cost}")
        script = self._script
        if script is None:
            raise RuntimeError("the rate limiter is not started (or already closed)")
        redis_key = KEY_PREFIX + key
        client: redis.Redis | RedisCluster
        node: str | None  # the node that holds the key, once known
        if self._cluster is not None:
            client, where, node = self._cluster, f"cluster {','.join(self._names)}", None
        else:
            where = node = rendezvous(redis_key, self._names)
            client = self._clients[where]
        try:
            async with asyncio.timeout(self._timeout):
                if self._cluster is not None:
                    await self._initialize_cluster(self._cluster)
                    node = self._primary_of(self._cluster, redis_key)
                    where = node or where
                if node in self._silent:
                    raise RateLimiterUnavailable(
                        f"rate limiter: Redis at {where} has not answered since it timed out"
                    )
                reply = await script(
                    keys=[redis_key],
                    args=[rate.interval_us, rate.tolerance_us, cost],
                    client=client,
                )
        except (TimeoutError, redis_errors.TimeoutError) as exc:  # asyncio's, redis-py's
            if node is not None:
                self._silence(node)
            raise RateLimiterUnavailable(
                f"rate limiter: Redis at {where} did not answer within {self._timeout}s"
            ) from exc
        except _FAILURES as exc:
            raise RateLimiterUnavailable(f"rate limiter: Redis at {where} failed: {exc}") from exc
        allowed, remaining, reset_us, retry_us, now_us = (int(v) for v in cast(list[int], reply))
        decision = Decision(
            allowed=bool(allowed),
            limit=rate.limit,
            remaining=remaining,
            reset_after=reset_us / _MICROS,
            retry_after=float("inf") if retry_us < 0 else retry_us / _MICROS,
        )
        return decision, now_us / _MICROS

    @staticmethod
    def _primary_of(cluster: RedisCluster, redis_key: str) -> str | None:
        node = cluster.get_node_from_key(redis_key)
        return None if node is None else str(node.name)

    def _silence(self, where: str) -> None:
        """Skip ``where`` until a probe gets an answer from it."""
        if where not in self._silent and self._script is not None:
            self._silent[where] = asyncio.create_task(self._probe(where))

    async def _probe(self, where: str) -> None:
        try:
            while True:
                await asyncio.sleep(PROBE_INTERVAL)
                try:
                    async with asyncio.timeout(self._timeout):
                        await self._ping(where)
                except (*_FAILURES, RuntimeError):
                    continue
                return
        finally:
            if self._silent.get(where) is asyncio.current_task():
                del self._silent[where]

    async def _ping(self, where: str) -> None:
        if self._cluster is None:
            await self._clients[where].ping()
            return
        node = self._cluster.get_node(node_name=where)
        if node is None:
            raise RuntimeError(f"{where} is no longer a node of the cluster")
        await self._cluster.ping(target_nodes=node)


def _addresses(url: str) -> tuple[list[NodeAddress], bool]:
    """The nodes of ``url`` (a cluster's seeds), and whether it is a cluster."""
    layout = parse_redis_url(url)
    if isinstance(layout, ClusterLayout):
        return layout.seeds, True
    return layout.nodes(), False
