"""The Redis broker: the broker contract on standalone nodes and on a cluster, placement,
recovery from lost pub/sub connections, and the publisher's batches on real nodes."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from bench.services import RedisClusterProcesses, RedisServer
from gateway.core.metrics import Metrics
from gateway.realtime.broker import redis as redis_broker
from gateway.realtime.broker.base import Broker
from gateway.realtime.broker.redis import RedisBroker
from gateway.realtime.publisher import Publisher
from gateway.realtime.push import Push
from gateway.shards.layouts import ClusterLayout, StandaloneLayout, parse_redis_url, rendezvous
from protocol.events import MessageCreated
from tests.contracts.broker import BrokerContract, Inbox
from tests.support import eventually

pytestmark = pytest.mark.redis


def standalone_url(nodes: list[RedisServer]) -> str:
    return ",".join(node.url for node in nodes)


class TestStandaloneRedisBroker(BrokerContract):
    settle_seconds = 0.3

    @pytest.fixture
    def make_broker(self, redis_nodes: list[RedisServer]) -> Callable[[], Broker]:
        return lambda: RedisBroker(parse_redis_url(standalone_url(redis_nodes)))


class TestClusterRedisBroker(BrokerContract):
    settle_seconds = 0.3

    @pytest.fixture
    def make_broker(self, redis_cluster: RedisClusterProcesses) -> Callable[[], Broker]:
        return lambda: RedisBroker(parse_redis_url(redis_cluster.url))


# -- placement ----------------------------------------------------------------------------


def test_rendezvous_is_stable_and_moves_little_when_a_node_joins() -> None:
    """Every process computes the same owner; a fourth node takes about a quarter of the
    rooms, all from the others, and nothing else moves."""
    three = ("a:6379", "b:6379", "c:6379")
    four = (*three, "d:6379")
    rooms = [f"conv:{n}" for n in range(4000)]
    before = {room: rendezvous(room, three) for room in rooms}
    assert before == {room: rendezvous(room, tuple(reversed(three))) for room in rooms}
    counts = {node: list(before.values()).count(node) for node in three}
    assert all(1200 < n < 1470 for n in counts.values()), counts
    after = {room: rendezvous(room, four) for room in rooms}
    moved = [room for room in rooms if after[room] != before[room]]
    assert all(after[room] == "d:6379" for room in moved)
    assert 0.20 < len(moved) / len(rooms) < 0.30


def test_parse_redis_url_picks_the_topology() -> None:
    """A list of redis:// URLs is standalone sharding; redis+cluster:// is a cluster."""
    standalone = parse_redis_url("redis://a:1, redis://b:2/3")
    assert isinstance(standalone, StandaloneLayout)
    assert [n.name for n in standalone.nodes()] == ["a:1", "b:2"]
    assert isinstance(parse_redis_url("redis+cluster://a:7000,b:7001"), ClusterLayout)
    for bad in ("", "http://x", "redis://a:1,redis://a:1", "redis://:5", "rediss://a:1"):
        with pytest.raises(ValueError):
            parse_redis_url(bad)


@pytest.fixture
async def standalone_broker(redis_nodes: list[RedisServer]) -> AsyncIterator[tuple]:
    broker = RedisBroker(parse_redis_url(standalone_url(redis_nodes)))
    inbox = Inbox()
    resynced: list[str] = []
    await broker.start(inbox.deliver, resynced.extend)
    yield broker, inbox, resynced
    await broker.aclose()


async def test_redis_broker_spreads_rooms_and_subscribes_only_wanted_ones(
    redis_nodes: list[RedisServer], standalone_broker: tuple
) -> None:
    """Rooms land on every node; each node holds exactly the rooms it owns, and nothing
    stays subscribed after the last unsubscribe."""
    broker, _, _ = standalone_broker
    rooms = [f"conv:spread-{n}" for n in range(30)]
    for room in rooms:
        await broker.subscribe(room)
    for node in redis_nodes:
        owned = [r for r in rooms if broker.layout.owner(r) == f"127.0.0.1:{node.port}"]
        assert owned, "every node carries some rooms"
        subscribed = set(node.cli("PUBSUB", "CHANNELS", "conv:spread-*").split())
        assert subscribed == set(owned)
    for room in rooms:
        await broker.unsubscribe(room)
    for node in redis_nodes:
        assert node.cli("PUBSUB", "CHANNELS", "conv:spread-*") == ""


# -- recovery -----------------------------------------------------------------------------


async def test_redis_broker_recovers_from_killed_pubsub_connections(
    redis_nodes: list[RedisServer], standalone_broker: tuple
) -> None:
    """CLIENT KILL TYPE pubsub: the broker reconnects, resubscribes, resyncs the rooms of
    the killed shards, and delivers again."""
    broker, inbox, resynced = standalone_broker
    rooms = [f"conv:kill-{n}" for n in range(12)]
    for room in rooms:
        await broker.subscribe(room)
    await eventually(lambda: broker.healthy, 5)
    for node in redis_nodes:
        node.cli("CLIENT", "KILL", "TYPE", "pubsub")
    await eventually(lambda: set(resynced) >= set(rooms), 3)
    assert broker.reconnects >= 3 and broker.healthy
    for room in rooms:
        await broker.publish(room, room.encode())
    await inbox.wait_for(len(rooms))
    assert {channel for channel, _ in inbox.received} == set(rooms)


async def test_redis_broker_canary_flags_a_silent_shard_within_3s(redis_binaries: None) -> None:
    """A node that stops answering (SIGSTOP) makes the broker unhealthy within 3 s; when it
    answers again the broker is healthy and resyncs that node's rooms."""
    node = RedisServer().start()
    broker = RedisBroker(parse_redis_url(node.url), canary_interval=0.25, canary_timeout=1.5)
    resynced: list[str] = []
    inbox = Inbox()
    try:
        await broker.start(inbox.deliver, resynced.extend)
        await broker.subscribe("conv:silent")
        await eventually(lambda: broker.healthy, 5)
        assert node.process is not None
        os.kill(node.process.pid, signal.SIGSTOP)
        stopped = asyncio.get_running_loop().time()
        await eventually(lambda: not broker.healthy, 3)
        assert asyncio.get_running_loop().time() - stopped < 3
        os.kill(node.process.pid, signal.SIGCONT)
        await eventually(lambda: broker.healthy and "conv:silent" in resynced, 10)
        assert broker.canary_failures >= 1
        await broker.publish("conv:silent", b"back")
        assert await inbox.wait_for(1) == [("conv:silent", b"back")]
    finally:
        if node.process is not None and node.process.poll() is None:
            os.kill(node.process.pid, signal.SIGCONT)
        await broker.aclose()
        node.stop()


async def test_redis_broker_survives_a_node_restart(redis_binaries: None) -> None:
    """A restarted (empty) node gets its subscriptions back and the rooms are resynced."""
    node = RedisServer().start()
    broker = RedisBroker(parse_redis_url(node.url), canary_interval=0.25, canary_timeout=1.5)
    resynced: list[str] = []
    inbox = Inbox()
    try:
        await broker.start(inbox.deliver, resynced.extend)
        await broker.subscribe("conv:restart")
        await eventually(lambda: broker.healthy, 5)
        node.restart()
        await eventually(lambda: "conv:restart" in resynced and broker.healthy, 10)
        await broker.publish("conv:restart", b"again")
        assert await inbox.wait_for(1) == [("conv:restart", b"again")]
    finally:
        await broker.aclose()
        node.stop()


async def test_redis_cluster_broker_follows_a_slot_move(redis_binaries: None) -> None:
    """When a channel's slot moves to another primary, Redis drops the subscription; the
    broker re-subscribes on the new owner, resyncs the room, and keeps delivering."""
    cluster = RedisClusterProcesses(3).start()
    broker = RedisBroker(parse_redis_url(cluster.url))
    resynced: list[str] = []
    inbox = Inbox()
    channel = "conv:moving"
    try:
        await broker.start(inbox.deliver, resynced.extend)
        await broker.subscribe(channel)
        layout = broker.layout
        assert isinstance(layout, ClusterLayout)
        slot = int(cluster.nodes[0].cli("CLUSTER", "KEYSLOT", channel))
        source = layout.owner(channel)
        ids = {n.port: n.cli("CLUSTER", "MYID") for n in cluster.nodes}
        target = next(n for n in cluster.nodes if f"127.0.0.1:{n.port}" != source)
        for node in cluster.nodes:
            node.cli("CLUSTER", "SETSLOT", str(slot), "NODE", ids[target.port])
        await eventually(lambda: channel in resynced, 10)
        assert layout.owner(channel) == f"127.0.0.1:{target.port}"
        # The room is resynced as soon as the move is seen; the subscription on the new owner
        # follows on the shard's reader, so wait for it rather than race it.
        await eventually(lambda: channel in target.cli("PUBSUB", "SHARDCHANNELS").split(), 10)
        await broker.publish(channel, b"after the move")
        assert (await inbox.wait_for(1))[-1] == (channel, b"after the move")
    finally:
        await broker.aclose()
        cluster.stop()


async def test_redis_broker_start_fails_clearly_without_redis() -> None:
    """Starting against a port where no Redis listens is a BrokerError, not a hang."""
    from bench.services import free_port
    from gateway.realtime.broker.base import BrokerError

    broker = RedisBroker(parse_redis_url(f"redis://127.0.0.1:{free_port()}"))
    with pytest.raises(BrokerError, match="cannot reach Redis"):
        await broker.start(Inbox().deliver)


async def test_redis_broker_subscribe_during_an_outage_fails_then_recovers(
    redis_binaries: None,
) -> None:
    """While the room's node is down a subscribe fails (the client gets unavailable and
    retries); once the node is back the same subscribe works and delivers."""
    from gateway.realtime.broker.base import BrokerError

    node = RedisServer().start()
    broker = RedisBroker(
        parse_redis_url(node.url), canary_interval=0.2, canary_timeout=1.0, confirm_timeout=0.5
    )
    inbox = Inbox()
    try:
        await broker.start(inbox.deliver)
        node.kill()
        await eventually(lambda: not broker.healthy, 5)
        with pytest.raises(BrokerError):
            await broker.subscribe("conv:outage")
        node.start()
        await eventually(lambda: broker.healthy, 10)
        await broker.subscribe("conv:outage")
        await broker.publish("conv:outage", b"works")
        assert await inbox.wait_for(1) == [("conv:outage", b"works")]
    finally:
        await broker.aclose()
        node.stop()


# -- the publisher's batches ----------------------------------------------------------------


@pytest.fixture(params=["standalone", "cluster"])
def deployment(request: pytest.FixtureRequest, redis_binaries: None) -> tuple[str, list]:
    """A Redis URL and its nodes: the module's standalone nodes, or its cluster."""
    if request.param == "cluster":
        cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
        return cluster.url, cluster.nodes
    nodes: list[RedisServer] = request.getfixturevalue("redis_nodes")
    return standalone_url(nodes), nodes


@asynccontextmanager
async def publishing(url: str, channels: list[str]) -> AsyncIterator[tuple]:
    """A publisher on one broker, and a second broker (another gateway) following
    ``channels``."""
    # No canary time-out while a test holds a node stopped: the connections stay as they are.
    source = RedisBroker(parse_redis_url(url), canary_timeout=60)
    follower, inbox = RedisBroker(parse_redis_url(url), canary_timeout=60), Inbox()
    await source.start(lambda channel, payload: None)
    await follower.start(inbox.deliver)
    metrics = Metrics()
    publisher = Publisher(source, metrics)
    try:
        for channel in channels:
            await follower.subscribe(channel)
        yield publisher, source, inbox, metrics
    finally:
        await publisher.aclose()
        await source.aclose()
        await follower.aclose()


def stored(channel: str, seq: int) -> MessageCreated:
    return MessageCreated(channel.removeprefix("conv:"), seq, {"seq": seq})


def arrived(inbox: Inbox, channel: str) -> list[int | None]:
    return [Push.from_payload(p).seq for c, p in inbox.received if c == channel]


async def test_publisher_batches_arrive_in_order_on_every_channel_of_every_node(
    deployment: tuple[str, list],
) -> None:
    """600 events for 30 rooms queued in one loop iteration go in one pipeline per node
    (the metrics say so) and all arrive, each room's in seq order, on rooms spread over
    every node."""
    url, nodes = deployment
    channels = [f"conv:many-{n}" for n in range(30)]
    async with publishing(url, channels) as (publisher, source, inbox, metrics):
        assert len({source.shard_of(channel) for channel in channels}) == len(nodes)
        for seq in range(1, 21):
            for channel in channels:
                await publisher.publish("o1", [stored(channel, seq)])
        await inbox.wait_for(600)
        for channel in channels:
            assert arrived(inbox, channel) == list(range(1, 21)), channel
        sample = metrics.registry.get_sample_value
        assert sample("chatgate_published_events_total") == 600
        assert sample("chatgate_publish_batches_total") == len(nodes)


async def test_publisher_a_stopped_node_holds_up_only_its_own_rooms(
    deployment: tuple[str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one node stopped (SIGSTOP: its connections stay open, nothing answers), the
    events of rooms on the other nodes, queued with and after the stopped node's, arrive
    while it is stopped; once it answers, its rooms get theirs, in order."""
    # A publish to the stopped node waits as long as it is stopped: no time-out decides.
    monkeypatch.setattr(redis_broker, "PUBLISH_TIMEOUT", 60.0)
    url, nodes = deployment
    channels = [f"conv:stopped-{n}" for n in range(12)]
    async with publishing(url, channels) as (publisher, source, inbox, _):
        victim = next(n for n in nodes if f"127.0.0.1:{n.port}" == source.shard_of(channels[0]))
        stuck = [c for c in channels if source.shard_of(c) == f"127.0.0.1:{victim.port}"]
        flowing = [c for c in channels if c not in stuck]
        assert victim.process is not None and flowing
        os.kill(victim.process.pid, signal.SIGSTOP)
        try:
            for seq in (1, 2):
                for channel in channels:
                    await publisher.publish("o1", [stored(channel, seq)])
            await inbox.wait_for(2 * len(flowing))
            for seq in (3, 4):  # a second and a third batch, while the first one waits
                for channel in channels:
                    await publisher.publish("o1", [stored(channel, seq)])
                await inbox.wait_for(seq * len(flowing))
            assert {c for c, _ in inbox.received} == set(flowing)
        finally:
            os.kill(victim.process.pid, signal.SIGCONT)
        await inbox.wait_for(4 * len(channels))
        for channel in channels:
            assert arrived(inbox, channel) == [1, 2, 3, 4], channel


async def test_publisher_retries_a_refused_pipeline_entry_until_it_arrives(
    redis_nodes: list[RedisServer],
) -> None:
    """A publish Redis refuses inside a pipeline (here: the ACL denies the channel) while
    the rest of the pipeline goes through is tried again, and arrives once it is allowed."""
    node = redis_nodes[0]
    user = f"pub{uuid.uuid4().hex[:8]}"
    assert node.cli("ACL", "SETUSER", user, "on", ">secret", "~*", "+@all", "resetchannels",
                    "&conv:ok-*", "&chatgate:canary:*") == "OK"  # fmt: skip
    try:
        refused, allowed = "conv:later-1", "conv:ok-1"
        source = RedisBroker(parse_redis_url(f"redis://{user}:secret@127.0.0.1:{node.port}"))
        follower, inbox = RedisBroker(parse_redis_url(node.url)), Inbox()
        await source.start(lambda channel, payload: None)
        await follower.start(inbox.deliver)
        publisher = Publisher(source)
        try:
            for channel in (refused, allowed):
                await follower.subscribe(channel)
            await publisher.publish("o1", [stored(refused, 1)])
            await publisher.publish("o1", [stored(allowed, 1)])  # the same pipeline, after it
            await inbox.wait_for(1)
            assert node.cli("ACL", "SETUSER", user, "&conv:later-*") == "OK"
            await inbox.wait_for(2)
            assert [c for c, _ in inbox.received] == [allowed, refused]
        finally:
            await publisher.aclose()
            await source.aclose()
            await follower.aclose()
    finally:
        node.cli("ACL", "DELUSER", user)
