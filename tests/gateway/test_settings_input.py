"""Settings through REST: origins, URLs and event types are checked before anything is
stored."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.cli import main
from gateway.handlers.orgs import OrgCredentials
from tests.support import bearer


def refused(response: Any, status: int, code: str, path: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    if path is not None:
        assert error["details"]["path"] == path, error
    return error


def test_widget_origins_must_be_origins(client: TestClient, org: OrgCredentials) -> None:
    """Creating or changing a widget with something that is not an origin is a 422 naming
    the entry, and the widget keeps its origins."""
    key = bearer(org.api_key)
    cases = [
        (["not a url", "javascript:alert(1)"], 0),
        (["https://ok.example", "https://a.example/"], 1),
    ]
    for bad, index in cases:
        created = client.post(
            "/v1/widgets", json={"name": "W", "allowed_origins": bad}, headers=key
        )
        refused(created, 422, "validation_error", f"$.allowed_origins[{index}]")
        changed = client.patch(
            f"/v1/widgets/{org.widget_id}", json={"allowed_origins": bad}, headers=key
        )
        refused(changed, 422, "validation_error", f"$.allowed_origins[{index}]")
    widget = client.get(f"/v1/widgets/{org.widget_id}", headers=key).json()
    assert widget["allowed_origins"] == ["*"]


def test_widget_origins_listed_twice_are_refused(client: TestClient, org: OrgCredentials) -> None:
    """An origin listed twice is a 422 at the second entry."""
    response = client.patch(
        f"/v1/widgets/{org.widget_id}",
        json={"allowed_origins": ["https://shop.example", "https://SHOP.example"]},
        headers=bearer(org.api_key),
    )
    refused(response, 422, "validation_error", "$.allowed_origins[1]")


def test_widget_documented_origin_forms_work(client: TestClient, org: OrgCredentials) -> None:
    """An exact origin with a port and a subdomain wildcard are stored and matched as
    documented; the wildcard does not match the bare domain or another port."""
    origins = ["http://localhost:8080", "https://*.shop.example"]
    widget = client.patch(
        f"/v1/widgets/{org.widget_id}",
        json={"allowed_origins": origins},
        headers=bearer(org.api_key),
    )
    assert widget.status_code == 200 and widget.json()["allowed_origins"] == origins
    url = f"/v1/widgets/{org.widget_id}/sessions"
    for origin, status in [
        ("http://localhost:8080", 201),
        ("http://localhost:8081", 403),
        ("https://eu.shop.example", 201),
        ("https://a.b.shop.example", 201),
        ("https://shop.example", 403),
        ("https://eu.shop.example:8443", 403),
    ]:
        assert client.post(url, headers={"Origin": origin}).status_code == status, origin


@pytest.mark.parametrize("url", ["http://X5!", "not a url", "ftp://hooks.example/in", "https://"])
def test_webhook_urls_must_be_absolute_http(client: TestClient, org: OrgCredentials, url) -> None:
    """A webhook URL without a valid host, or not http(s), is a 422 at $.url, when created
    and when changed."""
    key = bearer(org.api_key)
    refused(client.post("/v1/webhooks", json={"url": url}, headers=key), 422, "validation_error")
    hook = client.post("/v1/webhooks", json={"url": "https://hooks.example/in"}, headers=key)
    changed = client.patch(f"/v1/webhooks/{hook.json()['id']}", json={"url": url}, headers=key)
    refused(changed, 422, "validation_error", "$.url")
    assert client.get(f"/v1/webhooks/{hook.json()['id']}", headers=key).json()["url"] == (
        "https://hooks.example/in"
    )


def test_webhook_event_types_are_known_and_listed_once(
    client: TestClient, org: OrgCredentials
) -> None:
    """Unknown or repeated event types are a 422 at the entry; a valid list is kept as sent."""
    key = bearer(org.api_key)
    twice = ["message.created", "message.created"]
    created = client.post(
        "/v1/webhooks", json={"url": "https://hooks.example/in", "event_types": twice}, headers=key
    )
    refused(created, 422, "validation_error", "$.event_types[1]")
    hook = client.post(
        "/v1/webhooks",
        json={"url": "https://hooks.example/in", "event_types": ["message.created"]},
        headers=key,
    ).json()
    path = f"/v1/webhooks/{hook['id']}"
    refused(client.patch(path, json={"event_types": twice}, headers=key), 422, "validation_error")
    unknown = client.patch(path, json={"event_types": ["message.exploded"]}, headers=key)
    refused(unknown, 422, "validation_error", "$.event_types[0]")
    kept = client.patch(
        path, json={"event_types": ["conversation.ended", "message.created"]}, headers=key
    )
    assert kept.json()["event_types"] == ["conversation.ended", "message.created"]


def test_live_agent_endpoint_url_must_be_absolute_http(
    client: TestClient, org: OrgCredentials
) -> None:
    """A live-agent platform URL without a valid host is a 422 at its field."""
    response = client.patch(
        f"/v1/widgets/{org.widget_id}",
        json={"live_agent_endpoint_url": "http://X5!"},
        headers=bearer(org.api_key),
    )
    refused(response, 422, "validation_error", "$.live_agent_endpoint_url")


@pytest.mark.parametrize("origin", ["not a url", "https://shop.example/"])
def test_cli_refuses_what_is_not_an_origin(origin: str, capsys: pytest.CaptureFixture[str]) -> None:
    """chatgate orgs create --origin applies the API's rule: a usage error, nothing created."""
    with pytest.raises(SystemExit) as info:
        main(["orgs", "create", "Acme", "--origin", origin, "--database-url", "sqlite:///:x:"])
    assert info.value.code == 2
    assert "an origin is *, http(s)://host[:port]" in capsys.readouterr().err
