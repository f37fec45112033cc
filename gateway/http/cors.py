"""CORS for the endpoints a visitor's browser calls, answered for its widget's origins only.

The widget runs on the customer's site, so every request it makes to the gateway is
cross-origin; a browser lets the page read an answer only when the answer says so.

- **Which endpoints.** ``VISITOR_ROUTES``: a widget's sessions and config, and what a visitor
  token may use (conversations, messages, files). Nothing else answers CORS: no staff or
  administration route, no dialect. ``/ws`` is no HTTP route: the socket checks ``Origin``
  itself, at ``hello``; the public scripts answer ``*`` (``gateway.web.assets``).
- **Preflights** (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) answer
  ``204`` with the route's methods, the request headers a widget sends (``ALLOW_HEADERS``) and
  ``Access-Control-Max-Age``. For the routes that name their widget in the path (sessions,
  config) only when that widget allows the origin (else ``403 forbidden``, or ``404`` for no
  such widget, with no CORS headers, so the browser stops there). The other routes learn their
  widget from the visitor token, which a preflight does not carry: their preflight answers any
  origin. That grants nothing, since the request itself is checked.
- **Requests** with an ``Origin`` get ``Access-Control-Allow-Origin: <that origin>`` (and
  ``Access-Control-Expose-Headers``) when the widget allows the origin: the widget of the path,
  or the visitor token's own. A visitor token sent from an origin its widget does not allow
  is refused (``403 forbidden``) before anything runs. Staff credentials (API keys, agent and
  bot tokens) never get these headers, so no page on another origin can read what they
  answer: an API key belongs on a server. An error answered before the caller is known (no,
  an expired or an invalid credential; a rate limit; no such widget) carries them for any
  origin: it holds nothing but the error, and the widget must read it (to renew its token).
  Every answer of these routes says ``Vary: Origin``.
- **No cookies.** Credentials are bearer tokens that the page's script sends itself, so no
  answer allows credentials (``Access-Control-Allow-Credentials``).

A request without ``Origin`` is no cross-origin browser request: it gets no CORS headers and
no origin check here (any HTTP client can send any ``Origin``; the check is for browsers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Scope

from gateway.core.auth import Principal
from gateway.core.origins import WidgetOrigins
from gateway.http.responses import error_response, request_id_of
from gateway.http.services import http_services
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.errors import StorageError

__all__ = [
    "ALLOW_HEADERS",
    "EXPOSE_HEADERS",
    "MAX_AGE",
    "VISITOR_ROUTES",
    "CorsGrant",
    "VisitorRoute",
    "preflight",
]

#: Request headers a widget may send.
ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id"
#: Response headers a widget may read beyond the always-readable ones.
EXPOSE_HEADERS = (
    "Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-Request-Id, ETag, "
    "Content-Disposition"
)
#: Seconds a browser may reuse a preflight's answer (Chromium keeps it 2 h at most).
MAX_AGE = 7200

_FORBIDDEN_ORIGIN = "this origin may not use the widget"


@dataclass(frozen=True, slots=True)
class VisitorRoute:
    path: str
    methods: tuple[str, ...]
    #: The widget is the path's ``{widget_id}``; otherwise the visitor token names it.
    widget_in_path: bool = False


VISITOR_ROUTES: tuple[VisitorRoute, ...] = (
    VisitorRoute("/v1/widgets/{widget_id}/sessions", ("POST",), widget_in_path=True),
    VisitorRoute("/v1/widgets/{widget_id}/config", ("GET",), widget_in_path=True),
    VisitorRoute("/v1/conversations", ("GET", "POST")),
    VisitorRoute("/v1/conversations/{conversation_id}", ("GET", "PATCH")),
    VisitorRoute("/v1/conversations/{conversation_id}/messages", ("GET", "POST")),
    VisitorRoute("/v1/conversations/{conversation_id}/read", ("POST",)),
    VisitorRoute("/v1/conversations/{conversation_id}/end", ("POST",)),
    VisitorRoute("/v1/conversations/{conversation_id}/files", ("POST",)),
    VisitorRoute("/v1/files/{sha256}", ("GET",)),
)

_MATCHERS: tuple[tuple[re.Pattern[str], VisitorRoute], ...] = tuple(
    (compile_path(route.path)[0], route) for route in VISITOR_ROUTES
)


def _visitor_route(path: str) -> tuple[VisitorRoute, dict[str, str]] | None:
    for regex, route in _MATCHERS:
        match = regex.match(path)
        if match is not None:
            return route, match.groupdict()
    return None


async def preflight(scope: Scope) -> Response | None:
    """The answer to an HTTP ``OPTIONS`` request when it is the CORS preflight of a visitor
    route; None for any other, which the app answers (``RequestContextMiddleware`` asks)."""
    headers = Headers(scope=scope)
    origin = headers.get("origin")
    found = _visitor_route(scope["path"])
    if origin is None or "access-control-request-method" not in headers or found is None:
        return None
    return await _preflight(Request(scope), origin, *found)


async def _preflight(
    request: Request, origin: str, route: VisitorRoute, params: dict[str, str]
) -> Response:
    if route.widget_in_path:
        gateway = http_services(request)
        try:
            # Each such preflight reads the store: it counts like any anonymous request.
            await gateway.limits.admit(None, gateway.clients.of(request.scope))
            allowed = await gateway.origins.allows(params["widget_id"], origin)
        except GatewayError as exc:
            return error_response(exc, request_id_of(request))
        except StorageError:
            unavailable = GatewayError(
                ErrorCode.UNAVAILABLE, "storage is unavailable, retry later", temporary=True
            )
            return error_response(unavailable, request_id_of(request))
        if allowed is None:
            return error_response(GatewayError.not_found("widget"), request_id_of(request))
        if not allowed:
            refused = GatewayError(ErrorCode.FORBIDDEN, _FORBIDDEN_ORIGIN)
            return error_response(refused, request_id_of(request))
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ", ".join(route.methods),
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": str(MAX_AGE),
            "Vary": "Origin",
        },
    )


class CorsGrant:
    """The CORS decision for one request to a visitor route; ``serve`` makes it and applies
    it to whatever it answers."""

    def __init__(self, route: VisitorRoute, params: dict[str, str], origin: str | None) -> None:
        self._route = route
        self._params = params
        self.origin = origin
        #: None until the caller's widget is known: then whether it allows the origin.
        self.allowed: bool | None = None

    @classmethod
    def of(cls, request: Request) -> CorsGrant | None:
        """The grant to decide for ``request``; None for a route that answers no CORS."""
        found = _visitor_route(request.scope["path"])
        if found is None:
            return None
        return cls(*found, request.headers.get("origin"))

    async def admit(self, principal: Principal | None, origins: WidgetOrigins) -> None:
        """Decide, once the caller is authenticated.

        Raises:
            GatewayError: ``forbidden`` for an origin the widget does not allow, when the
                widget is the path's or the visitor token's.
            StorageError: the widget cannot be read.
        """
        if self.origin is None or (principal is None and not self._route.widget_in_path):
            return
        allows: bool | None
        if self._route.widget_in_path:
            allows = await origins.allows(self._params["widget_id"], self.origin)
        elif principal is not None and principal.is_visitor and principal.widget_id is not None:
            widget = principal.widget_id
            allows = await origins.allows(widget, self.origin, org_id=principal.org_id) is True
        else:  # staff: no page on another origin reads what they get
            self.allowed = False
            return
        if allows is None:  # no such widget: that error is the answer
            return
        self.allowed = allows
        if not allows:
            raise GatewayError(ErrorCode.FORBIDDEN, _FORBIDDEN_ORIGIN)

    def apply(self, response: Response) -> Response:
        response.headers.add_vary_header("Origin")
        readable = self.allowed or (self.allowed is None and response.status_code >= 400)
        if self.origin is not None and readable:
            response.headers["Access-Control-Allow-Origin"] = self.origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        return response
