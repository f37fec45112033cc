"""When a failed delivery is tried again: a schedule of delays, with jitter, that a
receiver's ``Retry-After`` can stretch (never shorten)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["RetrySchedule", "retry_after_seconds"]


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """``delays[n]`` is the wait before attempt ``n + 1`` (the first is usually 0); after
    ``len(delays)`` attempts a delivery is dead.

    ``jitter`` spreads each wait by up to that fraction either way, so that deliveries that
    failed together (a receiver's outage) are not retried together.
    """

    delays: tuple[float, ...]
    jitter: float = 0.1

    @classmethod
    def parse(cls, text: str, jitter: float = 0.1) -> RetrySchedule:
        """``"0,5,300"`` (seconds).

        Raises:
            ValueError: an empty schedule, or a delay that is not a non-negative number.
        """
        delays = tuple(float(part) for part in text.split(",") if part.strip())
        if not delays or any(d < 0 for d in delays):
            raise ValueError(f"a retry schedule is non-negative seconds, comma separated: {text!r}")
        return cls(delays, jitter)

    @property
    def attempts(self) -> int:
        return len(self.delays)

    def next_delay(self, attempts_made: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait after ``attempts_made`` failed attempts; None: no attempt left.

        A ``retry_after`` longer than the scheduled wait replaces it, capped at the longest
        wait of the schedule.
        """
        if attempts_made >= len(self.delays):
            return None
        delay = self.delays[attempts_made]
        delay *= 1 + random.uniform(-self.jitter, self.jitter)
        if retry_after is not None and retry_after > delay:
            delay = min(retry_after, max(self.delays))
        return max(delay, 0.0)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now; None when
    absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
