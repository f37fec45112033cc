"""In-process broker: ``publish`` calls ``deliver`` directly (no background task).

It is one shard: nothing in it can hang, so one batch (``publish_many``) carries every
channel. Several ``MemoryBroker``s sharing one ``MemoryHub`` behave like nodes on one bus,
which lets tests run several gateways in one process without Redis.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.realtime.broker.base import BrokerError, Deliver, Resync

__all__ = ["MemoryBroker", "MemoryHub"]


class MemoryHub:
    """Channels shared by the brokers attached to it."""

    def __init__(self) -> None:
        self.subscribers: dict[str, set[MemoryBroker]] = {}

    def publish(self, channel: str, payload: bytes) -> None:
        for broker in tuple(self.subscribers.get(channel, ())):
            broker.deliver_local(channel, payload)


class MemoryBroker:
    """The ``Broker`` of one process (or of several, on a shared ``MemoryHub``)."""

    def __init__(self, hub: MemoryHub | None = None) -> None:
        self._hub = hub if hub is not None else MemoryHub()
        self._deliver: Deliver | None = None
        self._channels: set[str] = set()

    async def start(self, deliver: Deliver, resync: Resync | None = None) -> None:
        if self._deliver is not None:
            raise RuntimeError("MemoryBroker.start() called twice")
        self._deliver = deliver

    async def aclose(self) -> None:
        for channel in tuple(self._channels):
            await self.unsubscribe(channel)
        self._deliver = None

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        self._hub.subscribers.setdefault(channel, set()).add(self)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        members = self._hub.subscribers.get(channel)
        if members is not None:
            members.discard(self)
            if not members:
                del self._hub.subscribers[channel]

    async def publish(self, channel: str, payload: bytes) -> None:
        self._hub.publish(channel, payload)

    async def publish_many(self, items: Sequence[tuple[str, bytes]]) -> list[BrokerError | None]:
        outcomes: list[BrokerError | None] = []
        refused: dict[str, BrokerError] = {}  # nothing of a channel overtakes its failure
        for channel, payload in items:
            error = refused.get(channel)
            if error is None:
                try:
                    await self.publish(channel, payload)
                except BrokerError as exc:
                    error = refused[channel] = exc
            outcomes.append(error)
        return outcomes

    def shard_of(self, channel: str) -> str:
        return "memory"

    def deliver_local(self, channel: str, payload: bytes) -> None:
        if self._deliver is not None and channel in self._channels:
            self._deliver(channel, payload)

    @property
    def healthy(self) -> bool:
        return self._deliver is not None

    spans_processes = False
