"""The publisher: publishing never makes the caller wait for the broker; each channel's
events go out in order; a publish the broker refuses after the write is tried again, so
that a conversation's last event and inbox events (nothing later reveals them missing)
arrive; the backlog is bounded."""

from __future__ import annotations

import asyncio

import pytest

from gateway.realtime import publisher as publishing
from gateway.realtime.broker.base import BrokerError
from gateway.realtime.broker.memory import MemoryBroker, MemoryHub
from gateway.realtime.publisher import Publisher
from gateway.realtime.push import Push
from protocol.events import ConversationCreated, MessageCreated, TypingChanged
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


class HungBroker(MemoryBroker):
    """Our broker interface, whose ``hung`` channels live on a shard of their own whose
    publishes wait until ``thaw`` (a Redis node that stopped answering)."""

    def __init__(self, hub: MemoryHub, hung: set[str]) -> None:
        super().__init__(hub)
        self.hung = hung
        self.thawed = asyncio.Event()

    async def publish(self, channel: str, payload: bytes) -> None:
        if channel in self.hung:
            await self.thawed.wait()
        await super().publish(channel, payload)

    def shard_of(self, channel: str) -> str:
        return "hung" if channel in self.hung else super().shard_of(channel)


def message(conversation_id: str, seq: int) -> MessageCreated:
    return MessageCreated(conversation_id, seq, {"seq": seq})


def seqs(inbox: Inbox, channel: str) -> list[int | None]:
    return [Push.from_payload(p).seq for c, p in inbox.received if c == channel]


async def follower(hub: MemoryHub, *channels: str) -> Inbox:
    broker, inbox = MemoryBroker(hub), Inbox()
    await broker.start(inbox.deliver)
    for channel in channels:
        await broker.subscribe(channel)
    return inbox


async def test_publisher_keeps_each_channels_order_through_retries() -> None:
    """Events refused by the broker are retried before the ones behind them go out."""
    hub = MemoryHub()
    inbox = await follower(hub, "conv:c1")
    broker = RefusingBroker(hub, refusals=2)
    await broker.start(lambda channel, payload: None)
    publisher = Publisher(broker)
    for seq in range(1, 6):
        await publisher.publish("o1", [message("c1", seq)])
    await inbox.wait_for(5)
    assert seqs(inbox, "conv:c1") == [1, 2, 3, 4, 5]
    await publisher.aclose()


async def test_publisher_never_waits_and_a_hung_channel_holds_up_only_itself() -> None:
    """A publish returns while the broker hangs on its channel; other channels' events
    still go out at once; the hung one's follow, in order, when it answers."""
    hub = MemoryHub()
    inbox = await follower(hub, "conv:hung", "conv:fine")
    broker = HungBroker(hub, {"conv:hung"})
    await broker.start(lambda channel, payload: None)
    publisher = Publisher(broker)
    async with asyncio.timeout(1):
        for seq in (1, 2, 3):
            await publisher.publish("o1", [message("hung", seq)])
    await publisher.publish("o1", [message("fine", 1)])
    assert await inbox.wait_for(1) == [("conv:fine", message_payload("fine", 1))]
    await publisher.publish("o1", [message("hung", 4)])  # waits behind the batch 1-3
    await publisher.publish("o1", [message("fine", 2)])
    await inbox.wait_for(2)
    assert seqs(inbox, "conv:fine") == [1, 2] and seqs(inbox, "conv:hung") == []
    assert publisher.backlog == 1  # seq 1-3 are with the broker
    broker.thawed.set()
    await inbox.wait_for(6)
    assert seqs(inbox, "conv:hung") == [1, 2, 3, 4]
    await publisher.aclose()


def message_payload(conversation_id: str, seq: int) -> bytes:
    return Push.from_event(message(conversation_id, seq)).payload


async def test_publisher_drops_the_oldest_past_a_channels_backlog(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A channel whose broker hangs keeps its newest events (their seq reveals the gap to
    the rooms, which read it from storage) and drops the oldest waiting ones."""
    monkeypatch.setattr(publishing, "CHANNEL_BACKLOG", 3)
    hub = MemoryHub()
    inbox = await follower(hub, "conv:c1")
    broker = HungBroker(hub, {"conv:c1"})
    await broker.start(lambda channel, payload: None)
    publisher = Publisher(broker)
    for seq in range(1, 8):
        await publisher.publish("o1", [message("c1", seq)])
    assert publisher.backlog == 3
    broker.thawed.set()
    await inbox.wait_for(3)
    assert seqs(inbox, "conv:c1") == [5, 6, 7]
    await publisher.aclose()


async def test_publisher_close_gives_queued_publishes_a_grace_then_drops_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Closing waits for queued publishes a moment (shutdown after the last writes), then
    stops the ones the broker still holds; nothing is published after close."""
    monkeypatch.setattr(publishing, "CLOSE_GRACE", 0.2)
    hub = MemoryHub()
    inbox = await follower(hub, "conv:c1", "conv:hung")
    broker = HungBroker(hub, {"conv:hung"})
    await broker.start(lambda channel, payload: None)
    publisher = Publisher(broker)
    await publisher.publish("o1", [message("c1", 1), message("hung", 1)])
    await publisher.aclose()
    assert seqs(inbox, "conv:c1") == [1]
    assert seqs(inbox, "conv:hung") == [] and publisher.backlog == 0
    await publisher.publish("o1", [message("c1", 2)])
    broker.thawed.set()
    await asyncio.sleep(0)
    assert seqs(inbox, "conv:c1") == [1] and seqs(inbox, "conv:hung") == []
