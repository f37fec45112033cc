"""The broker: carries event payloads between gateway nodes, by channel (room).

Implementations: ``memory.MemoryBroker`` (one process; the embedded default). Every node,
the publisher's own included, delivers only what its broker hands back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from gateway.settings import Settings

__all__ = ["Broker", "BrokerError", "Deliver", "create_broker"]

#: Called with ``(channel, payload)`` for every message on a subscribed channel. It must not
#: block and must not raise: it runs on the broker's reader (or inside ``publish``).
Deliver = Callable[[str, bytes], None]


class Broker(Protocol):
    """Pub/sub between nodes. Delivery is at most once; order is kept per channel and
    publisher, not across publishers. Consumers detect gaps by ``seq`` and backfill from
    storage (persist, then publish).
    """

    async def start(self, deliver: Deliver) -> None:
        """Start delivering to ``deliver``. Call once, before ``subscribe``."""
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

    @property
    def healthy(self) -> bool:
        """False while the broker cannot deliver (readiness)."""
        ...


class BrokerError(Exception):
    """The broker could not carry out an operation."""


def create_broker(settings: Settings) -> Broker:
    """The broker the settings ask for."""
    from gateway.broker.memory import MemoryBroker

    return MemoryBroker()
