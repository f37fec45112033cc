"""``GET /docs``: Swagger UI over ``/openapi.json``, every file of it served by the gateway.

The page loads nothing from anywhere else: Swagger UI's files come from the
``swagger-ui-bundle-v2`` package (its ``swagger_ui_path``) and are served under
``/docs/assets/``, with the few lines that start it (``init.js``); every URL in the page is
relative, so it also works behind a proxy that serves the gateway under a path prefix.
Swagger UI's online validator badge is off (``validatorUrl: null``), so reading the page sends
nothing outside either. Without JavaScript the page still lists every operation.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route
from swagger_ui_bundle import swagger_ui_path

__all__ = ["ASSETS", "docs_page", "docs_routes"]

#: The files of ``/docs/assets/{name}``, with their media types.
ASSETS: Final = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
    "init.js": "text/javascript",
}
#: Assets change only with the package: a day in caches is safe.
CACHE_CONTROL = "public, max-age=86400"

_INIT_JS = """\
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
  });
});
"""


def docs_routes(document: dict[str, Any]) -> list[Route]:
    """``/docs`` for ``document`` (the OpenAPI document), and its assets."""
    page = docs_page(document)

    async def docs(request: Request) -> Response:
        return HTMLResponse(page)

    return [Route("/docs", docs), Route("/docs/assets/{name}", _asset)]


def docs_page(document: dict[str, Any]) -> str:
    rows = "\n".join(
        f"<tr><td><code>{html.escape(method.upper())}</code></td>"
        f"<td><code>{html.escape(path)}</code></td>"
        f"<td>{html.escape(spec.get('summary', ''))}</td></tr>"
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
    )
    title = html.escape(document["info"]["title"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="docs/assets/favicon-16x16.png" sizes="16x16">
</head><body>
<div id="swagger-ui"></div>
<noscript>
<h1>{title} API</h1>
<p>The OpenAPI document: <a href="openapi.json">openapi.json</a>; the WebSocket protocol
(AsyncAPI): <a href="asyncapi.json">asyncapi.json</a>.</p>
<table>{rows}</table>
</noscript>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/init.js"></script>
</body></html>"""


async def _asset(request: Request) -> Response:
    name = request.path_params["name"]
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404)  # the error envelope, as for any unknown path
    headers = {"Cache-Control": CACHE_CONTROL}
    if name == "init.js":
        return Response(_INIT_JS, media_type=media_type, headers=headers)
    return FileResponse(Path(swagger_ui_path) / name, media_type=media_type, headers=headers)
