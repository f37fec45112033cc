"""Agent accounts over the REST API, on SQLite and PostgreSQL: invitations, sign-in, the
session cookie and its CSRF token, sign-out, reset links, lockout, deactivation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from bench.services import RedisServer
from gateway.app import create_app
from gateway.settings import Settings
from tests.support import OrgCredentials, SocketClient, bearer, live_server, new_org

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(database: str) -> Settings:
    return Settings(
        database_url=database,
        secret_key="test-secret-key-of-decent-length!",
        sign_in_max_failures=3,
        sign_in_max_address_failures=5,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def org(client: TestClient, database: str) -> OrgCredentials:
    return asyncio.run(new_org(database, "Acme"))


def invite(client: TestClient, org: OrgCredentials, email: str, role: str = "agent") -> str:
    answer = client.post(
        "/v1/agents/invitations", json={"email": email, "role": role}, headers=bearer(org.api_key)
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["invitation_url"] == f"http://testserver/app/invite#token={body['token']}"
    return str(body["token"])


def join(client: TestClient, org: OrgCredentials, email: str, role: str = "agent") -> dict:
    token = invite(client, org, email, role)
    accepted = client.post(
        "/v1/auth/accept-invitation", json={"token": token, "name": "Ana", "password": PASSWORD}
    )
    assert accepted.status_code == 201, accepted.text
    return dict(accepted.json())


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> dict:
    answer = client.post("/v1/auth/sign-in", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def csrf(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies["chatgate_csrf"]}


def test_accounts_invitation_then_sign_in_me_and_sign_out(client, org):
    """An invited agent sets a password, signs in (two cookies), is itself, and signs out."""
    agent = join(client, org, "Ana@Acme.example")
    assert (agent["email"], agent["role"], agent["name"]) == ("ana@acme.example", "agent", "Ana")
    signed = client.post(
        "/v1/auth/sign-in", json={"email": "ANA@acme.example", "password": PASSWORD}
    )
    assert signed.status_code == 200, signed.text
    cookies = signed.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("chatgate_session="))
    readable = next(c for c in cookies if c.startswith("chatgate_csrf="))
    assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session
    assert "HttpOnly" not in readable and "Secure" not in session  # plain http here
    assert signed.json()["csrf_token"] == client.cookies["chatgate_csrf"]
    me = client.get("/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["agent"]["id"] == agent["id"]
    assert me.json()["csrf_token"] == client.cookies["chatgate_csrf"]
    assert client.get("/v1/conversations").status_code == 200
    out = client.post("/v1/auth/sign-out", json={}, headers=csrf(client))
    assert out.status_code == 200, out.text
    assert "chatgate_session" not in client.cookies
    # The old cookie no longer works, even when sent again.
    old = next(c for c in cookies if c.startswith("chatgate_session=")).split(";")[0]
    again = client.get("/v1/auth/me", headers={"Cookie": old})
    assert again.status_code == 401


def test_accounts_sign_out_all_ends_every_session(client, org):
    """sign-out {all: true} ends the agent's other sessions too."""
    join(client, org, "ana@acme.example")
    sign_in(client, "ana@acme.example")
    first = client.cookies["chatgate_session"]
    client.cookies.clear()
    sign_in(client, "ana@acme.example")
    out = client.post("/v1/auth/sign-out", json={"all": True}, headers=csrf(client))
    assert out.status_code == 200
    assert out.json() == {"all": True}
    client.cookies.clear()
    assert (
        client.get("/v1/auth/me", headers={"Cookie": f"chatgate_session={first}"}).status_code
        == 401
    )


def test_accounts_invitation_link_is_one_time_and_email_unique(client, org, database):
    """An invitation works once; an email that signs in already cannot be invited again,
    in any org."""
    token = invite(client, org, "ana@acme.example")
    body = {"token": token, "name": "Ana", "password": PASSWORD}
    assert client.post("/v1/auth/accept-invitation", json=body).status_code == 201
    used = client.post("/v1/auth/accept-invitation", json=body)
    assert (used.status_code, used.json()["error"]["code"]) == (400, "invalid_link")
    other = asyncio.run(new_org(database, "Globex"))
    taken = client.post(
        "/v1/agents/invitations", json={"email": "ANA@acme.example"}, headers=bearer(other.api_key)
    )
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "email_taken")


def test_accounts_password_policy_has_a_stable_code(client, org):
    """Too short or too long a password is weak_password, and the link stays usable."""
    token = invite(client, org, "ana@acme.example")
    for password, reason in (("short", "too_short"), ("x" * 257, "too_long")):
        answer = client.post(
            "/v1/auth/accept-invitation", json={"token": token, "name": "A", "password": password}
        )
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "weak_password"
        assert answer.json()["error"]["details"]["reason"] == reason
    ok = client.post(
        "/v1/auth/accept-invitation", json={"token": token, "name": "A", "password": PASSWORD}
    )
    assert ok.status_code == 201


def test_accounts_wrong_email_or_password_look_the_same(client, org):
    """An unknown email and a wrong password get the same answer."""
    join(client, org, "ana@acme.example")
    wrong = client.post("/v1/auth/sign-in", json={"email": "ana@acme.example", "password": "x"})
    unknown = client.post("/v1/auth/sign-in", json={"email": "bob@acme.example", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"] == unknown.json()["error"]
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert "chatgate_session" not in client.cookies


def test_accounts_wrong_passwords_lock_the_account(client, org):
    """After the allowed wrong passwords the account is locked: even the right one gets 429."""
    join(client, org, "ana@acme.example")
    for _ in range(3):
        wrong = client.post(
            "/v1/auth/sign-in",
            json={"email": "ana@acme.example", "password": "wrong password"},
            headers={"X-Forwarded-For": "1.2.3.4"},
        )
        assert wrong.status_code == 401
    locked = client.post(
        "/v1/auth/sign-in", json={"email": "ana@acme.example", "password": PASSWORD}
    )
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "sign_in_locked"
    assert locked.json()["error"]["details"] == {"scope": "account", "reason": "locked"}
    assert 800 < int(locked.headers["retry-after"]) <= 900
    assert "chatgate_session" not in client.cookies


def test_accounts_wrong_passwords_from_one_address_lock_it(client, org):
    """Wrong passwords over many emails from one address lock that address."""
    join(client, org, "ana@acme.example")
    for n in range(5):
        wrong = client.post(
            "/v1/auth/sign-in", json={"email": f"guess{n}@acme.example", "password": "nope"}
        )
        assert wrong.status_code == 401
    locked = client.post(
        "/v1/auth/sign-in", json={"email": "ana@acme.example", "password": PASSWORD}
    )
    assert locked.status_code == 429
    assert locked.json()["error"]["details"] == {"scope": "address", "reason": "locked"}


def test_accounts_reset_link_sets_a_new_password_and_ends_sessions(client, org):
    """An admin's reset link sets a new password once; the old password and sessions end."""
    agent = join(client, org, "ana@acme.example")
    sign_in(client, "ana@acme.example")
    old_session = client.cookies["chatgate_session"]
    client.cookies.clear()
    link = client.post(f"/v1/agents/{agent['id']}/password-reset", headers=bearer(org.api_key))
    assert link.status_code == 201, link.text
    token = link.json()["token"]
    assert link.json()["reset_url"] == f"http://testserver/app/reset#token={token}"
    new_password = "a brand new passphrase"
    done = client.post("/v1/auth/reset-password", json={"token": token, "password": new_password})
    assert done.status_code == 200, done.text
    again = client.post("/v1/auth/reset-password", json={"token": token, "password": new_password})
    assert again.json()["error"]["code"] == "invalid_link"
    assert (
        client.get("/v1/auth/me", headers={"Cookie": f"chatgate_session={old_session}"}).status_code
        == 401
    )
    client.cookies.clear()
    old = client.post("/v1/auth/sign-in", json={"email": "ana@acme.example", "password": PASSWORD})
    assert old.status_code == 401
    sign_in(client, "ana@acme.example", new_password)


def test_accounts_reset_link_gives_an_existing_agent_a_sign_in(client, org):
    """An agent created without a password (POST /v1/agents) signs in after a reset link."""
    created = client.post(
        "/v1/agents", json={"name": "Bob", "email": "Bob@Acme.example"}, headers=bearer(org.api_key)
    ).json()
    assert created["role"] == "agent"
    link = client.post(f"/v1/agents/{created['id']}/password-reset", headers=bearer(org.api_key))
    token = link.json()["token"]
    client.post("/v1/auth/reset-password", json={"token": token, "password": PASSWORD})
    assert sign_in(client, "bob@acme.example")["agent"]["id"] == created["id"]


def test_accounts_csrf_refusals_and_bearer_unaffected(client, org):
    """A cookie change without the CSRF header, with a wrong one, or from another origin is
    csrf_failed; reads need none; a bearer request is unaffected by any of it."""
    join(client, org, "ana@acme.example", role="admin")
    sign_in(client, "ana@acme.example")
    body = {"name": "Site"}
    missing = client.post("/v1/widgets", json=body)
    assert (missing.status_code, missing.json()["error"]["code"]) == (403, "csrf_failed")
    wrong = client.post("/v1/widgets", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.json()["error"]["code"] == "csrf_failed"
    cross = client.post(
        "/v1/widgets", json=body, headers={**csrf(client), "Origin": "https://evil.example"}
    )
    assert (cross.status_code, cross.json()["error"]["code"]) == (403, "csrf_failed")
    referer = client.post(
        "/v1/widgets", json=body, headers={**csrf(client), "Referer": "https://evil.example/x"}
    )
    assert referer.json()["error"]["code"] == "csrf_failed"
    # A cross-origin form post: urlencoded body, the cookie, no header.
    form = client.post(
        "/v1/widgets",
        content=b"name=Site",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "https://evil.example",
        },
    )
    assert (form.status_code, form.json()["error"]["code"]) == (403, "csrf_failed")
    assert client.get("/v1/widgets").status_code == 200
    same = client.post(
        "/v1/widgets", json=body, headers={**csrf(client), "Origin": "http://testserver"}
    )
    assert same.status_code == 201, same.text
    with_key = client.post(
        "/v1/widgets", json=body, headers={**bearer(org.api_key), "Origin": "https://evil.example"}
    )
    assert with_key.status_code == 201


def test_accounts_sign_in_from_another_origin_is_refused(client, org):
    """A browser on another origin cannot sign anyone in (login CSRF)."""
    join(client, org, "ana@acme.example")
    answer = client.post(
        "/v1/auth/sign-in",
        json={"email": "ana@acme.example", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "csrf_failed")
    assert "chatgate_session" not in client.cookies


def test_accounts_roles_admin_and_agent(client, org):
    """An admin agent administers the org; an agent gets 403 there but works conversations."""
    join(client, org, "boss@acme.example", role="admin")
    join(client, org, "ana@acme.example")
    sign_in(client, "boss@acme.example")
    assert client.get("/v1/agents").status_code == 200
    created = client.post(
        "/v1/agents/invitations", json={"email": "new@acme.example"}, headers=csrf(client)
    )
    assert created.status_code == 201
    client.cookies.clear()
    sign_in(client, "ana@acme.example")
    for method, path in (("GET", "/v1/agents"), ("GET", "/v1/widgets"), ("GET", "/v1/api-keys")):
        refused = client.request(method, path)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    refused = client.post(
        "/v1/agents/invitations", json={"email": "x@acme.example"}, headers=csrf(client)
    )
    assert refused.status_code == 403
    started = client.post(
        "/v1/conversations", json={"contact": {"name": "Vi"}}, headers=csrf(client)
    )
    assert started.status_code == 201, started.text


def test_accounts_promoted_agent_becomes_admin_at_once(client, org):
    """PATCH role admin takes effect on the agent's next request of its session."""
    agent = join(client, org, "ana@acme.example")
    sign_in(client, "ana@acme.example")
    assert client.get("/v1/widgets").status_code == 403
    promoted = client.patch(
        f"/v1/agents/{agent['id']}", json={"role": "admin"}, headers=bearer(org.api_key)
    )
    assert promoted.json()["role"] == "admin"
    assert client.get("/v1/widgets").status_code == 200


def test_accounts_disabled_agent_cannot_sign_in_and_its_session_stops(client, org):
    """Disabling an agent stops its session and refuses its sign-in."""
    agent = join(client, org, "ana@acme.example")
    sign_in(client, "ana@acme.example")
    disabled = client.patch(
        f"/v1/agents/{agent['id']}", json={"status": "disabled"}, headers=bearer(org.api_key)
    )
    assert disabled.status_code == 200
    assert client.get("/v1/auth/me").status_code == 403
    client.cookies.clear()
    refused = client.post(
        "/v1/auth/sign-in", json={"email": "ana@acme.example", "password": PASSWORD}
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    client.patch(
        f"/v1/agents/{agent['id']}", json={"status": "active"}, headers=bearer(org.api_key)
    )
    sign_in(client, "ana@acme.example")


async def test_accounts_socket_token_from_the_session_works_on_the_socket(settings, database):
    """A signed-in agent mints a socket token that opens /ws as itself, with its role, and
    answers as an agent; without a session no token is minted."""
    org = await new_org(database, "Acme")
    with live_server(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            token = (
                await http.post(
                    "/v1/agents/invitations",
                    json={"email": "ana@acme.example"},
                    headers=bearer(org.api_key),
                )
            ).json()["token"]
            agent = (
                await http.post(
                    "/v1/auth/accept-invitation",
                    json={"token": token, "name": "Ana", "password": PASSWORD},
                )
            ).json()
            signed = await http.post(
                "/v1/auth/sign-in", json={"email": "ana@acme.example", "password": PASSWORD}
            )
            assert signed.status_code == 200
            headers = {"X-CSRF-Token": http.cookies["chatgate_csrf"]}
            minted = await http.post("/v1/auth/socket-token", headers=headers)
            assert minted.status_code == 201, minted.text
            started = await http.post(
                "/v1/conversations",
                json={"contact": {"name": "Vi"}},
                headers=bearer(org.api_key),
            )
            conversation = started.json()["id"]
            socket = await SocketClient.open(url)
            try:
                hello = await socket.hello(minted.json()["token"])
                assert hello["principal"]["kind"] == "agent"
                assert hello["principal"]["role"] == "agent"
                await socket.call("subscribe", inbox=True)
                await socket.call(
                    "conversation.update", conversation_id=conversation, status="agent_requested"
                )
                sent = await socket.call(
                    "message.send", conversation_id=conversation, content="Hello from Ana"
                )
                assert sent["sender_id"] == agent["id"]
                # Disabling the agent closes the socket its session's token opened.
                await http.patch(
                    f"/v1/agents/{agent['id']}",
                    json={"status": "disabled"},
                    headers=bearer(org.api_key),
                )
                assert await socket.wait_closed() == 4003
            finally:
                await socket.aclose()
            http.cookies.clear()
            refused = await http.post("/v1/auth/socket-token", headers=bearer(org.api_key))
            assert refused.status_code == 403


@pytest.fixture
def redis_server(redis_binaries: None) -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.mark.redis
@pytest.mark.postgres
async def test_accounts_lock_holds_on_every_gateway_through_redis(
    redis_server: RedisServer, postgres_url: str
):
    """Wrong passwords spread over two gateways sharing Redis lock the account on both; a
    session made on one works on the other, and signing out there ends it everywhere."""
    settings = Settings(
        database_url=postgres_url,
        secret_key="test-secret-key-of-decent-length!",
        redis_url=redis_server.url,
        sign_in_max_failures=3,
    )
    org = await new_org(postgres_url, "Acme")
    with (
        live_server(create_app(settings)) as first,
        live_server(create_app(settings)) as second,
    ):
        async with httpx.AsyncClient(base_url=first) as one, httpx.AsyncClient() as two:
            invited = await one.post(
                "/v1/agents/invitations",
                json={"email": "ana@acme.example", "role": "admin"},
                headers=bearer(org.api_key),
            )
            accept = {"token": invited.json()["token"], "name": "Ana", "password": PASSWORD}
            assert (await one.post("/v1/auth/accept-invitation", json=accept)).status_code == 201
            signed = await one.post(
                "/v1/auth/sign-in", json={"email": "ana@acme.example", "password": PASSWORD}
            )
            assert signed.status_code == 200
            cookies = {"Cookie": f"chatgate_session={one.cookies['chatgate_session']}"}
            me = await two.get(f"{second}/v1/auth/me", headers=cookies)
            assert me.json()["agent"]["role"] == "admin"
            for n in range(3):
                wrong = await (one if n % 2 else two).post(
                    f"{first if n % 2 else second}/v1/auth/sign-in",
                    json={"email": "ana@acme.example", "password": "wrong password"},
                )
                assert wrong.status_code == 401
            for base in (first, second):
                locked = await two.post(
                    f"{base}/v1/auth/sign-in",
                    json={"email": "ana@acme.example", "password": PASSWORD},
                )
                assert locked.status_code == 429
                assert locked.json()["error"]["details"]["reason"] == "locked"
            csrf = {
                **cookies,
                "Cookie": cookies["Cookie"] + "; chatgate_csrf=" + me.json()["csrf_token"],
            }
            out = await two.post(
                f"{second}/v1/auth/sign-out",
                json={},
                headers={**csrf, "X-CSRF-Token": me.json()["csrf_token"]},
            )
            assert out.status_code == 200, out.text
            assert (await one.get("/v1/auth/me")).status_code == 401
