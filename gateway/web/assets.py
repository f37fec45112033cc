"""The built web bundles, served as they are: ``/widget.js``, ``/sdk.js`` and ``/web/{path}``.

They come from one directory (``CHATGATE_WEB_DIST_DIR``; by default the committed
``gateway/web/dist``). Whatever is there is served and anything else answers ``404``, a
missing directory included, so running needs no build step and no Node.

- ``/widget.js`` and ``/sdk.js`` are the files of those names; ``/web/{path}`` is any file of
  the directory (chunks, styles, source maps). Nothing outside it is ever served.
- ``Content-Type`` is explicit for scripts (``text/javascript; charset=utf-8``), styles and
  source maps, whatever the host's MIME table says; ``X-Content-Type-Options: nosniff``.
- Caching: a name that carries a content hash (``chunk-7Q2XK4ZB.js``: a dash or dot, then 8
  or more letters and digits with at least one digit, then the extension) never changes, so
  it is ``immutable`` for a year. Other names (``widget.js``, which customers paste into their
  pages) are cached 5 minutes, then revalidated with ``ETag`` / ``Last-Modified`` (``304``).
- ``Access-Control-Allow-Origin: *``: the bundles are public, and any page may load them
  (``crossorigin`` scripts, source maps).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import NotModifiedResponse, PathLike, StaticFiles
from starlette.types import Scope

__all__ = ["BUNDLED", "Assets", "asset_routes"]

#: The committed bundles (``make web`` writes them).
BUNDLED = Path(__file__).parent / "dist"

#: Seconds a browser may use a file whose name may be reused (``widget.js``) unasked.
SHORT_MAX_AGE = 300
_HASHED = re.compile(r"[.-](?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{8,}(?:\.[A-Za-z0-9]+)+$")
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".json": "application/json",
}


class Assets(StaticFiles):
    """``StaticFiles`` over one directory, with the headers above."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, check_dir=False)

    async def check_config(self) -> None:
        """No check: no directory (nothing built) is no configuration error, every file is
        just missing (404)."""

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        name = os.path.basename(full_path)
        response = FileResponse(
            full_path,
            status_code=status_code,
            stat_result=stat_result,
            media_type=_TYPES.get(os.path.splitext(name)[1].lower()),
        )
        response.headers.update(_headers_for(name))
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            not_modified = NotModifiedResponse(response.headers)
            not_modified.headers["Access-Control-Allow-Origin"] = "*"
            return not_modified
        return response


def _headers_for(name: str) -> dict[str, str]:
    """The caching and CORS headers of the file called ``name``."""
    if _HASHED.search(name):
        cache = "public, max-age=31536000, immutable"
    else:
        cache = f"public, max-age={SHORT_MAX_AGE}"
    return {
        "Cache-Control": cache,
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }


def asset_routes(directory: Path = BUNDLED) -> list[BaseRoute]:
    """``/widget.js``, ``/sdk.js`` and ``/web/{path}``, served from ``directory``."""
    assets = Assets(directory)

    def alias(name: str) -> Route:
        async def serve(request: Request) -> Response:
            return await assets.get_response(name, request.scope)

        return Route(f"/{name}", serve, methods=["GET"], name=name)

    return [alias("widget.js"), alias("sdk.js"), Mount("/web", app=assets, name="web")]
