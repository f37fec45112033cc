"""The agent dashboard's page: ``/app`` and every ``/app/...`` path (its client-side routes).

Each answers the same small HTML document that loads ``/web/dashboard.js`` and
``/web/dashboard.css`` from the dist directory (``CHATGATE_WEB_DIST_DIR``; by default the
committed bundles); the script routes by path. No dashboard built (no ``dashboard.js``):
``404``.

- The page carries a strict Content-Security-Policy: scripts, styles, fonts and connections
  from the gateway's own origin only (``connect-src 'self'`` also admits its ``ws:``/``wss:``
  socket), images from it, ``blob:`` (attachments fetched with the session) and ``data:``; no
  inline script or style, no plugin, no frame around it (``frame-ancestors 'none'``), forms post
  only to the gateway, no ``<base>``.
- ``Cache-Control: no-store`` (the page names the bundles by their content hash, ``?v=``, so a
  new build is picked up at the next load), ``Referrer-Policy: no-referrer`` (the invitation
  and reset tokens live in the URL's fragment, never sent, but the rest of the path is not
  anyone's business either), ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

__all__ = ["CSP", "dashboard_routes"]

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>chatgate</title>
<link rel="stylesheet" href="/web/dashboard.css?v={css}">
<script src="/web/dashboard.js?v={js}" defer></script>
</head>
<body>
<noscript>The chatgate dashboard needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
"""

_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def _version(path: Path) -> str:
    """The first hex digits of the file's SHA-256 (empty when it is missing)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return ""


def dashboard_routes(directory: Path) -> list[BaseRoute]:
    """``/app`` and ``/app/{path}``: the dashboard's page over the bundles in ``directory``."""

    async def page(request: Request) -> Response:
        script = directory / "dashboard.js"
        if not script.is_file():
            return Response("no dashboard built (make web)\n", status_code=404, headers=_HEADERS)
        body = _PAGE.format(js=_version(script), css=_version(directory / "dashboard.css"))
        return HTMLResponse(body, headers=_HEADERS)

    return [
        Route("/app", page, methods=["GET"], name="dashboard"),
        Route("/app/{path:path}", page, methods=["GET"], name="dashboard_path"),
    ]
