"""Faults while messages flow: a gateway killed with SIGKILL, a Redis node restarted,
pub/sub connections killed. Clients reconnect and resume; afterwards every follower has
every acknowledged message, none twice, all in order."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx2 as httpx
import pytest

from bench.services import RedisClusterProcesses, RedisServer
from tests.processes import GatewayProcess, gateway_process
from tests.sequence import Follower, Sender
from tests.support import api, eventually, new_org

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

CONVERSATIONS = 8
MESSAGES = 2000  # in all, across the conversations
FOLLOWERS = 6


class Deployment:
    """Redis (standalone nodes or a cluster) and three gateways on one database."""

    def __init__(self, topology: str) -> None:
        self.topology = topology
        self.standalone: list[RedisServer] = []
        self.cluster: RedisClusterProcesses | None = None
        self.gateways: list[GatewayProcess] = []

    @property
    def redis_url(self) -> str:
        if self.cluster is not None:
            return self.cluster.url
        return ",".join(node.url for node in self.standalone)

    @property
    def redis_nodes(self) -> list[RedisServer]:
        return self.cluster.nodes if self.cluster is not None else self.standalone


@pytest.fixture
async def deployment(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str, redis_binaries: None
) -> AsyncIterator[Deployment]:
    topology = request.param
    deployment = Deployment(topology)
    if topology == "cluster":
        deployment.cluster = await asyncio.to_thread(RedisClusterProcesses(3).start)
    else:
        deployment.standalone = [await asyncio.to_thread(RedisServer().start) for _ in range(3)]
    args = ("--database-url", postgres_url, "--redis-url", deployment.redis_url)
    try:
        async with AsyncExitStack() as stack:
            deployment.gateways = list(
                await asyncio.gather(
                    *(stack.enter_async_context(gateway_process(tmp_path / n, *args))
                      for n in "abc")
                )
            )  # fmt: skip
            yield deployment
    finally:
        for node in deployment.redis_nodes:
            node.stop()


async def kill_gateway(deployment: Deployment) -> None:
    victim = deployment.gateways[2]
    victim.kill()
    await victim.process.wait()


async def restart_redis(deployment: Deployment) -> None:
    await asyncio.to_thread(deployment.redis_nodes[1].restart)


async def kill_pubsub(deployment: Deployment) -> None:
    for node in deployment.redis_nodes:
        await asyncio.to_thread(node.cli, "CLIENT", "KILL", "TYPE", "pubsub")


FAULTS: dict[str, Callable[[Deployment], Awaitable[None]]] = {
    "kill_gateway": kill_gateway,
    "restart_redis": restart_redis,
    "kill_pubsub": kill_pubsub,
}


@pytest.mark.parametrize(
    ("fault", "deployment"),
    [
        ("kill_gateway", "standalone"),
        ("restart_redis", "standalone"),
        ("kill_pubsub", "standalone"),
        ("kill_gateway", "cluster"),
        ("kill_pubsub", "cluster"),
    ],
    indirect=["deployment"],
)
async def test_faults_lose_nothing_acknowledged(
    deployment: Deployment, postgres_url: str, fault: str
) -> None:
    """0 acknowledged messages lost, 0 duplicates, 0 out of order, as followers see it
    after resuming."""
    urls = [g.url for g in deployment.gateways]
    org = await new_org(postgres_url, "Acme")
    async with AsyncExitStack() as stack:
        http = {
            url: await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=10))
            for url in urls
        }
        token = (await api(http[urls[0]], "POST", "/v1/tokens", org.api_key,
                           json={"kind": "bot"}))["token"]  # fmt: skip
        conversations = [
            (await api(http[urls[0]], "POST", "/v1/conversations", org.api_key, json={}))["id"]
            for _ in range(CONVERSATIONS)
        ]
        followers = [
            Follower(urls, token, conversations, binary=n % 2 == 1) for n in range(FOLLOWERS)
        ]
        for follower in followers:
            follower.start()
        senders = [Sender(urls, org.api_key, cid) for cid in conversations]
        per_conversation = MESSAGES // CONVERSATIONS
        flow = asyncio.gather(*(s.send(http, per_conversation) for s in senders))

        # Inject the fault mid-stream, once about a third of the messages are acknowledged.
        await eventually(lambda: sum(len(s.acked) for s in senders) >= MESSAGES // 3, 60)
        await FAULTS[fault](deployment)
        await asyncio.wait_for(flow, 120)

        live = urls[:2] if fault == "kill_gateway" else urls
        last_seqs = {}
        for cid in conversations:
            stored = await api(http[live[0]], "GET", f"/v1/conversations/{cid}", org.api_key)
            last_seqs[cid] = stored["last_seq"]
        assert sum(len(s.acked) for s in senders) == MESSAGES
        assert all(last_seqs[s.conversation_id] == per_conversation for s in senders)
        await asyncio.gather(*(f.caught_up(last_seqs, 60) for f in followers))
        for follower in followers:
            await follower.stop()

    for follower in followers:
        report = follower.report
        assert (report.duplicates, report.out_of_order, report.gaps) == (0, 0, 0), report
        for sender in senders:
            cid = sender.conversation_id
            assert report.received[cid] == list(range(1, per_conversation + 1))
            assert set(sender.acked) <= report.message_ids[cid], "an acknowledged message lost"
    if fault == "kill_gateway":
        assert sum(f.report.reconnects for f in followers) >= 1


async def test_faults_message_sent_while_redis_is_down_arrives_when_it_is_back(
    tmp_path: Path, postgres_url: str, redis_binaries: None
) -> None:
    """A message stored while the room's Redis node is down (its publish fails) still
    reaches the followers once the node is back, though nothing is sent after it: the
    gateways resync the room from storage on reconnect."""
    node = await asyncio.to_thread(RedisServer().start)
    args = ("--database-url", postgres_url, "--redis-url", node.url)
    try:
        async with (
            gateway_process(tmp_path / "a", *args) as a,
            gateway_process(tmp_path / "b", *args) as b,
            httpx.AsyncClient(base_url=a.url) as http,
        ):
            org = await new_org(postgres_url, "Acme")
            token = (await api(http, "POST", "/v1/tokens", org.api_key, json={"kind": "bot"}))[
                "token"
            ]
            cid = (await api(http, "POST", "/v1/conversations", org.api_key, json={}))["id"]
            followers = [Follower([url], token, [cid], binary=False) for url in (a.url, b.url)]
            for follower in followers:
                follower.start()
            await api(http, "POST", f"/v1/conversations/{cid}/messages", org.api_key,
                      json={"content": "before", "role": "visitor"})  # fmt: skip
            await asyncio.gather(*(f.caught_up({cid: 1}, 10) for f in followers))
            await asyncio.to_thread(node.kill)
            sent = await api(
                http,
                "POST",
                f"/v1/conversations/{cid}/messages",
                org.api_key,
                json={"content": "while Redis was down", "role": "visitor"},
            )
            await asyncio.to_thread(node.start)
            await asyncio.gather(*(f.caught_up({cid: sent["seq"]}, 20) for f in followers))
            for follower in followers:
                assert sent["id"] in follower.report.message_ids[cid]
                assert follower.report.reconnects == 0, "the sockets never noticed"
                await follower.stop()
    finally:
        node.stop()


async def test_faults_silent_redis_flips_readyz_within_3s(
    tmp_path: Path, postgres_url: str, redis_binaries: None
) -> None:
    """A Redis node that stops answering without closing anything (SIGSTOP) turns the
    gateway's /readyz to 503 within 3 s, and back to 200 once it answers again."""
    node = await asyncio.to_thread(RedisServer().start)
    args = ("--database-url", postgres_url, "--redis-url", node.url)
    try:
        async with (
            gateway_process(tmp_path / "a", *args) as gateway,
            httpx.AsyncClient(base_url=gateway.url, timeout=5) as http,
        ):
            assert (await http.get("/readyz")).status_code == 200
            assert node.process is not None
            os.kill(node.process.pid, signal.SIGSTOP)
            loop = asyncio.get_running_loop()
            stopped = loop.time()
            readiness: list[int] = []

            async def probe() -> bool:
                readiness.append((await http.get("/readyz")).status_code)
                return readiness[-1] == 503

            while not await probe():
                assert loop.time() - stopped < 3, "still ready 3 s after Redis went silent"
                await asyncio.sleep(0.05)
            body = (await http.get("/readyz")).json()
            assert body["checks"]["broker"] == "unavailable"
            os.kill(node.process.pid, signal.SIGCONT)
            resumed = loop.time()
            while (await http.get("/readyz")).status_code != 200:
                assert loop.time() - resumed < 15, "not ready again after Redis answered"
                await asyncio.sleep(0.05)
    finally:
        if node.process is not None and node.process.poll() is None:
            os.kill(node.process.pid, signal.SIGCONT)
        node.stop()
