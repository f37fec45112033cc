"""Settings through REST: origins, URLs and event types are checked before anything is
stored, and a body must be JSON (an empty PATCH or a blank body is refused)."""

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


@pytest.mark.parametrize("body", [b"", b" ", b"\n\t \r\n"], ids=["empty", "space", "blank"])
def test_patch_needs_a_json_body(client: TestClient, org: OrgCredentials, body: bytes) -> None:
    """A PATCH with an empty or blank body is a 400 bad_request, and changes nothing."""
    key = bearer(org.api_key)
    conversation = client.post("/v1/conversations", json={}, headers=key).json()
    for path in (f"/v1/widgets/{org.widget_id}", f"/v1/conversations/{conversation['id']}"):
        error = refused(client.patch(path, content=body, headers=key), 400, "bad_request")
        assert "JSON" in error["message"]
    awardee = client.patch(f"/conversations/{conversation['id']}", content=body, headers=key)
    assert awardee.status_code == 400 and awardee.json()["error"] == "validation_error"
    assert client.get(f"/v1/conversations/{conversation['id']}", headers=key).json() == (
        conversation
    )


@pytest.mark.parametrize("body", [b" ", b"\n\n"], ids=["space", "newlines"])
def test_post_with_a_blank_body_is_refused(
    client: TestClient, org: OrgCredentials, body: bytes
) -> None:
    """A POST whose body is only whitespace is a 400 bad_request, not an empty object."""
    response = client.post("/v1/widgets", content=body, headers=bearer(org.api_key))
    refused(response, 400, "bad_request")
    session = client.post(f"/v1/widgets/{org.widget_id}/sessions", content=body)
    refused(session, 400, "bad_request")


def test_post_without_a_body_runs_actions_that_need_none(
    client: TestClient, org: OrgCredentials
) -> None:
    """A POST with no body at all stands for {}: an action that needs no field runs, one
    that does answers 422 for the missing field."""
    key = bearer(org.api_key)
    conversation = client.post("/v1/conversations", headers=key)
    assert conversation.status_code == 201
    ended = client.post(f"/v1/conversations/{conversation.json()['id']}/end", headers=key)
    assert ended.status_code == 200 and ended.json()["status"] == "closed"
    refused(client.post("/v1/widgets", headers=key), 422, "validation_error")


def test_patch_with_an_empty_object_changes_nothing(
    client: TestClient, org: OrgCredentials
) -> None:
    """PATCH {} is valid JSON that asks for no change: 200 with the resource as it was."""
    key = bearer(org.api_key)
    before = client.get(f"/v1/widgets/{org.widget_id}", headers=key).json()
    after = client.patch(f"/v1/widgets/{org.widget_id}", json={}, headers=key)
    assert after.status_code == 200 and after.json() == before


@pytest.mark.parametrize("origin", ["not a url", "https://shop.example/"])
def test_cli_refuses_what_is_not_an_origin(origin: str, capsys: pytest.CaptureFixture[str]) -> None:
    """chatgate orgs create --origin applies the API's rule: a usage error, nothing created."""
    with pytest.raises(SystemExit) as info:
        main(["orgs", "create", "Acme", "--origin", origin, "--database-url", "sqlite:///:x:"])
    assert info.value.code == 2
    assert "an origin is *, http(s)://host[:port]" in capsys.readouterr().err
