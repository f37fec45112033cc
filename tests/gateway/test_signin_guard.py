"""Sign-in throttling on the GCRA limiter (``limits.signin``), on a clock the test moves."""

from __future__ import annotations

import pytest

from gateway.core.metrics import Metrics
from gateway.limits.memory import MemoryRateLimiter
from gateway.limits.signin import SignInGuard, SignInPolicy
from protocol.codes import ErrorCode
from protocol.errors import GatewayError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _guard(clock: Clock, **policy: float) -> SignInGuard:
    limiter = MemoryRateLimiter(clock=clock)
    return SignInGuard(limiter, Metrics(), SignInPolicy(**policy))  # type: ignore[arg-type]


async def _refusal(guard: SignInGuard, email: str, address: str | None) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        await guard.admit(email, address)
    assert info.value.code is ErrorCode.SIGN_IN_LOCKED
    return info.value


async def test_signin_guard_locks_after_the_failures_then_lifts():
    """The failure that fills the account's bucket locks it for lock_seconds, no longer."""
    clock = Clock()
    guard = _guard(clock, max_failures=3, lock_seconds=900)
    for _ in range(3):
        await guard.admit("ana@acme.example", "10.0.0.1")
        await guard.failed("ana@acme.example", "10.0.0.1")
    refused = await _refusal(guard, "ana@acme.example", "10.0.0.9")
    assert refused.details == {"scope": "account", "reason": "locked"}
    assert refused.retry_after == pytest.approx(900, abs=1)
    clock.now += 600
    assert (await _refusal(guard, "ana@acme.example", None)).retry_after == pytest.approx(300, 1)
    await guard.admit("bob@acme.example", "10.0.0.2")  # another account is not locked
    clock.now += 300
    await guard.admit("ana@acme.example", "10.0.0.1")


async def test_signin_guard_checking_a_lock_does_not_make_one():
    """Asking whether a lock holds, however often, never locks anyone."""
    clock = Clock()
    guard = _guard(clock)
    for _ in range(5):
        await guard.admit("ana@acme.example", None)
        clock.now += 12.5  # within the pace of one account
    await guard.admit("ana@acme.example", None)


async def test_signin_guard_slows_down_fast_attempts():
    """More than 5 attempts a minute on one account are told to slow down, for seconds."""
    clock = Clock()
    guard = _guard(clock)
    for _ in range(5):
        await guard.admit("ana@acme.example", None)
    refused = await _refusal(guard, "ana@acme.example", None)
    assert refused.details == {"scope": "account", "reason": "slow_down"}
    assert 0 < (refused.retry_after or 0) <= 12


async def test_signin_guard_locks_an_address_over_many_emails():
    """Failures over many emails from one address lock that address only."""
    clock = Clock()
    guard = _guard(clock, max_address_failures=4)
    for n in range(4):
        await guard.admit(f"guess{n}@acme.example", "2001:db8::1")
        await guard.failed(f"guess{n}@acme.example", "2001:db8::1")
    refused = await _refusal(guard, "ana@acme.example", "2001:db8::2")  # the same /64
    assert refused.details == {"scope": "address", "reason": "locked"}
    await guard.admit("ana@acme.example", "10.0.0.1")
