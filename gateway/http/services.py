"""What REST routes, file routes and dialects need from the app, and nothing more.

The app builds everything in its lifespan and puts an object that provides ``HttpServices``
in the lifespan state; routes read it with ``http_services(request)``. They never import the
app, so the app can import them.
"""

from __future__ import annotations

from typing import Protocol

from starlette.requests import Request

from gateway.core.auth import Authenticator
from gateway.core.bus import CommandBus
from gateway.core.clients import ClientAddresses
from gateway.core.idempotency import Idempotency
from gateway.core.origins import WidgetOrigins
from gateway.handlers.accounts import Accounts
from gateway.limits.policy import Limits
from gateway.settings import Settings

__all__ = ["STATE_KEY", "HttpServices", "http_services"]

#: The lifespan state key that holds the ``HttpServices``.
STATE_KEY = "http"


class HttpServices(Protocol):
    """The app, as a REST route sees it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def bus(self) -> CommandBus: ...

    @property
    def authenticator(self) -> Authenticator: ...

    @property
    def idempotency(self) -> Idempotency: ...

    @property
    def limits(self) -> Limits: ...

    @property
    def clients(self) -> ClientAddresses: ...

    @property
    def accounts(self) -> Accounts:
        """Sign-in sessions (the cookie credential of ``/v1``, ``http.sessions``)."""
        ...

    @property
    def origins(self) -> WidgetOrigins:
        """Which origins may use a widget (CORS of the visitor routes, ``http.cors``)."""
        ...


def http_services(request: Request) -> HttpServices:
    # The lifespan state as uvicorn copies it into each request's scope: what
    # ``request.state`` wraps, without building that wrapper for every request.
    services: HttpServices = request.scope["state"][STATE_KEY]
    return services
