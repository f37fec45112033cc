"""Reconnect delays: exponential, capped, with full jitter.

Full jitter (a delay drawn uniformly from ``[0, min(cap, initial * factor ** n)]``) spreads
clients that dropped together, e.g. when a gateway restarts, so they do not all come back in
the same instant.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Delays for attempt 0, 1, 2, ...; ``reset`` after a success.

    Args:
        initial: the first ceiling, in seconds.
        cap: the largest ceiling, in seconds.
        factor: each attempt multiplies the ceiling by this.
        random: a source of floats in ``[0, 1)`` (tests pass their own).
    """

    def __init__(
        self,
        initial: float = 0.5,
        cap: float = 30.0,
        factor: float = 2.0,
        random: Callable[[], float] = random.random,
    ) -> None:
        if initial < 0 or cap < initial or factor < 1:
            raise ValueError("need 0 <= initial <= cap and factor >= 1")
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self._random = random
        self._attempt = 0

    @property
    def attempts(self) -> int:
        """How many delays were taken since the last reset."""
        return self._attempt

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        return min(self.cap, self.initial * self.factor**self._attempt)

    def next(self) -> float:
        """The next delay in seconds; each call raises the ceiling until the cap."""
        ceiling = self.ceiling()
        self._attempt += 1
        return ceiling * self._random()

    def reset(self) -> None:
        self._attempt = 0
