"""Several gateway processes on PostgreSQL and Redis (standalone nodes or a cluster):
everyone sees every event, in order, whatever node they are on."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx2 as httpx
import pytest

from bench.services import RedisClusterProcesses, RedisServer
from gateway.handlers.orgs import OrgCredentials
from tests.processes import GatewayProcess, gateway_process, run_chatgate
from tests.support import SocketClient, api, new_org

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(params=["standalone", "cluster"])
def redis_url(
    request: pytest.FixtureRequest,
) -> str:
    if request.param == "standalone":
        nodes: list[RedisServer] = request.getfixturevalue("redis_nodes")
        return ",".join(node.url for node in nodes)
    cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
    return cluster.url


@pytest.fixture
async def gateways(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> AsyncIterator[list[GatewayProcess]]:
    """Three `chatgate serve` processes sharing one database and one Redis."""
    args = ("--database-url", postgres_url, "--redis-url", redis_url)
    async with AsyncExitStack() as stack:
        nodes = await asyncio.gather(
            *(stack.enter_async_context(gateway_process(tmp_path / n, *args)) for n in "abc")
        )
        yield list(nodes)


@pytest.fixture
async def org(gateways: list[GatewayProcess], postgres_url: str) -> OrgCredentials:
    return await new_org(postgres_url, "Acme")


async def metric(http: httpx.AsyncClient, name: str) -> float:
    text = (await http.get("/metrics")).text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_nodes_everyone_sees_every_event_in_order(
    gateways: list[GatewayProcess], org: OrgCredentials
) -> None:
    """Visitor on node A, agents on B and C, inbox tabs on all three: every conversation
    event reaches every follower in seq order, and every inbox sees every update."""
    a, b, c = gateways
    async with (
        httpx.AsyncClient(base_url=a.url) as http_a,
        httpx.AsyncClient(base_url=b.url) as http_b,
    ):
        session = await api(http_a, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
        visitor_token = session["token"]
        issued = await api(
            http_b, "POST", "/v1/tokens", org.api_key, json={"agent_id": org.agent_id}
        )
        agent_token = issued["token"]

        inboxes = []
        for node in gateways:
            inbox = await SocketClient.open(node.url)
            await inbox.hello(agent_token)
            await inbox.call("subscribe", inbox=True)
            inboxes.append(inbox)

        cid = (await api(http_a, "POST", "/v1/conversations", visitor_token, json={}))["id"]
        visitor = await SocketClient.open(a.url)
        await visitor.hello(visitor_token)
        await visitor.call("subscribe", conversation_id=cid)
        agents = []
        for node in (b, c):
            agent = await SocketClient.open(node.url, codec="msgpack")
            await agent.hello(agent_token)
            await agent.call("subscribe", conversation_id=cid)
            agents.append(agent)

        await visitor.call("message.send", conversation_id=cid, content="hello from A")
        await api(http_b, "PATCH", f"/v1/conversations/{cid}", org.api_key,
                  json={"status": "agent_requested"})  # fmt: skip
        await agents[1].call("message.send", conversation_id=cid, content="agent on C")
        for n in range(5):
            await api(http_b, "POST", f"/v1/conversations/{cid}/messages", visitor_token,
                      json={"content": f"rest via B {n}"})  # fmt: skip
        await agents[0].call("conversation.update", conversation_id=cid, status="resolved")

        expected = 11  # 1 + updated + takeover (updated, marker, reply) + 5 + resolved
        streams = [await client.wait_events(expected) for client in (visitor, *agents)]
        for stream in streams:
            assert [e["seq"] for e in stream] == list(range(1, expected + 1))
            assert [e["event"] for e in stream] == [e["event"] for e in streams[0]]
        assert streams[0][3]["data"]["content"] == "A team member has joined the conversation."

        for inbox in inboxes:
            updates = await inbox.wait_events(3, name="conversation.updated")
            assert [u["data"]["changes"]["status"][1] for u in updates] == [
                "agent_requested", "open", "resolved",
            ]  # fmt: skip
            assert [e["event"] for e in inbox.events][0] == "conversation.created"
        for client in (*inboxes, visitor, *agents):
            await client.aclose()


async def test_nodes_concurrent_writers_on_two_nodes_share_one_sequence(
    gateways: list[GatewayProcess], org: OrgCredentials
) -> None:
    """100 sends at once, half through node A and half through node B, get seqs 1..100;
    a follower on node C receives all of them in order."""
    a, b, c = gateways
    async with (
        httpx.AsyncClient(base_url=a.url) as http_a,
        httpx.AsyncClient(base_url=b.url) as http_b,
    ):
        cid = (await api(http_a, "POST", "/v1/conversations", org.api_key, json={}))["id"]
        token = (await api(http_a, "POST", "/v1/tokens", org.api_key, json={"kind": "bot"}))[
            "token"
        ]
        follower = await SocketClient.open(c.url)
        await follower.hello(token)
        await follower.call("subscribe", conversation_id=cid)

        async def send(http: httpx.AsyncClient, n: int) -> int:
            body = {"content": f"m{n}", "role": "visitor"}
            sent = await api(http, "POST", f"/v1/conversations/{cid}/messages", org.api_key,
                             json=body)  # fmt: skip
            return int(sent["seq"])

        seqs = await asyncio.gather(*(send(http_a if n % 2 else http_b, n) for n in range(100)))
        assert sorted(seqs) == list(range(1, 101))
        events = await follower.wait_events(100)
        assert [e["seq"] for e in events] == list(range(1, 101))
        await follower.aclose()


async def test_nodes_a_node_without_members_receives_no_room_traffic(
    gateways: list[GatewayProcess], org: OrgCredentials
) -> None:
    """Interest-based routing: node C, with nobody in the room, is handed none of the
    room's messages, while nodes A and B (with members) get each one."""
    a, b, c = gateways
    async with AsyncExitStack() as stack:
        https = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=n.url)) for n in gateways
        ]
        cid = (await api(https[0], "POST", "/v1/conversations", org.api_key, json={}))["id"]
        token = (await api(https[0], "POST", "/v1/tokens", org.api_key, json={"kind": "bot"}))[
            "token"
        ]
        members = []
        for node in (a, b):
            member = await SocketClient.open(node.url)
            await member.hello(token)
            await member.call("subscribe", conversation_id=cid)
            members.append(member)
        before = [await metric(h, "chatgate_broker_messages_total") for h in https]
        for n in range(20):
            await api(https[2], "POST", f"/v1/conversations/{cid}/messages", org.api_key,
                      json={"content": f"m{n}", "role": "visitor"})  # fmt: skip
        for member in members:
            await member.wait_events(20)
        after = [await metric(h, "chatgate_broker_messages_total") for h in https]
        received = [round(x - y) for x, y in zip(after, before, strict=True)]
        # A and B each receive the 20 messages (plus nothing else of this room); C none.
        assert received[0] >= 20 and received[1] >= 20
        assert received[2] == 0
        for member in members:
            await member.aclose()


async def test_nodes_refuse_a_second_process_without_redis(tmp_path: Path) -> None:
    """Two processes on one database with the in-process broker: the second refuses to
    start with one line on stderr that says why, and exit status 2."""
    database = ("--database-url", f"sqlite:///{tmp_path}/shared.db")
    async with (
        gateway_process(tmp_path / "first", *database),
        gateway_process(tmp_path / "second", *database, ready=False) as second,
    ):
        code = await asyncio.wait_for(second.process.wait(), 30)
        assert code == 2
        [refusal] = [line for line in second.stderr.splitlines() if "error" in line.lower()]
        assert refusal.startswith("chatgate: error: another chatgate process")
        assert "in-process broker cannot carry events between them" in refusal
        assert "Traceback" not in second.stderr
    code, _, stderr = await run_chatgate("serve", "--workers", "3", *database)
    assert code == 2 and "needs a Redis broker" in stderr


async def test_nodes_workers_share_one_port(tmp_path: Path, redis_nodes: list[RedisServer]) -> None:
    """`serve --workers 2` runs two processes behind one port that carry events between
    each other through Redis."""
    args = ("--workers", "2", "--database-url", f"sqlite:///{tmp_path}/w.db",
            "--redis-url", redis_nodes[0].url)  # fmt: skip
    async with gateway_process(tmp_path / "workers", *args) as served:
        org = await new_org(f"sqlite:///{tmp_path}/w.db", "Acme")
        nodes: dict[str, SocketClient] = {}
        token = ""
        async with httpx.AsyncClient(base_url=served.url) as http:
            token = (await api(http, "POST", "/v1/tokens", org.api_key, json={"kind": "bot"}))[
                "token"
            ]
            cid = (await api(http, "POST", "/v1/conversations", org.api_key, json={}))["id"]

            async def two_workers() -> bool:
                client = await SocketClient.open(served.url)
                hello = await client.hello(token)
                if hello["node"] in nodes:
                    await client.aclose()
                else:
                    nodes[hello["node"]] = client
                return len(nodes) == 2

            async with asyncio.timeout(30):
                while not await two_workers():
                    pass
            first, second = nodes.values()
            for client in (first, second):
                await client.call("subscribe", conversation_id=cid)
            await first.call("message.send", conversation_id=cid, content="across workers")
            for client in (first, second):
                [event] = await client.wait_events(1)
                assert event["data"]["content"] == "across workers"
                await client.aclose()
