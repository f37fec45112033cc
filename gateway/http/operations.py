"""Operations endpoints: ``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``, ``/docs``."""

from __future__ import annotations

from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from gateway.core.metrics import Metrics
from gateway.http.openapi import docs_page
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


def operations_routes(document: dict[str, Any]) -> list[Route]:
    """The operations routes, serving ``document`` as the OpenAPI document."""
    docs = docs_page(document)

    async def openapi(request: Request) -> Response:
        return json_response(document)

    async def docs_html(request: Request) -> Response:
        return HTMLResponse(docs)

    return [
        Route("/healthz", _healthz),
        Route("/readyz", _readyz),
        Route("/metrics", _metrics),
        Route("/openapi.json", openapi),
        Route("/docs", docs_html),
    ]


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
