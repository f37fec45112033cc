"""The native REST API, in-process (TestClient)."""

from __future__ import annotations

import hashlib
import uuid

from starlette.testclient import TestClient

from gateway.handlers.orgs import OrgCredentials
from tests.support import bearer


def visitor_session(client: TestClient, widget_id: str, origin: str = "https://shop.example"):
    response = client.post(f"/v1/widgets/{widget_id}/sessions", json={}, headers={"Origin": origin})
    assert response.status_code == 201, response.text
    return response.json()


def start(client: TestClient, credential: str, **body: object) -> dict:
    response = client.post("/v1/conversations", json=body, headers=bearer(credential))
    assert response.status_code == 201, response.text
    return response.json()


def test_rest_visitor_conversation_round_trip(client: TestClient, org: OrgCredentials) -> None:
    """A visitor starts a conversation, writes, and reads the history back in seq order."""
    session = visitor_session(client, org.widget_id)
    conversation = start(client, session["token"])
    assert conversation["status"] == "bot_active" and conversation["handler"] == "bot"
    assert conversation["contact_id"] == session["contact"]["id"]
    path = f"/v1/conversations/{conversation['id']}/messages"
    for text in ("one", "two", "three"):
        sent = client.post(path, json={"content": text}, headers=bearer(session["token"]))
        assert sent.status_code == 201
        assert sent.json()["role"] == "visitor"
    history = client.get(path, headers=bearer(org.api_key)).json()
    assert [m["content"] for m in history["data"]] == ["one", "two", "three"]
    assert [m["seq"] for m in history["data"]] == [1, 2, 3]
    page = client.get(path, params={"after_seq": 1, "limit": 1}, headers=bearer(org.api_key))
    assert page.json()["data"][0]["content"] == "two"
    assert page.json()["has_more"] is True and page.json()["next_after_seq"] == 2


def test_rest_takeover_from_agent_requested(client: TestClient, org: OrgCredentials) -> None:
    """Visitor asks for a human; the agent's first reply takes over with the marker."""
    session = visitor_session(client, org.widget_id)
    conversation = start(client, session["token"])
    url = f"/v1/conversations/{conversation['id']}"
    asked = client.patch(url, json={"status": "agent_requested"}, headers=bearer(session["token"]))
    assert asked.json()["status"] == "agent_requested"
    reply = client.post(
        f"{url}/messages",
        json={"content": "Hi, I'm Ann", "agent_id": org.agent_id},
        headers=bearer(org.api_key),
    )
    assert reply.status_code == 201
    assert reply.json()["sender_id"] == org.agent_id and reply.json()["role"] == "agent"
    after = client.get(url, headers=bearer(org.api_key)).json()
    assert after["status"] == "open" and after["handler"] == "agent" and after["epoch"] == 1
    assert after["first_response_at"] is not None and after["assignee_id"] == org.agent_id
    messages = client.get(f"{url}/messages", headers=bearer(org.api_key)).json()["data"]
    assert [m["role"] for m in messages] == ["system", "agent"]
    assert messages[0]["content"] == "A team member has joined the conversation."
    bot = client.post(
        f"{url}/messages",
        json={"content": "I can help too", "role": "bot", "epoch": 0},
        headers=bearer(org.api_key),
    )
    assert bot.status_code == 409 and bot.json()["error"]["code"] == "control_lost"


def test_rest_lifecycle_errors(client: TestClient, org: OrgCredentials) -> None:
    """invalid_state for a human reply to a bot conversation and a bad transition;
    bot_active cannot be set."""
    conversation = start(client, org.api_key)
    url = f"/v1/conversations/{conversation['id']}"
    early = client.post(f"{url}/messages", json={"content": "hi"}, headers=bearer(org.api_key))
    assert early.status_code == 400 and early.json()["error"]["code"] == "invalid_state"
    archive = client.patch(url, json={"status": "archived"}, headers=bearer(org.api_key))
    assert archive.status_code == 400 and archive.json()["error"]["code"] == "invalid_state"
    bot = client.patch(url, json={"status": "bot_active"}, headers=bearer(org.api_key))
    assert bot.status_code == 200, "already bot_active: nothing to change"
    client.patch(url, json={"status": "agent_requested"}, headers=bearer(org.api_key))
    back = client.patch(url, json={"status": "bot_active"}, headers=bearer(org.api_key))
    assert back.status_code == 422 and back.json()["error"]["code"] == "validation_error"


def test_rest_list_conversations_pages_and_filters(client: TestClient, org: OrgCredentials) -> None:
    """Newest first, cursor pages cover every conversation once, status filter applies."""
    created = [start(client, org.api_key)["id"] for _ in range(7)]
    client.patch(
        f"/v1/conversations/{created[0]}",
        json={"status": "agent_requested"},
        headers=bearer(org.api_key),
    )
    seen: list[dict] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/conversations", params=params, headers=bearer(org.api_key)).json()
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(c["id"] for c in seen) == sorted(created), "every conversation exactly once"
    keys = [(c["created_at"], c["id"]) for c in seen]
    assert keys == sorted(keys, reverse=True), "newest first"
    waiting = client.get(
        "/v1/conversations", params={"status": "agent_requested"}, headers=bearer(org.api_key)
    ).json()
    assert [c["id"] for c in waiting["data"]] == [created[0]]
    bad = client.get("/v1/conversations", params={"cursor": "garbage"}, headers=bearer(org.api_key))
    assert bad.status_code == 422


def test_rest_visitor_sees_only_own_conversations(client: TestClient, org: OrgCredentials) -> None:
    """Two visitors of one widget never see each other's conversations."""
    alice, bob = visitor_session(client, org.widget_id), visitor_session(client, org.widget_id)
    mine = start(client, alice["token"])
    start(client, bob["token"])
    listed = client.get("/v1/conversations", headers=bearer(alice["token"])).json()["data"]
    assert [c["id"] for c in listed] == [mine["id"]]
    peek = client.get(f"/v1/conversations/{mine['id']}", headers=bearer(bob["token"]))
    assert peek.status_code == 404


def test_rest_client_message_id_returns_the_original(
    client: TestClient, org: OrgCredentials
) -> None:
    """A retried send with the same client_message_id stores nothing new."""
    conversation = start(client, org.api_key)
    url = f"/v1/conversations/{conversation['id']}/messages"
    body = {"content": "only once", "role": "visitor", "client_message_id": "m-1"}
    first = client.post(url, json=body, headers=bearer(org.api_key)).json()
    again = client.post(url, json=body, headers=bearer(org.api_key)).json()
    assert again["id"] == first["id"] and again["seq"] == first["seq"] == 1
    assert len(client.get(url, headers=bearer(org.api_key)).json()["data"]) == 1


def test_rest_widget_session_checks_origin(client: TestClient, org: OrgCredentials) -> None:
    """A widget limited to one origin refuses others, and requests with no Origin."""
    widget = client.patch(
        f"/v1/widgets/{org.widget_id}",
        json={"allowed_origins": ["https://shop.example", "https://*.shop.example"]},
        headers=bearer(org.api_key),
    ).json()
    assert widget["allowed_origins"] == ["https://shop.example", "https://*.shop.example"]
    url = f"/v1/widgets/{org.widget_id}/sessions"
    assert client.post(url, headers={"Origin": "https://shop.example"}).status_code == 201
    assert client.post(url, headers={"Origin": "https://eu.shop.example"}).status_code == 201
    for origin in ("https://evil.example", "https://shop.example.evil.example"):
        refused = client.post(url, headers={"Origin": origin})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert client.post(url).status_code == 403
    assert client.post(f"/v1/widgets/{uuid.uuid4()}/sessions").status_code == 404


def test_rest_visitor_token_renews_the_same_contact(
    client: TestClient, org: OrgCredentials
) -> None:
    """Opening a session with a still-valid visitor token keeps the visitor's identity."""
    first = visitor_session(client, org.widget_id)
    again = client.post(
        f"/v1/widgets/{org.widget_id}/sessions", json={}, headers=bearer(first["token"])
    ).json()
    assert again["contact"]["id"] == first["contact"]["id"]
    assert visitor_session(client, org.widget_id)["contact"]["id"] != first["contact"]["id"]


def test_rest_tokens(client: TestClient, org: OrgCredentials) -> None:
    """API keys issue agent and bot tokens; an agent token renews only itself."""
    agent = client.post("/v1/tokens", json={"agent_id": org.agent_id}, headers=bearer(org.api_key))
    assert agent.status_code == 201 and agent.json()["expires_at"]
    token = agent.json()["token"]
    renewed = client.post("/v1/tokens", json={}, headers=bearer(token))
    assert renewed.status_code == 201
    other = client.post("/v1/agents", json={"name": "Bo"}, headers=bearer(org.api_key)).json()
    stolen = client.post("/v1/tokens", json={"agent_id": other["id"]}, headers=bearer(token))
    assert stolen.status_code == 403
    missing = client.post("/v1/tokens", json={}, headers=bearer(org.api_key))
    assert missing.status_code == 422
    bot = client.post("/v1/tokens", json={"kind": "bot"}, headers=bearer(org.api_key))
    assert bot.status_code == 201
    admin = client.post("/v1/widgets", json={"name": "x"}, headers=bearer(token))
    assert admin.status_code == 403


def test_rest_api_keys_are_shown_once_and_revocable(
    client: TestClient, org: OrgCredentials
) -> None:
    """The secret appears only in the create response; a revoked key stops working."""
    created = client.post("/v1/api-keys", json={"name": "ci"}, headers=bearer(org.api_key)).json()
    secret = created["secret"]
    assert secret.startswith("cgk_") and created["api_key"]["prefix"] == secret[:12]
    listed = client.get("/v1/api-keys", headers=bearer(org.api_key)).json()["data"]
    assert secret not in str(listed) and len(listed) == 2
    assert client.get("/v1/conversations", headers=bearer(secret)).status_code == 200
    revoked = client.delete(f"/v1/api-keys/{created['api_key']['id']}", headers=bearer(org.api_key))
    assert revoked.json()["revoked_at"] is not None
    after = client.get("/v1/conversations", headers=bearer(secret))
    assert after.status_code == 401 and after.json()["error"]["code"] == "unauthorized"


def test_rest_error_envelope_and_request_id(client: TestClient, org: OrgCredentials) -> None:
    """Errors carry code, message and the request id, which is also a response header."""
    response = client.get(
        f"/v1/conversations/{uuid.uuid4()}",
        headers={**bearer(org.api_key), "X-Request-Id": "trace-42"},
    )
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "trace-42"
    assert response.json() == {
        "error": {"code": "not_found", "message": "conversation not found"},
        "request_id": "trace-42",
    }
    assert client.get("/v1/nope").json()["error"]["code"] == "not_found"
    wrong_method = client.put("/v1/conversations", headers=bearer(org.api_key))
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_rest_operations_endpoints(client: TestClient) -> None:
    """Health, readiness, metrics, the OpenAPI document and the docs page are served."""
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and len(health["node"]) == 32
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["checks"] == {"store": "ok", "broker": "ok"}
    client.get("/v1/conversations")
    metrics = client.get("/metrics").text
    assert "chatgate_connections" in metrics and "chatgate_commands_total" in metrics
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    send = spec["paths"]["/v1/conversations/{conversation_id}/messages"]["post"]
    assert "content" in send["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert send["parameters"][0]["name"] == "conversation_id"
    upload = spec["paths"]["/v1/conversations/{conversation_id}/files"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "get" in spec["paths"]["/v1/files/{sha256}"]
    assert "post" in spec["paths"]["/v1/conversations/{conversation_id}/end"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/v1/conversations/{conversation_id}/messages" in docs.text


def test_rest_start_conversation_as_an_integration(client: TestClient, org: OrgCredentials) -> None:
    """An API key starts conversations for a widget and a contact it names or describes;
    the same external_id finds the same contact again."""
    described = start(
        client,
        org.api_key,
        widget_id=org.widget_id,
        contact={"external_id": "crm-42", "name": "Lee", "email": "lee@example.com"},
        metadata={"channel": "email"},
    )
    assert described["widget_id"] == org.widget_id and described["metadata"] == {"channel": "email"}
    again = start(client, org.api_key, contact={"external_id": "crm-42"})
    assert again["contact_id"] == described["contact_id"]
    by_id = start(client, org.api_key, contact_id=described["contact_id"])
    assert by_id["contact_id"] == described["contact_id"]
    for body, path in (
        ({"widget_id": str(uuid.uuid4())}, "$.widget_id"),
        ({"contact_id": str(uuid.uuid4())}, "$.contact_id"),
    ):
        refused = client.post("/v1/conversations", json=body, headers=bearer(org.api_key))
        assert refused.status_code == 404 and refused.json()["error"]["details"] == {"path": path}


def test_rest_visitor_starts_only_as_themselves(client: TestClient, org: OrgCredentials) -> None:
    """A visitor token cannot start a conversation for another contact or widget."""
    session = visitor_session(client, org.widget_id)
    for body in (
        {"contact_id": str(uuid.uuid4())},
        {"contact": {"name": "someone else"}},
        {"widget_id": str(uuid.uuid4())},
    ):
        refused = client.post("/v1/conversations", json=body, headers=bearer(session["token"]))
        assert refused.status_code == 403, body
    own = start(client, session["token"], contact_id=session["contact"]["id"])
    assert own["contact_id"] == session["contact"]["id"]


def test_rest_update_permissions_by_caller(client: TestClient, org: OrgCredentials) -> None:
    """Visitors may only ask for a human; the bot may escalate or close until a human
    takes over; assignees must be agents of the org."""
    session = visitor_session(client, org.widget_id)
    cid = start(client, session["token"])["id"]
    url = f"/v1/conversations/{cid}"
    visitor_closes = client.patch(url, json={"status": "closed"}, headers=bearer(session["token"]))
    assert visitor_closes.status_code == 403
    assigns = client.patch(
        url, json={"assignee_id": org.agent_id}, headers=bearer(session["token"])
    )
    assert assigns.status_code == 403
    bot = client.post("/v1/tokens", json={"kind": "bot"}, headers=bearer(org.api_key)).json()
    bot_assigns = client.patch(
        url, json={"assignee_id": org.agent_id}, headers=bearer(bot["token"])
    )
    assert bot_assigns.status_code == 403
    escalated = client.patch(url, json={"status": "agent_requested"}, headers=bearer(bot["token"]))
    assert escalated.json()["status"] == "agent_requested"
    unknown = client.patch(
        url, json={"assignee_id": str(uuid.uuid4())}, headers=bearer(org.api_key)
    )
    assert unknown.status_code == 404
    claimed = client.patch(
        url, json={"status": "open", "assignee_id": org.agent_id}, headers=bearer(org.api_key)
    ).json()
    assert claimed["status"] == "open" and claimed["assignee_id"] == org.agent_id
    late = client.patch(url, json={"status": "closed"}, headers=bearer(bot["token"]))
    assert late.status_code == 409 and late.json()["error"]["code"] == "control_lost"
    unassigned = client.patch(url, json={"assignee_id": None}, headers=bearer(org.api_key))
    assert unassigned.json()["assignee_id"] is None


def test_rest_senders_and_roles(client: TestClient, org: OrgCredentials) -> None:
    """Tokens send as their own role only; API keys choose a role and an agent of the org."""
    session = visitor_session(client, org.widget_id)
    cid = start(client, session["token"])["id"]
    url = f"/v1/conversations/{cid}/messages"
    posing = client.post(
        url, json={"content": "x", "role": "agent"}, headers=bearer(session["token"])
    )
    assert posing.status_code == 403
    system = client.post(url, json={"content": "x", "role": "system"}, headers=bearer(org.api_key))
    assert system.status_code == 422
    stranger = client.post(
        url, json={"content": "x", "agent_id": str(uuid.uuid4())}, headers=bearer(org.api_key)
    )
    assert stranger.status_code == 404
    mixed = client.post(
        url,
        json={"content": "x", "role": "bot", "agent_id": org.agent_id},
        headers=bearer(org.api_key),
    )
    assert mixed.status_code == 422
    bridged = client.post(
        url, json={"content": "via email", "role": "visitor"}, headers=bearer(org.api_key)
    ).json()
    assert bridged["role"] == "visitor" and bridged["sender_id"] == session["contact"]["id"]
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
    uploaded = client.post(
        f"/v1/conversations/{cid}/files",
        files={"file": ("a.png", png, "image/png")},
        headers=bearer(org.api_key),
    ).json()
    bot = client.post(
        url,
        json={
            "content": "Hello, I'm the bot",
            "role": "bot",
            "epoch": 0,
            "attachments": [{"url": uploaded["url"], "name": "menu.png"}],
        },
        headers=bearer(org.api_key),
    ).json()
    assert bot["role"] == "bot" and bot["attachments"] == [
        {
            "url": f"/v1/files/{hashlib.sha256(png).hexdigest()}",
            "mime": "image/png",
            "size": len(png),
            "sha256": hashlib.sha256(png).hexdigest(),
            "name": "menu.png",
        }
    ]
    read = client.post(
        f"/v1/conversations/{cid}/read", json={"seq": 1}, headers=bearer(session["token"])
    )
    assert read.json() == {"conversation_id": cid, "seq": 1}
