"""``MemoryRateLimiter``: GCRA in this process (the embedded single-process mode)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType

from gateway.limits.gcra import Decision, Rate, gcra

__all__ = ["MAX_KEYS", "SWEEP_INTERVAL", "MemoryRateLimiter"]

#: Keys a ``MemoryRateLimiter`` tracks at most; past it the least recently hit go first.
MAX_KEYS = 100_000
#: Seconds between sweeps of idle keys (full buckets) in a ``MemoryRateLimiter``.
SWEEP_INTERVAL = 60.0


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
