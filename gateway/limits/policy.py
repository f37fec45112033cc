"""The rate limits every surface shares: per org (requests) and per widget (visitor messages).

- **Org:** every REST request (native or dialect) and every command frame of a socket counts
  against ``org_requests_per_minute``, except a socket's ``subscribe``/``unsubscribe``,
  ``ping`` and its resume: reconnecting clients must never be locked out of catching up.
- **Widget:** messages sent by the widget's visitors count against the widget's
  ``messages_per_minute``, one bucket per widget.

Over a limit: ``rate_limited`` (429) with ``Retry-After`` and the RateLimit headers. The
limiter is GCRA, in Redis when the gateway has Redis (shared by every process), in process
otherwise. When Redis cannot be reached the limits fail open: a warning is logged and
counted in ``chatgate_rate_limiter_errors_total``; requests are served.
"""

from __future__ import annotations

import logging
import math

from gateway.core.auth import Principal
from gateway.core.metrics import Metrics
from gateway.limits.gcra import Decision, Rate, RateLimiter, RateLimiterUnavailable
from protocol.codes import ErrorCode
from protocol.errors import GatewayError

__all__ = ["Limits", "rate_limit_headers"]

log = logging.getLogger(__name__)


class Limits:
    """Checks the org and widget limits.

    Args:
        limiter: the GCRA limiter (memory or Redis).
        org_requests_per_minute: 0 turns the org limit off.
    """

    def __init__(
        self, limiter: RateLimiter, org_requests_per_minute: int, metrics: Metrics
    ) -> None:
        self._limiter = limiter
        self._org_rate = (
            Rate(org_requests_per_minute, 60.0) if org_requests_per_minute > 0 else None
        )
        self._metrics = metrics

    async def admit(self, principal: Principal | None) -> None:
        """Count one request of ``principal``'s org (raises ``rate_limited`` when over)."""
        if self._org_rate is None or principal is None:
            return
        await self._hit(f"org:{principal.org_id}", self._org_rate, "org")

    async def visitor_message(self, widget_id: str, messages_per_minute: int | None) -> None:
        """Count one visitor message of a widget (raises ``rate_limited`` when over)."""
        if messages_per_minute is None:
            return
        await self._hit(f"widget:{widget_id}", Rate(messages_per_minute, 60.0), "widget")

    async def _hit(self, key: str, rate: Rate, scope: str) -> None:
        try:
            decision = await self._limiter.hit(key, rate)
        except RateLimiterUnavailable as exc:
            self._metrics.rate_limiter_errors.inc()
            log.warning("rate limiter unavailable, letting the request through: %s", exc)
            return
        if not decision.allowed:
            self._metrics.rate_limited.labels(scope).inc()
            raise _limited(decision, scope)


def _limited(decision: Decision, scope: str) -> GatewayError:
    what = "this org's request rate" if scope == "org" else "this widget's message rate"
    return GatewayError(
        ErrorCode.RATE_LIMITED,
        f"{what} limit of {decision.limit} per minute is reached; retry later",
        details={
            "scope": scope,
            "limit": decision.limit,
            "remaining": decision.remaining,
            "reset": math.ceil(decision.reset_after),
        },
        temporary=True,
        retry_after=decision.retry_after,
    )


def rate_limit_headers(exc: GatewayError) -> dict[str, str]:
    """``Retry-After`` and the RateLimit headers of a refusal (empty for other errors)."""
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code is ErrorCode.RATE_LIMITED and "limit" in details:
        headers["RateLimit-Limit"] = str(details["limit"])
        headers["RateLimit-Remaining"] = str(details["remaining"])
        headers["RateLimit-Reset"] = str(details["reset"])
    return headers
