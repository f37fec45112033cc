"""Identity verification: a site proves who its signed-in visitor is to the widget.

The site's server computes ``user_hash`` = hex HMAC-SHA256 of the visitor's ``external_id``
(UTF-8), keyed with the widget's identity secret (the secret's UTF-8 text, as shown once by
``POST /v1/widgets/{widget_id}/identity-secret``), and hands both to the widget in the page.
The secret never reaches a browser, so a visitor cannot claim another id. See docs/api.md,
"Widget identity".
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["IDENTITY_SECRET_PREFIX", "new_identity_secret", "user_hash", "user_hash_matches"]

#: Marks identity secrets, so that secret scanners and people recognise one.
IDENTITY_SECRET_PREFIX = "cgid_"


def new_identity_secret() -> str:
    """A new secret: 256 random bits."""
    return IDENTITY_SECRET_PREFIX + secrets.token_hex(32)


def user_hash(secret: str, external_id: str) -> str:
    """Hex HMAC-SHA256 of ``external_id`` keyed with ``secret``, as a site computes it."""
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def user_hash_matches(secret: str, external_id: str, given: str) -> bool:
    """Whether ``given`` (hex, either case) is ``external_id``'s hash: compared in constant
    time, so that timing tells nothing about the right one."""
    return hmac.compare_digest(user_hash(secret, external_id), given.lower())
