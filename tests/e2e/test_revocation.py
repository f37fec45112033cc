"""Revocation across gateway processes: a key revoked, or an agent disabled, through node A
refuses its tokens and closes its sockets on node B within the documented window."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest

from bench.services import RedisServer
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.processes import GatewayProcess, gateway_process, run_chatgate
from tests.support import SocketClient, api, bearer, new_org, timeout

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

DEFAULTS = Settings()
#: What docs/api.md promises (the cache window, the socket check), plus room for a slow
#: machine: a deadline, never a measured time.
WINDOW = DEFAULTS.api_key_cache_seconds + DEFAULTS.revocation_check_interval + 5


@pytest.fixture
async def nodes(
    tmp_path: Path, postgres_url: str, redis_nodes: list[RedisServer]
) -> AsyncIterator[list[GatewayProcess]]:
    """Two `chatgate serve` processes sharing one PostgreSQL database and one Redis."""
    args = ("--database-url", postgres_url, "--redis-url", redis_nodes[0].url)
    async with AsyncExitStack() as stack:
        started = await asyncio.gather(
            *(stack.enter_async_context(gateway_process(tmp_path / n, *args)) for n in "ab")
        )
        yield list(started)


@pytest.fixture
async def org(nodes: list[GatewayProcess], postgres_url: str) -> OrgCredentials:
    return await new_org(postgres_url, "Acme")


async def answered(http: httpx.AsyncClient, token: str, status: int) -> None:
    """Wait, up to the window, until this node answers ``status`` to ``token`` (while it
    answers the other of 200 and that)."""
    deadline = asyncio.get_running_loop().time() + timeout(WINDOW)
    while True:
        response = await http.get("/v1/conversations", headers=bearer(token))
        if response.status_code == status:
            return
        assert response.status_code in (200, 401, 403), response.text
        assert asyncio.get_running_loop().time() < deadline, f"still {response.status_code}"
        await asyncio.sleep(0.1)


async def inbox_socket(node: GatewayProcess, token: str) -> SocketClient:
    socket = await SocketClient.open(node.url)
    await socket.hello(token)
    await socket.call("subscribe", inbox=True)
    return socket


async def test_revocation_key_revoked_on_a_closes_socket_and_refuses_token_on_b(
    nodes: list[GatewayProcess], org: OrgCredentials
) -> None:
    """Key K revoked through node A: the socket on node B that said hello with an agent
    token minted from K is closed with 4001, B refuses that token on REST (401), and the
    token cannot be renewed on either node."""
    a, b = nodes
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=timeout(30)) as http_a,
        httpx.AsyncClient(base_url=b.url, timeout=timeout(30)) as http_b,
    ):
        created = await api(http_a, "POST", "/v1/api-keys", org.api_key, json={"name": "K"})
        key_id, secret = created["api_key"]["id"], created["secret"]
        token = (await api(http_a, "POST", "/v1/tokens", secret, json={"agent_id": org.agent_id}))[
            "token"
        ]
        socket = await inbox_socket(b, token)
        assert (await http_b.get("/v1/conversations", headers=bearer(token))).status_code == 200

        await api(http_a, "DELETE", f"/v1/api-keys/{key_id}", org.api_key)
        assert await socket.wait_closed(WINDOW) == 4001
        await answered(http_b, token, 401)
        for http in (http_a, http_b):
            renewal = await http.post("/v1/tokens", json={}, headers=bearer(token))
            assert renewal.status_code == 401, renewal.text
        await socket.aclose()


async def test_revocation_agent_disabled_on_a_closes_socket_and_refuses_token_on_b(
    nodes: list[GatewayProcess], org: OrgCredentials
) -> None:
    """An agent disabled through node A: its inbox socket on node B is closed with 4003 and
    B refuses its token on REST (403); enabled again through A, B accepts it again."""
    a, b = nodes
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=timeout(30)) as http_a,
        httpx.AsyncClient(base_url=b.url, timeout=timeout(30)) as http_b,
    ):
        token = (
            await api(http_a, "POST", "/v1/tokens", org.api_key, json={"agent_id": org.agent_id})
        )["token"]
        socket = await inbox_socket(b, token)
        path = f"/v1/agents/{org.agent_id}"

        await api(http_a, "PATCH", path, org.api_key, json={"status": "disabled"})
        assert await socket.wait_closed(WINDOW) == 4003
        await answered(http_b, token, 403)

        await api(http_a, "PATCH", path, org.api_key, json={"status": "active"})
        await answered(http_b, token, 200)
        await socket.aclose()


async def test_revocation_cli_disable_closes_sockets_on_every_node(
    nodes: list[GatewayProcess], org: OrgCredentials, postgres_url: str
) -> None:
    """`chatgate agents disable` (no gateway involved) closes the agent's sockets on both
    nodes with 4003; `agents list` shows it disabled; `agents enable` lets it back in."""
    a, b = nodes
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=timeout(30)) as http_a,
        httpx.AsyncClient(base_url=b.url, timeout=timeout(30)) as http_b,
    ):
        token = (
            await api(http_a, "POST", "/v1/tokens", org.api_key, json={"agent_id": org.agent_id})
        )["token"]
        sockets = [await inbox_socket(node, token) for node in nodes]
        where = ("--org", org.org_id, "--database-url", postgres_url)
        code, stdout, stderr = await run_chatgate("agents", "disable", org.agent_id, *where)
        assert code == 0, stderr
        assert [await s.wait_closed(WINDOW) for s in sockets] == [4003, 4003]
        code, stdout, _ = await run_chatgate("agents", "list", "--json", *where)
        assert [(a["id"], a["status"]) for a in orjson.loads(stdout)] == [
            (org.agent_id, "disabled")
        ]
        code, _, stderr = await run_chatgate("agents", "enable", org.agent_id, *where)
        assert code == 0, stderr
        await answered(http_b, token, 200)
        welcome = await inbox_socket(b, token)
        await welcome.aclose()
        code, _, stderr = await run_chatgate("agents", "delete", str(uuid.uuid4()), *where)
        assert code == 1 and "no agent" in stderr
        for socket in sockets:
            await socket.aclose()
