"""Rate limiting with GCRA (the generic cell rate algorithm): the step, its types, the interface.

GCRA keeps one number per key, the theoretical arrival time (TAT): when the bucket would be
empty again if requests kept arriving at the steady rate. With the emission interval
``T = period / limit`` and a burst tolerance of ``period - T`` (a full bucket holds ``limit``
requests), a request of ``cost`` is allowed at ``now`` when

    max(tat, now) + cost * T - period <= now

and then moves the TAT to ``max(tat, now) + cost * T``. A denied request leaves it alone.

``gcra`` is the one step, written once; ``memory.MemoryRateLimiter`` runs it in process, and
``redis.RedisRateLimiter`` runs a Lua script that mirrors it line by line on the
Redis server's clock. Both compute in integer microseconds, so they agree to the microsecond.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Decision", "Rate", "RateLimiter", "RateLimiterUnavailable", "gcra"]

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

    Times are seconds on any one clock. ``limits.redis`` mirrors this in Lua; change both.

    Raises:
        ValueError: ``cost`` < 1.
    """
    if cost < 1:
        raise ValueError(f"a hit costs at least 1, not {cost}")
    interval = rate.interval_us
    tolerance = interval * rate.limit  # rate.tolerance_us, without working T out again
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
