"""The publisher: a publish the broker refuses after the write is tried again, so that a
conversation's last event and inbox events (nothing later reveals them missing) arrive."""

from __future__ import annotations

import asyncio

from gateway.realtime.broker.base import BrokerError
from gateway.realtime.broker.memory import MemoryBroker, MemoryHub
from gateway.realtime.publisher import Publisher
from protocol.events import ConversationCreated, TypingChanged
from tests.contracts.broker import Inbox


class RefusingBroker(MemoryBroker):
    """Our broker interface, refusing its first ``refusals`` publishes (a pool exhausted,
    a node failing over)."""

    def __init__(self, hub: MemoryHub, refusals: int) -> None:
        super().__init__(hub)
        self.refusals = refusals

    async def publish(self, channel: str, payload: bytes) -> None:
        if self.refusals > 0:
            self.refusals -= 1
            raise BrokerError("no connection available")
        await super().publish(channel, payload)


async def test_publisher_retries_a_refused_publish_until_it_goes_through() -> None:
    hub = MemoryHub()
    follower, inbox = MemoryBroker(hub), Inbox()
    await follower.start(inbox.deliver)
    await follower.subscribe("conv:c1")
    await follower.subscribe("inbox:o1")
    broker = RefusingBroker(hub, refusals=3)
    await broker.start(lambda channel, payload: None)
    publisher = Publisher(broker)
    created = ConversationCreated("c1", {"id": "c1"})
    await publisher.publish("o1", [created])  # returns at once: the write is acknowledged
    received = await inbox.wait_for(2, seconds=5)
    assert sorted(channel for channel, _ in received) == ["conv:c1", "inbox:o1"]
    await publisher.aclose()


async def test_publisher_does_not_retry_typing() -> None:
    """Typing and read have no seq: stale by the time a retry would land."""
    hub = MemoryHub()
    follower, inbox = MemoryBroker(hub), Inbox()
    await follower.start(inbox.deliver)
    await follower.subscribe("conv:c1")
    broker = RefusingBroker(hub, refusals=1)
    await broker.start(lambda channel, payload: None)
    publisher = Publisher(broker)
    await publisher.publish("o1", [TypingChanged("c1", True, "visitor", None)])
    await asyncio.sleep(0.3)
    assert inbox.received == []
    await publisher.aclose()
