"""Leases in Redis, shared by every gateway process of a deployment.

A key is a Redis hash whose fields hold ``"<expires at, ms since the epoch>|<value>"`` (the
writing node's clock: nodes keep NTP time; a skew of a second or two only shifts an expiry).
The hash itself expires ``ttl`` after its last write, so an org whose nodes all died leaves
nothing behind. Standalone nodes hold each key on the node rendezvous hashing picks (as the
broker does for channels); a cluster places it by slot.
"""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.presence.leases import Read
from gateway.shards.layouts import ClusterLayout, cluster_client, parse_redis_url, rendezvous

__all__ = ["LeasesUnavailable", "RedisLeases"]

#: Seconds one Redis call may take.
TIMEOUT = 2.0


class LeasesUnavailable(Exception):
    """Redis did not answer a presence read or write."""


class RedisLeases:
    """``Leases`` on the deployment's Redis (the broker's URL)."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        layout = parse_redis_url(url)
        self._clustered = isinstance(layout, ClusterLayout)
        self._nodes = layout.seeds if isinstance(layout, ClusterLayout) else layout.nodes()
        self._names = tuple(node.name for node in self._nodes)
        self._timeout = timeout
        self._clients: dict[str, redis.Redis] = {}
        self._cluster: RedisCluster | None = None

    async def start(self) -> None:
        retry = Retry(NoBackoff(), 1)
        if self._clustered:
            self._cluster = cluster_client(
                self._nodes, connect_timeout=self._timeout, timeout=self._timeout, retry=retry
            )
            return
        for node in self._nodes:
            self._clients[node.name] = node.client(
                connect_timeout=self._timeout, timeout=self._timeout, retry=retry
            )

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
        if self._cluster is not None:
            cluster, self._cluster = self._cluster, None
            await cluster.aclose()

    def _client(self, key: str) -> Any:
        if self._cluster is not None:
            return self._cluster
        return self._clients[rendezvous(key, self._names)]

    async def put(self, key: str, field: str, value: str, ttl: float) -> None:
        until = int((time.time() + ttl) * 1000)
        try:
            async with self._client(key).pipeline(transaction=False) as pipe:
                pipe.hset(key, field, f"{until}|{value}")
                pipe.pexpire(key, int(ttl * 1000))
                await pipe.execute()
        except redis.RedisError as exc:
            raise LeasesUnavailable(str(exc)) from exc

    async def remove(self, key: str, field: str) -> bool:
        try:
            return bool(await self._client(key).hdel(key, field))
        except redis.RedisError as exc:
            raise LeasesUnavailable(str(exc)) from exc

    async def read(self, key: str) -> Read:
        client = self._client(key)
        try:
            fields: dict[bytes, bytes] = await client.hgetall(key)
            now = time.time() * 1000
            live: dict[str, str] = {}
            stale: list[str] = []
            for raw_field, raw_value in fields.items():
                until, _, value = raw_value.decode().partition("|")
                if until.isdigit() and int(until) > now:
                    live[raw_field.decode()] = value
                else:
                    stale.append(raw_field.decode())
            expired: list[str] = []
            for field in stale:
                # Whoever removes a field reports it: one node, not every node that read it.
                if await client.hdel(key, field):
                    expired.append(field)
        except redis.RedisError as exc:
            raise LeasesUnavailable(str(exc)) from exc
        return Read(live, tuple(expired))
