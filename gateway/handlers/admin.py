"""Org administration (widgets, agents, API keys), tokens, widget sessions and configs.

Administration needs an API key. Tokens: an API key issues them for any agent of its org or
for the org's bot; an agent token may renew itself. A widget session is anonymous but checked
against the widget's allowed origins, and a new visitor counts against the budgets of its
client address and of the widget; a visitor token of that widget renews its own session. A
session that carries ``external_id`` with a valid ``user_hash`` (identity verification) gets
the org's contact of that id, on any device. A widget's config (its look, for its script)
is public to the widget's origins.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

from msgspec import UNSET

from gateway.core.access import admin_org
from gateway.core.appearance import look_of
from gateway.core.auth import Authenticator, Principal, new_api_key, origin_allowed
from gateway.core.bus import Context
from gateway.core.identity import new_identity_secret, user_hash_matches
from gateway.core.results import (
    CreatedApiKey,
    IdentitySecret,
    IssuedToken,
    WidgetConfig,
    WidgetSession,
)
from gateway.core.rooms import inbox_channel
from gateway.delivery import signing
from gateway.handlers.bots import bot_of_org
from gateway.limits.policy import Limits
from gateway.media.fetch import Fetcher
from gateway.media.outbound import vet_url
from gateway.settings import Settings
from protocol import commands as cmd
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.base import Store
from storage.models import Agent, ApiKey, Contact, Widget, now

__all__ = ["AdminHandlers"]


class AdminHandlers:
    def __init__(
        self,
        store: Store,
        authenticator: Authenticator,
        settings: Settings,
        outbound: Fetcher,
        limits: Limits,
    ) -> None:
        self._store = store
        self._limits = limits
        self._authenticator = authenticator
        self._signer = authenticator.signer
        self._outbound = outbound
        self._agent_ttl = timedelta(seconds=settings.agent_token_ttl)
        self._visitor_ttl = timedelta(seconds=settings.visitor_token_ttl)

    # -- sessions and tokens --------------------------------------------------------------

    async def open_widget_session(self, ctx: Context, c: cmd.OpenWidgetSession) -> WidgetSession:
        widget = await self._public_widget(ctx, c.widget_id)
        external_id = await self._verified_external_id(widget, c)
        renewing = ctx.principal
        contact: Contact | None = None
        if renewing is not None and renewing.is_visitor and renewing.widget_id == widget.id:
            own = await self._store.get_contact(widget.org_id, renewing.subject)
            if own is not None and external_id in (None, own.external_id):
                contact = own
        if contact is None:
            # Without identity verification a session always gets a new contact: name and
            # email are unverified labels. With it, the verified external_id names the org's
            # contact (created on first sight), whichever device or widget it comes from.
            # Either way each is a session of a new visitor, with budgets per address and
            # per widget.
            await self._limits.new_session(widget.id, ctx.client_address)
            contact = await self._store.get_or_create_contact(
                Contact(
                    id=str(uuid.uuid4()),
                    org_id=widget.org_id,
                    widget_id=widget.id,
                    external_id=external_id,
                    name=c.name,
                    email=c.email,
                    metadata=c.metadata,
                    created_at=now(),
                )
            )
        principal = Principal("visitor", widget.org_id, contact.id, widget_id=widget.id)
        token, expires = self._signer.issue(principal, self._visitor_ttl, now())
        return WidgetSession(token, expires, widget.id, contact)

    async def get_widget_config(self, ctx: Context, c: cmd.GetWidgetConfig) -> WidgetConfig:
        widget = await self._public_widget(ctx, c.widget_id)
        return WidgetConfig(widget.id, look_of(widget.appearance), widget.identity_required)

    async def _public_widget(self, ctx: Context, widget_id: uuid.UUID) -> Widget:
        """A widget as anyone may reach it: by id, from one of its origins."""
        widget = await self._store.get_widget(None, str(widget_id))
        if widget is None:
            raise GatewayError.not_found("widget")
        if not origin_allowed(ctx.origin, widget.allowed_origins):
            raise GatewayError(ErrorCode.FORBIDDEN, "this origin may not use the widget")
        return widget

    async def _verified_external_id(self, widget: Widget, c: cmd.OpenWidgetSession) -> str | None:
        """The session's ``external_id`` once its ``user_hash`` proves it, or None when it
        carries none (``protocol`` makes sure the two come together).

        Raises:
            GatewayError: ``forbidden`` when the widget requires verification and none is
                given, when it has no identity secret, or for a wrong hash.
        """
        if c.external_id is None or c.user_hash is None:
            if widget.identity_required:
                raise GatewayError(
                    ErrorCode.FORBIDDEN,
                    "this widget requires identity verification: send external_id and user_hash",
                )
            return None
        secret = await self._store.get_widget_identity_secret(widget.org_id, widget.id)
        if secret is None:
            raise GatewayError(
                ErrorCode.FORBIDDEN, "this widget has no identity secret to check user_hash with"
            )
        if not user_hash_matches(secret, c.external_id, c.user_hash):
            raise GatewayError(ErrorCode.FORBIDDEN, "user_hash does not match external_id")
        return c.external_id

    async def issue_token(self, ctx: Context, c: cmd.IssueToken) -> IssuedToken:
        """An API key mints agent and bot tokens; an agent token renews itself. Either way
        the new token carries the API key it derives from, and minting reads the standing of
        that key and agent afresh: nothing revoked or disabled mints a token."""
        principal = ctx.require()
        if principal.kind == "agent" and c.kind == "agent":
            if c.agent_id not in (UNSET, uuid.UUID(principal.subject)):
                raise GatewayError(ErrorCode.FORBIDDEN, "an agent token can only renew itself")
            if principal.api_key_id is None:
                raise GatewayError(
                    ErrorCode.FORBIDDEN,
                    "this token cannot be renewed: get a new one with an API key, or from"
                    " a sign-in session (POST /v1/auth/socket-token)",
                )
            subject, role = principal.subject, principal.role
        elif principal.kind != "api_key":
            raise GatewayError(ErrorCode.FORBIDDEN, "issuing tokens needs an API key")
        elif c.kind == "bot":
            subject, role = "bot", None
        else:
            if c.agent_id is UNSET:
                raise GatewayError(
                    ErrorCode.VALIDATION_ERROR,
                    "agent_id is required for an agent token",
                    details={"path": "$.agent_id"},
                )
            agent = await self._store.get_agent(principal.org_id, str(c.agent_id))
            if agent is None:
                raise GatewayError.not_found("agent", "$.agent_id")
            subject, role = agent.id, agent.role
        issued = Principal(
            c.kind, principal.org_id, subject, api_key_id=principal.api_key_id, role=role
        )
        refusal = (await self._authenticator.credentials.recheck([issued])).get(issued)
        if refusal is not None:
            raise refusal
        token, expires = self._signer.issue(issued, self._agent_ttl, now())
        return IssuedToken(token, expires)

    async def watch_inbox(self, ctx: Context, c: cmd.WatchInbox) -> str:
        """The inbox channel of the caller's org; visitors have none."""
        principal = ctx.require()
        if principal.is_visitor:
            raise GatewayError(ErrorCode.FORBIDDEN, "visitors have no inbox")
        return inbox_channel(principal.org_id)

    # -- administration -------------------------------------------------------------------

    async def create_widget(self, ctx: Context, c: cmd.CreateWidget) -> Widget:
        org_id = admin_org(ctx)
        widget = Widget(
            id=str(uuid.uuid4()),
            org_id=org_id,
            name=c.name,
            allowed_origins=c.allowed_origins,
            messages_per_minute=c.messages_per_minute,
            live_agent_endpoint_url=c.live_agent_endpoint_url,
            created_at=now(),
            live_agent_escalate_after=c.live_agent_escalate_after,
            live_agent_timeout=c.live_agent_timeout,
            live_agent_fallback=c.live_agent_fallback,
            appearance=c.appearance.applied_to({}),
            bot_id=await self._bot_id(org_id, c.bot_id),
        )
        if c.live_agent_endpoint_url is not None:
            await vet_url(self._outbound, c.live_agent_endpoint_url, "$.live_agent_endpoint_url")
            widget = dataclasses.replace(widget, live_agent_secret=signing.new_secret())
        await self._store.create_widget(widget)
        return widget

    async def update_widget(self, ctx: Context, c: cmd.UpdateWidget) -> Widget:
        org_id = admin_org(ctx)
        updates: dict[str, Any] = {
            name: getattr(c, name)
            for name in (
                "name",
                "allowed_origins",
                "messages_per_minute",
                "live_agent_endpoint_url",
                "live_agent_escalate_after",
                "live_agent_timeout",
                "live_agent_fallback",
                "identity_required",
            )
            if getattr(c, name) is not UNSET
        }
        if c.bot_id is not UNSET:
            updates["bot_id"] = await self._bot_id(org_id, c.bot_id)
        url = updates.get("live_agent_endpoint_url")
        if url is not None:
            await vet_url(self._outbound, url, "$.live_agent_endpoint_url")
        if url is not None or c.appearance is not UNSET or c.identity_required is True:
            # What these change depends on what the widget holds now.
            current = await self._store.get_widget(org_id, str(c.widget_id))
            if current is None:
                raise GatewayError.not_found("widget")
            if url is not None and current.live_agent_secret is None:
                updates["live_agent_secret"] = signing.new_secret()
            if c.appearance is not UNSET:
                updates["appearance"] = c.appearance.applied_to(current.appearance)
            if c.identity_required is True and not current.identity_secret_set:
                raise GatewayError(
                    ErrorCode.VALIDATION_ERROR,
                    "the widget has no identity secret yet: "
                    "POST /v1/widgets/{widget_id}/identity-secret first",
                    details={"path": "$.identity_required"},
                )
        widget = await self._store.update_widget(org_id, str(c.widget_id), updates)
        if widget is None:
            raise GatewayError.not_found("widget")
        return widget

    async def _bot_id(self, org_id: str, bot_id: uuid.UUID | None) -> str | None:
        """The id of the org's bot a widget names (``not_found`` at ``$.bot_id`` for one of
        no bot of the org), or None."""
        if bot_id is None:
            return None
        return (await bot_of_org(self._store, org_id, bot_id, "$.bot_id")).id

    async def rotate_widget_identity_secret(
        self, ctx: Context, c: cmd.RotateWidgetIdentitySecret
    ) -> IdentitySecret:
        """A new identity secret (or the one given) replaces the widget's at once."""
        org_id = admin_org(ctx)
        secret = new_identity_secret() if c.identity_secret is UNSET else c.identity_secret
        widget = await self._store.update_widget(
            org_id, str(c.widget_id), {"identity_secret": secret}
        )
        if widget is None:
            raise GatewayError.not_found("widget")
        return IdentitySecret(widget.id, secret)

    async def get_widget(self, ctx: Context, c: cmd.GetWidget) -> Widget:
        widget = await self._store.get_widget(admin_org(ctx), str(c.widget_id))
        if widget is None:
            raise GatewayError.not_found("widget")
        return widget

    async def list_widgets(self, ctx: Context, c: cmd.ListWidgets) -> dict[str, list[Widget]]:
        return {"data": await self._store.list_widgets(admin_org(ctx))}

    async def create_agent(self, ctx: Context, c: cmd.CreateAgent) -> Agent:
        agent = Agent(str(uuid.uuid4()), admin_org(ctx), c.name, c.email, now())
        await self._store.create_agent(agent)
        return agent

    async def list_agents(self, ctx: Context, c: cmd.ListAgents) -> dict[str, list[Agent]]:
        return {"data": await self._store.list_agents(admin_org(ctx))}

    async def create_api_key(self, ctx: Context, c: cmd.CreateApiKey) -> CreatedApiKey:
        org_id = admin_org(ctx)
        key = new_api_key()
        api_key = ApiKey(str(uuid.uuid4()), org_id, c.name, key.prefix, now())
        await self._store.create_api_key(api_key, key.hash)
        return CreatedApiKey(api_key, key.secret)

    async def list_api_keys(self, ctx: Context, c: cmd.ListApiKeys) -> dict[str, list[ApiKey]]:
        return {"data": await self._store.list_api_keys(admin_org(ctx))}

    async def revoke_api_key(self, ctx: Context, c: cmd.RevokeApiKey) -> ApiKey:
        key = await self._store.revoke_api_key(admin_org(ctx), str(c.api_key_id), now())
        if key is None:
            raise GatewayError.not_found("API key")
        self._authenticator.forget(key.id)
        return key
