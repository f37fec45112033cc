"""One route per path, so that a path answers a method it lacks with every method it has.

Starlette tries its routes in order, and when a path matches but the method does not, the
first such route answers ``405`` with an ``Allow`` header naming its own methods only. The
REST table, the file routes and the dialects declare a route per (method, path), so ``PUT
/v1/agents`` would say ``Allow: POST`` though ``GET /v1/agents`` exists. ``by_path`` merges
the routes of each path into one, which dispatches on the method: its ``405`` lists them
all (and ``HEAD`` wherever there is a ``GET``).

A literal path that a parameterised one also matches (``/v1/agents/presence`` and
``/v1/agents/{agent_id}``) takes every method itself, answering ``405`` for those it lacks:
otherwise ``PATCH /v1/agents/presence`` would reach the other path's ``PATCH`` as an agent
id, and fail there as a bad id instead of a method the path does not have.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

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
    patterns = [group[0] for path, group in grouped.items() if "{" in path]
    merged: list[Route] = []
    for path, group in grouped.items():
        shadowing = "{" not in path and any(r.path_regex.match(path) for r in patterns)
        kind = _Literal if shadowing else Route
        if len(group) == 1:
            only = group[0]
            merged.append(
                kind(path, only.endpoint, methods=only.methods, name=only.name)
                if shadowing
                else only
            )
            continue
        endpoints: dict[str, Endpoint] = {}
        for route in group:
            for method in route.methods or ():
                if method in endpoints and method != "HEAD":
                    raise ValueError(f"{method} {path} is routed twice")
                endpoints.setdefault(method, route.endpoint)
        methods = sorted(m for m in endpoints if m != "HEAD")
        merged.append(kind(path, _dispatcher(endpoints), methods=methods, name=group[0].name))
    return merged


class _Literal(Route):
    """A route whose path also matches a parameterised route: it takes its path for every
    method, so that a method it lacks answers its own ``405`` (Starlette's, with ``Allow``)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        return (Match.FULL if match is Match.PARTIAL else match), child


def _dispatcher(endpoints: dict[str, Endpoint]) -> Endpoint:
    async def dispatch(request: Request) -> Response:
        # The route admits only the methods of ``endpoints``: anything else was a 405.
        return await endpoints[request.method](request)

    return dispatch
