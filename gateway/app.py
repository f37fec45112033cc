"""``create_app``: the Starlette application, with everything built in its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import nodes
from gateway.admin import AdminHandlers
from gateway.attachments import Attachments
from gateway.auth import Authenticator, TokenSigner
from gateway.broker import Broker, create_broker
from gateway.bus import CommandBus
from gateway.dialects import dialect_routes
from gateway.dispatcher import Dispatcher, DispatchPolicy
from gateway.endpoint import SocketEndpoint
from gateway.escalation import Escalation
from gateway.fetch import Fetcher, FetchPolicy
from gateway.files import file_routes
from gateway.handlers import build_bus
from gateway.idempotency import Idempotency
from gateway.limits import Limits
from gateway.metrics import Metrics
from gateway.middleware import RequestContextMiddleware
from gateway.openapi import docs_page, openapi_document
from gateway.publisher import Publisher
from gateway.ratelimit import create_rate_limiter
from gateway.registry import Registry
from gateway.responses import http_exception_handler, json_response
from gateway.retries import RetrySchedule
from gateway.routes import rest_routes
from gateway.settings import Settings
from gateway.stores import open_store
from gateway.webhook_admin import WebhookHandlers
from storage.base import Store
from storage.models import now
from storage.sqlite import SQLiteStore

__all__ = ["Gateway", "create_app"]

log = logging.getLogger(__name__)

PURGE_EVERY = 600.0


@dataclass(frozen=True, slots=True)
class Gateway:
    """Everything a route or a socket needs, built once per app in the lifespan."""

    settings: Settings
    store: Store
    broker: Broker
    registry: Registry
    bus: CommandBus
    authenticator: Authenticator
    idempotency: Idempotency
    limits: Limits
    metrics: Metrics
    #: This process's id among the gateway nodes sharing the database.
    node_id: str


def chatgate_version() -> str:
    try:
        return version("chatgate")
    except PackageNotFoundError:
        return "0.0.0"


def create_app(
    settings: Settings | None = None, *, broker: Broker | None = None, store: Store | None = None
) -> Starlette:
    """Build the gateway app.

    Args:
        settings: defaults to ``Settings.from_env()``.
        broker: a broker the caller owns (started and closed by the app all the same);
            default: the one ``settings`` asks for.
        store: a store the caller started and will close; default: opened from
            ``settings.database_url`` and closed with the app.
    """
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Gateway]]:
        async with contextlib.AsyncExitStack() as stack:
            the_store = store
            if the_store is None:
                the_store = open_store(settings)
                await the_store.start()
                stack.push_async_callback(the_store.aclose)
            the_broker = broker or create_broker(settings)
            secret = settings.secret_key or await the_store.get_or_create_setting(
                "token_secret", secrets.token_urlsafe(48)
            )
            metrics = Metrics()
            signer = TokenSigner(secret)
            authenticator = Authenticator(
                the_store, signer, cache_seconds=settings.api_key_cache_seconds
            )
            registry = Registry(
                the_broker, the_store, gap_timeout=settings.gap_timeout, metrics=metrics
            )
            outbound = Fetcher(_outbound_policy(settings))
            stack.push_async_callback(outbound.aclose)
            admin = AdminHandlers(the_store, authenticator, settings, outbound)
            attachments = Attachments(
                the_store,
                Fetcher(_fetch_policy(settings)),
                settings.public_url,
                settings.max_file_bytes,
            )
            stack.push_async_callback(attachments.aclose)
            limiter = create_rate_limiter(settings.redis_url)
            await limiter.start()
            stack.push_async_callback(limiter.aclose)
            limits = Limits(limiter, settings.org_requests_per_minute, metrics)
            publisher = Publisher(the_broker)
            stack.push_async_callback(publisher.aclose)
            bus, conversations = build_bus(
                the_store,
                publisher,
                admin,
                WebhookHandlers(the_store, outbound),
                attachments,
                limits,
                metrics,
            )
            node = await nodes.register(
                the_store,
                local_broker=not the_broker.spans_processes,
                sqlite=isinstance(the_store, SQLiteStore),
            )
            stack.push_async_callback(nodes.unregister, the_store, node)
            heartbeat = asyncio.create_task(nodes.heartbeat(the_store, node))
            stack.callback(heartbeat.cancel)
            await the_broker.start(registry.deliver, registry.resync)
            stack.push_async_callback(the_broker.aclose)
            stack.push_async_callback(registry.aclose)
            stack.push_async_callback(conversations.drain)
            dispatcher = Dispatcher(
                the_store,
                outbound,
                Escalation(the_store, publisher),
                _dispatch_policy(settings),
                metrics,
                owner=node.id,
            )
            publisher.on_publish.append(dispatcher.wake)
            dispatcher.start()
            stack.push_async_callback(dispatcher.aclose)
            gateway = Gateway(
                settings=settings,
                store=the_store,
                broker=the_broker,
                registry=registry,
                bus=bus,
                authenticator=authenticator,
                idempotency=Idempotency(the_store, timedelta(seconds=settings.idempotency_ttl)),
                limits=limits,
                metrics=metrics,
                node_id=node.id,
            )
            purger = asyncio.create_task(_purge_idempotency_keys(gateway))
            stack.callback(purger.cancel)
            yield {"gateway": gateway}

    document = openapi_document(chatgate_version())
    docs = docs_page(document)

    async def openapi(request: Request) -> Response:
        return json_response(document)

    async def docs_html(request: Request) -> Response:
        return HTMLResponse(docs)

    routes = [
        *rest_routes(),
        *file_routes(),
        *dialect_routes(),
        Route("/healthz", _healthz),
        Route("/readyz", _readyz),
        Route("/metrics", _metrics),
        Route("/openapi.json", openapi),
        Route("/docs", docs_html),
    ]
    return GatewayApp(
        socket=SocketEndpoint(),
        routes=routes,
        middleware=[Middleware(RequestContextMiddleware)],
        exception_handlers={HTTPException: http_exception_handler},
        lifespan=lifespan,
    )


#: Where sockets connect.
SOCKET_PATH = "/ws"


class GatewayApp(Starlette):
    """The Starlette app, with ``GET /ws`` handed straight to the socket endpoint.

    The HTTP middleware has nothing to do for a socket, yet each layer would keep a frame
    alive for the socket's whole life and wrap every frame sent: about 2.5 KB per idle
    connection and a few function calls per delivery, for nothing.
    """

    def __init__(self, *, socket: ASGIApp, **options: Any) -> None:
        super().__init__(**options)
        self._socket = socket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == SOCKET_PATH:
            scope["app"] = self
            await self._socket(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        timeout=settings.fetch_timeout,
        max_bytes=settings.max_file_bytes,
        allowed_hosts=_hosts(settings.fetch_allowed_hosts),
    )


def _outbound_policy(settings: Settings) -> FetchPolicy:
    """Webhook and live-agent deliveries: one attempt per timeout, no redirects."""
    return FetchPolicy(
        timeout=settings.webhook_timeout,
        max_redirects=0,
        allowed_hosts=_hosts(settings.webhook_allowed_hosts),
    )


def _dispatch_policy(settings: Settings) -> DispatchPolicy:
    return DispatchPolicy(
        webhooks=RetrySchedule.parse(settings.webhook_retry_schedule),
        live_agent=RetrySchedule.parse(settings.live_agent_retry_schedule),
        timeout=settings.webhook_timeout,
        poll_interval=settings.webhook_poll_interval,
    )


def _hosts(listed: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in listed.split(",") if h.strip())


async def _healthz(request: Request) -> Response:
    gateway: Gateway = request.state.gateway
    return json_response({"status": "ok", "node": gateway.node_id})


async def _readyz(request: Request) -> Response:
    gateway: Gateway = request.state.gateway
    checks = {"store": "ok", "broker": "ok" if gateway.broker.healthy else "unavailable"}
    try:
        await gateway.store.ping()
    except Exception:
        checks["store"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return json_response(
        {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503
    )


async def _metrics(request: Request) -> Response:
    gateway: Gateway = request.state.gateway
    return Response(gateway.metrics.render(), media_type="text/plain; version=0.0.4")


async def _purge_idempotency_keys(gateway: Gateway) -> None:
    ttl = timedelta(seconds=gateway.settings.idempotency_ttl)
    while True:
        try:
            await gateway.store.purge_idempotency_keys(now() - ttl)
        except Exception:
            log.exception("purging expired idempotency keys failed")
        await asyncio.sleep(PURGE_EVERY)
