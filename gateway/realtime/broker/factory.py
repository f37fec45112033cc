"""Pick the broker a deployment needs: in process, or Redis (standalone nodes or a cluster)."""

from __future__ import annotations

from gateway.realtime.broker.base import Broker
from gateway.realtime.broker.memory import MemoryBroker
from gateway.realtime.broker.redis import RedisBroker
from gateway.settings import Settings
from gateway.shards.layouts import parse_redis_url

__all__ = ["create_broker"]


def create_broker(settings: Settings) -> Broker:
    """The broker the settings ask for: Redis when ``redis_url`` is set, else in-process.

    Raises:
        ValueError: ``redis_url`` is malformed.
    """
    if settings.redis_url:
        return RedisBroker(
            parse_redis_url(settings.redis_url),
            canary_interval=settings.broker_canary_interval,
            canary_timeout=settings.broker_canary_timeout,
        )
    return MemoryBroker()
