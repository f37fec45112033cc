"""Sign-in throttling: wrong passwords slow down, then lock, per account and per address.

Every count is a GCRA bucket of the shared limiter (``gcra``; Redis when the gateway has
it, so every process sees the same counts, in process otherwise):

| bucket (key)                 | rate                                  | when it is full          |
| ---------------------------- | ------------------------------------- | ------------------------ |
| ``signin:pace:acct:{email}`` | 5 attempts a minute                   | slow down (a few s)      |
| ``signin:pace:addr:{addr}``  | 20 attempts a minute                  | slow down (a few s)      |
| ``signin:fail:acct:{email}`` | ``max_failures`` per ``lock_seconds`` | lock the account         |
| ``signin:fail:addr:{addr}``  | ``max_address_failures`` per window   | lock the address         |

A lock is one more key, ``signin:lock:{acct|addr}:...``, set by a hit of one emission
interval of ``lock_seconds`` (its TAT becomes the end of the lock; a bucket of two, so that
what asking left on the key never stops it). Whether a lock holds is asked
with a hit on the same key at a rate of a million requests a second (one per µs, a burst of a
second), which GCRA allows exactly when the TAT is less than a second ahead (the lock is over,
to the second) and which then moves the TAT by 1 µs: asking never makes a lock, so the limiter
needs no other operation than ``hit``.

Accounts are counted by the email as typed (lowercased), whether or not it has an account,
so a lock tells nothing about which emails exist. While a lock holds every attempt is
refused, the right password included: ``sign_in_locked`` (429) with ``Retry-After``. When the
limiter is unreachable the throttle fails open (logged and counted), as the other limits do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway.core.metrics import Metrics
from gateway.limits.gcra import Decision, Rate, RateLimiter, RateLimiterUnavailable
from gateway.limits.policy import address_key
from protocol.codes import ErrorCode
from protocol.errors import GatewayError

__all__ = ["SignInGuard", "SignInPolicy"]

log = logging.getLogger(__name__)

#: Asks whether a lock holds (see the module docstring).
_PROBE = Rate(1_000_000, 1.0)
_ACCOUNT_PACE = Rate(5, 60.0)
_ADDRESS_PACE = Rate(20, 60.0)


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    max_failures: int = 10
    max_address_failures: int = 50
    lock_seconds: float = 900.0


class SignInGuard:
    """Decides whether a sign-in may be tried, and counts the failures."""

    def __init__(self, limiter: RateLimiter, metrics: Metrics, policy: SignInPolicy) -> None:
        self._limiter = limiter
        self._metrics = metrics
        self._policy = policy
        self._lock = Rate(2, 2 * policy.lock_seconds)
        self._failures = Rate(policy.max_failures, policy.lock_seconds)
        self._address_failures = Rate(policy.max_address_failures, policy.lock_seconds)

    async def admit(self, email: str, address: str | None) -> None:
        """Count one attempt for ``email`` from ``address``.

        Raises:
            GatewayError: ``sign_in_locked`` while the account or the address is locked, or
                when it tries too fast.
        """
        for scope, key in self._keys(email, address):
            await self._refuse_if(f"signin:lock:{key}", _PROBE, scope, "locked")
        for scope, key in self._keys(email, address):
            pace = _ACCOUNT_PACE if scope == "account" else _ADDRESS_PACE
            await self._refuse_if(f"signin:pace:{key}", pace, scope, "slow_down")

    async def failed(self, email: str, address: str | None) -> None:
        """Count one wrong password; the failure that fills a bucket locks its account or
        address."""
        for scope, key in self._keys(email, address):
            rate = self._failures if scope == "account" else self._address_failures
            decision = await self._hit(f"signin:fail:{key}", rate)
            if decision is not None and (not decision.allowed or decision.remaining == 0):
                await self._hit(f"signin:lock:{key}", self._lock)
                log.warning("sign-in locked for %s %s", scope, key.partition(":")[2])

    def _keys(self, email: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("account", f"acct:{email}")]
        if address is not None:
            keys.append(("address", f"addr:{address_key(address)}"))
        return keys

    async def _refuse_if(self, key: str, rate: Rate, scope: str, reason: str) -> None:
        decision = await self._hit(key, rate)
        if decision is None or decision.allowed:
            return
        self._metrics.rate_limited.labels(f"sign_in_{scope}").inc()
        message = (
            f"too many wrong passwords for this {scope}: try again later"
            if reason == "locked"
            else "too many sign-in attempts: slow down"
        )
        raise GatewayError(
            ErrorCode.SIGN_IN_LOCKED,
            message,
            details={"scope": scope, "reason": reason},
            temporary=True,
            retry_after=decision.retry_after,
        )

    async def _hit(self, key: str, rate: Rate) -> Decision | None:
        try:
            return await self._limiter.hit(key, rate)
        except RateLimiterUnavailable as exc:
            self._metrics.rate_limiter_errors.inc()
            log.warning("rate limiter unavailable, sign-in not throttled: %s", exc)
            return None
