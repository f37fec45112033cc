"""The broker contract, for every implementation: subclass and provide ``make_broker``.

``make_broker()`` returns a new, not yet started broker; brokers made by one test's factory
are nodes of one bus (they see each other's publishes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from gateway.realtime.broker.base import Broker
from tests.support import timeout


class Inbox:
    """What one node's ``deliver`` received, with a way to wait for more."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        self._changed = asyncio.Event()

    def deliver(self, channel: str, payload: bytes) -> None:
        self.received.append((channel, payload))
        self._changed.set()

    async def wait_for(self, count: int, seconds: float = 5) -> list[tuple[str, bytes]]:
        async with asyncio.timeout(timeout(seconds)):
            while len(self.received) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.received


class BrokerContract:
    """Delivery semantics every broker must keep."""

    #: How long a networked broker may take to deliver something that must NOT arrive.
    settle_seconds: float = 0.0

    @pytest.fixture
    def make_broker(self) -> Callable[[], Broker]:
        raise NotImplementedError

    @pytest.fixture
    async def node(self, make_broker: Callable[[], Broker]) -> Any:
        started: list[Broker] = []

        async def start() -> tuple[Broker, Inbox]:
            broker = make_broker()
            inbox = Inbox()
            await broker.start(inbox.deliver)
            started.append(broker)
            return broker, inbox

        yield start
        for broker in started:
            await broker.aclose()

    async def _quiet(self) -> None:
        await asyncio.sleep(self.settle_seconds)

    async def test_broker_delivers_to_the_publisher_itself(self, node: Any) -> None:
        """A node subscribed to a channel gets its own publishes back (one path)."""
        broker, inbox = await node()
        await broker.subscribe("conv:a")
        await broker.publish("conv:a", b"one")
        assert await inbox.wait_for(1) == [("conv:a", b"one")]
        assert broker.healthy

    async def test_broker_takes_a_burst_of_publishes_at_once(self, node: Any) -> None:
        """500 publishes in flight together (a busy node after a stall) all succeed and all
        arrive; none is refused for want of a connection."""
        (a, _), (b, inbox_b) = [await node() for _ in range(2)]
        channels = [f"conv:burst-{n}" for n in range(500)]
        for channel in channels:
            await b.subscribe(channel)
        await asyncio.gather(*(a.publish(channel, b"x") for channel in channels))
        received = await inbox_b.wait_for(len(channels), seconds=10)
        assert sorted(channel for channel, _ in received) == sorted(channels)

    async def test_broker_fans_out_to_subscribed_nodes_only(self, node: Any) -> None:
        """Every subscribed node gets a publish; a node not subscribed gets nothing."""
        (a, inbox_a), (b, inbox_b), (c, inbox_c) = [await node() for _ in range(3)]
        await a.subscribe("conv:x")
        await b.subscribe("conv:x")
        await c.subscribe("conv:other")
        await c.publish("conv:x", b"hello")
        assert await inbox_a.wait_for(1) == [("conv:x", b"hello")]
        assert await inbox_b.wait_for(1) == [("conv:x", b"hello")]
        await c.publish("conv:other", b"mark")
        await inbox_c.wait_for(1)
        assert inbox_c.received == [("conv:other", b"mark")], "no traffic of conv:x"

    async def test_broker_keeps_publisher_order(self, node: Any) -> None:
        """Messages from one publisher on one channel arrive in publish order."""
        (a, _), (b, inbox_b) = await node(), await node()
        await b.subscribe("conv:order")
        for n in range(200):
            await a.publish("conv:order", str(n).encode())
        received = await inbox_b.wait_for(200)
        assert [int(p) for _, p in received] == list(range(200))

    async def test_broker_publishes_a_batch_in_order_per_channel(self, node: Any) -> None:
        """``publish_many`` hands over every item of a batch spanning channels (and shards):
        one outcome each, and each channel's items arrive in the order given."""
        (a, _), (b, inbox_b) = await node(), await node()
        channels = [f"conv:batch-{n}" for n in range(20)]
        for channel in channels:
            await b.subscribe(channel)
        items = [(channel, str(n).encode()) for n in range(10) for channel in channels]
        assert await a.publish_many(items) == [None] * len(items)
        received = await inbox_b.wait_for(len(items))
        for channel in channels:
            assert [int(p) for c, p in received if c == channel] == list(range(10)), channel

    async def test_broker_subscribe_and_unsubscribe_are_idempotent(self, node: Any) -> None:
        """Subscribing twice delivers once; unsubscribing twice is harmless and final."""
        broker, inbox = await node()
        await broker.subscribe("conv:i")
        await broker.subscribe("conv:i")
        await broker.publish("conv:i", b"1")
        await inbox.wait_for(1)
        await broker.unsubscribe("conv:i")
        await broker.unsubscribe("conv:i")
        await broker.unsubscribe("conv:never")
        await broker.publish("conv:i", b"2")
        await broker.subscribe("conv:mark")
        await broker.publish("conv:mark", b"3")
        await inbox.wait_for(2)
        assert inbox.received == [("conv:i", b"1"), ("conv:mark", b"3")]

    async def test_broker_binary_payloads_pass_unchanged(self, node: Any) -> None:
        """Any bytes, including NULs and invalid UTF-8, arrive byte for byte."""
        broker, inbox = await node()
        await broker.subscribe("conv:bin")
        payload = bytes(range(256)) * 40
        await broker.publish("conv:bin", payload)
        assert (await inbox.wait_for(1))[0][1] == payload

    async def test_broker_publish_without_subscribers_is_fine(self, node: Any) -> None:
        """Publishing to a channel nobody follows neither fails nor delivers."""
        broker, inbox = await node()
        await broker.publish("conv:nobody", b"x")
        await broker.subscribe("conv:mark")
        await broker.publish("conv:mark", b"y")
        assert await inbox.wait_for(1) == [("conv:mark", b"y")]

    async def test_broker_aclose_stops_delivery(self, node: Any) -> None:
        """After aclose nothing more is delivered to that node."""
        (a, inbox_a), (b, _) = await node(), await node()
        await a.subscribe("conv:z")
        await a.aclose()
        await b.publish("conv:z", b"late")
        await self._quiet()
        assert inbox_a.received == []
