"""The broker interface: carries event payloads between gateway nodes, by channel (room).

Implementations: ``memory.MemoryBroker`` (one process; the embedded default) and
``redis.RedisBroker`` (several standalone Redis nodes, or a Redis Cluster with sharded
pub/sub). Every node, the publisher's own included, delivers only what its broker hands back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

__all__ = ["Broker", "BrokerError", "Deliver", "Resync"]

#: Called with ``(channel, payload)`` for every message on a subscribed channel. It must not
#: block and must not raise: it runs on the broker's reader (or inside ``publish``).
Deliver = Callable[[str, bytes], None]

#: Called with channels whose messages may have been lost (after a reconnect, a canary
#: timeout, a slot move). The receiver backfills them from storage. Must not block.
Resync = Callable[[Iterable[str]], None]


class Broker(Protocol):
    """Pub/sub between nodes. Delivery is at most once; order is kept per channel and
    publisher, not across publishers. Consumers detect gaps by ``seq`` and backfill from
    storage (persist, then publish).
    """

    async def start(self, deliver: Deliver, resync: Resync | None = None) -> None:
        """Start delivering to ``deliver``; report possible losses to ``resync``. Call once,
        before ``subscribe``.

        Raises:
            BrokerError: the broker cannot be reached.
        """
        ...

    async def aclose(self) -> None:
        """Stop; no ``deliver`` call happens after this returns. Idempotent."""
        ...

    async def subscribe(self, channel: str) -> None:
        """Receive ``channel``. When this returns, every later publish is delivered.
        Idempotent."""
        ...

    async def unsubscribe(self, channel: str) -> None:
        """Stop receiving ``channel``. Idempotent."""
        ...

    async def publish(self, channel: str, payload: bytes) -> None:
        """Send ``payload`` to every node subscribed to ``channel`` (this one included).

        Raises:
            BrokerError: the message could not be handed to the broker.
        """
        ...

    async def publish_many(self, items: Sequence[tuple[str, bytes]]) -> list[BrokerError | None]:
        """Send each ``(channel, payload)`` like ``publish``, in one round trip per shard
        (a Redis pipeline per node), in the given order within each channel.

        Never raises for a broker failure: it answers one outcome per item, in order, None
        when the item was handed to the broker, else the ``BrokerError`` it failed with. An
        item may fail while others go through. In process, the items of a channel after a
        failed one are not sent (they fail with it); a Redis pipeline has sent them already,
        so when one command of it fails alone (an error reply: rare, a slot on the move) the
        later ones of its channel reach Redis first, and the rooms, which order by seq, hold
        them until the retried one arrives. It returns when every shard answered: a caller
        that must not wait for a slow shard calls it once per shard (``shard_of``).
        """
        ...

    def shard_of(self, channel: str) -> str:
        """The shard that carries ``channel`` (a Redis node): channels of one shard share its
        connections and its delays, channels of different shards do not. Stable while the
        deployment's shape is; never raises (an unplaceable channel gets a shard of its own
        kind, whose publishes fail)."""
        ...

    @property
    def healthy(self) -> bool:
        """False while the broker cannot deliver (readiness)."""
        ...

    @property
    def spans_processes(self) -> bool:
        """True when publishes reach other processes (and hosts) too."""
        ...


class BrokerError(Exception):
    """The broker could not carry out an operation."""
