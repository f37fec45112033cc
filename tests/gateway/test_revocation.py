"""Revocation: a revoked API key or a disabled or deleted agent takes its tokens and sockets
with it (one process here; tests/e2e/test_revocation.py runs two)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.core.auth import Principal, TokenSigner
from gateway.handlers.agents import delete_agent, set_agent_status
from gateway.handlers.orgs import OrgCredentials, create_org
from gateway.settings import Settings
from gateway.stores import open_store
from storage.base import Store
from storage.errors import StorageError
from storage.models import CredentialStanding, now
from storage.sqlite import SQLiteStore
from tests.support import SocketClient, api, bearer, eventually, live_server, new_org, timeout

SECRET = "test-secret-key-of-decent-length!"


def new_key(client: TestClient, org: OrgCredentials) -> tuple[str, str]:
    """A second API key of the org: (id, secret)."""
    created = client.post("/v1/api-keys", json={"name": "k"}, headers=bearer(org.api_key)).json()
    return created["api_key"]["id"], created["secret"]


def mint(client: TestClient, credential: str, **body: Any) -> Any:
    return client.post("/v1/tokens", json=body, headers=bearer(credential))


def status_of(client: TestClient, credential: str) -> int:
    return client.get("/v1/conversations", headers=bearer(credential)).status_code


# -- REST ---------------------------------------------------------------------------------


def test_revocation_revoked_key_refuses_its_tokens_on_the_next_request(
    client: TestClient, org: OrgCredentials
) -> None:
    """After DELETE /v1/api-keys/{id}, the agent and bot tokens minted with that key answer
    401 and cannot mint more; tokens of the org's other key keep working."""
    key_id, secret = new_key(client, org)
    agent = mint(client, secret, agent_id=org.agent_id).json()["token"]
    bot = mint(client, secret, kind="bot").json()["token"]
    unrelated = mint(client, org.api_key, agent_id=org.agent_id).json()["token"]
    assert status_of(client, agent) == status_of(client, bot) == 200

    revoked = client.delete(f"/v1/api-keys/{key_id}", headers=bearer(org.api_key))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None

    for token in (agent, bot, secret):
        refused = client.get("/v1/conversations", headers=bearer(token))
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "unauthorized"
    renewal = mint(client, agent)
    assert renewal.status_code == 401 and "revoked" in renewal.json()["error"]["message"]
    assert status_of(client, unrelated) == 200


def test_revocation_renewed_token_dies_with_its_key(
    client: TestClient, org: OrgCredentials
) -> None:
    """A token renewed by an agent token still derives from the original key: revoking that
    key refuses the renewed token too."""
    key_id, secret = new_key(client, org)
    first = mint(client, secret, agent_id=org.agent_id).json()["token"]
    renewed = mint(client, first)
    assert renewed.status_code == 201, renewed.text
    second = renewed.json()["token"]
    assert status_of(client, second) == 200
    client.delete(f"/v1/api-keys/{key_id}", headers=bearer(org.api_key))
    assert status_of(client, second) == 401
    assert mint(client, second).status_code == 401


def test_revocation_disabled_agent_is_refused_until_active_again(
    client: TestClient, org: OrgCredentials
) -> None:
    """PATCH status disabled: the agent's token answers 403, no new token is minted for it;
    PATCH status active: the same token works again."""
    token = mint(client, org.api_key, agent_id=org.agent_id).json()["token"]
    admin = bearer(org.api_key)
    disabled = client.patch(
        f"/v1/agents/{org.agent_id}", json={"status": "disabled"}, headers=admin
    )
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    refused = client.get("/v1/conversations", headers=bearer(token))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert "disabled" in refused.json()["error"]["message"]
    assert mint(client, org.api_key, agent_id=org.agent_id).status_code == 403
    assert mint(client, token).status_code == 403
    listed = client.get("/v1/agents", headers=admin).json()["data"]
    assert [(a["id"], a["status"]) for a in listed] == [(org.agent_id, "disabled")]

    active = client.patch(f"/v1/agents/{org.agent_id}", json={"status": "active"}, headers=admin)
    assert active.json()["status"] == "active"
    assert status_of(client, token) == 200
    assert mint(client, token).status_code == 201


def test_revocation_deleted_agent_answers_not_found_and_keeps_its_messages(
    client: TestClient, org: OrgCredentials
) -> None:
    """DELETE /v1/agents/{id}: the agent is gone from get and list, its token answers 403,
    a second DELETE is 404, and its messages keep their sender id."""
    admin = bearer(org.api_key)
    token = mint(client, org.api_key, agent_id=org.agent_id).json()["token"]
    cid = client.post("/v1/conversations", json={}, headers=admin).json()["id"]
    client.patch(f"/v1/conversations/{cid}", json={"status": "agent_requested"}, headers=admin)
    sent = client.post(
        f"/v1/conversations/{cid}/messages", json={"content": "hi"}, headers=bearer(token)
    )
    assert sent.status_code == 201, sent.text

    deleted = client.delete(f"/v1/agents/{org.agent_id}", headers=admin)
    assert deleted.json() == {"id": org.agent_id, "deleted": True}
    gone = client.get(f"/v1/agents/{org.agent_id}", headers=admin)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert client.get("/v1/agents", headers=admin).json()["data"] == []
    assert (
        client.patch(
            f"/v1/agents/{org.agent_id}", json={"status": "active"}, headers=admin
        ).status_code
        == 404
    )
    assert client.delete(f"/v1/agents/{org.agent_id}", headers=admin).status_code == 404
    refused = client.get("/v1/conversations", headers=bearer(token))
    assert refused.status_code == 403 and "deleted" in refused.json()["error"]["message"]
    assert mint(client, org.api_key, agent_id=org.agent_id).status_code == 404
    messages = client.get(f"/v1/conversations/{cid}/messages", headers=admin).json()["data"]
    assert any(m["sender_id"] == org.agent_id and m["content"] == "hi" for m in messages)


def test_revocation_agent_changes_need_an_api_key(client: TestClient, org: OrgCredentials) -> None:
    """An agent token cannot disable or delete agents (403), itself included."""
    token = mint(client, org.api_key, agent_id=org.agent_id).json()["token"]
    own = f"/v1/agents/{org.agent_id}"
    assert client.patch(own, json={"status": "disabled"}, headers=bearer(token)).status_code == 403
    assert client.delete(own, headers=bearer(token)).status_code == 403
    assert client.get(own, headers=bearer(org.api_key)).json()["status"] == "active"


def test_revocation_token_without_key_claim_works_until_expiry_but_never_renews(
    client: TestClient, org: OrgCredentials, settings: Settings
) -> None:
    """A token minted before tokens carried their key is accepted until it expires (its
    agent still checked), but renewing it is refused: it cannot outlive its own expiry."""
    signer = TokenSigner(settings.secret_key)
    legacy, _ = signer.issue(
        Principal("agent", org.org_id, org.agent_id), timedelta(hours=1), now()
    )
    assert status_of(client, legacy) == 200
    renewal = mint(client, legacy)
    assert renewal.status_code == 403 and "API key" in renewal.json()["error"]["message"]
    client.patch(
        f"/v1/agents/{org.agent_id}", json={"status": "disabled"}, headers=bearer(org.api_key)
    )
    assert status_of(client, legacy) == 403


# -- sockets ------------------------------------------------------------------------------


@pytest.fixture
def fast_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key=SECRET)


@pytest.fixture
async def server(fast_settings: Settings) -> AsyncIterator[str]:
    with live_server(create_app(fast_settings)) as url:
        yield url


@pytest.fixture
async def http(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as client:
        yield client


@pytest.fixture
async def acme(server: str, database_url: str) -> OrgCredentials:
    return await new_org(database_url, "Acme")


async def staff_socket(server: str, token: str, *, inbox: bool = True) -> SocketClient:
    socket = await SocketClient.open(server)
    await socket.hello(token)
    if inbox:
        await socket.call("subscribe", inbox=True)
    return socket


async def test_revocation_sockets_of_a_revoked_key_close_with_4001(
    server: str, http: httpx.AsyncClient, acme: OrgCredentials
) -> None:
    """Revoking a key closes, at once, the sockets that said hello with it or with a token
    minted from it (4001); a socket of the org's other key stays open."""
    created = await api(http, "POST", "/v1/api-keys", acme.api_key, json={"name": "k"})
    key_id, secret = created["api_key"]["id"], created["secret"]
    agent = await api(http, "POST", "/v1/tokens", secret, json={"agent_id": acme.agent_id})
    other = await api(http, "POST", "/v1/tokens", acme.api_key, json={"kind": "bot"})
    by_key = await staff_socket(server, secret)
    by_token = await staff_socket(server, agent["token"])
    unrelated = await staff_socket(server, other["token"])

    await api(http, "DELETE", f"/v1/api-keys/{key_id}", acme.api_key)
    assert await by_key.wait_closed() == 4001
    assert await by_token.wait_closed() == 4001
    assert (await unrelated.call("ping")) == {"pong": True}
    for socket in (by_key, by_token, unrelated):
        await socket.aclose()


async def test_revocation_socket_of_a_disabled_agent_closes_with_4003(
    server: str, http: httpx.AsyncClient, acme: OrgCredentials
) -> None:
    """Disabling an agent closes its socket with 4003 and a new hello with its token is
    closed with 4003 too; once active again, the same token says hello."""
    token = (await api(http, "POST", "/v1/tokens", acme.api_key, json={"agent_id": acme.agent_id}))[
        "token"
    ]
    socket = await staff_socket(server, token)
    path = f"/v1/agents/{acme.agent_id}"
    await api(http, "PATCH", path, acme.api_key, json={"status": "disabled"})
    assert await socket.wait_closed() == 4003
    again = await SocketClient.open(server)
    await again.send({"op": "hello", "ref": 1, "token": token})
    assert await again.wait_closed() == 4003
    await api(http, "PATCH", path, acme.api_key, json={"status": "active"})
    welcome = await staff_socket(server, token)
    assert (await welcome.call("ping")) == {"pong": True}
    for client in (socket, again, welcome):
        await client.aclose()


async def test_revocation_change_made_without_the_gateway_closes_sockets(
    server: str, http: httpx.AsyncClient, acme: OrgCredentials, fast_settings: Settings
) -> None:
    """An agent disabled, and another deleted, straight in the database (what the CLI and
    other nodes do) lose their sockets within the check interval: 4003 both."""
    second = await api(http, "POST", "/v1/agents", acme.api_key, json={"name": "Bo"})
    tokens = [
        (await api(http, "POST", "/v1/tokens", acme.api_key, json={"agent_id": agent}))["token"]
        for agent in (acme.agent_id, second["id"])
    ]
    sockets = [await staff_socket(server, token) for token in tokens]
    store = open_store(fast_settings)
    await store.start()
    try:
        assert await set_agent_status(store, acme.org_id, acme.agent_id, "disabled") is not None
        assert await delete_agent(store, acme.org_id, second["id"])
    finally:
        await store.aclose()
    window = fast_settings.revocation_check_interval + 5
    assert [await s.wait_closed(window) for s in sockets] == [4003, 4003]
    for socket in sockets:
        await socket.aclose()


async def test_revocation_socket_command_after_revocation_elsewhere_closes_it(
    database_url: str,
) -> None:
    """With no cache and a check interval far away, the next command of a socket whose key
    was revoked elsewhere is not run: the socket is closed with 4001 instead."""
    settings = Settings(
        database_url=database_url,
        secret_key=SECRET,
        api_key_cache_seconds=0,
        revocation_check_interval=3600,
    )
    with live_server(create_app(settings)) as server:
        org = await new_org(database_url, "Acme")
        async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as http:
            token = (await api(http, "POST", "/v1/tokens", org.api_key, json={"kind": "bot"}))[
                "token"
            ]
            cid = (await api(http, "POST", "/v1/conversations", org.api_key, json={}))["id"]
        socket = await staff_socket(server, token, inbox=False)
        store = open_store(settings)
        await store.start()
        try:
            (key,) = await store.list_api_keys(org.org_id)
            await store.revoke_api_key(org.org_id, key.id, now())
        finally:
            await store.aclose()
        await socket.send(
            {"op": "message.send", "ref": "x", "conversation_id": cid, "content": "late"}
        )
        assert await socket.wait_closed() == 4001
        assert "x" not in socket.replies
        await socket.aclose()


class OutageStore(SQLiteStore):
    """A real SQLite store whose credential reads fail while ``down`` (a database outage)."""

    down = False
    reads = 0

    async def credential_standing(
        self, api_key_ids: Collection[str], agent_ids: Collection[str]
    ) -> CredentialStanding:
        self.reads += 1
        if self.down:
            raise StorageError("connection refused")
        return await super().credential_standing(api_key_ids, agent_ids)


async def test_revocation_check_survives_a_store_outage(tmp_path: Path) -> None:
    """While the database cannot be read, the check keeps retrying and closes nothing; once
    it is back, the socket of the agent disabled meanwhile is closed (4003)."""
    store: Store = OutageStore(tmp_path / "db.sqlite")
    await store.start()
    org = await create_org(store, "Acme")
    settings = Settings(
        database_url="sqlite:///unused.db", secret_key=SECRET, revocation_check_interval=0.05
    )
    try:
        with live_server(create_app(settings, store=store)) as server:
            async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as http:
                token = (
                    await api(
                        http, "POST", "/v1/tokens", org.api_key, json={"agent_id": org.agent_id}
                    )
                )["token"]
                socket = await staff_socket(server, token)
                assert isinstance(store, OutageStore)
                store.down = True
                before = store.reads
                await store.update_agent(org.org_id, org.agent_id, {"status": "disabled"})
                await eventually(lambda: store.reads >= before + 3, 10)
                assert (await socket.call("ping")) == {"pong": True}
                assert (await http.get("/healthz")).status_code == 200
                store.down = False
                assert await socket.wait_closed() == 4003
                await socket.aclose()
    finally:
        await store.aclose()
