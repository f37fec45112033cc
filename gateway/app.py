"""``create_app``: the Starlette application, with everything built in its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.bot.kinds import AnswererFactory, default_answerers
from gateway.bot.llm import llm_fetch_policy
from gateway.bot.turns import STATE_KEY as TURNS_STATE_KEY, BotTurns
from gateway.bot.webhook import WebhookBotFailures
from gateway.core.auth import Authenticator, TokenSigner
from gateway.core.bus import CommandBus
from gateway.core.clients import ClientAddresses
from gateway.core.idempotency import Idempotency
from gateway.core.metrics import Metrics
from gateway.core.origins import WidgetOrigins
from gateway.core.passwords import Passwords
from gateway.delivery.dispatcher import Dispatcher, DispatchPolicy
from gateway.delivery.escalation import Escalation
from gateway.delivery.retention import Retention, RetentionPolicy
from gateway.delivery.retries import RetrySchedule
from gateway.delivery.webhooks import WebhookHandlers
from gateway.dialects.openapi import dialect_sections
from gateway.dialects.routes import dialect_routes
from gateway.handlers.accounts import Accounts, AccountTimes
from gateway.handlers.admin import AdminHandlers
from gateway.handlers.agents import AgentHandlers
from gateway.handlers.auth import AccountHandlers
from gateway.handlers.bots import BotHandlers
from gateway.handlers.knowledge import KnowledgeHandlers
from gateway.handlers.wiring import build_bus
from gateway.http.asyncapi import asyncapi_document
from gateway.http.files import file_routes
from gateway.http.hosts import HostPolicy, host_allowed, refuse_host
from gateway.http.middleware import RequestContextMiddleware
from gateway.http.openapi import openapi_document
from gateway.http.operations import (
    STATE_KEY as OPERATIONS_STATE_KEY,
    OperationsServices,
    operations_routes,
)
from gateway.http.responses import http_exception_handler
from gateway.http.routes import rest_routes
from gateway.http.routing import by_path
from gateway.http.services import STATE_KEY as HTTP_STATE_KEY, HttpServices
from gateway.limits.factory import create_rate_limiter
from gateway.limits.gcra import RateLimiter
from gateway.limits.policy import Budgets, Limits
from gateway.limits.signin import SignInGuard, SignInPolicy
from gateway.media.attachments import Attachments
from gateway.media.fetch import Fetcher, FetchPolicy
from gateway.media.pages import PageReader, page_policy
from gateway.presence.factory import create_leases
from gateway.presence.tracker import Presence
from gateway.realtime import nodes
from gateway.realtime.broker.base import Broker, BrokerError
from gateway.realtime.broker.factory import create_broker
from gateway.realtime.endpoint import SocketEndpoint
from gateway.realtime.publisher import Publisher
from gateway.realtime.registry import Registry
from gateway.realtime.revocation import CredentialWatch
from gateway.realtime.services import STATE_KEY as SOCKETS_STATE_KEY, SocketServices
from gateway.settings import Settings
from gateway.stores import open_store
from gateway.web.assets import BUNDLED, asset_routes
from gateway.web.dashboard import dashboard_routes
from storage.base import Store
from storage.errors import StorageError
from storage.sqlite import SQLiteStore

__all__ = ["Gateway", "create_app"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Gateway:
    """Everything routes and sockets need, built once per app in the lifespan; each of them
    sees only its narrow view (``HttpServices``, ``OperationsServices``, ``SocketServices``)."""

    settings: Settings
    store: Store
    broker: Broker
    registry: Registry
    bus: CommandBus
    authenticator: Authenticator
    idempotency: Idempotency
    limits: Limits
    clients: ClientAddresses
    metrics: Metrics
    #: This process's id among the gateway nodes sharing the database.
    node_id: str
    credential_watch: CredentialWatch
    origins: WidgetOrigins
    presence: Presence
    accounts: Accounts


def chatgate_version() -> str:
    try:
        return version("chatgate")
    except PackageNotFoundError:
        return "0.0.0"


def create_app(
    settings: Settings | None = None,
    *,
    broker: Broker | None = None,
    store: Store | None = None,
    answerers: AnswererFactory | None = None,
    limiter: RateLimiter | None = None,
) -> GatewayApp:
    """Build the gateway app.

    Args:
        settings: defaults to ``Settings.from_env()``.
        broker: a broker the caller owns (started and closed by the app all the same);
            default: the one ``settings`` asks for.
        store: a store the caller started and will close; default: opened from
            ``settings.database_url`` and closed with the app.
        answerers: what answers for a bot (``gateway.bot.kinds``); default: each kind's own.
        limiter: the rate limiter every budget draws on (started and closed by the app);
            default: in process, or Redis with ``settings.redis_url``.
    """
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
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
            llm_http = Fetcher(llm_fetch_policy(settings))
            stack.push_async_callback(llm_http.aclose)
            attachments = Attachments(
                the_store,
                Fetcher(_fetch_policy(settings)),
                settings.public_url,
                settings.max_file_bytes,
            )
            stack.push_async_callback(attachments.aclose)
            pages = PageReader(_page_policy(settings))
            stack.push_async_callback(pages.aclose)
            the_limiter = limiter or create_rate_limiter(settings.redis_url)
            await the_limiter.start()
            stack.push_async_callback(the_limiter.aclose)
            limits = Limits(the_limiter, _budgets(settings), metrics)
            accounts = _accounts(settings, the_store, the_limiter, metrics, secret)
            admin = AdminHandlers(the_store, authenticator, settings, outbound, limits)
            publisher = Publisher(the_broker, metrics)
            node = await nodes.register(
                the_store,
                local_broker=not the_broker.spans_processes,
                sqlite=isinstance(the_store, SQLiteStore),
            )
            stack.push_async_callback(nodes.unregister, the_store, node)
            heartbeat = asyncio.create_task(nodes.heartbeat(the_store, node))
            stack.callback(heartbeat.cancel)
            dispatcher = Dispatcher(
                the_store,
                outbound,
                Escalation(the_store, publisher, WebhookBotFailures(the_store, publisher)),
                _dispatch_policy(settings),
                metrics,
                owner=node.id,
            )
            presence = Presence(
                create_leases(settings.redis_url),
                publisher,
                ttl=settings.presence_ttl,
                refresh=settings.presence_heartbeat,
            )
            bus, conversations = build_bus(
                the_store,
                publisher,
                admin,
                AgentHandlers(the_store, authenticator.credentials),
                AccountHandlers(
                    accounts,
                    signer,
                    timedelta(seconds=settings.agent_token_ttl),
                    settings.public_url,
                ),
                WebhookHandlers(the_store, outbound, wake=dispatcher.wake),
                BotHandlers(the_store, outbound, llm_http, settings.llm_base_url),
                KnowledgeHandlers(the_store, pages),
                attachments,
                limits,
                metrics,
                presence,
            )
            await the_broker.start(registry.deliver, registry.resync)
            stack.push_async_callback(the_broker.aclose)
            stack.push_async_callback(registry.aclose)
            # Shutdown runs these bottom up: finish the writes in flight, then give their
            # queued publishes a moment (while the broker is still open).
            stack.push_async_callback(publisher.aclose)
            stack.push_async_callback(conversations.drain)
            await presence.start()
            # Before the publisher closes: the sockets still open say offline.
            stack.push_async_callback(presence.aclose)
            publisher.on_publish.append(dispatcher.wake)
            dispatcher.start()
            stack.push_async_callback(dispatcher.aclose)
            turns = BotTurns(
                the_store,
                bus,
                publisher,
                answerers or default_answerers(the_store, settings, llm_http),
            )
            conversations.on_visitor_message.append(turns.heard)
            conversations.on_change.append(turns.observe)
            # Stopped first: a turn's last writes go out before the publishes are drained.
            stack.push_async_callback(turns.aclose)
            credential_watch = CredentialWatch(
                authenticator.credentials, interval=settings.revocation_check_interval
            )
            credential_watch.start()
            stack.push_async_callback(credential_watch.aclose)
            gateway = Gateway(
                settings=settings,
                store=the_store,
                broker=the_broker,
                registry=registry,
                bus=bus,
                authenticator=authenticator,
                idempotency=Idempotency(the_store, timedelta(seconds=settings.idempotency_ttl)),
                limits=limits,
                clients=ClientAddresses(settings.trusted_proxy_networks),
                metrics=metrics,
                node_id=node.id,
                credential_watch=credential_watch,
                origins=WidgetOrigins(the_store),
                presence=presence,
                accounts=accounts,
            )
            retention = Retention(the_store, _retention_policy(settings))
            retention.start()
            stack.push_async_callback(retention.aclose)
            # Routes and sockets see the app only through these narrow views (mypy checks
            # that ``Gateway`` provides each).
            http: HttpServices = gateway
            operations: OperationsServices = gateway
            sockets: SocketServices = gateway
            yield {
                HTTP_STATE_KEY: http,
                OPERATIONS_STATE_KEY: operations,
                SOCKETS_STATE_KEY: sockets,
                TURNS_STATE_KEY: turns,
            }

    hosts = HostPolicy.parse(settings.allowed_hosts)
    middleware = [Middleware(RequestContextMiddleware, hosts, preflights=True)]
    # One route per path, so that a 405 lists every method of the path (http/routing.py).
    web_dist = Path(settings.web_dist_dir) if settings.web_dist_dir else BUNDLED
    routes = [
        *by_path(
            [
                *rest_routes(),
                *file_routes(),
                *dialect_routes(),
                *operations_routes(*_documents(chatgate_version())),
            ]
        ),
        *asset_routes(web_dist),
        *dashboard_routes(web_dist),
    ]
    return GatewayApp(
        socket=SocketEndpoint(),
        hosts=hosts,
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_exception_handler},
        lifespan=_refusing(lifespan),
    )


@functools.cache
def _documents(version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAPI and AsyncAPI documents, built once per process: they describe the code,
    not the settings, and building them walks every command's type (about half a second).
    The routes only read them."""
    return openapi_document(version, dialect_sections), asyncapi_document(version)


def _accounts(
    settings: Settings, store: Store, limiter: RateLimiter, metrics: Metrics, secret: str
) -> Accounts:
    guard = SignInGuard(
        limiter,
        metrics,
        SignInPolicy(
            max_failures=settings.sign_in_max_failures,
            max_address_failures=settings.sign_in_max_address_failures,
            lock_seconds=settings.sign_in_lock_seconds,
        ),
    )
    times = AccountTimes(
        session=timedelta(seconds=settings.session_ttl),
        invitation=timedelta(seconds=settings.invitation_ttl),
        reset=timedelta(seconds=settings.password_reset_ttl),
    )
    return Accounts(store, Passwords(), guard, secret, times, settings.public_url)


#: Where sockets connect.
SOCKET_PATH = "/ws"


class GatewayApp(Starlette):
    """The Starlette app, with ``GET /ws`` handed straight to the socket endpoint.

    The HTTP middleware has nothing to do for a socket, yet each layer would keep a frame
    alive for the socket's whole life and wrap every frame sent: about 2.5 KB per idle
    connection and a few function calls per delivery, for nothing. The one check sockets
    share with HTTP, the allowed hosts, is made here before the handshake.
    """

    def __init__(self, *, socket: ASGIApp, hosts: HostPolicy, **options: Any) -> None:
        super().__init__(**options)
        self._socket = socket
        self._hosts = hosts
        #: Why the lifespan refused to start (one line, for ``chatgate serve``), or None.
        self.startup_refusal: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, self._quiet_refusal(send))
            return
        if scope["type"] == "websocket" and scope["path"] == SOCKET_PATH:
            scope["app"] = self
            if host_allowed(self._hosts, scope):
                await self._socket(scope, receive, send)
            else:
                await refuse_host(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack without its outermost ``ServerErrorMiddleware``: the gateway's
        first middleware (``RequestContextMiddleware``) already answers any exception that
        escapes a route with the ``internal`` envelope, so Starlette's would only ever see
        the ones raised after a response started, which it re-raises as they are. One
        layer less for every request and every message it sends."""
        stack = super().build_middleware_stack()
        return stack.app if isinstance(stack, ServerErrorMiddleware) else stack

    def _quiet_refusal(self, send: Send) -> Send:
        """Starlette reports a failed startup with the whole traceback, which uvicorn logs:
        for a refusal the app explains in one line, report it without one."""

        async def quiet(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed" and self.startup_refusal is not None:
                message = {"type": "lifespan.startup.failed", "message": ""}
            await send(message)

        return quiet


#: What keeps the gateway from starting, as opposed to a bug: said in one line, no traceback.
_REFUSALS = (nodes.StartupRefused, StorageError, BrokerError, OSError)


def _refusing(
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[dict[str, object]]],
) -> Callable[[Starlette], AbstractAsyncContextManager[dict[str, object]]]:
    """``lifespan``, recording on the app why it refused to start (``startup_refusal``)."""

    @contextlib.asynccontextmanager
    async def refusing(app: Starlette) -> AsyncIterator[dict[str, object]]:
        started = False
        try:
            async with lifespan(app) as state:
                started = True
                yield state
        except _REFUSALS as exc:
            if not started and isinstance(app, GatewayApp):
                app.startup_refusal = " ".join(str(exc).split()) or type(exc).__name__
            raise

    return refusing


def _budgets(settings: Settings) -> Budgets:
    return Budgets(
        org=settings.org_requests_per_minute,
        visitor=settings.visitor_requests_per_minute,
        address=settings.address_requests_per_minute,
        address_sessions=settings.address_sessions_per_minute,
        widget_sessions=settings.widget_sessions_per_minute,
    )


def _fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        timeout=settings.fetch_timeout,
        max_bytes=settings.max_file_bytes,
        allowed_hosts=_hosts(settings.fetch_allowed_hosts),
    )


def _page_policy(settings: Settings) -> FetchPolicy:
    """Knowledge imports: fetched like attachments, HTML pages only, their own size bound."""
    return page_policy(
        timeout=settings.fetch_timeout,
        max_bytes=settings.knowledge_import_max_bytes,
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
        concurrency=settings.webhook_concurrency,
        per_receiver=settings.webhook_endpoint_concurrency or None,
        per_org=settings.webhook_org_concurrency or None,
    )


def _retention_policy(settings: Settings) -> RetentionPolicy:
    days = settings.delivery_retention_days
    return RetentionPolicy(
        deliveries=timedelta(days=days) if days else None,
        idempotency_keys=timedelta(seconds=settings.idempotency_ttl),
        interval=settings.retention_interval,
        batch=settings.retention_batch,
    )


def _hosts(listed: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in listed.split(",") if h.strip())
