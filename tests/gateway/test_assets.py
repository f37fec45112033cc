"""The web bundles: /widget.js, /sdk.js and /web/..., served from the dist directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import Settings

WIDGET = b"(()=>{console.log('widget')})();\n"
SDK = b"export const version = '1';\n"
CHUNK = b"export const chunk = 1;\n"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A dist directory as the build writes it: stable entry names and a hashed chunk."""
    directory = tmp_path / "dist"
    (directory / "chunks").mkdir(parents=True)
    (directory / "widget.js").write_bytes(WIDGET)
    (directory / "sdk.js").write_bytes(SDK)
    (directory / "chunks" / "chunk-7Q2XK4ZB.js").write_bytes(CHUNK)
    (directory / "widget.css").write_bytes(b".launcher{}\n")
    (directory / "widget.js.map").write_bytes(b'{"version":3}')
    return directory


@pytest.fixture
def served(settings: Settings, dist: Path) -> Iterator[TestClient]:
    app = create_app(settings.replace(web_dist_dir=str(dist)))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_assets_serve_the_scripts_typed_cached_and_public(served: TestClient) -> None:
    """/widget.js and /sdk.js are the dist's files, as UTF-8 JavaScript, cached 5 minutes
    with an ETag, never sniffed, and loadable from any origin."""
    for path, body in (("/widget.js", WIDGET), ("/sdk.js", SDK), ("/web/widget.js", WIDGET)):
        response = served.get(path, headers={"Origin": "https://shop.example"})
        assert response.status_code == 200, path
        assert response.content == body
        assert response.headers["content-type"] == "text/javascript; charset=utf-8"
        assert response.headers["cache-control"] == "public, max-age=300"
        assert response.headers["etag"]
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_assets_hashed_names_are_immutable(served: TestClient) -> None:
    """A file whose name carries a content hash is cached for good; other files of /web/ get
    their own types."""
    chunk = served.get("/web/chunks/chunk-7Q2XK4ZB.js")
    assert chunk.status_code == 200 and chunk.content == CHUNK
    assert chunk.headers["cache-control"] == "public, max-age=31536000, immutable"
    style = served.get("/web/widget.css")
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    assert style.headers["cache-control"] == "public, max-age=300"
    source_map = served.get("/web/widget.js.map")
    assert source_map.headers["content-type"] == "application/json"
    assert source_map.headers["cache-control"] == "public, max-age=300"


def test_assets_revalidate_with_their_etag(served: TestClient) -> None:
    """Asking again with the ETag answers 304 with no body, still cacheable and public."""
    first = served.get("/widget.js")
    again = served.get("/widget.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["cache-control"] == "public, max-age=300"
    assert again.headers["access-control-allow-origin"] == "*"
    assert served.head("/sdk.js").status_code == 200


def test_assets_missing_files_answer_404(served: TestClient, dist: Path) -> None:
    """A file that is not in the dist directory, or a path that leaves it, answers 404 in
    the usual error envelope; so does everything when the directory does not exist."""
    (dist.parent / "secret.txt").write_text("not for you")
    for path in ("/web/nope.js", "/web/../secret.txt", "/web/%2e%2e/secret.txt", "/web/"):
        response = served.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    refused = served.post("/widget.js")
    assert refused.status_code == 405


def test_assets_without_a_dist_directory_answer_404(settings: Settings, tmp_path: Path) -> None:
    """Before anything is built there is nothing to serve: 404, never a 500."""
    app = create_app(settings.replace(web_dist_dir=str(tmp_path / "not-built")))
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/widget.js", "/sdk.js", "/web/widget.js"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "not_found"
