"""CORS on the visitor routes: a widget on the customer's site reads the answers meant for it,
and nothing else does."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from gateway.core.auth import Principal, TokenSigner
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from storage.models import now
from tests.support import bearer, new_org

SHOP = "https://shop.example"
EVIL = "https://evil.example"


@pytest.fixture
def shop(client: TestClient, database_url: str) -> OrgCredentials:
    """An org whose widget allows only https://shop.example."""
    return asyncio.run(new_org(database_url, "Shop", origins=(SHOP,)))


def preflight(client: TestClient, path: str, origin: str, method: str = "POST"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def session(client: TestClient, widget_id: str, origin: str = SHOP) -> dict:
    response = client.post(f"/v1/widgets/{widget_id}/sessions", json={}, headers={"Origin": origin})
    assert response.status_code == 201, response.text
    return response.json()


def from_origin(credential: str, origin: str = SHOP) -> dict[str, str]:
    return {**bearer(credential), "Origin": origin}


def assert_no_cors(response) -> None:
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


def assert_readable_by(response, origin: str) -> None:
    assert response.headers["access-control-allow-origin"] == origin
    assert "Origin" in response.headers["vary"]
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"retry-after", "ratelimit-remaining", "x-request-id"} <= exposed
    assert "access-control-allow-credentials" not in response.headers


def test_cors_preflight_from_an_allowed_origin_is_answered(
    client: TestClient, shop: OrgCredentials
) -> None:
    """A preflight of a widget's session or config route from one of its origins gets 204
    with the methods, the headers a widget sends and a max age; no credentials allowed."""
    for path, method in (
        (f"/v1/widgets/{shop.widget_id}/sessions", "POST"),
        (f"/v1/widgets/{shop.widget_id}/config", "GET"),
    ):
        response = preflight(client, path, SHOP, method)
        assert response.status_code == 204, response.text
        assert response.headers["access-control-allow-origin"] == SHOP
        assert response.headers["access-control-allow-methods"] == method
        allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
        assert {"Authorization", "Content-Type", "Idempotency-Key"} <= allowed
        assert int(response.headers["access-control-max-age"]) > 0
        assert response.headers["vary"] == "Origin"
        assert "access-control-allow-credentials" not in response.headers


def test_cors_preflight_from_another_origin_gets_no_cors_headers(
    client: TestClient, shop: OrgCredentials
) -> None:
    """A preflight from an origin the widget does not allow, or for no such widget, gets an
    error without CORS headers: the browser sends nothing more."""
    refused = preflight(client, f"/v1/widgets/{shop.widget_id}/sessions", EVIL)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert_no_cors(refused)
    for widget in (str(uuid.uuid4()), "not-a-uuid"):
        unknown = preflight(client, f"/v1/widgets/{widget}/config", SHOP, "GET")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
        assert_no_cors(unknown)


def test_cors_preflight_of_token_routes_answers_any_origin(
    client: TestClient, shop: OrgCredentials
) -> None:
    """Routes whose widget only the visitor token names answer every preflight (it carries no
    token and grants nothing); a plain OPTIONS is still no route."""
    conversation = f"/v1/conversations/{uuid.uuid4()}"
    for path, method, methods in (
        ("/v1/conversations", "POST", "GET, POST"),
        (conversation, "PATCH", "GET, PATCH"),
        (f"{conversation}/messages", "POST", "GET, POST"),
        (f"{conversation}/files", "POST", "POST"),
        (f"/v1/files/{'a' * 64}", "GET", "GET"),
    ):
        response = preflight(client, path, EVIL, method)
        assert response.status_code == 204, path
        assert response.headers["access-control-allow-origin"] == EVIL
        assert response.headers["access-control-allow-methods"] == methods
    plain = client.options("/v1/conversations", headers={"Origin": SHOP})
    assert plain.status_code == 405
    assert_no_cors(plain)


def test_cors_other_routes_answer_no_cors(client: TestClient, shop: OrgCredentials) -> None:
    """Administration and operations routes answer neither preflights nor requests with CORS
    headers, whatever the origin."""
    admin = preflight(client, "/v1/widgets", SHOP)
    assert admin.status_code == 405
    assert_no_cors(admin)
    listed = client.get("/v1/widgets", headers=from_origin(shop.api_key))
    assert listed.status_code == 200
    assert_no_cors(listed)
    assert_no_cors(client.get("/healthz", headers={"Origin": SHOP}))


def test_cors_session_from_an_allowed_origin_is_readable(
    client: TestClient, shop: OrgCredentials
) -> None:
    """A widget session opened from an allowed origin carries that origin in
    Access-Control-Allow-Origin; from another origin it is refused without it."""
    url = f"/v1/widgets/{shop.widget_id}/sessions"
    opened = client.post(url, json={}, headers={"Origin": SHOP})
    assert opened.status_code == 201
    assert_readable_by(opened, SHOP)
    assert opened.json()["token"]
    refused = client.post(url, json={}, headers={"Origin": EVIL})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert_no_cors(refused)
    assert "Origin" in refused.headers["vary"]


def test_cors_visitor_token_follows_its_widget_origins(
    client: TestClient, shop: OrgCredentials, database_url: str
) -> None:
    """A visitor token's requests from its widget's origin are readable there (conversations,
    messages, the visitor's PATCH, uploads, files); the same token from another origin is
    refused with 403 and nothing runs."""
    token = session(client, shop.widget_id)["token"]
    started = client.post("/v1/conversations", json={}, headers=from_origin(token))
    assert started.status_code == 201
    assert_readable_by(started, SHOP)
    url = f"/v1/conversations/{started.json()['id']}"
    sent = client.post(f"{url}/messages", json={"content": "Hello"}, headers=from_origin(token))
    assert sent.status_code == 201
    assert_readable_by(sent, SHOP)
    for response in (
        client.get("/v1/conversations", headers=from_origin(token)),
        client.get(url, headers=from_origin(token)),
        client.get(f"{url}/messages", headers=from_origin(token)),
        client.patch(url, json={"status": "agent_requested"}, headers=from_origin(token)),
    ):
        assert response.status_code == 200, response.text
        assert_readable_by(response, SHOP)
    upload = client.post(
        f"{url}/files",
        files={"file": ("note.txt", b"a note", "text/plain")},
        headers=from_origin(token),
    )
    assert upload.status_code == 201
    assert_readable_by(upload, SHOP)
    download = client.get(f"/v1/files/{upload.json()['sha256']}", headers=from_origin(token))
    assert download.status_code == 200 and download.content == b"a note"
    assert_readable_by(download, SHOP)

    for response in (
        client.post("/v1/conversations", json={}, headers=from_origin(token, EVIL)),
        client.post(f"{url}/messages", json={"content": "x"}, headers=from_origin(token, EVIL)),
        client.get(f"{url}/messages", headers=from_origin(token, EVIL)),
    ):
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
        assert_no_cors(response)
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        counts = db.execute(
            "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages"
            " WHERE role = 'visitor')"
        ).fetchone()
    assert counts == (1, 1)


def test_cors_origin_removed_from_the_widget_is_refused_at_once(
    client: TestClient, shop: OrgCredentials
) -> None:
    """A widget's allowed_origins are read on every request: an origin taken off the list
    no longer gets a preflight or a request through."""
    token = session(client, shop.widget_id)["token"]
    changed = client.patch(
        f"/v1/widgets/{shop.widget_id}",
        json={"allowed_origins": ["https://other.example"]},
        headers=bearer(shop.api_key),
    )
    assert changed.status_code == 200
    assert preflight(client, f"/v1/widgets/{shop.widget_id}/sessions", SHOP).status_code == 403
    refused = client.get("/v1/conversations", headers=from_origin(token))
    assert refused.status_code == 403
    assert_no_cors(refused)


def test_cors_staff_credentials_get_no_cors_headers(
    client: TestClient, shop: OrgCredentials
) -> None:
    """An API key or an agent token used from a browser origin works, but its answers never
    say a page may read them, even on visitor routes from the widget's own origin."""
    issued = client.post(
        "/v1/tokens", json={"agent_id": shop.agent_id}, headers=bearer(shop.api_key)
    )
    agent_token = issued.json()["token"]
    for credential in (shop.api_key, agent_token):
        for response in (
            client.post("/v1/conversations", json={}, headers=from_origin(credential)),
            client.get("/v1/conversations", headers=from_origin(credential)),
        ):
            assert response.status_code in (200, 201), response.text
            assert_no_cors(response)
            assert "Origin" in response.headers["vary"]


def test_cors_errors_before_the_caller_is_known_are_readable(
    client: TestClient, shop: OrgCredentials, settings: Settings
) -> None:
    """A missing, invalid or expired credential is answered readably to any origin, so that a
    widget learns it must renew its token; the answer holds nothing but the error."""
    signer = TokenSigner(settings.secret_key)
    visitor = Principal("visitor", shop.org_id, str(uuid.uuid4()), widget_id=shop.widget_id)
    expired, _ = signer.issue(visitor, timedelta(minutes=1), now() - timedelta(hours=1))
    for headers in (
        {"Origin": EVIL},
        from_origin("not-a-token", EVIL),
        from_origin(expired, SHOP),
    ):
        response = client.get("/v1/conversations", headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
        assert_readable_by(response, headers["Origin"])


def test_cors_requests_without_origin_get_no_cors_headers(
    client: TestClient, org: OrgCredentials
) -> None:
    """A request with no Origin (a server, curl) is no browser request across origins: no
    CORS headers, no origin check; the answer still varies by Origin."""
    token = session(client, org.widget_id, origin=SHOP)["token"]
    started = client.post("/v1/conversations", json={}, headers=bearer(token))
    assert started.status_code == 201
    assert_no_cors(started)
    assert started.headers["vary"] == "Origin"
