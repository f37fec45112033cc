"""A widget's look and texts: set through the admin API, shown to its script by the public
config endpoint."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from starlette.testclient import TestClient

from gateway.handlers.orgs import OrgCredentials
from tests.support import bearer, new_org

SHOP = "https://shop.example"

ENGLISH = {
    "color": "#2563eb",
    "position": "right",
    "language": "en",
    "title": "Chat with us",
    "greeting": "Hi! How can we help you today?",
    "launcher_text": "Chat",
}


@pytest.fixture
def shop(client: TestClient, database_url: str) -> OrgCredentials:
    """An org whose widget allows only https://shop.example."""
    return asyncio.run(new_org(database_url, "Shop", origins=(SHOP,)))


def config(client: TestClient, widget_id: str, origin: str = SHOP):
    return client.get(f"/v1/widgets/{widget_id}/config", headers={"Origin": origin})


def test_widget_appearance_round_trips_through_the_admin_api(
    client: TestClient, org: OrgCredentials
) -> None:
    """A widget keeps the look its org chose: create sets it, PATCH changes only the fields
    sent, null returns a field to its default, and list and get show the same."""
    created = client.post(
        "/v1/widgets",
        json={"name": "Help", "appearance": {"color": "#0a7f5c", "title": "Need help?"}},
        headers=bearer(org.api_key),
    )
    assert created.status_code == 201, created.text
    widget = created.json()
    assert widget["appearance"] == {"color": "#0a7f5c", "title": "Need help?"}
    assert widget["identity_required"] is False and widget["identity_secret_set"] is False
    url = f"/v1/widgets/{widget['id']}"
    changed = client.patch(
        url,
        json={"appearance": {"language": "fr", "position": "left", "title": None}},
        headers=bearer(org.api_key),
    )
    assert changed.status_code == 200, changed.text
    chosen = {"color": "#0a7f5c", "language": "fr", "position": "left"}
    assert changed.json()["appearance"] == chosen
    assert client.get(url, headers=bearer(org.api_key)).json()["appearance"] == chosen
    listed = client.get("/v1/widgets", headers=bearer(org.api_key)).json()["data"]
    assert [w["appearance"] for w in listed if w["id"] == widget["id"]] == [chosen]
    renamed = client.patch(url, json={"name": "Support"}, headers=bearer(org.api_key))
    assert renamed.json()["appearance"] == chosen


@pytest.mark.parametrize(
    ("appearance", "path"),
    [
        ({"color": "green"}, "$.appearance.color"),
        ({"color": "#00ff0"}, "$.appearance.color"),
        ({"position": "middle"}, "$.appearance.position"),
        ({"language": "de"}, "$.appearance.language"),
        ({"title": "   "}, "$.appearance.title"),
        ({"launcher_text": "x" * 41}, "$.appearance.launcher_text"),
    ],
)
def test_widget_appearance_validation_names_the_field(
    client: TestClient, org: OrgCredentials, appearance: dict, path: str
) -> None:
    """A bad colour, position, unknown language or blank text is refused with 422 naming the
    field, on create and on update, and nothing changes."""
    created = client.post(
        "/v1/widgets", json={"name": "Help", "appearance": appearance}, headers=bearer(org.api_key)
    )
    assert created.status_code == 422
    assert created.json()["error"]["code"] == "validation_error"
    assert created.json()["error"]["details"] == {"path": path}
    url = f"/v1/widgets/{org.widget_id}"
    updated = client.patch(url, json={"appearance": appearance}, headers=bearer(org.api_key))
    assert updated.status_code == 422 and updated.json()["error"]["details"] == {"path": path}
    assert client.get(url, headers=bearer(org.api_key)).json()["appearance"] == {}


def test_widget_config_shows_look_and_texts_and_no_secrets(
    client: TestClient, shop: OrgCredentials
) -> None:
    """The public config holds the look with every default filled in (texts in the widget's
    language), whether identity is required, and nothing secret; no credential is needed."""
    fresh = config(client, shop.widget_id)
    assert fresh.status_code == 200, fresh.text
    assert fresh.json() == {
        "widget_id": shop.widget_id,
        "appearance": ENGLISH,
        "identity_required": False,
    }
    assert fresh.headers["access-control-allow-origin"] == SHOP
    url = f"/v1/widgets/{shop.widget_id}"
    changed = client.patch(
        url,
        json={
            "appearance": {"language": "fr", "color": "#111", "greeting": "Salut !"},
            "live_agent_endpoint_url": "https://93.184.215.14/live",
        },
        headers=bearer(shop.api_key),
    )
    assert changed.json()["live_agent_secret"].startswith("whsec_")
    secret = client.post(f"{url}/identity-secret", headers=bearer(shop.api_key))
    required = client.patch(url, json={"identity_required": True}, headers=bearer(shop.api_key))
    assert required.status_code == 200
    french = config(client, shop.widget_id)
    assert french.json() == {
        "widget_id": shop.widget_id,
        "appearance": {
            "color": "#111",
            "position": "right",
            "language": "fr",
            "title": "Discutons",
            "greeting": "Salut !",
            "launcher_text": "Discuter",
        },
        "identity_required": True,
    }
    assert secret.json()["identity_secret"] not in french.text
    assert "whsec_" not in french.text and "secret" not in french.text


def test_widget_config_is_refused_to_other_origins(
    client: TestClient, shop: OrgCredentials
) -> None:
    """The config answers only the widget's origins: another origin (or none) gets 403
    without CORS headers, an unknown widget 404, a malformed id 422."""
    for origin_headers in ({"Origin": "https://evil.example"}, {}):
        refused = client.get(f"/v1/widgets/{shop.widget_id}/config", headers=origin_headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        assert "access-control-allow-origin" not in refused.headers
    assert config(client, str(uuid.uuid4())).status_code == 404
    malformed = config(client, "nope")
    assert malformed.status_code == 422
    assert malformed.json()["error"]["details"] == {"path": "$.widget_id"}


def test_widget_identity_required_needs_a_secret(client: TestClient, org: OrgCredentials) -> None:
    """Requiring identity verification is refused (422 naming the field) until the widget
    has an identity secret, and refused outright when creating a widget."""
    url = f"/v1/widgets/{org.widget_id}"
    early = client.patch(url, json={"identity_required": True}, headers=bearer(org.api_key))
    assert early.status_code == 422
    assert early.json()["error"]["details"] == {"path": "$.identity_required"}
    assert client.get(url, headers=bearer(org.api_key)).json()["identity_required"] is False
    created = client.post(
        "/v1/widgets", json={"name": "New", "identity_required": True}, headers=bearer(org.api_key)
    )
    assert created.status_code == 422
    assert created.json()["error"]["details"] == {"path": "$.identity_required"}
    client.post(f"{url}/identity-secret", headers=bearer(org.api_key))
    required = client.patch(url, json={"identity_required": True}, headers=bearer(org.api_key))
    assert required.status_code == 200 and required.json()["identity_required"] is True
    relaxed = client.patch(url, json={"identity_required": False}, headers=bearer(org.api_key))
    assert relaxed.json()["identity_required"] is False
