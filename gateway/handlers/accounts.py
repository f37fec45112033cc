"""Agent accounts: one-time links (invitations, password resets), sign-in and its sessions.

- **Links.** An invitation (``/app/invite#token=...``) or a reset link
  (``/app/reset#token=...``) carries a random token in its URL *fragment*, which browsers never
  send to a server, so it stays out of access logs. Only the token's SHA-256 is stored; using a
  link deletes it (one time), and it expires (``invitation_ttl``, ``password_reset_ttl``).
- **Emails.** An agent signs in with its email, lowercased, unique across every org of the
  gateway: sign-in needs no org. An invitation for an email an agent already signs in with is
  ``email_taken``.
- **Sessions.** Signing in creates a session whose random token is the HttpOnly cookie
  ``chatgate_session``; only its SHA-256 is stored, with its expiry, last use, address and
  user agent. A session is refused once revoked (sign-out, a password reset), expired, or
  when its agent is disabled or deleted. Its role is the agent's as stored now.
- **CSRF.** Each session has a CSRF token, an HMAC of its token under the gateway's secret,
  in the readable cookie ``chatgate_csrf``: a cookie-authenticated change must send it back in
  ``X-CSRF-Token`` (``check_csrf``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.core.auth import Principal
from gateway.core.passwords import Passwords, check_password
from gateway.limits.signin import SignInGuard
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.base import Store
from storage.models import AccountToken, Agent, AgentSession, now

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "INVITE_PATH",
    "RESET_PATH",
    "SESSION_COOKIE",
    "Accounts",
    "AccountTimes",
    "Link",
    "NewSession",
    "SignedIn",
    "check_csrf",
    "create_invitation",
    "same_origin",
]

SESSION_COOKIE = "chatgate_session"
CSRF_COOKIE = "chatgate_csrf"
CSRF_HEADER = "x-csrf-token"
#: Dashboard pages the links open (the token follows in the fragment).
INVITE_PATH = "/app/invite"
RESET_PATH = "/app/reset"

_INVALID_LINK = "this link is invalid, was already used, or has expired"


@dataclass(frozen=True, slots=True)
class Link:
    """A one-time link: its URL (token in the fragment), the token itself, its expiry."""

    url: str
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just created: the agent, and the secrets of its two cookies."""

    agent: Agent
    token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A request's valid session, as the principal it acts as."""

    principal: Principal
    session: AgentSession
    agent: Agent
    csrf_token: str


@dataclass(frozen=True, slots=True)
class AccountTimes:
    session: timedelta
    invitation: timedelta
    reset: timedelta


class Accounts:
    """Links, sign-in and sessions over the store.

    Args:
        store: where accounts are.
        passwords: hashes and checks passwords.
        guard: throttles sign-in attempts.
        secret: the gateway's secret (CSRF tokens are HMACs under it).
        times: lifetimes of sessions and links.
        public_url: the gateway's public base URL for links; empty: the caller's.
    """

    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        guard: SignInGuard,
        secret: str,
        times: AccountTimes,
        public_url: str = "",
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._guard = guard
        self._secret = secret.encode()
        self._times = times
        self._public_url = public_url.rstrip("/")

    # -- links --------------------------------------------------------------------------

    async def invite(
        self, org_id: str, email: str, role: str, name: str | None, base_url: str | None
    ) -> Link:
        """A one-time invitation link for ``email`` (``create_invitation``)."""
        base = self._public_url or (base_url or "")
        return await create_invitation(
            self._store, org_id, email, role, name, ttl=self._times.invitation, base_url=base
        )

    async def reset_link(self, org_id: str, agent_id: str, base_url: str | None) -> Link:
        """A one-time link that sets a new password for an agent of the org.

        Raises:
            GatewayError: ``not_found`` (no such agent), ``validation_error`` (the agent has
                no email to sign in with).
        """
        agent = await self._store.get_agent(org_id, agent_id)
        if agent is None:
            raise GatewayError.not_found("agent")
        if not agent.email:
            raise GatewayError(
                ErrorCode.VALIDATION_ERROR,
                "this agent has no email to sign in with: set one first (PATCH /v1/agents/{id})",
                details={"path": "$.agent_id"},
            )
        token, at = _new_token(), now()
        expires = at + self._times.reset
        await self._store.create_account_token(
            AccountToken(_digest(token), "reset", org_id, at, expires, agent_id=agent.id)
        )
        return Link(self._url(RESET_PATH, token, base_url), token, expires)

    async def accept(self, token: str, name: str, password: str) -> Agent:
        """Use an invitation: the agent it invites, with ``password``.

        Raises:
            GatewayError: ``weak_password``, ``invalid_link``, ``email_taken``.
        """
        check_password(password)
        # The link first: a made-up token costs no argon2 work.
        link = await self._store.take_account_token(_digest(token), "invitation", now())
        if link is None or link.email is None:
            raise GatewayError(ErrorCode.INVALID_LINK, _INVALID_LINK)
        hashed = await self._passwords.hash(password)
        agent = Agent(
            str(uuid.uuid4()), link.org_id, name, link.email, now(), role=link.role or "agent"
        )
        if not await self._store.create_agent_account(agent, link.email, hashed):
            raise _email_taken()
        return agent

    async def reset(self, token: str, password: str) -> Agent:
        """Use a reset link: the agent's new password; its sessions are all signed out.

        Raises:
            GatewayError: ``weak_password``, ``invalid_link``, ``email_taken``.
        """
        check_password(password)
        link = await self._store.take_account_token(_digest(token), "reset", now())
        agent = None
        if link is not None and link.agent_id is not None:
            agent = await self._store.get_agent(link.org_id, link.agent_id)
        if agent is None or not agent.email or link is None:
            raise GatewayError(ErrorCode.INVALID_LINK, _INVALID_LINK)
        hashed = await self._passwords.hash(password)
        outcome = await self._store.set_agent_password(
            agent.org_id, agent.id, hashed, agent.email.strip().lower()
        )
        if outcome == "email_taken":
            raise _email_taken()
        if outcome != "ok":
            raise GatewayError(ErrorCode.INVALID_LINK, _INVALID_LINK)
        await self._store.revoke_agent_sessions(agent.id, now())
        return agent

    # -- sessions -----------------------------------------------------------------------

    async def sign_in(
        self, email: str, password: str, address: str | None, user_agent: str | None
    ) -> NewSession:
        """Check a password and open a session.

        Raises:
            GatewayError: ``sign_in_locked`` (429) while the account or address is locked
                or tries too fast; ``invalid_credentials`` for an unknown email, a wrong
                password or an agent without one (one answer, and comparable work, for all
                three); ``forbidden`` for a disabled agent with the right password.
        """
        email = email.strip().lower()
        await self._guard.admit(email, address)
        login = await self._store.find_agent_login(email)
        hashed = None if login is None else login.password_hash
        if login is None or not await self._passwords.verify(hashed, password):
            await self._guard.failed(email, address)
            raise GatewayError(ErrorCode.INVALID_CREDENTIALS, "wrong email or password")
        agent = login.agent
        if agent.status != "active":
            raise GatewayError(ErrorCode.FORBIDDEN, f"this agent is {agent.status}")
        token, at = _new_token(), now()
        expires = at + self._times.session
        await self._store.create_agent_session(
            AgentSession(
                str(uuid.uuid4()),
                _digest(token),
                agent.id,
                agent.org_id,
                at,
                at,
                expires,
                address,
                None if user_agent is None else user_agent[:512],
            )
        )
        return NewSession(agent, token, self.csrf_token(token), expires)

    async def session(self, token: str) -> SignedIn:
        """The session a cookie holds.

        Raises:
            GatewayError: ``unauthorized`` (unknown, expired or revoked session),
                ``forbidden`` (its agent is disabled).
        """
        found = await self._store.find_agent_session(_digest(token), now())
        if found is None:
            raise GatewayError(ErrorCode.UNAUTHORIZED, "not signed in (or the session ended)")
        session, agent = found
        if agent.status != "active":
            raise GatewayError(ErrorCode.FORBIDDEN, f"this agent is {agent.status}")
        principal = Principal("agent", agent.org_id, agent.id, role=agent.role)
        return SignedIn(principal, session, agent, self.csrf_token(token))

    async def sign_out(self, session_id: str, agent_id: str, everywhere: bool) -> None:
        if everywhere:
            await self._store.revoke_agent_sessions(agent_id, now())
        else:
            await self._store.revoke_agent_session(session_id, now())

    async def agent(self, org_id: str, agent_id: str) -> Agent:
        agent = await self._store.get_agent(org_id, agent_id)
        if agent is None:
            raise GatewayError.not_found("agent")
        return agent

    def csrf_token(self, session_token: str) -> str:
        mac = hmac.new(self._secret, b"csrf:" + session_token.encode(), hashlib.sha256)
        return mac.hexdigest()

    def _url(self, path: str, token: str, base_url: str | None) -> str:
        base = self._public_url or (base_url or "").rstrip("/")
        return f"{base}{path}#token={token}"


async def create_invitation(
    store: Store,
    org_id: str,
    email: str,
    role: str,
    name: str | None,
    *,
    ttl: timedelta,
    base_url: str,
) -> Link:
    """A one-time link (``{base_url}/app/invite#token=...``) that lets ``email`` join the org
    as ``role``; what ``POST /v1/agents/invitations`` and ``chatgate agents invite`` give.

    Raises:
        GatewayError: ``email_taken`` when an agent already signs in with ``email``.
    """
    email = email.strip().lower()
    if await store.find_agent_login(email) is not None:
        raise _email_taken()
    token, at = _new_token(), now()
    await store.create_account_token(
        AccountToken(
            _digest(token), "invitation", org_id, at, at + ttl, email=email, role=role, name=name
        )
    )
    return Link(f"{base_url.rstrip('/')}{INVITE_PATH}#token={token}", token, at + ttl)


def same_origin(origin: str, base_url: str | None, public_url: str) -> bool:
    """Whether a browser ``Origin`` (or a ``Referer``'s origin) is the gateway's own: its
    public URL, or the scheme and host the request reached it at."""
    origin = origin.rstrip("/").lower()
    own = {u.rstrip("/").lower() for u in (public_url, base_url or "") if u}
    return origin in own


def check_csrf(
    method: str,
    header: str | None,
    cookie: str | None,
    expected: str,
    origin: str | None,
    base_url: str | None,
    public_url: str,
) -> None:
    """Refuse a cookie-authenticated change without its CSRF token, or from another origin.

    Raises:
        GatewayError: ``csrf_failed`` (403).
    """
    if method in ("GET", "HEAD", "OPTIONS"):
        return
    if origin is not None and origin != "null" and not same_origin(origin, base_url, public_url):
        raise GatewayError(
            ErrorCode.CSRF_FAILED, "a signed-in change must come from the gateway's own origin"
        )
    if origin == "null":
        raise GatewayError(ErrorCode.CSRF_FAILED, "a signed-in change from an opaque origin")
    given = (header or "").encode()
    if not (
        hmac.compare_digest(given, (cookie or "").encode())
        and hmac.compare_digest(given, expected.encode())
    ):
        raise GatewayError(
            ErrorCode.CSRF_FAILED,
            "a signed-in change needs the X-CSRF-Token header equal to the chatgate_csrf cookie",
        )


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _email_taken() -> GatewayError:
    return GatewayError(
        ErrorCode.EMAIL_TAKEN,
        "an agent already signs in with this email",
        details={"path": "$.email"},
    )
