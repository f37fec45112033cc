"""A budget per kind of caller: visitors per visitor and per address, new sessions per
address and per widget, staff and integrations per org; no caller spends another's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from bench.services import RedisServer
from gateway.app import create_app
from gateway.handlers.orgs import OrgCredentials
from gateway.limits.memory import MemoryRateLimiter
from gateway.settings import Settings
from tests.support import SocketClient, api, bearer, live_server, new_org, timeout

SECRET = "test-secret-key-of-decent-length!"
#: The peer of every request in the tests that set addresses through X-Forwarded-For.
PROXY = ("10.0.0.2", 40000)


@contextmanager
def gateway(
    database_url: str, peer: tuple[str, int] = ("testclient", 50000), **settings: Any
) -> Iterator[tuple[TestClient, OrgCredentials]]:
    """The app in process, its requests coming from ``peer``, and an org. Its limiter's clock
    stands still, so no budget refills while a test spends it, however slow the machine."""
    limiter = MemoryRateLimiter(clock=lambda: 1_000.0)
    app = create_app(
        Settings(database_url=database_url, secret_key=SECRET, **settings), limiter=limiter
    )
    with TestClient(app, raise_server_exceptions=False, client=peer) as client:
        yield client, asyncio.run(new_org(database_url, "Acme"))


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def open_session(client: TestClient, widget_id: str, **headers: str) -> Any:
    return client.post(f"/v1/widgets/{widget_id}/sessions", json={}, headers=headers)


def visitor(client: TestClient, widget_id: str, **headers: str) -> dict[str, str]:
    """A new visitor's credentials (and the same headers for its later requests)."""
    session = open_session(client, widget_id, **headers)
    assert session.status_code == 201, session.text
    return {**bearer(session.json()["token"]), **headers}


def scope_of(response: Any) -> str:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["error"]["code"] == "rate_limited"
    return str(body["error"]["details"]["scope"])


def test_budgets_abusive_visitor_leaves_the_org_key_and_agents_unaffected(
    database_url: str,
) -> None:
    """A visitor sending 110 messages with a budget of 20 is refused from the 20th request on
    (scope visitor, Retry-After and RateLimit headers), and none of it touches the org: its
    API key and an agent token still get the org's whole budget of 100 requests."""
    with gateway(database_url, org_requests_per_minute=100, visitor_requests_per_minute=20) as (
        client,
        org,
    ):
        abuser = visitor(client, org.widget_id)
        cid = client.post("/v1/conversations", json={}, headers=abuser).json()["id"]
        statuses = [
            client.post(
                f"/v1/conversations/{cid}/messages", json={"content": f"m{i}"}, headers=abuser
            ).status_code
            for i in range(110)
        ]
        assert statuses == [201] * 19 + [429] * 91
        refused = client.post(f"/v1/conversations/{cid}/messages", json={}, headers=abuser)
        assert scope_of(refused) == "visitor"
        assert "visitor" in refused.json()["error"]["message"]
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["ratelimit-limit"] == "20"
        assert refused.headers["ratelimit-remaining"] == "0"

        key = bearer(org.api_key)
        issued = client.post(
            "/v1/tokens", json={"kind": "agent", "agent_id": org.agent_id}, headers=key
        )
        agent = bearer(issued.json()["token"])
        served = [client.get("/v1/conversations", headers=key).status_code for _ in range(49)]
        served += [
            client.get(f"/v1/conversations/{cid}", headers=agent).status_code for _ in range(50)
        ]
        assert issued.status_code == 201 and served == [200] * 99
        assert scope_of(client.get("/v1/conversations", headers=key)) == "org"
        metrics = client.get("/metrics").text
        assert 'chatgate_rate_limited_total{scope="visitor"} 92.0' in metrics
        assert 'chatgate_rate_limited_total{scope="org"} 1.0' in metrics


async def test_budgets_abusive_visitor_on_a_socket_leaves_the_org_unaffected(
    database_url: str,
) -> None:
    """Over sockets too: a visitor's command frames past its budget get rate_limited replies
    (scope visitor) while an agent's socket commands and the API key's requests all succeed."""
    settings = Settings(
        database_url=database_url,
        secret_key=SECRET,
        org_requests_per_minute=30,
        visitor_requests_per_minute=5,
    )
    with live_server(create_app(settings)) as server:
        org = await new_org(database_url, "Acme")
        async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as http:
            session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
            cid = (await api(http, "POST", "/v1/conversations", session["token"], json={}))["id"]
            issued = await api(
                http,
                "POST",
                "/v1/tokens",
                org.api_key,
                json={"kind": "agent", "agent_id": org.agent_id},
            )
            abuser = await SocketClient.open(server)
            agent = await SocketClient.open(server)
            try:
                await abuser.hello(session["token"])
                await agent.hello(issued["token"])
                replies = [
                    await abuser.request("message.send", conversation_id=cid, content=f"m{i}")
                    for i in range(30)
                ]
                assert [r["ok"] for r in replies] == [True] * 4 + [False] * 26
                assert {r["error"]["details"]["scope"] for r in replies[4:]} == {"visitor"}
                typing = [
                    await agent.request("typing", conversation_id=cid, on=True) for _ in range(14)
                ]
                assert all(r["ok"] for r in typing)
                statuses = [
                    (await http.get("/v1/conversations", headers=bearer(org.api_key))).status_code
                    for _ in range(15)
                ]
                assert statuses == [200] * 15
            finally:
                await abuser.aclose()
                await agent.aclose()


def test_budgets_visitors_behind_one_address_share_its_budget(database_url: str) -> None:
    """Two visitors behind one address share its budget of 10 requests: past it both are
    refused (scope address), while a visitor from another address is served."""
    with gateway(
        database_url, PROXY, trusted_proxies="10.0.0.2", address_requests_per_minute=10
    ) as (client, org):
        office = from_address("198.51.100.1")
        first, second = (
            visitor(client, org.widget_id, **office),
            visitor(client, org.widget_id, **office),
        )
        conversations = [
            (client.post("/v1/conversations", json={}, headers=who).json()["id"], who)
            for who in (first, second)
        ]
        statuses = [
            client.get(f"/v1/conversations/{cid}", headers=who).status_code
            for cid, who in conversations * 4
        ]
        assert statuses == [200] * 6 + [429] * 2
        cid, who = conversations[0]
        refused = client.get(f"/v1/conversations/{cid}", headers=who)
        assert scope_of(refused) == "address"
        assert "address" in refused.json()["error"]["message"]
        elsewhere = visitor(client, org.widget_id, **from_address("198.51.100.2"))
        assert client.post("/v1/conversations", json={}, headers=elsewhere).status_code == 201


def test_budgets_ipv6_addresses_count_per_64(database_url: str) -> None:
    """IPv6 clients count per /64 (one host usually holds a whole /64): two addresses of one
    /64 share a budget, an address of the next /64 has its own."""
    with gateway(
        database_url, PROXY, trusted_proxies="10.0.0.2", address_requests_per_minute=2
    ) as (client, org):
        statuses = [
            open_session(client, org.widget_id, **from_address(address)).status_code
            for address in ("2001:db8:1:2::1", "2001:db8:1:2::abcd", "2001:db8:1:2:ffff::5")
        ]
        assert statuses == [201, 201, 429]
        assert (
            open_session(client, org.widget_id, **from_address("2001:db8:1:3::1")).status_code
            == 201
        )


def test_budgets_forwarded_for_is_ignored_from_an_untrusted_peer(database_url: str) -> None:
    """A client that is not a trusted proxy cannot dodge its address budget with a new
    X-Forwarded-For each time: every request counts against its own address."""
    with gateway(
        database_url,
        ("203.0.113.9", 40000),
        trusted_proxies="10.0.0.2",
        address_sessions_per_minute=3,
    ) as (client, org):
        refused = [
            open_session(client, org.widget_id, **from_address(f"198.51.100.{i}")) for i in range(5)
        ]
        assert [r.status_code for r in refused] == [201, 201, 201, 429, 429]
        assert scope_of(refused[-1]) == "address_sessions"


def test_budgets_forwarded_for_is_believed_from_a_trusted_proxy(database_url: str) -> None:
    """Behind a trusted proxy each client has its own budget, named by the entry the proxy
    appended; addresses a client writes to the left of it are not believed, and a chain of
    trusted proxies is walked to the first untrusted hop."""
    with gateway(
        database_url, PROXY, trusted_proxies="10.0.0.0/24", address_sessions_per_minute=2
    ) as (client, org):
        statuses = [
            open_session(client, org.widget_id, **from_address(f"198.51.100.{i}")).status_code
            for i in range(5)
            for _ in range(2)
        ]
        assert statuses == [201] * 10
        forged = [
            open_session(client, org.widget_id, **from_address(f"192.0.2.{i}, 198.51.100.99"))
            for i in range(3)
        ]
        assert [r.status_code for r in forged] == [201, 201, 429]
        chained = [
            open_session(client, org.widget_id, **from_address(hops)).status_code
            for hops in ("198.51.100.99, 10.0.0.3", "198.51.100.98, 10.0.0.3, 10.0.0.4")
        ]
        assert chained == [429, 201]


def test_budgets_new_sessions_are_limited_per_address_and_per_widget(database_url: str) -> None:
    """New anonymous sessions: 3 a minute per address (scope address_sessions), 5 a minute per
    widget whatever the address (scope widget_sessions); another widget still opens sessions,
    and a visitor renewing its own session is not a new one."""
    with gateway(
        database_url,
        PROXY,
        trusted_proxies="10.0.0.2",
        address_sessions_per_minute=3,
        widget_sessions_per_minute=5,
    ) as (client, org):
        first = from_address("198.51.100.1")
        opened = [open_session(client, org.widget_id, **first) for _ in range(4)]
        assert [r.status_code for r in opened] == [201, 201, 201, 429]
        assert scope_of(opened[-1]) == "address_sessions"
        second = from_address("198.51.100.2")
        opened = [open_session(client, org.widget_id, **second) for _ in range(3)]
        assert [r.status_code for r in opened] == [201, 201, 429]
        assert scope_of(opened[-1]) == "widget_sessions"
        assert "widget" in opened[-1].json()["error"]["message"]

        token = opened[0].json()["token"]
        renewed = open_session(client, org.widget_id, **bearer(token), **second)
        assert renewed.status_code == 201
        assert renewed.json()["contact"]["id"] == opened[0].json()["contact"]["id"]
        other = client.post(
            "/v1/widgets",
            json={"name": "Help", "allowed_origins": ["*"]},
            headers=bearer(org.api_key),
        ).json()["id"]
        assert open_session(client, other, **from_address("198.51.100.3")).status_code == 201


async def test_budgets_socket_counts_against_its_forwarded_address(database_url: str) -> None:
    """A socket's address is read when it connects, by the same rule as REST: behind a trusted
    proxy, a visitor socket shares its address's budget with that address's REST requests,
    while a socket from another address is served."""
    settings = Settings(
        database_url=database_url,
        secret_key=SECRET,
        trusted_proxies="127.0.0.1",
        address_requests_per_minute=4,
    )
    with live_server(create_app(settings)) as server:
        org = await new_org(database_url, "Acme")
        async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as http:
            sessions, conversations = [], []
            for address in ("198.51.100.1", "198.51.100.2"):
                headers = from_address(address)
                session = await api(
                    http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={}, headers=headers
                )
                sessions.append(session["token"])
                started = await api(
                    http, "POST", "/v1/conversations", session["token"], json={}, headers=headers
                )
                conversations.append(started["id"])
            sockets = [
                await SocketClient.open(server, additional_headers=from_address(address))
                for address in ("198.51.100.1", "198.51.100.2")
            ]
            try:
                replies = []
                for socket, token, cid in zip(sockets, sessions, conversations, strict=True):
                    await socket.hello(token)
                    replies.append(
                        [
                            await socket.request("typing", conversation_id=cid, on=True)
                            for _ in range(3)
                        ]
                    )
                assert [r["ok"] for r in replies[0]] == [True, True, False]
                assert replies[0][2]["error"]["details"]["scope"] == "address"
                assert [r["ok"] for r in replies[1]] == [True, True, False]
            finally:
                for socket in sockets:
                    await socket.aclose()


@pytest.mark.redis
@pytest.mark.postgres
async def test_budgets_are_shared_by_two_gateways_through_redis(
    redis_binaries: None, postgres_url: str
) -> None:
    """Two gateways on one Redis share a visitor's budget of 6: after it started a
    conversation, 12 requests spread over both get exactly 5 through (scope visitor), and the
    org's API key, on either gateway, is still served."""
    redis = RedisServer().start()
    try:
        settings = Settings(
            database_url=postgres_url,
            secret_key=SECRET,
            redis_url=redis.url,
            org_requests_per_minute=10,
            visitor_requests_per_minute=6,
        )
        with (
            live_server(create_app(settings)) as first,
            live_server(create_app(settings)) as second,
        ):
            org = await new_org(postgres_url, "Acme")
            async with httpx.AsyncClient(timeout=timeout(30)) as http:
                session = await api(
                    http, "POST", f"{first}/v1/widgets/{org.widget_id}/sessions", json={}
                )
                token = bearer(session["token"])
                cid = (await api(http, "POST", f"{second}/v1/conversations", session["token"]))[
                    "id"
                ]
                visitor = await asyncio.gather(
                    *(
                        http.get(f"{base}/v1/conversations/{cid}", headers=token)
                        for base in (first, second) * 6
                    )
                )
                key = bearer(org.api_key)
                staff = [
                    await http.get(f"{base}/v1/conversations", headers=key)
                    for base in (first, second) * 5
                ]
        statuses = [r.status_code for r in visitor]
        assert statuses.count(200) == 5 and statuses.count(429) == 7
        assert {scope_of(r) for r in visitor if r.status_code == 429} == {"visitor"}
        assert [r.status_code for r in staff] == [200] * 10
    finally:
        redis.stop()
