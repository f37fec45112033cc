"""The dashboard's page: /app and every /app/... path, one HTML document with a strict CSP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import Settings
from gateway.web.dashboard import CSP


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    directory = tmp_path / "dist"
    directory.mkdir()
    (directory / "dashboard.js").write_bytes(b"(()=>{})();\n")
    (directory / "dashboard.css").write_bytes(b"body{}\n")
    return directory


def client(settings: Settings, dist: Path) -> Iterator[TestClient]:
    app = create_app(settings.replace(web_dist_dir=str(dist)))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def served(settings: Settings, dist: Path) -> Iterator[TestClient]:
    yield from client(settings, dist)


def test_dashboard_every_app_path_is_the_page_with_a_strict_policy(served: TestClient) -> None:
    """/app, its client-side routes and deep links answer the same page, which loads the
    bundles from the gateway's own origin and may run nothing inline nor be framed."""
    pages = [served.get(path) for path in ("/app", "/app/c/123", "/app/admin/webhooks/x")]
    for page in pages:
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == CSP
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["x-frame-options"] == "DENY"
        assert page.text == pages[0].text
    assert "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
    assert "unsafe-inline" not in CSP
    assert '<script src="/web/dashboard.js?v=' in pages[0].text
    assert "<script>" not in pages[0].text and "style=" not in pages[0].text
    assert served.get("/web/dashboard.js").status_code == 200


def test_dashboard_a_new_build_changes_the_bundles_version(
    settings: Settings, served: TestClient, dist: Path
) -> None:
    """The page names the bundles by content, so browsers fetch a new build at once."""
    before = served.get("/app").text
    (dist / "dashboard.js").write_bytes(b"(()=>{console.log(2)})();\n")
    assert served.get("/app").text != before


def test_dashboard_without_a_build_is_not_found(settings: Settings, tmp_path: Path) -> None:
    for test_client in client(settings, tmp_path / "nothing"):
        answer = test_client.get("/app")
        assert answer.status_code == 404
        assert "make web" in answer.text


def test_dashboard_the_committed_build_is_served(settings: Settings) -> None:
    """The committed bundles include the dashboard: a fresh checkout serves it, no Node."""
    app = create_app(settings)
    with TestClient(app) as test_client:
        page = test_client.get("/app/sign-in")
        assert page.status_code == 200
        version = page.text.split("dashboard.css?v=")[1].split('"')[0]
        assert len(version) == 12
        assert test_client.get("/web/dashboard.css").headers["content-type"].startswith("text/css")
