"""Tenancy: another org's credentials never reach this org's data, on any route or op."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.handlers.orgs import OrgCredentials
from gateway.http.routes import OPERATIONS
from tests.gateway.test_socket import socket
from tests.support import bearer

PARAM = re.compile(r"{(\w+)}")


def _world(client: TestClient, org: OrgCredentials) -> dict[str, str]:
    """An org with a visitor, a conversation with messages, a second API key, a webhook
    endpoint with deliveries, a bot, a knowledge article."""
    webhook = client.post(
        "/v1/webhooks", json={"url": "https://hooks.example/in"}, headers=bearer(org.api_key)
    ).json()
    session = client.post(f"/v1/widgets/{org.widget_id}/sessions", json={"name": "Ada"}).json()
    conversation = client.post(
        "/v1/conversations", json={}, headers=bearer(session["token"])
    ).json()
    client.post(
        f"/v1/conversations/{conversation['id']}/messages",
        json={"content": "private words"},
        headers=bearer(session["token"]),
    )
    key = client.post("/v1/api-keys", json={"name": "x"}, headers=bearer(org.api_key)).json()
    agent = client.post("/v1/tokens", json={"agent_id": org.agent_id}, headers=bearer(org.api_key))
    bot = client.post("/v1/bots", json={"name": "Helper"}, headers=bearer(org.api_key)).json()
    article = client.post(
        "/v1/knowledge/articles",
        json={"title": "Guide", "body": f"The guide of org {org.org_id}"},
        headers=bearer(org.api_key),
    ).json()
    deliveries = client.get(
        f"/v1/webhooks/{webhook['id']}/deliveries", headers=bearer(org.api_key)
    ).json()
    return {
        "bot_id": bot["id"],
        "webhook_id": webhook["id"],
        "delivery_id": deliveries["data"][0]["id"],
        "article_id": article["id"],
        "org_id": org.org_id,
        "conversation_id": conversation["id"],
        "widget_id": org.widget_id,
        "api_key_id": key["api_key"]["id"],
        "agent_id": org.agent_id,
        "contact_id": session["contact"]["id"],
        "visitor_token": session["token"],
        "agent_token": agent.json()["token"],
        "api_key": org.api_key,
    }


def _body(op_path: str, ids: dict[str, str]) -> dict[str, Any]:
    """A body that would be valid for the owner, pointing at the owner's ids."""
    if op_path.startswith("/v1/webhooks"):
        return {"url": "https://hooks.example/in", "since": "2020-01-01T00:00:00Z"}
    if op_path == "/v1/agents/invitations":
        return {"email": f"{uuid.uuid4().hex}@acme.example"}
    if op_path.startswith("/v1/agents/"):
        return {"name": "n", "status": "disabled"}
    if op_path.startswith("/v1/knowledge"):
        return {"title": "t", "body": "b", "url": PRIVATE_PAGE}
    return {
        "content": "hello",
        "name": "n",
        "status": "agent_requested",
        "seq": 1,
        "widget_id": ids["widget_id"],
        "contact_id": ids["contact_id"],
        "agent_id": ids["agent_id"],
        "assignee_id": ids["agent_id"],
        "bot_id": ids["bot_id"],
    }


@pytest.fixture
def worlds(client: TestClient, org: OrgCredentials, other_org: OrgCredentials):
    return _world(client, org), _world(client, other_org)


SECRETS = ("visitor_token", "agent_token", "api_key")
#: Operations without an id in the path that point at the owner's rows through the body.
REFERS_BY_BODY = {
    ("POST", "/v1/conversations"),
    ("POST", "/v1/tokens"),
    ("POST", "/v1/widgets"),  # its bot_id
}
#: Operations that fetch the body's url: this one is refused (a private address), in any org.
FETCHES = {("POST", "/v1/knowledge/imports")}
PRIVATE_PAGE = "http://127.0.0.1:9/page"


@pytest.mark.parametrize("credential", SECRETS)
def test_tenancy_every_route_hides_another_orgs_data(
    client: TestClient, worlds: tuple[dict[str, str], dict[str, str]], credential: str
) -> None:
    """Every operation, called with org B's credentials on org A's ids, answers 403/404
    (or B's own data for listings) and never shows anything of org A."""
    mine, theirs = worlds
    foreign_values = [v for k, v in mine.items() if k not in SECRETS] + ["private words"]
    checked = 0
    for op in OPERATIONS:
        if op.anonymous:
            continue  # widget sessions and configs are public by widget id, guarded by Origin
        path = PARAM.sub(lambda m: mine[m.group(1)], op.path)
        body = _body(op.path, mine) if op.method in ("POST", "PATCH") else None
        response = client.request(op.method, path, json=body, headers=bearer(theirs[credential]))
        text = response.text
        leaked = [value for value in foreign_values if value in text]
        assert not leaked, f"{op.method} {op.path} leaked {leaked}: {text}"
        if PARAM.search(op.path) or (op.method, op.path) in REFERS_BY_BODY:
            assert response.status_code in (403, 404), (op.method, op.path, text)
        elif op.tag == "auth":  # a signed-in agent's own session: no other org's data
            assert response.status_code in (200, 201, 403), (op.method, op.path, text)
        elif credential == "api_key" and (op.method, op.path) in FETCHES:
            assert response.json()["error"]["code"] == "page_rejected", (op.path, text)
        elif credential == "api_key":
            assert response.status_code < 300, "a listing or create in the caller's own org"
        else:
            assert response.status_code in (200, 403), (op.method, op.path, text)
        checked += 1
    assert checked == len([op for op in OPERATIONS if not op.anonymous])


@pytest.mark.parametrize("credential", ["visitor_token", "agent_token"])
def test_tenancy_socket_ops_on_another_orgs_conversation(
    client: TestClient, worlds: tuple[dict[str, str], dict[str, str]], credential: str
) -> None:
    """Every socket op on org A's conversation, from org B, is refused without data."""
    mine, theirs = worlds
    cid = mine["conversation_id"]
    with socket(client) as ws:
        hello = ws.call("hello", token=theirs[credential], resume={cid: 0})
        assert hello["data"]["resume"][cid]["ok"] is False
        for op, fields in [
            ("subscribe", {"conversation_id": cid}),
            ("subscribe", {"conversation_id": cid, "after_seq": 0}),
            ("message.send", {"conversation_id": cid, "content": "hi"}),
            ("conversation.update", {"conversation_id": cid, "status": "agent_requested"}),
            ("typing", {"conversation_id": cid, "on": True}),
            ("read", {"conversation_id": cid, "seq": 1}),
        ]:
            reply = ws.call(op, **fields)
            assert not reply["ok"] and reply["error"]["code"] in ("not_found", "forbidden"), reply
            assert "private words" not in str(reply)
        assert ws.events == [], "no event of org A's conversation reached org B"
    history = client.get(
        f"/v1/conversations/{cid}/messages", headers=bearer(mine["api_key"])
    ).json()["data"]
    assert [m["content"] for m in history] == ["private words"], "nothing was written"


def test_tenancy_inbox_is_per_org(
    client: TestClient, worlds: tuple[dict[str, str], dict[str, str]]
) -> None:
    """Org B's inbox never sees org A's conversations."""
    mine, theirs = worlds
    with socket(client) as ws:
        ws.call("hello", token=theirs["agent_token"])
        ws.call("subscribe", inbox=True)
        client.post("/v1/conversations", json={}, headers=bearer(mine["api_key"]))
        client.post("/v1/conversations", json={}, headers=bearer(theirs["api_key"]))
        event = ws.event()
        assert event["event"] == "conversation.created"
        assert event["data"]["conversation"]["org_id"] == theirs["org_id"] != mine["org_id"]
        assert ws.call("ping")["ok"] and ws.events == []
