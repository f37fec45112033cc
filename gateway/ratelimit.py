"""Rate limiting with GCRA (the generic cell rate algorithm), in process or in Redis.

GCRA keeps one number per key, the theoretical arrival time (TAT): when the bucket would be
empty again if requests kept arriving at the steady rate. With the emission interval
``T = period / limit`` and a burst tolerance of ``period - T`` (a full bucket holds ``limit``
requests), a request of ``cost`` is allowed at ``now`` when

    max(tat, now) + cost * T - period <= now

and then moves the TAT to ``max(tat, now) + cost * T``. A denied request leaves it alone.

``gcra`` is the one step, written once; ``MemoryRateLimiter`` runs it in process, and
``ratelimit_redis.RedisRateLimiter`` runs a Lua script that mirrors it line by line on the
Redis server's clock. Both compute in integer microseconds, so they agree to the microsecond.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

__all__ = [
    "Decision",
    "MemoryRateLimiter",
    "Rate",
    "RateLimiter",
    "RateLimiterUnavailable",
    "create_rate_limiter",
    "gcra",
]

#: Keys a ``MemoryRateLimiter`` tracks at most; past it the least recently hit go first.
MAX_KEYS = 100_000
#: Seconds between sweeps of idle keys (full buckets) in a ``MemoryRateLimiter``.
SWEEP_INTERVAL = 60.0

_MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` requests per ``period`` seconds; ``limit`` is also the burst size.

    Raises:
        ValueError: ``limit`` < 1, ``period`` <= 0, or more than one request per microsecond.
    """

    limit: int
    period: float

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"a rate limit must be at least 1, not {self.limit}")
        if not self.period > 0 or not math.isfinite(self.period):
            raise ValueError(f"a rate period must be a positive number of seconds: {self.period}")
        if self.period * _MICROS < self.limit:
            raise ValueError("a rate allows at most one request per microsecond")

    @property
    def interval_us(self) -> int:
        """The emission interval ``T = period / limit``, in whole microseconds.

        Rounding ``T`` (not the period) keeps the burst exactly ``limit``; the rate moves by
        less than half a microsecond per request.
        """
        return max(1, round(self.period * _MICROS / self.limit))

    @property
    def tolerance_us(self) -> int:
        """``limit * T`` in microseconds: how far ahead of now the TAT may run."""
        return self.interval_us * self.limit


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one hit.

    Attributes:
        allowed: the request may proceed (and was counted).
        limit: the rate's limit.
        remaining: how many more requests of cost 1 would be allowed right now (>= 0).
        reset_after: seconds until the bucket is full again.
        retry_after: seconds until this request (same cost) would be allowed; 0 when allowed,
            ``math.inf`` when ``cost > limit`` (it never fits: reject it as too large rather
            than ask the client to retry).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float


class RateLimiterUnavailable(Exception):
    """The rate limiter cannot decide (its Redis is unreachable or failing). The caller
    chooses the policy; the gateway fails open and logs."""


class RateLimiter(Protocol):
    """Counts hits per key against a ``Rate`` (GCRA).

    A key should always be used with the same rate: the state is one TAT per key, whatever
    the rate. Hits on one key are atomic: N concurrent hits on a fresh key allow exactly
    ``min(N, limit)``, across every limiter that shares the store.
    """

    async def start(self) -> None:
        """Get ready; call once, before ``hit``. Does not need the store to be reachable."""
        ...

    async def aclose(self) -> None:
        """Release connections. Idempotent."""
        ...

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        """Count a request of ``cost`` on ``key`` if the bucket has room.

        Args:
            key: what is limited (a user, an org, an IP); any string.
            rate: the allowance for ``key``.
            cost: how many requests this one counts as (>= 1). A denied request costs
                nothing, so retrying at ``retry_after`` succeeds unless others got there first.

        Returns:
            The decision; ``allowed`` tells whether the request may proceed.

        Raises:
            RateLimiterUnavailable: the store cannot be reached; nothing was counted (or it is
                unknown whether it was).
            ValueError: ``cost`` < 1.
        """
        ...


def gcra(tat: float | None, now: float, rate: Rate, cost: int = 1) -> tuple[float | None, Decision]:
    """One GCRA step: the new TAT (``None`` when denied: keep the old one) and the decision.

    Times are seconds on any one clock. ``ratelimit_redis`` mirrors this in Lua; change both.

    Raises:
        ValueError: ``cost`` < 1.
    """
    if cost < 1:
        raise ValueError(f"a hit costs at least 1, not {cost}")
    interval, tolerance = rate.interval_us, rate.tolerance_us
    now_us = round(now * _MICROS)
    tat_us = now_us if tat is None else max(round(tat * _MICROS), now_us)
    new_tat = tat_us + interval * cost
    allow_at = new_tat - tolerance
    if allow_at <= now_us:
        decision = Decision(
            allowed=True,
            limit=rate.limit,
            remaining=(now_us - allow_at) // interval,
            reset_after=(new_tat - now_us) / _MICROS,
            retry_after=0.0,
        )
        return new_tat / _MICROS, decision
    retry_after = (allow_at - now_us) / _MICROS if cost <= rate.limit else math.inf
    decision = Decision(
        allowed=False,
        limit=rate.limit,
        # max(): the key may have been used with a larger rate before.
        remaining=max(0, (now_us - (tat_us - tolerance)) // interval),
        reset_after=(tat_us - now_us) / _MICROS,
        retry_after=retry_after,
    )
    return None, decision


class MemoryRateLimiter:
    """The ``RateLimiter`` in this process (the embedded single-process mode).

    Memory is bounded: keys whose bucket is full again (TAT in the past) are swept every
    ``sweep_interval`` seconds, during a hit (no background task); past ``max_keys`` the
    least recently hit keys are dropped, which only forgets (resets) their buckets.

    Args:
        max_keys: keys tracked at most.
        sweep_interval: seconds between sweeps of idle keys.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        *,
        max_keys: int = MAX_KEYS,
        sweep_interval: float = SWEEP_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, not {max_keys}")
        self._max_keys = max_keys
        self._sweep_interval = sweep_interval
        self._clock = clock
        # Least recently hit first.
        self._tats: OrderedDict[str, float] = OrderedDict()
        self._next_sweep = clock() + sweep_interval

    def __len__(self) -> int:
        """Keys currently tracked."""
        return len(self._tats)

    async def __aenter__(self) -> MemoryRateLimiter:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        self._tats.clear()

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        # No await between reading and writing the TAT: hits on one key are atomic.
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        new_tat, decision = gcra(self._tats.get(key), now, rate, cost)
        if new_tat is not None:
            self._tats[key] = new_tat
            self._tats.move_to_end(key)
            while len(self._tats) > self._max_keys:
                self._tats.popitem(last=False)
        return decision

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self._sweep_interval
        for key in [key for key, tat in self._tats.items() if tat <= now]:
            del self._tats[key]


def create_rate_limiter(redis_url: str) -> RateLimiter:
    """The limiter for ``redis_url`` (the broker's URL): in process when it is empty, else
    shared through Redis (standalone nodes or a cluster).

    Raises:
        ValueError: ``redis_url`` is malformed.
    """
    if not redis_url:
        return MemoryRateLimiter()
    from gateway.ratelimit_redis import RedisRateLimiter

    return RedisRateLimiter(redis_url)
