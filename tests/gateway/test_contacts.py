"""``GET /v1/contacts/{contact_id}`` on SQLite and PostgreSQL: staff read who a visitor is;
a visitor reads only their own contact; another org's or an unknown id is ``not_found``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import Settings
from tests.support import OrgCredentials, bearer, new_org


@pytest.fixture
def client(database: str) -> Iterator[TestClient]:
    settings = Settings(database_url=database, secret_key="test-secret-key-of-decent-length!")
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def org(client: TestClient, database: str) -> OrgCredentials:
    return asyncio.run(new_org(database, "Acme"))


def visit(client: TestClient, widget_id: str, **who: str) -> dict:
    answer = client.post(f"/v1/widgets/{widget_id}/sessions", json=who)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_staff_read_a_contact_and_a_visitor_only_their_own(
    client: TestClient, org: OrgCredentials, database: str
) -> None:
    ada = visit(client, org.widget_id, name="Ada Lovelace", email="ada@example.com")
    bob = visit(client, org.widget_id)
    agent = client.post("/v1/tokens", json={"agent_id": org.agent_id}, headers=bearer(org.api_key))
    contact_id = ada["contact"]["id"]

    for credential in (org.api_key, agent.json()["token"], ada["token"]):
        answer = client.get(f"/v1/contacts/{contact_id}", headers=bearer(credential))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "id": contact_id,
            "external_id": None,
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "metadata": {},
            "created_at": ada["contact"]["created_at"],
            "widget_id": org.widget_id,
        }

    # Another visitor of the same org: as if there were no such contact.
    answer = client.get(f"/v1/contacts/{contact_id}", headers=bearer(bob["token"]))
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")

    other = asyncio.run(new_org(database, "Globex"))
    for credential, cid in ((other.api_key, contact_id), (org.api_key, str(uuid.uuid4()))):
        answer = client.get(f"/v1/contacts/{cid}", headers=bearer(credential))
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")

    answer = client.get("/v1/contacts/not-an-id", headers=bearer(org.api_key))
    assert answer.status_code == 422
    assert client.get(f"/v1/contacts/{contact_id}").status_code == 401
