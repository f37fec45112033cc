"""The rate limits every surface shares: a budget per kind of caller, so that no caller can
spend another's.

Each budget is a GCRA bucket counted in requests per minute (``Budgets``; 0 turns one off):

| bucket (key)                 | who                                  | scope in a refusal   |
| ---------------------------- | ------------------------------------ | -------------------- |
| ``org:{org}``                | API keys, agents, the bot of the org | ``org``              |
| ``visitor:{contact}``        | one visitor (widget session)         | ``visitor``          |
| ``addr:{address}``           | visitors and anonymous callers       | ``address``          |
| ``sessions:addr:{address}``  | new anonymous widget sessions        | ``address_sessions`` |
| ``sessions:widget:{widget}`` | new anonymous widget sessions        | ``widget_sessions``  |
| ``widget:{widget}``          | visitor messages of a widget         | ``widget``           |

- **Requests** (``admit``): every REST request (native or dialect) and every command frame of
  a socket, except a socket's ``subscribe``/``unsubscribe``, ``ping`` and its resume
  (reconnecting clients must never be locked out of catching up). Staff and integrations
  count against their org; a visitor against itself, then against its address; an anonymous
  request against its address. Visitors never touch the org's bucket, so no visitor can lock
  the org's agents and integrations out.
- **New visitors** (``new_session``): a widget session that creates a contact counts against
  its address, then its widget.
- **Widget messages** (``visitor_message``): the widget's own ``messages_per_minute``.

The address comes from ``core.clients``. IPv6 addresses are counted per /64: one host
usually holds a whole /64, so a bucket per address would not limit it.

The more specific bucket is checked first, so a caller past its own budget spends nothing of
the shared one (a visitor over its limit no longer drains its address's budget).

Over a limit: ``rate_limited`` (429) with ``Retry-After`` and the RateLimit headers; the
details' ``scope`` and the message name the budget. The limiter is GCRA, in Redis when the
gateway has Redis (shared by every process), in process otherwise. When Redis cannot be
reached the limits fail open: a warning is logged and counted in
``chatgate_rate_limiter_errors_total``; requests are served.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network, ip_address

from gateway.core.auth import Principal
from gateway.core.metrics import Metrics
from gateway.limits.gcra import Decision, Rate, RateLimiter, RateLimiterUnavailable
from protocol.codes import ErrorCode
from protocol.errors import GatewayError

__all__ = ["Budgets", "Limits", "address_key", "rate_limit_headers"]

log = logging.getLogger(__name__)

#: IPv6 addresses share a bucket per prefix of this length.
IPV6_PREFIX = 64

#: What each scope of a refusal counts, for its message.
_COUNTED = {
    "org": "requests of this org's API keys, agents and bot",
    "visitor": "requests of this visitor",
    "address": "requests of visitors from this client address",
    "address_sessions": "new widget sessions from this client address",
    "widget_sessions": "new sessions of this widget",
    "widget": "visitor messages of this widget",
}


@dataclass(frozen=True, slots=True)
class Budgets:
    """Requests per minute of each bucket; 0 (the default) turns a bucket off."""

    org: int = 0
    visitor: int = 0
    address: int = 0
    address_sessions: int = 0
    widget_sessions: int = 0


class Limits:
    """Checks the budgets of every kind of caller.

    Args:
        limiter: the GCRA limiter (memory or Redis).
        budgets: the per-minute allowance of each bucket.
    """

    def __init__(self, limiter: RateLimiter, budgets: Budgets, metrics: Metrics) -> None:
        self._limiter = limiter
        self._org = _per_minute(budgets.org)
        self._visitor = _per_minute(budgets.visitor)
        self._address = _per_minute(budgets.address)
        self._address_sessions = _per_minute(budgets.address_sessions)
        self._widget_sessions = _per_minute(budgets.widget_sessions)
        self._metrics = metrics

    async def admit(self, principal: Principal | None, address: str | None) -> None:
        """Count one request of ``principal`` (None: anonymous) from ``address``.

        Raises:
            GatewayError: ``rate_limited`` when a budget it counts against is spent.
        """
        if principal is None:
            await self._hit_address("addr", address, self._address, "address")
        elif principal.is_visitor:
            await self._hit(f"visitor:{principal.subject}", self._visitor, "visitor")
            await self._hit_address("addr", address, self._address, "address")
        else:
            await self._hit(f"org:{principal.org_id}", self._org, "org")

    async def new_session(self, widget_id: str, address: str | None) -> None:
        """Count one new anonymous session (a new visitor) of a widget from ``address``.

        Raises:
            GatewayError: ``rate_limited`` when the address's or the widget's budget is spent.
        """
        await self._hit_address(
            "sessions:addr", address, self._address_sessions, "address_sessions"
        )
        await self._hit(f"sessions:widget:{widget_id}", self._widget_sessions, "widget_sessions")

    async def visitor_message(self, widget_id: str, messages_per_minute: int | None) -> None:
        """Count one visitor message of a widget (raises ``rate_limited`` when over)."""
        if messages_per_minute is None:
            return
        await self._hit(f"widget:{widget_id}", Rate(messages_per_minute, 60.0), "widget")

    async def _hit_address(
        self, prefix: str, address: str | None, rate: Rate | None, scope: str
    ) -> None:
        if address is not None:
            await self._hit(f"{prefix}:{address_key(address)}", rate, scope)

    async def _hit(self, key: str, rate: Rate | None, scope: str) -> None:
        if rate is None:
            return
        try:
            decision = await self._limiter.hit(key, rate)
        except RateLimiterUnavailable as exc:
            self._metrics.rate_limiter_errors.inc()
            log.warning("rate limiter unavailable, letting the request through: %s", exc)
            return
        if not decision.allowed:
            self._metrics.rate_limited.labels(scope).inc()
            raise _limited(decision, scope)


def _per_minute(limit: int) -> Rate | None:
    return Rate(limit, 60.0) if limit > 0 else None


def address_key(address: str) -> str:
    """An IPv4 address as is, an IPv6 address as its /64, anything else as is."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, IPv6Address):
        return str(IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)


def _limited(decision: Decision, scope: str) -> GatewayError:
    return GatewayError(
        ErrorCode.RATE_LIMITED,
        f"rate limit reached: {_COUNTED[scope]} ({decision.limit} per minute); retry later",
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
