"""The in-process broker passes the broker contract."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.realtime.broker.base import Broker
from gateway.realtime.broker.memory import MemoryBroker, MemoryHub
from tests.contracts.broker import BrokerContract


class TestMemoryBroker(BrokerContract):
    @pytest.fixture
    def make_broker(self) -> Callable[[], Broker]:
        hub = MemoryHub()
        return lambda: MemoryBroker(hub)


async def test_memory_broker_start_twice_is_refused() -> None:
    """Starting a broker twice is a programming error."""
    broker = MemoryBroker()
    await broker.start(lambda channel, payload: None)
    with pytest.raises(RuntimeError):
        await broker.start(lambda channel, payload: None)
