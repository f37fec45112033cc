"""Identity verification: a site proves its signed-in visitor's external_id with an HMAC, and
that visitor gets the same contact on every device."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3

from starlette.testclient import TestClient

from gateway.core.identity import user_hash, user_hash_matches
from gateway.handlers.orgs import OrgCredentials
from tests.support import bearer

SHOP = "https://shop.example"


def sign(secret: str, external_id: str) -> str:
    """What a customer's server computes (docs/api.md, "Widget identity")."""
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def new_secret(client: TestClient, org: OrgCredentials, **body: str) -> str:
    response = client.post(
        f"/v1/widgets/{org.widget_id}/identity-secret", json=body, headers=bearer(org.api_key)
    )
    assert response.status_code == 200, response.text
    assert response.json()["widget_id"] == org.widget_id
    return str(response.json()["identity_secret"])


def open_session(client: TestClient, widget_id: str, token: str | None = None, **body: object):
    headers = {"Origin": SHOP, **(bearer(token) if token else {})}
    return client.post(f"/v1/widgets/{widget_id}/sessions", json=body, headers=headers)


def contact_count(database_url: str) -> int:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        return int(db.execute("SELECT count(*) FROM contacts").fetchone()[0])


def test_identity_hash_matches_the_documented_example() -> None:
    """The gateway's user_hash is the one docs/api.md shows a site computing (Python and Node
    give the same), for any external id."""
    secret = "cgid_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    documented = "3c28189d3b5ded9bd2063746f97c1404915b292b379b80a12840cb05d092f5bf"
    assert user_hash(secret, "user-42") == sign(secret, "user-42") == documented
    assert user_hash_matches(secret, "user-42", documented.upper())
    assert not user_hash_matches(secret, "user-43", documented)
    assert user_hash(secret, "usér-42") == sign(secret, "usér-42")


def test_identity_secret_is_shown_once(client: TestClient, org: OrgCredentials) -> None:
    """The identity secret is in the answer that makes it and nowhere else: widgets only say
    that one is set; a new one replaces it; only an API key may make one."""
    secret = new_secret(client, org)
    assert secret.startswith("cgid_") and len(secret) >= 32
    url = f"/v1/widgets/{org.widget_id}"
    shown = client.get(url, headers=bearer(org.api_key))
    assert shown.json()["identity_secret_set"] is True
    listed = client.get("/v1/widgets", headers=bearer(org.api_key))
    assert secret not in shown.text and secret not in listed.text
    assert new_secret(client, org) != secret
    visitor = open_session(client, org.widget_id).json()["token"]
    issued = client.post("/v1/tokens", json={"agent_id": org.agent_id}, headers=bearer(org.api_key))
    for credential in (visitor, issued.json()["token"]):
        refused = client.post(f"{url}/identity-secret", headers=bearer(credential))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


def test_identity_right_hash_links_the_same_contact_on_every_device(
    client: TestClient, org: OrgCredentials
) -> None:
    """Two sessions with a right user_hash for one external_id get one contact, so the second
    device sees the conversation the first one started; an integration's contact of that id
    is the same one too."""
    secret = new_secret(client, org)
    identity = {"external_id": "user-42", "user_hash": sign(secret, "user-42")}
    laptop = open_session(client, org.widget_id, name="Lee", email="lee@example.com", **identity)
    assert laptop.status_code == 201, laptop.text
    contact = laptop.json()["contact"]
    assert contact["external_id"] == "user-42" and contact["name"] == "Lee"
    upper = {**identity, "user_hash": identity["user_hash"].upper()}
    phone = open_session(client, org.widget_id, **upper)
    assert phone.status_code == 201 and phone.json()["contact"]["id"] == contact["id"]
    started = client.post("/v1/conversations", json={}, headers=bearer(laptop.json()["token"]))
    seen = client.get("/v1/conversations", headers=bearer(phone.json()["token"])).json()
    assert [c["id"] for c in seen["data"]] == [started.json()["id"]]
    integration = client.post(
        "/v1/conversations",
        json={"contact": {"external_id": "user-42"}},
        headers=bearer(org.api_key),
    )
    assert integration.json()["contact_id"] == contact["id"]


def test_identity_renewal_keeps_or_switches_the_contact(
    client: TestClient, org: OrgCredentials
) -> None:
    """Renewing a session with its token keeps the visitor; a verified external_id sent with
    an anonymous visitor's token switches the session to that id's contact."""
    secret = new_secret(client, org)
    anonymous = open_session(client, org.widget_id).json()
    renewed = open_session(client, org.widget_id, anonymous["token"]).json()
    assert renewed["contact"]["id"] == anonymous["contact"]["id"]
    signed_in = open_session(
        client, org.widget_id, anonymous["token"], external_id="u-7", user_hash=sign(secret, "u-7")
    ).json()
    assert signed_in["contact"]["id"] != anonymous["contact"]["id"]
    assert signed_in["contact"]["external_id"] == "u-7"
    again = open_session(client, org.widget_id, signed_in["token"]).json()
    assert again["contact"]["id"] == signed_in["contact"]["id"]


def test_identity_wrong_hash_is_refused_and_creates_nothing(
    client: TestClient, org: OrgCredentials, database_url: str
) -> None:
    """A user_hash that is not the external_id's HMAC (another id's, an old secret's, a
    widget without a secret) answers 403 forbidden, and no contact is created."""
    before = contact_count(database_url)
    no_secret = open_session(
        client, org.widget_id, external_id="user-42", user_hash=sign("guess", "user-42")
    )
    assert no_secret.status_code == 403 and no_secret.json()["error"]["code"] == "forbidden"
    old = new_secret(client, org)
    current = new_secret(client, org)
    for external_id, given in (
        ("user-42", sign(current, "user-1")),
        ("user-42", sign(old, "user-42")),
        ("user-42", "0" * 64),
    ):
        refused = open_session(client, org.widget_id, external_id=external_id, user_hash=given)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "forbidden"
        assert "token" not in refused.json()
    assert contact_count(database_url) == before


def test_identity_external_id_alone_is_never_trusted(
    client: TestClient, org: OrgCredentials, database_url: str
) -> None:
    """An external_id without its user_hash is refused (422 naming user_hash), so no page can
    claim a contact by naming it."""
    before = contact_count(database_url)
    refused = open_session(client, org.widget_id, external_id="user-42")
    assert refused.status_code == 422
    assert refused.json()["error"]["details"] == {"path": "$.user_hash"}
    assert contact_count(database_url) == before


def test_identity_required_refuses_sessions_without_a_hash(
    client: TestClient, org: OrgCredentials
) -> None:
    """Once a widget requires identity, a session without a user_hash is refused (403), even
    a renewal with a valid visitor token; one with a right hash opens."""
    secret = new_secret(client, org)
    earlier = open_session(client, org.widget_id).json()["token"]
    required = client.patch(
        f"/v1/widgets/{org.widget_id}",
        json={"identity_required": True},
        headers=bearer(org.api_key),
    )
    assert required.status_code == 200
    for token in (None, earlier):
        refused = open_session(client, org.widget_id, token)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    opened = open_session(client, org.widget_id, external_id="u-1", user_hash=sign(secret, "u-1"))
    assert opened.status_code == 201


def test_identity_secret_may_be_brought(client: TestClient, org: OrgCredentials) -> None:
    """An org may set its own identity secret (moving from another product): hashes made with
    it verify; a too short one is refused with 422."""
    mine = "my-own-secret-from-another-product-0123456789"
    assert new_secret(client, org, identity_secret=mine) == mine
    opened = open_session(client, org.widget_id, external_id="u-9", user_hash=sign(mine, "u-9"))
    assert opened.status_code == 201
    short = client.post(
        f"/v1/widgets/{org.widget_id}/identity-secret",
        json={"identity_secret": "short"},
        headers=bearer(org.api_key),
    )
    assert short.status_code == 422
    assert short.json()["error"]["details"] == {"path": "$.identity_secret"}
