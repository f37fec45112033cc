"""The HTTP surface: the native REST API, files, OpenAPI, operations endpoints.

Lives here: the ``/v1`` routes, declared once in ``routes.OPERATIONS`` (``routes``), how a
request to a route is served: credentials, limits, body, idempotency, errors, the command
(``serving``), one route per path (``routing``), the session cookies (``sessions``), file
upload and download (``files``), the OpenAPI document and ``/docs`` page (``openapi``),
``/healthz``, ``/readyz`` and ``/metrics`` (``operations``), the request-id and
no-stack-trace middleware (``middleware``), the allowed ``Host`` names (``hosts``), JSON and
error responses (``responses``), CORS for the routes a widget's browser calls (``cors``),
what routes need from the app (``services``), and the
HTTP/1.1 connection layer uvicorn runs, with its read timeouts (``server``).

May import: ``gateway.core``, ``gateway.media``, ``gateway.limits``, ``gateway.settings``,
``storage``, ``protocol``. Must not import ``gateway.realtime`` (a sibling transport),
``gateway.dialects`` (which builds on this package), ``gateway.app`` or ``gateway.cli``.
"""

__all__: list[str] = []
