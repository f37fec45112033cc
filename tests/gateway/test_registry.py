"""The registry: rooms deliver each seq once, in order, backfilling gaps from storage;
a node subscribes to a room only while it has a member there."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.core.metrics import Metrics
from gateway.core.rooms import conversation_channel
from gateway.realtime.broker.base import BrokerError
from gateway.realtime.broker.memory import MemoryBroker, MemoryHub
from gateway.realtime.push import Push
from gateway.realtime.registry import Registry
from gateway.realtime.session import Session
from gateway.realtime.task_outlet import TaskOutlet
from protocol.codes import ErrorCode
from protocol.encoding import JSON, MSGPACK
from protocol.errors import GatewayError
from storage.errors import StorageError
from storage.sqlite import SQLiteStore
from tests.contracts.rows import add_conversation, add_org, plan_of, visitor_says
from tests.support import eventually, timeout


class Node:
    """One gateway node's registry on a shared hub, and sessions that record frames."""

    def __init__(self, hub: MemoryHub, store: SQLiteStore, gap_timeout: float = 0.05) -> None:
        self.broker = MemoryBroker(hub)
        self.metrics = Metrics()
        self.registry = Registry(self.broker, store, gap_timeout=gap_timeout, metrics=self.metrics)
        self.store = store
        self.delivered: list[tuple[str, bytes]] = []

    async def start(self) -> None:
        def deliver(channel: str, payload: bytes) -> None:
            self.delivered.append((channel, payload))
            self.registry.deliver(channel, payload)

        await self.broker.start(deliver)

    async def member(self, conversation_id: str) -> Member:
        member = Member(self)
        await member.follow(conversation_id)
        return member


class Member:
    def __init__(self, node: Node) -> None:
        self.frames: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

        async def send(frame: str | bytes) -> None:
            decoded = orjson.loads(frame)
            self.frames.extend(decoded if isinstance(decoded, list) else [decoded])
            self.changed.set()

        self.node = node
        outlet = TaskOutlet(send, JSON, queue_size=64, max_batch=8, metrics=node.metrics)
        self.session = Session(uuid.uuid4().hex, JSON, outlet, metrics=node.metrics)
        self.task = asyncio.create_task(self.session.run(asyncio.Event().wait))

    async def follow(self, conversation_id: str) -> None:
        self.session.watch(conversation_id)
        await self.node.registry.join(self.session, conversation_channel(conversation_id))

        async def read(after: int) -> list[Any]:
            return await self.node.store.read_events(conversation_id, after, 200)

        await self.session.follow(conversation_id, 0, read)

    async def seqs(self, count: int) -> list[int]:
        async with asyncio.timeout(timeout(5)):
            while len(self.frames) < count:
                self.changed.clear()
                await self.changed.wait()
        return [f["seq"] for f in self.frames]

    async def aclose(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@dataclass
class World:
    hub: MemoryHub
    org_id: str
    conversation_id: str


@pytest.fixture
async def world(sqlite_store: SQLiteStore) -> World:
    org = await add_org(sqlite_store)
    conversation = await add_conversation(sqlite_store, org.id)
    return World(MemoryHub(), org.id, conversation.id)


async def store_messages(store: SQLiteStore, world: World, count: int) -> list[Push]:
    """Persist ``count`` messages and return their pushes, unpublished."""
    pushes = []
    for n in range(count):
        decide = plan_of(visitor_says(f"m{n}"))
        applied = await store.apply(world.org_id, world.conversation_id, decide)
        pushes.extend(Push.from_event(e) for e in applied.events)
    return pushes


async def test_registry_reorders_and_drops_duplicates(
    sqlite_store: SQLiteStore, world: World
) -> None:
    """Events published out of order and twice reach members once each, in seq order."""
    hub, cid = world.hub, world.conversation_id
    node = Node(hub, sqlite_store, gap_timeout=5)
    await node.start()
    member = await node.member(cid)
    pushes = await store_messages(sqlite_store, world, 4)
    for index in (1, 0, 0, 3, 2, 1):
        await node.broker.publish(conversation_channel(cid), pushes[index].payload)
    assert await member.seqs(4) == [1, 2, 3, 4]
    await asyncio.sleep(0)
    assert len(member.frames) == 4
    assert node.metrics.duplicates._value.get() == 2
    await member.aclose()


async def test_registry_backfills_a_lost_publish_from_storage(
    sqlite_store: SQLiteStore, world: World
) -> None:
    """A seq whose publish was lost is read from storage after gap_timeout."""
    hub, cid = world.hub, world.conversation_id
    node = Node(hub, sqlite_store, gap_timeout=0.05)
    await node.start()
    member = await node.member(cid)
    pushes = await store_messages(sqlite_store, world, 3)
    await node.broker.publish(conversation_channel(cid), pushes[0].payload)
    await node.broker.publish(conversation_channel(cid), pushes[2].payload)  # 2 is lost
    assert await member.seqs(3) == [1, 2, 3]
    assert member.frames[1]["data"]["content"] == "m1"
    assert node.metrics.gaps._value.get() == 1
    await member.aclose()


async def test_registry_subscribes_only_while_a_member_is_there(
    sqlite_store: SQLiteStore, world: World
) -> None:
    """A node without a member in a room receives none of its traffic; the last member
    leaving unsubscribes."""
    hub, cid = world.hub, world.conversation_id
    busy, idle = Node(hub, sqlite_store), Node(hub, sqlite_store)
    await busy.start()
    await idle.start()
    member = await busy.member(cid)
    channel = conversation_channel(cid)
    assert set(hub.subscribers[channel]) == {busy.broker}
    for push in await store_messages(sqlite_store, world, 3):
        await busy.broker.publish(channel, push.payload)
    assert await member.seqs(3) == [1, 2, 3]
    assert idle.delivered == [] and len(busy.delivered) == 3
    await busy.registry.leave(member.session, channel)
    assert channel not in hub.subscribers and busy.registry.room_count == 0
    await member.aclose()


async def test_registry_leave_racing_join_keeps_the_subscription(
    sqlite_store: SQLiteStore, world: World
) -> None:
    """The last member leaving while a new one joins never leaves the room unsubscribed."""
    hub, cid = world.hub, world.conversation_id
    node = Node(hub, sqlite_store)
    await node.start()
    first = await node.member(cid)
    second = Member(node)
    channel = conversation_channel(cid)
    await asyncio.gather(node.registry.leave(first.session, channel), second.follow(cid))
    assert node.broker in hub.subscribers[channel]
    push = (await store_messages(sqlite_store, world, 1))[0]
    await node.broker.publish(channel, push.payload)
    assert await second.seqs(1) == [1]
    for member in (first, second):
        await member.aclose()


class FlakyBroker(MemoryBroker):
    """The in-process broker with an injectable subscribe failure (a broker outage)."""

    failing = True

    async def subscribe(self, channel: str) -> None:
        if self.failing:
            raise BrokerError("broker down")
        await super().subscribe(channel)


class FlakyStore(SQLiteStore):
    """A real SQLite store whose next reads fail when told to (a database hiccup)."""

    fail_reads = 0
    fail_last_seq = 0

    async def read_events(self, conversation_id: str, after_seq: int, limit: int) -> list[Any]:
        if self.fail_reads:
            self.fail_reads -= 1
            raise StorageError("database hiccup")
        return await super().read_events(conversation_id, after_seq, limit)

    async def last_seq(self, conversation_id: str) -> int | None:
        if self.fail_last_seq:
            self.fail_last_seq -= 1
            raise StorageError("database hiccup")
        return await super().last_seq(conversation_id)


async def test_registry_drops_an_undecodable_payload(
    sqlite_store: SQLiteStore, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage on a room's channel is logged and dropped; the room keeps working."""
    node = Node(world.hub, sqlite_store)
    await node.start()
    member = await node.member(world.conversation_id)
    channel = conversation_channel(world.conversation_id)
    await node.broker.publish(channel, b"\xc1 not msgpack")
    push = (await store_messages(sqlite_store, world, 1))[0]
    await node.broker.publish(channel, push.payload)
    assert await member.seqs(1) == [1]
    assert "undecodable" in caplog.text
    await member.aclose()


async def test_registry_join_while_the_broker_refuses_goes_live_once_it_accepts(
    sqlite_store: SQLiteStore, world: World
) -> None:
    """A join the broker cannot subscribe yet still succeeds; the member gets what was
    stored meanwhile, then live events, in order and once each, when the broker accepts."""
    node = Node(world.hub, sqlite_store)
    node.broker = FlakyBroker(world.hub)
    node.registry = Registry(node.broker, sqlite_store, gap_timeout=0.05, metrics=node.metrics)
    await node.start()
    member = await node.member(world.conversation_id)
    channel = conversation_channel(world.conversation_id)
    missed = await store_messages(sqlite_store, world, 2)
    for push in missed:  # nobody subscribed: lost on the bus
        await node.broker.publish(channel, push.payload)
    assert member.frames == []
    node.broker.failing = False
    assert await member.seqs(2) == [1, 2]
    live = (await store_messages(sqlite_store, world, 1))[0]
    await node.broker.publish(channel, live.payload)
    assert await member.seqs(3) == [1, 2, 3]
    await member.aclose()
    await node.registry.aclose()


async def test_registry_join_fails_cleanly_when_the_baseline_cannot_be_read(
    tmp_path: Path, world: World
) -> None:
    """A room whose last seq cannot be read answers unavailable and leaves no half-open
    room behind; the next join works."""
    async with FlakyStore(tmp_path / "flaky.db") as store:
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        node = Node(world.hub, store)
        await node.start()
        member = Member(node)
        store.fail_last_seq = 1
        with pytest.raises(GatewayError) as info:
            await member.follow(conversation.id)
        assert info.value.code is ErrorCode.UNAVAILABLE
        assert node.registry.room_count == 0
        # The failed room's unsubscribe runs on the side.
        await eventually(
            lambda: conversation_channel(conversation.id) not in world.hub.subscribers, 2
        )
        await member.follow(conversation.id)
        push = (await store_messages(store, World(world.hub, org.id, conversation.id), 1))[0]
        await node.broker.publish(conversation_channel(conversation.id), push.payload)
        assert await member.seqs(1) == [1]
        await member.aclose()
        await node.registry.aclose()


async def test_registry_backfill_retries_after_a_storage_failure(
    tmp_path: Path, world: World
) -> None:
    """If reading a gap from storage fails, the room tries again and still delivers."""
    async with FlakyStore(tmp_path / "flaky.db") as store:
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        flaky = World(world.hub, org.id, conversation.id)
        node = Node(world.hub, store, gap_timeout=0.02)
        await node.start()
        member = await node.member(conversation.id)
        pushes = await store_messages(store, flaky, 3)
        store.fail_reads = 2
        channel = conversation_channel(conversation.id)
        await node.broker.publish(channel, pushes[0].payload)
        await node.broker.publish(channel, pushes[2].payload)
        assert await member.seqs(3) == [1, 2, 3]
        assert node.metrics.gaps._value.get() >= 3
        await member.aclose()
        await node.registry.aclose()


async def test_registry_encodes_each_event_once_per_codec(
    sqlite_store: SQLiteStore, world: World
) -> None:
    """Every JSON session gets the very same encoded object; msgpack sessions get the broker
    payload itself, untouched."""
    node = Node(world.hub, sqlite_store)
    await node.start()
    sent: dict[str, list[str | bytes]] = {"json": [], "msgpack": []}
    all_sent = asyncio.Event()
    sessions = []
    for codec in (JSON, JSON, JSON, MSGPACK, MSGPACK):
        kind = "msgpack" if codec.binary else "json"

        async def send(frame: str | bytes, kind: str = kind) -> None:
            sent[kind].append(frame)
            if len(sent["json"]) == 3 and len(sent["msgpack"]) == 2:
                all_sent.set()

        outlet = TaskOutlet(send, codec, queue_size=8, max_batch=8, metrics=node.metrics)
        session = Session(uuid.uuid4().hex, codec, outlet, metrics=node.metrics)
        session.watch(world.conversation_id)
        session.subscriptions[world.conversation_id].buffer = None
        await node.registry.join(session, conversation_channel(world.conversation_id))
        sessions.append((session, asyncio.create_task(session.run(asyncio.Event().wait))))
    push = (await store_messages(sqlite_store, world, 1))[0]
    await node.broker.publish(conversation_channel(world.conversation_id), push.payload)
    await asyncio.wait_for(all_sent.wait(), timeout(5))
    assert sent["json"][0] is sent["json"][1] is sent["json"][2]
    assert all(frame == push.payload for frame in sent["msgpack"])
    assert sent["msgpack"][0] is sent["msgpack"][1]
    for _, task in sessions:
        task.cancel()
    await asyncio.gather(*(task for _, task in sessions), return_exceptions=True)
