"""A Redis node that stops answering (SIGSTOP: its connections stay open, nothing comes back)
holds up nothing but the live delivery of its own rooms: sends into those rooms are
acknowledged as soon as they are stored, a subscribe to one answers without holding the
socket's next frame, other rooms keep flowing, and once the node answers again every
subscriber has every event, once, in order."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx2 as httpx
import pytest
from redis.crc import key_slot

from bench.services import RedisClusterProcesses, RedisServer
from gateway.app import create_app
from gateway.settings import Settings
from gateway.shards.layouts import parse_redis_url
from tests.support import SocketClient, api, live_server, new_org, timeout

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


class Redis:
    """The Redis deployment under test and which of its nodes owns a room."""

    def __init__(
        self, nodes: list[RedisServer], cluster: RedisClusterProcesses | None = None
    ) -> None:
        self.nodes = nodes
        self.cluster = cluster

    @property
    def url(self) -> str:
        if self.cluster is not None:
            return self.cluster.url
        return ",".join(node.url for node in self.nodes)

    def owner(self, channel: str) -> RedisServer:
        if self.cluster is None:
            name = parse_redis_url(self.url).owner(channel)
            return next(n for n in self.nodes if f"127.0.0.1:{n.port}" == name)
        slot = key_slot(channel.encode())
        for line in self.nodes[0].cli("CLUSTER", "NODES").splitlines():
            fields = line.split()
            if "master" not in fields[2]:
                continue
            port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
            for served in fields[8:]:
                low, _, high = served.partition("-")
                if not served.startswith("[") and int(low) <= slot <= int(high or low):
                    return next(n for n in self.nodes if n.port == port)
        raise AssertionError(f"no primary serves the slot of {channel}")


@pytest.fixture(params=["standalone", "cluster"])
def redis(request: pytest.FixtureRequest, redis_binaries: None) -> Redis:
    if request.param == "cluster":
        cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
        return Redis(cluster.nodes, cluster)
    return Redis(request.getfixturevalue("redis_nodes"))


@contextmanager
def frozen(node: RedisServer) -> Iterator[None]:
    """SIGSTOP ``node`` for the block; SIGCONT whatever happens."""
    assert node.process is not None
    os.kill(node.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(node.process.pid, signal.SIGCONT)


@asynccontextmanager
async def socket(url: str, token: str) -> AsyncIterator[SocketClient]:
    client = await SocketClient.open(url)
    try:
        await client.hello(token)
        yield client
    finally:
        await client.aclose()


def seqs(client: SocketClient, cid: str) -> list[int]:
    return [e["seq"] for e in client.events if e["conversation_id"] == cid and "seq" in e]


async def test_frozen_redis_node_holds_up_no_socket(redis: Redis, settings: Settings) -> None:
    """While a room's Redis node is stopped: 3 sends into its rooms are acknowledged within
    2.5 s in all (each waited 1 s or more before), a room on another node stays live, and
    once the gateway has noticed, a subscribe to a room of that node answers ok with its
    history and the ping behind it comes back within 2 s (5 s before); after SIGCONT every
    subscriber has every event once, in order, though nothing was sent since."""
    settings = dataclasses.replace(settings, redis_url=redis.url)
    with live_server(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            await freeze_and_thaw(redis, settings, http)


async def freeze_and_thaw(redis: Redis, settings: Settings, http: httpx.AsyncClient) -> None:
    url = str(http.base_url).rstrip("/")
    org = await new_org(settings.database_url, "Acme")
    token = (await api(http, "POST", "/v1/tokens", org.api_key, json={"kind": "bot"}))["token"]
    rooms: dict[str, str] = {}  # watched and fresh (on the victim node), healthy (elsewhere)
    victim = None
    while len(rooms) < 3:
        cid = (await api(http, "POST", "/v1/conversations", org.api_key, json={}))["id"]
        owner = redis.owner(f"conv:{cid}")
        victim = victim or owner
        if owner is victim:
            rooms.setdefault("watched" if "watched" not in rooms else "fresh", cid)
        else:
            rooms.setdefault("healthy", cid)
    assert victim is not None
    watched, fresh, healthy = rooms["watched"], rooms["fresh"], rooms["healthy"]

    async def send(client: SocketClient, cid: str) -> int:
        data = await client.call("message.send", conversation_id=cid, content="hi")
        return int(data["seq"])

    async def noticed() -> None:
        """Wait until the gateway saw the node go silent (its canary; /readyz 503)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout(5)
        while (await http.get("/readyz")).status_code != 503:
            assert loop.time() < deadline, "the gateway never noticed the silent node"
            await asyncio.sleep(0.05)

    async with socket(url, token) as a, socket(url, token) as b:
        for cid in (watched, healthy):
            await a.call("subscribe", conversation_id=cid)
        assert await send(a, watched) == 1
        await a.wait_for(lambda: seqs(a, watched) == [1])

        with frozen(victim):
            async with asyncio.timeout(timeout(2.5)):
                acked = [await send(a, watched), await send(a, watched), await send(a, fresh)]
            assert acked == [2, 3, 1]
            assert await send(a, healthy) == 1
            await a.wait_for(lambda: seqs(a, healthy) == [1], seconds=2)

            await noticed()  # the shard is down and being reconnected: the harder case
            await b.send({"op": "subscribe", "ref": "s", "conversation_id": fresh, "after_seq": 0})
            await b.send({"op": "ping", "ref": "p"})
            await b.wait_for(lambda: b.replies.get("p"), seconds=2)
            assert b.replies["s"]["ok"], b.replies["s"]
            assert b.replies["s"]["data"]["last_seq"] == 1
            await b.wait_for(lambda: seqs(b, fresh) == [1], seconds=2)
            assert await send(a, fresh) == 2  # stored while b's live feed is pending

        await a.wait_for(lambda: len(seqs(a, watched)) >= 3, seconds=20)
        await b.wait_for(lambda: len(seqs(b, fresh)) >= 2, seconds=20)
        assert await send(a, watched) == 4
        assert await send(a, fresh) == 3
        await a.wait_for(lambda: len(seqs(a, watched)) >= 4, seconds=10)
        await b.wait_for(lambda: len(seqs(b, fresh)) >= 3, seconds=10)
        assert seqs(a, watched) == [1, 2, 3, 4]
        assert seqs(a, healthy) == [1]
        assert seqs(b, fresh) == [1, 2, 3]
