"""Agents' passwords: the policy (length bounds) and argon2id hashing (argon2-cffi).

Hashing and checking run on a worker thread: argon2id is made to be slow (tens of
milliseconds and 64 MiB with argon2-cffi's defaults, RFC 9106's second recommendation) and
must not stall the event loop. A sign-in for an email nobody has checks the password against
a dummy hash all the same, so that its answer takes as long as a wrong password's: timing
does not tell whether an email has an account.
"""

from __future__ import annotations

import asyncio
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from protocol.accounts import MAX_PASSWORD, MIN_PASSWORD
from protocol.codes import ErrorCode
from protocol.errors import GatewayError

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "Passwords", "check_password"]


def check_password(password: str) -> None:
    """Refuse a password outside the policy.

    Raises:
        GatewayError: ``weak_password`` (422), ``details.reason`` ``too_short`` or
            ``too_long``, with ``min_length`` and ``max_length``.
    """
    reason = None
    if len(password) < MIN_PASSWORD:
        reason = "too_short"
    elif len(password) > MAX_PASSWORD:
        reason = "too_long"
    if reason is not None:
        raise GatewayError(
            ErrorCode.WEAK_PASSWORD,
            f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters",
            details={
                "path": "$.password",
                "reason": reason,
                "min_length": MIN_PASSWORD,
                "max_length": MAX_PASSWORD,
            },
        )


class Passwords:
    """Hashes and checks passwords with argon2id (``hasher``: argon2-cffi's defaults)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    async def hash(self, password: str) -> str:
        """The password's argon2id hash (call ``check_password`` first)."""
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, hashed: str | None, password: str) -> bool:
        """Whether ``password`` matches ``hashed``; None (no account, no password yet) is
        checked against a dummy hash and never matches."""
        return await asyncio.to_thread(self._verify, hashed, password)

    def _verify(self, hashed: str | None, password: str) -> bool:
        if len(password) > MAX_PASSWORD:
            password = password[:MAX_PASSWORD]  # same work, and never a match of a longer one
            hashed = None
        try:
            matched = self._hasher.verify(hashed or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matched and hashed is not None

    @cached_property
    def _dummy(self) -> str:
        return self._hasher.hash("no account has this password")
