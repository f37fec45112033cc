"""Who is calling: API keys, signed socket tokens, and the principal they resolve to.

- API keys (``cgk_...``) are shown once; only their SHA-256 is stored (they are 256-bit
  random secrets, so a fast hash is the right one: nothing to brute-force).
- Socket tokens are short-lived HS256 JWTs (PyJWT) signed with the gateway's secret. Agent
  and bot tokens carry the id of the API key they were minted with (claim ``key``), so that
  revoking the key refuses them (``core.credentials``).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import jwt

from gateway.core.credentials import Credentials
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.base import Store
from storage.errors import StorageError

__all__ = [
    "Authenticator",
    "NewApiKey",
    "Principal",
    "PrincipalKind",
    "TokenSigner",
    "hash_api_key",
    "is_staff",
    "new_api_key",
    "origin_allowed",
]

API_KEY_PREFIX = "cgk_"
#: Most API keys one process remembers (the oldest is dropped first).
API_KEY_CACHE_SIZE = 10_000
PrincipalKind = Literal["api_key", "agent", "bot", "visitor"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    ``subject`` is the API key id, the agent id, ``"bot"`` or the visitor's contact id.
    ``api_key_id`` is the API key itself, or the one an agent or bot token derives from
    (None for visitors, for tokens minted before tokens carried their key, and for agents
    signed in with a password). ``role`` is an agent's (``admin`` or ``agent``; tokens
    minted before roles existed are ``agent``); None for other callers.
    """

    kind: PrincipalKind
    org_id: str
    subject: str
    widget_id: str | None = None
    api_key_id: str | None = None
    role: str | None = None

    @property
    def is_admin(self) -> bool:
        """May administer the org: an API key, or an agent of role ``admin``."""
        return self.kind == "api_key" or (self.kind == "agent" and self.role == "admin")

    @property
    def is_visitor(self) -> bool:
        return self.kind == "visitor"

    @property
    def agent_id(self) -> str | None:
        return self.subject if self.kind == "agent" else None

    @property
    def contact_id(self) -> str | None:
        return self.subject if self.kind == "visitor" else None

    @property
    def identity(self) -> str:
        """A stable name for this caller, e.g. for idempotency scopes and read cursors."""
        return f"{self.kind}:{self.subject}"


def is_staff(principal: Principal) -> bool:
    """An agent or an API key: who sees private notes, presence and who is viewing."""
    return principal.kind in STAFF_KINDS


STAFF_KINDS = frozenset({"api_key", "agent"})


@dataclass(frozen=True, slots=True)
class NewApiKey:
    secret: str
    prefix: str
    hash: str


def new_api_key() -> NewApiKey:
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return NewApiKey(secret=secret, prefix=secret[:12], hash=hash_api_key(secret))


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenSigner:
    """Issues and verifies socket tokens."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def issue(self, principal: Principal, ttl: timedelta, at: datetime) -> tuple[str, datetime]:
        expires = at + ttl
        claims = {
            "iss": "chatgate",
            "sub": principal.subject,
            "org": principal.org_id,
            "knd": principal.kind,
            "iat": int(at.timestamp()),
            "exp": int(expires.timestamp()),
        }
        if principal.widget_id is not None:
            claims["wid"] = principal.widget_id
        if principal.api_key_id is not None and principal.kind in ("agent", "bot"):
            claims["key"] = principal.api_key_id
        if principal.kind == "agent":
            claims["rol"] = principal.role or "agent"
        return jwt.encode(claims, self._secret, algorithm="HS256"), expires

    def verify(self, token: str) -> Principal:
        """The token's principal.

        Raises:
            GatewayError: ``unauthorized`` for a malformed, forged or expired token.
        """
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer="chatgate",
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise GatewayError(ErrorCode.UNAUTHORIZED, "token expired") from None
        except jwt.InvalidTokenError:
            raise GatewayError(ErrorCode.UNAUTHORIZED, "invalid token") from None
        kind, org, sub = claims.get("knd"), claims.get("org"), claims.get("sub")
        if kind not in ("agent", "bot", "visitor") or not isinstance(org, str):
            raise GatewayError(ErrorCode.UNAUTHORIZED, "invalid token")
        if not isinstance(sub, str):
            raise GatewayError(ErrorCode.UNAUTHORIZED, "invalid token")
        widget, key = claims.get("wid"), claims.get("key")
        if kind == "visitor" and not isinstance(widget, str):
            raise GatewayError(ErrorCode.UNAUTHORIZED, "invalid token")
        if key is not None and not isinstance(key, str):
            raise GatewayError(ErrorCode.UNAUTHORIZED, "invalid token")
        role = None
        if kind == "agent":
            role = "admin" if claims.get("rol") == "admin" else "agent"
        return Principal(
            kind=kind, org_id=org, subject=sub, widget_id=widget, api_key_id=key, role=role
        )


class Authenticator:
    """Resolves a bearer credential (API key or token) to a principal.

    Found API keys are remembered for ``cache_seconds`` (0: never), so that a busy
    integration does not cost a database read per request. A token is checked against what
    it derives from (``credentials``: its API key, its agent), remembered as long. A key
    revoked through this process is refused at once; other processes refuse it, and every
    token minted with it, within ``cache_seconds``.
    """

    def __init__(self, store: Store, signer: TokenSigner, *, cache_seconds: float = 0) -> None:
        self._store = store
        self.signer = signer
        self._cache_seconds = cache_seconds
        #: key hash -> (principal, monotonic expiry), oldest first.
        self._keys: dict[str, tuple[Principal, float]] = {}
        self.credentials = Credentials(store, cache_seconds=cache_seconds)

    def forget(self, api_key_id: str) -> None:
        """Stop accepting a revoked key, and the tokens minted with it."""
        for digest, (principal, _) in tuple(self._keys.items()):
            if principal.subject == api_key_id:
                del self._keys[digest]
        self.credentials.key_revoked(api_key_id)

    async def authenticate(self, credential: str | None) -> Principal:
        """Raises ``GatewayError``: ``unauthorized`` for a missing or invalid credential (a
        revoked key, a token of one), ``forbidden`` for a token of a disabled or deleted
        agent, ``unavailable`` when the database cannot be read."""
        if not credential:
            raise GatewayError(ErrorCode.UNAUTHORIZED, "missing credentials")
        if credential.startswith(API_KEY_PREFIX):
            digest = hash_api_key(credential)
            principal = await self._api_key(digest)
            refusal = self.credentials.refusal(principal)
            if refusal is not None:  # revoked, as seen since it was remembered
                self._keys.pop(digest, None)
                raise refusal
            return principal
        principal = self.signer.verify(credential)
        await self.credentials.check(principal)
        return principal

    async def _api_key(self, digest: str) -> Principal:
        cached = self._keys.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            key = await self._store.find_api_key(digest)
        except StorageError:
            raise GatewayError(
                ErrorCode.UNAVAILABLE, "storage is unavailable, retry later", temporary=True
            ) from None
        if key is None:
            self._keys.pop(digest, None)
            raise GatewayError(ErrorCode.UNAUTHORIZED, "invalid API key")
        principal = Principal(kind="api_key", org_id=key.org_id, subject=key.id, api_key_id=key.id)
        if self._cache_seconds > 0:
            self._keys.pop(digest, None)
            self._keys[digest] = (principal, time.monotonic() + self._cache_seconds)
            if len(self._keys) > API_KEY_CACHE_SIZE:
                del self._keys[next(iter(self._keys))]
        return principal


def origin_allowed(origin: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether a browser ``Origin`` may use a widget.

    ``*`` allows any origin (and requests without one); ``https://*.example.com`` allows
    subdomains; anything else must match exactly. Without an ``Origin`` header only ``*``
    matches.
    """
    if "*" in allowed:
        return True
    if origin is None:
        return False
    origin = origin.rstrip("/").lower()
    for pattern in allowed:
        pattern = pattern.rstrip("/").lower()
        if pattern == origin:
            return True
        scheme, sep, host = pattern.partition("://*.")
        if sep and origin.startswith(scheme + "://") and origin.endswith("." + host):
            return True
    return False
