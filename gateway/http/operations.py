"""Operations endpoints: ``/healthz``, ``/readyz``, ``/metrics``, and the documents:
``/openapi.json``, ``/asyncapi.json`` and ``/docs`` (with its assets, ``docs.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.core.metrics import Metrics
from gateway.http.docs import docs_routes
from gateway.http.responses import json_response
from storage.base import Store

__all__ = ["STATE_KEY", "OperationsServices", "operations_routes"]

#: The lifespan state key that holds the ``OperationsServices``.
STATE_KEY = "operations"


class HealthProbe(Protocol):
    @property
    def healthy(self) -> bool:
        """Whether it can carry events now."""
        ...


class OperationsServices(Protocol):
    """The app, as the operations endpoints see it."""

    @property
    def node_id(self) -> str: ...

    @property
    def store(self) -> Store: ...

    @property
    def broker(self) -> HealthProbe: ...

    @property
    def metrics(self) -> Metrics: ...


def operations_routes(openapi: dict[str, Any], asyncapi: dict[str, Any]) -> list[Route]:
    """The operations routes, serving the OpenAPI and AsyncAPI documents given."""
    return [
        Route("/healthz", _healthz),
        Route("/readyz", _readyz),
        Route("/metrics", _metrics),
        Route("/openapi.json", _document(openapi)),
        Route("/asyncapi.json", _document(asyncapi)),
        *docs_routes(openapi),
    ]


def _document(document: dict[str, Any]) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint answering ``document``, encoded once."""
    encoded = bytes(json_response(document).body)

    async def endpoint(request: Request) -> Response:
        return Response(encoded, media_type="application/json")

    return endpoint


def _services(request: Request) -> OperationsServices:
    services: OperationsServices = getattr(request.state, STATE_KEY)
    return services


async def _healthz(request: Request) -> Response:
    return json_response({"status": "ok", "node": _services(request).node_id})


async def _readyz(request: Request) -> Response:
    services = _services(request)
    checks = {"store": "ok", "broker": "ok" if services.broker.healthy else "unavailable"}
    try:
        await services.store.ping()
    except Exception:
        checks["store"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return json_response(
        {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503
    )


async def _metrics(request: Request) -> Response:
    return Response(_services(request).metrics.render(), media_type="text/plain; version=0.0.4")
