"""One route per path, so that a path answers a method it lacks with every method it has.

Starlette tries its routes in order, and when a path matches but the method does not, the
first such route answers ``405`` with an ``Allow`` header naming its own methods only. The
REST table, the file routes and the dialects declare a route per (method, path), so ``PUT
/v1/agents`` would say ``Allow: POST`` though ``GET /v1/agents`` exists. ``by_path`` merges
the routes of each path into one, which dispatches on the method: its ``405`` lists them
all (and ``HEAD`` wherever there is a ``GET``).

The merged routes answer without Starlette's ``request_response`` wrapper: it runs each
endpoint inside a second copy of the exception handling that ``ExceptionMiddleware``
already gives the whole router, with the same handlers, so an ``HTTPException`` an endpoint
raises is answered the same by the outer one, and a request takes one layer less each way.

A path parameter never takes a value that a sibling path spells out at the same place:
``/v1/agents/{agent_id}`` does not match ``/v1/agents/invitations``, so that
``GET /v1/agents/invitations`` is the ``405`` of that path, not a lookup of an agent.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["by_path"]

Endpoint = Callable[[Request], Awaitable[Response]]


def by_path(routes: Iterable[Route]) -> list[Route]:
    """``routes`` with those of one path merged into one route, in first-seen order.

    Raises:
        ValueError: two routes of one path answer the same method.
    """
    grouped: dict[str, list[Route]] = {}
    for route in routes:
        grouped.setdefault(route.path, []).append(route)
    merged: list[Route] = []
    for path, group in grouped.items():
        reserved = _reserved(path, grouped)
        if len(group) == 1 and not (reserved or _is_coroutine_function(group[0].endpoint)):
            merged.append(group[0])
            continue
        endpoints: dict[str, Endpoint] = {}
        for route in group:
            for method in route.methods or ():
                if method in endpoints and method != "HEAD":
                    raise ValueError(f"{method} {path} is routed twice")
                endpoints.setdefault(method, route.endpoint)
        methods = sorted(m for m in endpoints if m != "HEAD")
        endpoint = group[0].endpoint if len(group) == 1 else _dispatcher(endpoints)
        merged.append(
            _Route(path, endpoint, methods=methods, name=group[0].name, reserved=reserved)
        )
    return merged


class _Route(Route):
    """A route whose parameters refuse the values sibling paths spell out."""

    def __init__(
        self,
        path: str,
        endpoint: Endpoint,
        *,
        methods: list[str],
        name: str | None,
        reserved: Mapping[str, frozenset[str]],
    ) -> None:
        super().__init__(path, endpoint, methods=methods, name=name)
        self._reserved = reserved
        if _is_coroutine_function(endpoint):
            self.app = _responding(endpoint)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and self._reserved:
            params: dict[str, Any] = child.get("path_params", {})
            if any(params.get(name) in words for name, words in self._reserved.items()):
                return Match.NONE, {}
        return match, child


def _is_coroutine_function(endpoint: Any) -> bool:
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    return inspect.iscoroutinefunction(endpoint)


def _responding(endpoint: Endpoint) -> ASGIApp:
    """``endpoint`` as an ASGI app: a request in, its response out (errors go outwards)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


def _reserved(path: str, paths: Iterable[str]) -> dict[str, frozenset[str]]:
    """For each parameter of ``path``, the literal segments other paths put in its place."""
    segments = path.split("/")
    reserved: dict[str, set[str]] = {}
    for other in paths:
        theirs = other.split("/")
        if other == path or len(theirs) != len(segments):
            continue
        for i, (mine, literal) in enumerate(zip(segments, theirs, strict=True)):
            if mine == literal:
                continue
            if (
                mine.startswith("{")
                and not literal.startswith("{")
                and segments[i + 1 :] == theirs[i + 1 :]
            ):
                reserved.setdefault(mine.strip("{}").split(":")[0], set()).add(literal)
            break
    return {name: frozenset(words) for name, words in reserved.items()}


def _dispatcher(endpoints: dict[str, Endpoint]) -> Endpoint:
    async def dispatch(request: Request) -> Response:
        # The route admits only the methods of ``endpoints``: anything else was a 405.
        return await endpoints[request.method](request)

    return dispatch
