"""Presence and collision warnings across two gateway processes sharing PostgreSQL and Redis:
an agent on one node is seen online, viewing and typing from the other; when its node dies,
it goes offline on the other within the presence TTL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from bench.services import RedisClusterProcesses, RedisServer
from gateway.handlers.orgs import OrgCredentials
from tests.processes import GatewayProcess, gateway_process
from tests.support import SocketClient, api, new_org

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

#: Short enough for a test to see a dead node's agents expire, long enough that a loaded
#: machine stalling a node for a few seconds does not expire a live one.
FAST = {"CHATGATE_PRESENCE_TTL": "8", "CHATGATE_PRESENCE_HEARTBEAT": "0.5"}


@pytest.fixture(params=["standalone", "cluster"])
def redis_url(request: pytest.FixtureRequest) -> str:
    if request.param == "standalone":
        nodes: list[RedisServer] = request.getfixturevalue("redis_nodes")
        return ",".join(node.url for node in nodes)
    cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
    return cluster.url


@pytest.fixture
async def gateways(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> AsyncIterator[list[GatewayProcess]]:
    args = ("--database-url", postgres_url, "--redis-url", redis_url)
    async with AsyncExitStack() as stack:
        nodes = await asyncio.gather(
            *(
                stack.enter_async_context(gateway_process(tmp_path / n, *args, env=FAST))
                for n in "ab"
            )
        )
        yield list(nodes)


@pytest.fixture
async def org(gateways: list[GatewayProcess], postgres_url: str) -> OrgCredentials:
    return await new_org(postgres_url, "Acme")


def of(socket: SocketClient, event: str) -> list[dict[str, Any]]:
    return [e["data"] for e in socket.events if e["event"] == event]


async def test_presence_and_collisions_across_nodes(
    gateways: list[GatewayProcess], org: OrgCredentials
) -> None:
    a, b = gateways
    async with (
        httpx.AsyncClient(base_url=a.url) as http_a,
        httpx.AsyncClient(base_url=b.url) as http_b,
    ):
        ana = org.agent_id
        ana_name = (await api(http_a, "GET", f"/v1/agents/{ana}", org.api_key))["name"]
        bo = (await api(http_a, "POST", "/v1/agents", org.api_key, json={"name": "Bo"}))["id"]
        tokens = {}
        for agent in (ana, bo):
            issued = await api(http_a, "POST", "/v1/tokens", org.api_key, json={"agent_id": agent})
            tokens[agent] = issued["token"]
        session = await api(http_a, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
        cid = (await api(http_a, "POST", "/v1/conversations", session["token"], json={}))["id"]

        visitor = await SocketClient.open(a.url)
        ana_tab = await SocketClient.open(a.url)
        bo_tab = await SocketClient.open(b.url)
        try:
            await visitor.hello(session["token"])
            await visitor.call("subscribe", conversation_id=cid)
            await bo_tab.hello(tokens[bo])
            await bo_tab.call("subscribe", inbox=True)
            await bo_tab.call("subscribe", conversation_id=cid)
            # Bo's dashboard is online too (its node sweeps the org for the agents of nodes
            # that died).
            await bo_tab.call("presence", status="online")
            await ana_tab.hello(tokens[ana])
            await ana_tab.call("presence", status="online")
            await bo_tab.wait_for(
                lambda: {"agent_id": ana, "status": "online"} in of(bo_tab, "presence")
            )
            listed = await api(http_b, "GET", "/v1/agents/presence", org.api_key)
            assert {p["agent_id"]: p["status"] for p in listed["data"]} == {
                ana: "online",
                bo: "online",
            }

            await ana_tab.call("subscribe", conversation_id=cid)
            await ana_tab.call("viewing", conversation_id=cid, on=True)
            await bo_tab.wait_for(lambda: of(bo_tab, "viewing"))
            assert of(bo_tab, "viewing") == [{"agent_id": ana, "name": ana_name, "on": True}]
            viewers = await api(http_b, "GET", f"/v1/conversations/{cid}/viewers", org.api_key)
            assert viewers["data"] == [{"agent_id": ana, "name": ana_name}]
            await ana_tab.call("typing", conversation_id=cid, on=True)
            await bo_tab.wait_for(lambda: of(bo_tab, "typing"))
            assert of(bo_tab, "typing")[0]["name"] == ana_name
            await visitor.wait_for(lambda: of(visitor, "typing"))
            assert "name" not in of(visitor, "typing")[0] and of(visitor, "viewing") == []

            # Ana's node dies: nobody says goodbye, and yet she goes offline on node B.
            a.kill()
            await bo_tab.wait_for(
                lambda: {"agent_id": ana, "status": "offline"} in of(bo_tab, "presence"), 40
            )

            async def gone() -> bool:
                listed = await api(http_b, "GET", "/v1/agents/presence", org.api_key)
                viewers = await api(http_b, "GET", f"/v1/conversations/{cid}/viewers", org.api_key)
                return {p["agent_id"]: p["status"] for p in listed["data"]}[ana] == "offline" and (
                    viewers["data"] == []
                )

            # Her viewing expires with her presence (refreshed on the same tick, a moment
            # later): read until both are gone.
            for _ in range(100):
                if await gone():
                    break
                await asyncio.sleep(0.1)
            assert await gone()
            # Bo, on the living node, stays online.
            assert [p for p in of(bo_tab, "presence") if p["agent_id"] == bo] == [
                {"agent_id": bo, "status": "online"}
            ]
        finally:
            for socket in (visitor, ana_tab, bo_tab):
                await socket.aclose()
