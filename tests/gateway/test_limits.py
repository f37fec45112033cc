"""Rate limits through the gateway: per org across processes (in Redis), per widget for
visitors, and what happens when the limiter cannot be reached."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from bench.services import RedisServer
from gateway.app import create_app
from gateway.core.auth import Principal
from gateway.core.metrics import Metrics
from gateway.handlers.orgs import OrgCredentials
from gateway.limits.policy import Budgets, Limits
from gateway.limits.redis import RedisRateLimiter
from gateway.settings import Settings
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from tests.support import SocketClient, bearer, live_server, new_org, timeout

SECRET = "test-secret-key-of-decent-length!"


@pytest.fixture
def redis_server(redis_binaries: None) -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.mark.redis
@pytest.mark.postgres
async def test_org_limit_is_shared_by_two_gateways_through_redis(
    redis_server: RedisServer, postgres_url: str
) -> None:
    """Two gateway processes' worth of apps on one Redis: 30 requests spread over both, with
    a limit of 10 per minute, let exactly 10 through; each refusal carries Retry-After and the
    RateLimit headers."""
    settings = Settings(
        database_url=postgres_url,
        secret_key=SECRET,
        redis_url=redis_server.url,
        org_requests_per_minute=10,
    )
    with (
        live_server(create_app(settings)) as first,
        live_server(create_app(settings)) as second,
    ):
        org = await new_org(postgres_url, "Acme")
        async with httpx.AsyncClient(timeout=timeout(30)) as http:

            async def list_conversations(base: str) -> httpx.Response:
                return await http.get(f"{base}/v1/conversations", headers=bearer(org.api_key))

            responses = await asyncio.gather(
                *(list_conversations(first if i % 2 else second) for i in range(30))
            )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10 and statuses.count(429) == 20
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-limit"] == "10"
    assert refused.headers["ratelimit-remaining"] == "0"


def test_widget_messages_per_minute_limits_its_visitors(
    client: TestClient, org: OrgCredentials
) -> None:
    """A widget allowing 3 messages a minute: the visitors' 4th message is refused (scope
    widget) and stores nothing; the agent can still answer."""
    key = bearer(org.api_key)
    client.patch(f"/v1/widgets/{org.widget_id}", json={"messages_per_minute": 3}, headers=key)
    conversations = []
    for _ in range(2):
        session = client.post(f"/v1/widgets/{org.widget_id}/sessions", json={}).json()
        visitor = bearer(session["token"])
        cid = client.post("/v1/conversations", json={}, headers=visitor).json()["id"]
        conversations.append((cid, visitor))
    statuses = [
        client.post(
            f"/v1/conversations/{cid}/messages", json={"content": f"m{i}"}, headers=visitor
        ).status_code
        for i, (cid, visitor) in enumerate(conversations * 2)
    ]
    assert statuses == [201, 201, 201, 429]
    cid, visitor = conversations[1]
    refused = client.post(
        f"/v1/conversations/{cid}/messages", json={"content": "again"}, headers=visitor
    )
    assert refused.json()["error"]["details"]["scope"] == "widget"
    history = client.get(f"/v1/conversations/{cid}/messages", headers=visitor).json()
    assert [m["content"] for m in history["data"]] == ["m1"]
    client.patch(f"/v1/conversations/{cid}", json={"status": "agent_requested"}, headers=visitor)
    answered = client.post(
        f"/v1/conversations/{cid}/messages", json={"content": "agent here"}, headers=key
    )
    assert answered.status_code == 201


@pytest.mark.redis
async def test_limits_fail_open_when_redis_is_down(redis_server: RedisServer) -> None:
    """With its Redis gone, the limiter lets requests through and counts the failure; once
    Redis is back, limits apply again."""
    limiter = RedisRateLimiter(redis_server.url)
    await limiter.start()
    metrics = Metrics()
    limits = Limits(limiter, Budgets(org=1), metrics)
    who = Principal("api_key", "org-1", "key-1")
    try:
        redis_server.kill()
        for _ in range(3):
            await limits.admit(who, None)
        failures = metrics.registry.get_sample_value("chatgate_rate_limiter_errors_total")
        assert failures == 3
        redis_server.restart()
        await limits.admit(who, None)
        with pytest.raises(GatewayError) as refused:
            await limits.admit(who, None)
        assert refused.value.code is ErrorCode.RATE_LIMITED
    finally:
        await limiter.aclose()


async def test_socket_commands_count_but_subscribing_never_does(database_url: str) -> None:
    """Over the visitor's rate, a socket command gets a rate_limited reply and the socket stays
    open; subscribing (and so resuming) still works."""
    settings = Settings(database_url=database_url, secret_key=SECRET, visitor_requests_per_minute=4)
    with live_server(create_app(settings)) as server:
        org = await new_org(database_url, "Acme")
        async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as http:
            session = (await http.post(f"/v1/widgets/{org.widget_id}/sessions", json={})).json()
            token = session["token"]
            cid = (await http.post("/v1/conversations", json={}, headers=bearer(token))).json()[
                "id"
            ]
        socket = await SocketClient.open(server)
        await socket.hello(token)
        replies = [
            await socket.request("message.send", conversation_id=cid, content=f"m{i}")
            for i in range(5)
        ]
        refused = [r for r in replies if not r["ok"]]
        assert refused and all(r["error"]["code"] == "rate_limited" for r in refused)
        assert all(r["error"]["details"]["scope"] == "visitor" for r in refused)
        assert replies[0]["ok"]
        for _ in range(3):
            assert (await socket.request("subscribe", conversation_id=cid))["ok"]
        assert (await socket.request("ping"))["ok"]
        await socket.aclose()
