"""Pick the presence table a deployment needs: in process, or shared through Redis."""

from __future__ import annotations

from gateway.presence.leases import Leases
from gateway.presence.memory import MemoryLeases
from gateway.presence.redis import RedisLeases

__all__ = ["create_leases"]


def create_leases(redis_url: str) -> Leases:
    """In process when ``redis_url`` (the broker's) is empty, else in Redis."""
    return RedisLeases(redis_url) if redis_url else MemoryLeases()
