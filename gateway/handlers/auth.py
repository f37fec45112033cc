"""Handlers of agent accounts: invitations and reset links (admins), accepting them, sign-in
and sign-out, who am I, and socket tokens minted from a sign-in session.

Sign-in answers a ``NewSession``; the REST layer turns it into the two cookies and an
``AccountView`` (``http.routes``). Everything else here is plain.
"""

from __future__ import annotations

from datetime import timedelta

from gateway.core.access import admin_org
from gateway.core.auth import TokenSigner
from gateway.core.bus import Context
from gateway.core.results import AccountView, Invitation, IssuedToken, ResetLink, SignedOut
from gateway.handlers.accounts import Accounts, NewSession, same_origin
from protocol import commands as cmd
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.models import Agent, now

__all__ = ["AccountHandlers"]


class AccountHandlers:
    def __init__(
        self, accounts: Accounts, signer: TokenSigner, agent_ttl: timedelta, public_url: str
    ) -> None:
        self._accounts = accounts
        self._signer = signer
        self._agent_ttl = agent_ttl
        self._public_url = public_url

    async def create_invitation(self, ctx: Context, c: cmd.CreateInvitation) -> Invitation:
        link = await self._accounts.invite(admin_org(ctx), c.email, c.role, c.name, ctx.base_url)
        return Invitation(link.url, link.token, link.expires_at)

    async def issue_password_reset(self, ctx: Context, c: cmd.IssuePasswordReset) -> ResetLink:
        link = await self._accounts.reset_link(admin_org(ctx), str(c.agent_id), ctx.base_url)
        return ResetLink(link.url, link.token, link.expires_at)

    async def accept_invitation(self, ctx: Context, c: cmd.AcceptInvitation) -> Agent:
        self._own_origin(ctx)
        return await self._accounts.accept(c.token, c.name, c.password)

    async def reset_password(self, ctx: Context, c: cmd.ResetPassword) -> Agent:
        self._own_origin(ctx)
        return await self._accounts.reset(c.token, c.password)

    async def sign_in(self, ctx: Context, c: cmd.SignIn) -> NewSession:
        self._own_origin(ctx)
        return await self._accounts.sign_in(c.email, c.password, ctx.client_address, ctx.user_agent)

    async def sign_out(self, ctx: Context, c: cmd.SignOut) -> SignedOut:
        principal = ctx.require()
        if ctx.sign_in_session is None or principal.agent_id is None:
            raise GatewayError(ErrorCode.FORBIDDEN, "signing out needs a sign-in session")
        await self._accounts.sign_out(ctx.sign_in_session, principal.agent_id, c.all)
        return SignedOut(c.all)

    async def get_me(self, ctx: Context, c: cmd.GetMe) -> AccountView:
        principal = ctx.require()
        if principal.agent_id is None:
            raise GatewayError(ErrorCode.FORBIDDEN, "only an agent has an account")
        agent = await self._accounts.agent(principal.org_id, principal.agent_id)
        return AccountView(agent, ctx.csrf_token)

    async def issue_session_token(self, ctx: Context, c: cmd.IssueSessionToken) -> IssuedToken:
        """An agent socket token carrying the agent's role, for a signed-in agent only (an
        agent token minted with an API key renews through ``POST /v1/tokens``)."""
        principal = ctx.require()
        if ctx.sign_in_session is None:
            raise GatewayError(ErrorCode.FORBIDDEN, "a socket token from here needs a sign-in")
        token, expires = self._signer.issue(principal, self._agent_ttl, now())
        return IssuedToken(token, expires)

    def _own_origin(self, ctx: Context) -> None:
        """A browser may sign in, or set a password, only from the gateway's own pages (no
        sign-in CSRF); clients without ``Origin`` (curl, the CLI) are not browsers."""
        if ctx.origin is not None and not same_origin(ctx.origin, ctx.base_url, self._public_url):
            raise GatewayError(
                ErrorCode.CSRF_FAILED, "signing in must come from the gateway's own origin"
            )
