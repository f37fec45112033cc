"""Credentials: API keys, signed tokens, and widget origins."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from gateway.core.auth import Principal, TokenSigner, hash_api_key, new_api_key, origin_allowed
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.models import now

SECRET = "a-test-signing-secret-of-32-bytes!"


def test_auth_api_keys_are_random_prefixed_and_hashed() -> None:
    """Keys start with cgk_, differ every time, and only a SHA-256 hash is kept."""
    first, second = new_api_key(), new_api_key()
    assert first.secret.startswith("cgk_") and first.secret != second.secret
    assert first.hash == hash_api_key(first.secret) and first.secret not in first.hash
    assert first.prefix == first.secret[:12]


def test_auth_token_round_trip() -> None:
    """A token issued for a principal verifies back to the same principal."""
    signer = TokenSigner(SECRET)
    visitor = Principal("visitor", "org-1", "contact-1", widget_id="widget-1")
    token, expires = signer.issue(visitor, timedelta(minutes=5), now())
    assert signer.verify(token) == visitor
    assert expires > now()


def test_auth_staff_token_carries_its_api_key() -> None:
    """An agent or bot token keeps the id of the API key it was minted with."""
    signer = TokenSigner(SECRET)
    for kind, subject in (("agent", "agent-1"), ("bot", "bot")):
        role = "agent" if kind == "agent" else None  # agent tokens carry their role
        principal = Principal(kind, "org-1", subject, api_key_id="key-1", role=role)  # type: ignore[arg-type]
        token, _ = signer.issue(principal, timedelta(minutes=5), now())
        assert signer.verify(token) == principal
        assert jwt.decode(token, options={"verify_signature": False})["key"] == "key-1"


def forge(claims: dict[str, object], secret: str = SECRET) -> str:
    base = {"iss": "chatgate", "sub": "s", "org": "o", "knd": "agent", "iat": 1, "exp": 2**33}
    return jwt.encode({**base, **claims}, secret, algorithm="HS256")


@pytest.mark.parametrize(
    "token",
    [
        forge({}, secret="another-secret-entirely-32-bytes!!"),
        forge({"exp": 10}),
        forge({"iss": "someone-else"}),
        forge({"knd": "api_key"}),
        forge({"knd": "admin"}),
        forge({"org": 5}),
        forge({"knd": "visitor"}),
        forge({"key": 42}),
        jwt.encode(
            {"iss": "chatgate", "org": "o", "knd": "agent", "iat": 1, "exp": 2**33},
            SECRET,
            algorithm="HS256",
        ),
        jwt.encode(
            {"iss": "chatgate", "sub": "s", "org": "o", "knd": "agent", "iat": 1, "exp": 2**33},
            SECRET * 2,
            algorithm="HS512",
        ),
        "not.a.token",
        "",
    ],
    ids=[
        "forged",
        "expired",
        "issuer",
        "kind-api-key",
        "kind-unknown",
        "org-type",
        "visitor-without-widget",
        "key-type",
        "no-subject",
        "other-algorithm",
        "garbage",
        "empty",
    ],
)
def test_auth_rejects_every_invalid_token(token: str) -> None:
    """Forged, expired or malformed tokens are unauthorized, never a crash."""
    with pytest.raises(GatewayError) as info:
        TokenSigner(SECRET).verify(token)
    assert info.value.code is ErrorCode.UNAUTHORIZED


@pytest.mark.parametrize(
    ("origin", "allowed", "expected"),
    [
        ("https://shop.example", ("https://shop.example",), True),
        ("https://shop.example/", ("https://SHOP.example",), True),
        ("http://shop.example", ("https://shop.example",), False),
        ("https://eu.shop.example", ("https://*.shop.example",), True),
        ("https://shop.example", ("https://*.shop.example",), False),
        ("https://evilshop.example", ("https://*.shop.example",), False),
        ("http://eu.shop.example", ("https://*.shop.example",), False),
        ("https://anything.example", ("*",), True),
        (None, ("*",), True),
        (None, ("https://shop.example",), False),
        ("https://shop.example", (), False),
    ],
)
def test_auth_origin_matching(origin: str | None, allowed: tuple[str, ...], expected: bool) -> None:
    """Exact origins, subdomain wildcards and '*'; no Origin matches only '*'."""
    assert origin_allowed(origin, allowed) is expected
