"""Standard Webhooks signatures (https://www.standardwebhooks.com).

Every delivery carries ``webhook-id`` (the message id, the same on every attempt),
``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``: a
space-separated list of ``v1,<base64 HMAC-SHA256>`` of ``"{id}.{timestamp}.{body}"``, one
per live secret, so that a receiver holding either the new or the old secret during a
rotation verifies. Secrets are ``whsec_`` + base64 of 32 random bytes; the HMAC key is the
decoded bytes.

Kept here rather than borrowed from the ``standardwebhooks`` package so that the tests,
which verify with that package, check our signing against an independent implementation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

__all__ = ["PREFIX", "new_secret", "signature_headers", "valid_secret"]

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def valid_secret(secret: str) -> bool:
    """Whether ``secret`` is ``whsec_`` + base64 of 24 to 64 bytes (what receivers accept)."""
    if not secret.startswith(PREFIX):
        return False
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except ValueError:
        return False
    return 24 <= len(key) <= 64


def signature_headers(
    message_id: str, timestamp: int, body: bytes, keys: Sequence[str]
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt, signed with every key."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    signatures = " ".join(
        "v1," + base64.b64encode(hmac.digest(_key(secret), signed, hashlib.sha256)).decode()
        for secret in keys
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))
