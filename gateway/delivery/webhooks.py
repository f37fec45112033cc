"""``/v1/webhooks``: an org's endpoints, their secrets, their deliveries and replays.

Administration needs an API key. Every id belongs to the caller's org, or answers
``not_found``. Endpoint URLs are vetted as attachment URLs are (no private or loopback
address unless the operator allows the host), when set and again on every attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from msgspec import UNSET

from gateway.core.access import admin_org as _admin
from gateway.core.bus import Context
from gateway.core.results import (
    Deleted,
    DeliveryDetail,
    DeliveryPage,
    DeliveryView,
    Replayed,
    WebhookView,
)
from gateway.delivery import signing
from gateway.media.fetch import Fetcher
from gateway.media.outbound import vet_url
from protocol import commands as cmd
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.base import Store
from storage.models import WebhookEndpoint, now

__all__ = ["WebhookHandlers"]


class WebhookHandlers:
    def __init__(
        self, store: Store, outbound: Fetcher, *, wake: Callable[[], None] = lambda: None
    ) -> None:
        self._store = store
        self._outbound = outbound
        #: Tells the dispatcher that deliveries may have become due (resumed, replayed).
        self._wake = wake

    async def _endpoint(self, ctx: Context, webhook_id: uuid.UUID) -> WebhookEndpoint:
        endpoint = await self._store.get_webhook_endpoint(_admin(ctx), str(webhook_id))
        if endpoint is None:
            raise GatewayError.not_found("webhook")
        return endpoint

    async def create(self, ctx: Context, c: cmd.CreateWebhook) -> WebhookView:
        org_id = _admin(ctx)
        await vet_url(self._outbound, c.url, "$.url")
        secret = _secret(c.secret)
        at = now()
        endpoint = WebhookEndpoint(
            id=str(uuid.uuid4()),
            org_id=org_id,
            url=c.url,
            kind=c.kind,
            description=c.description,
            event_types=c.event_types,
            secrets=((secret, None),),
            fifo=c.fifo,
            status="active",
            paused_reason=None,
            failing_since=None,
            created_at=at,
            updated_at=at,
        )
        await self._store.create_webhook_endpoint(endpoint)
        return WebhookView.of(endpoint, secret=True)

    async def list_all(self, ctx: Context, c: cmd.ListWebhooks) -> dict[str, list[WebhookView]]:
        endpoints = await self._store.list_webhook_endpoints(_admin(ctx))
        return {"data": [WebhookView.of(e) for e in endpoints]}

    async def get(self, ctx: Context, c: cmd.GetWebhook) -> WebhookView:
        return WebhookView.of(await self._endpoint(ctx, c.webhook_id))

    async def update(self, ctx: Context, c: cmd.UpdateWebhook) -> WebhookView:
        endpoint = await self._endpoint(ctx, c.webhook_id)
        updates: dict[str, Any] = {
            name: getattr(c, name)
            for name in ("url", "description", "event_types", "fifo", "status")
            if getattr(c, name) is not UNSET
        }
        if "url" in updates:
            await vet_url(self._outbound, updates["url"], "$.url")
        if "status" in updates:
            # Resuming (or disabling) starts the endpoint's record of failures afresh.
            updates.update(paused_reason=None, failing_since=None)
        updated = await self._store.update_webhook_endpoint(
            endpoint.org_id, endpoint.id, updates, now()
        )
        if updated is None:  # deleted meanwhile
            raise GatewayError.not_found("webhook")
        if updated.status == "active":
            self._wake()  # what waited while it was paused goes out now
        return WebhookView.of(updated)

    async def delete(self, ctx: Context, c: cmd.DeleteWebhook) -> Deleted:
        if not await self._store.delete_webhook_endpoint(_admin(ctx), str(c.webhook_id), now()):
            raise GatewayError.not_found("webhook")
        return Deleted(str(c.webhook_id))

    async def rotate_secret(self, ctx: Context, c: cmd.RotateWebhookSecret) -> WebhookView:
        endpoint = await self._endpoint(ctx, c.webhook_id)
        at = now()
        expires = at + timedelta(seconds=c.grace_seconds)
        # The old secret keeps signing until the grace period ends (earlier expiries kept).
        kept = tuple(
            (secret, expires if until is None or until > expires else until)
            for secret, until in endpoint.secrets
            if until is None or until > at
        )
        secrets = ((_secret(c.secret), None), *(kept if c.grace_seconds else ()))
        rotated = await self._store.update_webhook_endpoint(
            endpoint.org_id, endpoint.id, {"secrets": secrets}, at
        )
        if rotated is None:
            raise GatewayError.not_found("webhook")
        return WebhookView.of(rotated, secret=True)

    async def list_deliveries(self, ctx: Context, c: cmd.ListWebhookDeliveries) -> DeliveryPage:
        endpoint = await self._endpoint(ctx, c.webhook_id)
        rows = await self._store.list_deliveries(
            endpoint.org_id,
            endpoint.id,
            status=None if c.status is UNSET else c.status,
            after=None if c.after is UNSET else c.after,
            limit=c.limit + 1,
        )
        page, more = rows[: c.limit], len(rows) > c.limit
        return DeliveryPage([DeliveryView.of(d) for d in page], page[-1].id if more else None)

    async def get_delivery(self, ctx: Context, c: cmd.GetWebhookDelivery) -> DeliveryDetail:
        endpoint = await self._endpoint(ctx, c.webhook_id)
        delivery = await self._store.get_delivery(endpoint.org_id, c.delivery_id)
        if delivery is None or delivery.endpoint_id != endpoint.id:
            raise GatewayError.not_found("delivery")
        attempts = await self._store.list_delivery_attempts(endpoint.org_id, delivery.id)
        return DeliveryDetail(DeliveryView.of(delivery), attempts)

    async def replay_delivery(self, ctx: Context, c: cmd.ReplayWebhookDelivery) -> Replayed:
        endpoint = await self._endpoint(ctx, c.webhook_id)
        count = await self._store.replay_deliveries(
            endpoint.org_id,
            endpoint.id,
            delivery_id=c.delivery_id,
            statuses=("dead", "delivered"),
            at=now(),
        )
        if not count:
            delivery = await self._store.get_delivery(endpoint.org_id, c.delivery_id)
            if delivery is None or delivery.endpoint_id != endpoint.id:
                raise GatewayError.not_found("delivery")
            raise GatewayError(
                ErrorCode.INVALID_STATE,
                f"the delivery is {delivery.status}; only dead or delivered ones are replayed",
                details={"status": delivery.status},
            )
        self._wake()
        return Replayed(count)

    async def replay_range(self, ctx: Context, c: cmd.ReplayWebhookDeliveries) -> Replayed:
        endpoint = await self._endpoint(ctx, c.webhook_id)
        until = None if c.until is UNSET else c.until
        if until is not None and until <= c.since:
            raise GatewayError(
                ErrorCode.VALIDATION_ERROR,
                "until must be after since",
                details={"path": "$.until"},
            )
        count = await self._store.replay_deliveries(
            endpoint.org_id,
            endpoint.id,
            since=c.since,
            until=until,
            statuses=("dead", "delivered") if c.include_delivered else ("dead",),
            at=now(),
        )
        if count:
            self._wake()
        return Replayed(count)


def _secret(given: str | Any) -> str:
    if given is UNSET:
        return signing.new_secret()
    if not signing.valid_secret(given):
        raise GatewayError(
            ErrorCode.VALIDATION_ERROR,
            "a secret is whsec_ followed by base64 of 24 to 64 bytes",
            details={"path": "$.secret"},
        )
    return str(given)
