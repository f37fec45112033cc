"""Pick the rate limiter a deployment needs: in process, or shared through Redis."""

from __future__ import annotations

from gateway.limits.gcra import RateLimiter
from gateway.limits.memory import MemoryRateLimiter
from gateway.limits.redis import RedisRateLimiter

__all__ = ["create_rate_limiter"]


def create_rate_limiter(redis_url: str) -> RateLimiter:
    """The limiter for ``redis_url`` (the broker's URL): in process when it is empty, else
    shared through Redis (standalone nodes or a cluster).

    Raises:
        ValueError: ``redis_url`` is malformed.
    """
    if not redis_url:
        return MemoryRateLimiter()
    return RedisRateLimiter(redis_url)
