"""Roles on every route: the OpenAPI document says who may call each operation
(``x-chatgate-role``, from one declaration: ``http.routes.ADMIN_TAGS``), and the live app
holds to it for an ``agent``, whether signed in with a cookie or holding a socket token.

Routes added later are walked too: every ``/v1`` operation that takes the native credentials
must declare its role.
"""

from __future__ import annotations

import re
import uuid

from starlette.testclient import TestClient

from tests.support import OrgCredentials, bearer

PASSWORD = "correct horse battery"
PARAM = re.compile(r"\{[^}]+\}")


def _signed_in(client: TestClient, org: OrgCredentials, email: str, role: str) -> dict[str, str]:
    token = client.post(
        "/v1/agents/invitations", json={"email": email, "role": role}, headers=bearer(org.api_key)
    ).json()["token"]
    client.post(
        "/v1/auth/accept-invitation", json={"token": token, "name": "A", "password": PASSWORD}
    )
    client.cookies.clear()
    signed = client.post("/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    return {"X-CSRF-Token": client.cookies["chatgate_csrf"]}


def _operations(client: TestClient) -> list[tuple[str, str, str]]:
    document = client.get("/openapi.json").json()
    found = []
    for path, item in document["paths"].items():
        for method, spec in item.items():
            security = spec.get("security")
            native = security is None or any("bearer" in s for s in security)
            if path.startswith("/v1/") and native:  # not a vendor dialect's own credential
                assert spec.get("x-chatgate-role") in ("admin", "agent", "anyone"), (method, path)
            found.append((method.upper(), path, spec.get("x-chatgate-role")))
    return found


def test_roles_agent_gets_403_on_every_admin_operation(client: TestClient, org: OrgCredentials):
    """An agent-role session and its socket token get 403 forbidden on every admin route."""
    operations = _operations(client)
    admin = [(method, path) for method, path, role in operations if role == "admin"]
    paths = {path for _, path in admin}
    for expected in ("/v1/widgets", "/v1/api-keys", "/v1/webhooks", "/v1/agents/invitations"):
        assert expected in paths
    csrf = _signed_in(client, org, "ana@acme.example", "agent")
    token = client.post("/v1/auth/socket-token", headers=csrf).json()["token"]
    session = client.cookies["chatgate_session"]
    for method, path in admin:
        filled = PARAM.sub(lambda _: str(uuid.uuid4()), path)
        body = {} if method in ("POST", "PATCH") else None
        client.cookies.set("chatgate_session", session)
        client.cookies.set("chatgate_csrf", csrf["X-CSRF-Token"])
        by_cookie = client.request(method, filled, json=body, headers=csrf)
        assert by_cookie.status_code == 403, (method, path, by_cookie.text)
        assert by_cookie.json()["error"]["code"] == "forbidden"
        client.cookies.clear()
        by_token = client.request(method, filled, json=body, headers=bearer(token))
        assert by_token.status_code == 403, (method, path, by_token.text)


def test_roles_admin_agent_passes_every_admin_gate(client: TestClient, org: OrgCredentials):
    """An admin-role session is never refused as forbidden on an admin route."""
    admin = [(m, p) for m, p, role in _operations(client) if role == "admin"]
    csrf = _signed_in(client, org, "boss@acme.example", "admin")
    for method, path in admin:
        filled = PARAM.sub(lambda _: str(uuid.uuid4()), path)
        body = {} if method in ("POST", "PATCH") else None
        answer = client.request(method, filled, json=body, headers=csrf)
        assert answer.status_code != 403, (method, path, answer.text)
