"""Where a channel lives: on one of several standalone Redis nodes, or in a Redis Cluster.

A layout names the nodes that hold subscriptions (shards), says which one owns a channel, and
publishes (a node's batch in one pipeline to that node). Both layouts give the same owner for
a channel on every gateway node.

- ``StandaloneLayout``: N independent Redis servers. A channel lives on the node with the
  highest rendezvous (highest-random-weight) score of ``blake2b(node | channel)``: stable
  across processes (never Python's ``hash()``), and adding a node moves only the channels the
  new node wins, about 1/(N+1) of them. ``PUBLISH``/``SUBSCRIBE``.
- ``ClusterLayout``: a Redis Cluster. A channel lives on the primary serving its hash slot.
  ``SPUBLISH``/``SSUBSCRIBE`` (sharded pub/sub, Redis 7+), so a message only travels within
  its shard instead of being broadcast over the cluster bus.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

import redis.asyncio as redis
import redis.exceptions as redis_errors
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.crc import key_slot

__all__ = [
    "ClusterLayout",
    "Layout",
    "NodeAddress",
    "StandaloneLayout",
    "cluster_client",
    "parse_redis_url",
    "rendezvous",
]


#: Connections one client keeps to one Redis node at most (publishes and rate-limit calls
#: are short: a few connections carry thousands a second).
MAX_CONNECTIONS = 32


@dataclass(frozen=True, slots=True)
class NodeAddress:
    """A Redis node that holds subscriptions; ``name`` is ``host:port``."""

    name: str
    host: str
    port: int
    password: str | None = None
    username: str | None = None
    db: int = 0

    def client(
        self, *, connect_timeout: float, timeout: float, retry: Retry | None = None
    ) -> redis.Redis:
        """A client of this node (connects lazily); ``retry`` None keeps redis-py's.

        Its pool holds at most ``MAX_CONNECTIONS`` connections, and a command that finds them
        all busy waits up to ``timeout`` for one: redis-py's default pool raises
        ``MaxConnectionsError`` at once instead, which under a burst of publishes failed
        them by the hundred while Redis itself was fine.
        """
        options: dict[str, Any] = {} if retry is None else {"retry": retry}
        pool = redis.BlockingConnectionPool(
            host=self.host,
            port=self.port,
            db=self.db,
            username=self.username,
            password=self.password,
            socket_connect_timeout=connect_timeout,
            socket_timeout=timeout,
            max_connections=MAX_CONNECTIONS,
            timeout=timeout,
            **options,
        )
        return redis.Redis.from_pool(pool)


def cluster_client(
    seeds: list[NodeAddress],
    *,
    connect_timeout: float,
    timeout: float,
    retry: Retry | None = None,
) -> RedisCluster:
    """A Redis Cluster client from its seed nodes (credentials from the first); ``retry``
    None keeps redis-py's."""
    seed = seeds[0]
    options: dict[str, Any] = {} if retry is None else {"retry": retry}
    return RedisCluster(
        startup_nodes=[ClusterNode(s.host, s.port) for s in seeds],
        username=seed.username,
        password=seed.password,
        socket_connect_timeout=connect_timeout,
        socket_timeout=timeout,
        **options,
    )


class Layout(Protocol):
    """The shape of a Redis deployment, as the broker needs it."""

    @property
    def sharded(self) -> bool:
        """True when channels are cluster shard channels (SSUBSCRIBE/SPUBLISH)."""
        ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    def nodes(self) -> list[NodeAddress]:
        """The nodes that currently own channels."""
        ...

    def owner(self, channel: str) -> str:
        """The name of the node that owns ``channel``."""
        ...

    async def publish_many(self, node: str, items: Sequence[tuple[str, bytes]]) -> list[Any]:
        """Publish ``items`` (channels that ``node`` owns) in one pipeline to ``node``.

        Returns one reply per item, in order: the number of receivers, or the exception the
        item failed with.

        Raises:
            the pipeline as a whole failed (the node is unreachable, a timeout).
        """
        ...

    async def publish_to(self, node: str, channel: str, payload: bytes) -> None:
        """Publish on ``node`` itself (canaries); ``channel`` must be one it owns."""
        ...

    async def refresh(self) -> None:
        """Re-read the deployment's shape (slot moves, failovers); a no-op when static."""
        ...

    def canary_channel(self, node: NodeAddress, tag: str) -> str:
        """A channel owned by ``node``, unique to ``tag`` (one gateway process)."""
        ...


def parse_redis_url(url: str) -> Layout:
    """``redis://a:6379,redis://b:6379`` (standalone nodes) or
    ``redis+cluster://a:7000[,b:7001]`` (a Redis Cluster, given its seed nodes).

    Raises:
        ValueError: the URL is not one of these forms.
    """
    parts = [part.strip() for part in url.split(",") if part.strip()]
    if not parts:
        raise ValueError("CHATGATE_REDIS_URL is empty")
    scheme = urlsplit(parts[0]).scheme
    if scheme.startswith("rediss"):
        raise ValueError("TLS to Redis (rediss://) is not supported yet")
    if scheme == "redis+cluster":
        return ClusterLayout([_address(p if "://" in p else f"{scheme}://{p}") for p in parts])
    if scheme == "redis":
        return StandaloneLayout([_address(p) for p in parts])
    raise ValueError(f"unsupported Redis URL {parts[0]!r}: use redis:// or redis+cluster://")


def _address(url: str) -> NodeAddress:
    split = urlsplit(url)
    if not split.hostname:
        raise ValueError(f"no host in Redis URL {url!r}")
    port = split.port or 6379
    db = int(split.path.strip("/") or 0)
    return NodeAddress(
        f"{split.hostname}:{port}", split.hostname, port, split.password, split.username, db
    )


def rendezvous(channel: str, nodes: tuple[str, ...]) -> str:
    """The node with the highest score for ``channel`` (stable, minimal movement)."""
    return _rendezvous(channel, nodes)


@lru_cache(maxsize=65536)
def _rendezvous(channel: str, nodes: tuple[str, ...]) -> str:
    def score(node: str) -> bytes:
        return hashlib.blake2b(f"{node}|{channel}".encode(), digest_size=8).digest()

    return max(nodes, key=score)


class StandaloneLayout:
    """Several independent Redis servers, channels spread by rendezvous hashing."""

    sharded = False

    def __init__(self, nodes: list[NodeAddress]) -> None:
        if len({n.name for n in nodes}) != len(nodes):
            raise ValueError("a Redis node is listed twice")
        self._nodes = nodes
        self._names = tuple(n.name for n in nodes)
        self._clients: dict[str, redis.Redis] = {}

    async def start(self) -> None:
        for node in self._nodes:
            self._clients[node.name] = node.client(connect_timeout=2, timeout=5)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def nodes(self) -> list[NodeAddress]:
        return list(self._nodes)

    def owner(self, channel: str) -> str:
        return rendezvous(channel, self._names)

    async def publish_many(self, node: str, items: Sequence[tuple[str, bytes]]) -> list[Any]:
        if len(items) == 1:  # a plain command costs less than a pipeline of one
            return [await _reply(self._clients[node].publish(*items[0]))]
        pipe = self._clients[node].pipeline(transaction=False)
        for channel, payload in items:
            pipe.publish(channel, payload)
        return await pipe.execute(raise_on_error=False)

    async def publish_to(self, node: str, channel: str, payload: bytes) -> None:
        await self._clients[node].publish(channel, payload)

    async def refresh(self) -> None:
        return None

    def canary_channel(self, node: NodeAddress, tag: str) -> str:
        # Standalone canaries are published straight to their node (publish_to), so the
        # name need not hash there.
        return f"chatgate:canary:{tag}"


class ClusterLayout:
    """A Redis Cluster; each primary is a shard, each channel lives on its slot's primary."""

    sharded = True

    def __init__(self, seeds: list[NodeAddress]) -> None:
        self._seeds = seeds
        self._cluster: RedisCluster | None = None
        # redis-py's cluster client refuses a command (MaxConnectionsError) when its node's
        # pool is exhausted, and has no waiting pool: publishes wait their turn here, per
        # primary, so that one which stopped answering holds up only its own channels.
        self._publishing: dict[str, asyncio.Semaphore] = {}

    @property
    def cluster(self) -> RedisCluster:
        if self._cluster is None:
            raise RuntimeError("the cluster layout is not started")
        return self._cluster

    @property
    def seeds(self) -> list[NodeAddress]:
        """The seed nodes the deployment was named by."""
        return list(self._seeds)

    async def start(self) -> None:
        self._cluster = cluster_client(self._seeds, connect_timeout=2, timeout=5)
        await self._cluster.initialize()

    async def aclose(self) -> None:
        if self._cluster is not None:
            await self._cluster.aclose()
            self._cluster = None

    def nodes(self) -> list[NodeAddress]:
        seed = self._seeds[0]
        return [
            NodeAddress(n.name, n.host, int(n.port), seed.password, seed.username)
            for n in self.cluster.get_primaries()
        ]

    def owner(self, channel: str) -> str:
        node = self.cluster.get_node_from_key(channel)
        if node is None:
            raise RuntimeError(f"no primary serves the slot of {channel}")
        return str(node.name)

    async def publish_many(self, node: str, items: Sequence[tuple[str, bytes]]) -> list[Any]:
        # One cluster pipeline per primary, never one for several: redis-py sends a pipeline
        # to each node it spans and answers only when all have, so a primary that stopped
        # answering would hold the others' channels too. The pipeline still routes each
        # SPUBLISH by its slot (and follows MOVED), so a slot that moved since ``owner``
        # was read is published where it lives now.
        async with self._turn(node):
            if len(items) == 1:  # a plain command costs less than a pipeline of one
                return [await _reply(self.cluster.spublish(*items[0]))]
            pipe = self.cluster.pipeline(transaction=False)
            for channel, payload in items:
                pipe.spublish(channel, payload)
            return await pipe.execute(raise_on_error=False)

    async def publish_to(self, node: str, channel: str, payload: bytes) -> None:
        async with self._turn(node):  # the channel's slot is the node's
            await self.cluster.spublish(channel, payload)

    def _turn(self, node: str) -> asyncio.Semaphore:
        turn = self._publishing.get(node)
        if turn is None:
            turn = self._publishing[node] = asyncio.Semaphore(MAX_CONNECTIONS)
        return turn

    async def refresh(self) -> None:
        await self.cluster.nodes_manager.initialize()

    def canary_channel(self, node: NodeAddress, tag: str) -> str:
        # A hash tag makes the channel's slot the tag's: search for one this node serves.
        slots = self.cluster.nodes_manager.slots_cache
        for n in range(100_000):
            hashtag = f"cg{n}"
            owners = slots.get(key_slot(hashtag.encode()))
            if owners and owners[0].name == node.name:
                return f"chatgate:canary:{tag}:{{{hashtag}}}"
        raise RuntimeError(f"no slot of {node.name} found for its canary")


async def _reply(command: Awaitable[Any]) -> Any:
    """A command's reply, or the error Redis answered it with (as a pipeline gives them)."""
    try:
        return await command
    except redis_errors.ResponseError as exc:
        return exc
