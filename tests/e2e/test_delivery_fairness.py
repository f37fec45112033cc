"""Deliveries under load, end to end (issue 14): a hanging receiver costs only itself, and a
FIFO queue moves as soon as its receiver answers, with no poll in the way. On SQLite and
PostgreSQL, in one process and across two.

No timing assertion decides these tests. The poll interval and the attempt timeout are set
long (30 s); a delivery that arrives well before them (the deadline of ``eventually``) could
only have gone out through the paths under test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.processes import gateway_process
from tests.receiver import Receiver, receiver
from tests.support import api, eventually, new_org, timeout

pytestmark = pytest.mark.e2e

#: Longer than any deadline below: an attempt that times out, or a poll, comes too late.
SLOW = 30.0
#: A failed attempt is retried 0.2 s later.
RETRIES = "0,0.2,0.2,0.2,2"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/chatgate.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(
        webhook_allowed_hosts="127.0.0.1",
        webhook_retry_schedule=RETRIES,
        live_agent_retry_schedule=RETRIES,
        webhook_poll_interval=timeout(SLOW),
        webhook_timeout=timeout(SLOW),
    )


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def platform() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def hanging(server: str) -> Iterator[Receiver]:
    """A receiver that never answers (until the test is over; set up after the server, so
    that it lets go of the server's attempts before the server stops)."""
    with receiver() as r:
        r.hang = True
        try:
            yield r
        finally:
            r.hang = False


async def endpoint(http: httpx.AsyncClient, key: str, url: str, **fields: Any) -> Any:
    return await api(
        http,
        "POST",
        "/v1/webhooks",
        key,
        json={"url": url, "event_types": ["message.created"]} | fields,
    )


async def send_messages(
    clients: list[httpx.AsyncClient], key: str, conversation_id: str, count: int
) -> None:
    """``count`` bot messages into one conversation, through each client in turn, 10 at once."""
    sem = asyncio.Semaphore(10)

    async def send(i: int) -> None:
        async with sem:
            await api(
                clients[i % len(clients)],
                "POST",
                f"/v1/conversations/{conversation_id}/messages",
                key,
                json={"content": f"m{i}", "role": "bot"},
            )

    await asyncio.gather(*(send(i) for i in range(count)))


async def hand_off(
    http: httpx.AsyncClient, org: OrgCredentials, platform: Receiver
) -> tuple[str, str]:
    """A visitor of ``org``'s widget asks for a human; the widget hands them to ``platform``
    at once. Returns the conversation id and the platform's secret."""
    widget = await api(
        http,
        "PATCH",
        f"/v1/widgets/{org.widget_id}",
        org.api_key,
        json={"live_agent_endpoint_url": platform.url + "/live", "live_agent_escalate_after": 0},
    )
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    conversation = await api(http, "POST", "/v1/conversations", session["token"], json={})
    path = f"/v1/conversations/{conversation['id']}"
    await api(http, "PATCH", path, session["token"], json={"status": "agent_requested"})
    return conversation["id"], widget["live_agent_secret"]


def handed_off(platform: Receiver, conversation_id: str) -> bool:
    return any(
        r.json["type"] == "INITIAL_CONVERSATION" and r.json["thread_id"] == conversation_id
        for r in platform.accepted()
    )


async def test_webhooks_a_hanging_receiver_costs_only_itself(
    http: httpx.AsyncClient,
    org: OrgCredentials,
    database_url: str,
    hanging: Receiver,
    hooks: Receiver,
    platform: Receiver,
) -> None:
    """With 200 deliveries waiting for an org's receiver that never answers, another org's
    webhook and live-agent hand-off, and the same org's own hand-off, go out while the hanging
    receiver still holds its first attempts (the cap per endpoint, 8), long before any of
    them times out."""
    stuck = await endpoint(http, org.api_key, hanging.url)
    conversation = await api(http, "POST", "/v1/conversations", org.api_key, json={})
    await send_messages([http], org.api_key, conversation["id"], 200)
    cap = Settings().webhook_endpoint_concurrency
    await eventually(lambda: hanging.held == cap, 10)

    other = await new_org(database_url, "Globex")
    other_hook = await endpoint(http, other.api_key, hooks.url)
    elsewhere = await api(http, "POST", "/v1/conversations", other.api_key, json={})
    await send_messages([http], other.api_key, elsewhere["id"], 1)
    other_visitor, _ = await hand_off(http, other, platform)
    own_visitor, _ = await hand_off(http, org, platform)

    (delivered,) = await eventually(lambda: hooks.accepted(), 10)
    assert delivered.verified(other_hook["secret"])["data"]["message"]["content"] == "m0"
    await eventually(lambda: handed_off(platform, other_visitor), 10)
    await eventually(lambda: handed_off(platform, own_visitor), 10)
    assert hanging.held == cap, "no attempt of the hanging receiver has timed out yet"
    assert not hanging.requests, "nor been answered"
    page = await api(
        http, "GET", f"/v1/webhooks/{stuck['id']}/deliveries?status=pending&limit=100", org.api_key
    )
    assert len(page["data"]) == 100, "the backlog is still waiting"


async def test_webhooks_fifo_queue_moves_as_soon_as_each_is_accepted(
    http: httpx.AsyncClient, org: OrgCredentials, hooks: Receiver
) -> None:
    """500 messages of one conversation reach a fifo endpoint, in order, each sent once the
    one before it was accepted; the first is refused once and retried when due. With a 30 s
    poll, they all arrive well before it."""
    hook = await endpoint(http, org.api_key, hooks.url, fifo=True)
    hooks.answer(500)
    conversation = await api(http, "POST", "/v1/conversations", org.api_key, json={})
    await send_messages([http], org.api_key, conversation["id"], 500)
    await eventually(lambda: len(hooks.accepted()) == 500, 20)
    bodies = [r.verified(hook["secret"]) for r in hooks.requests]
    assert [b["seq"] for b in bodies] == [1, *range(1, 501)], "in order, the first one twice"
    assert len({r.webhook_id for r in hooks.accepted()}) == 500


@pytest.mark.redis
async def test_webhooks_fifo_queue_moves_across_two_processes(
    tmp_path: Path, database_url: str, shared_redis_url: str, hooks: Receiver
) -> None:
    """Messages sent through two gateway processes into one conversation reach a fifo
    endpoint in order, the next as soon as the one before it is accepted, whichever process
    sent it; one refused on the way is retried when due. With a 30 s poll."""
    org = await new_org(database_url, "Acme")
    args = ("--database-url", database_url, "--redis-url", shared_redis_url)
    env = {
        "CHATGATE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "CHATGATE_WEBHOOK_POLL_INTERVAL": str(timeout(SLOW)),
        "CHATGATE_WEBHOOK_TIMEOUT": str(timeout(SLOW)),
        "CHATGATE_WEBHOOK_RETRY_SCHEDULE": RETRIES,
        "CHATGATE_SECRET_KEY": "test-secret-key-of-decent-length!",
        "CHATGATE_ORG_REQUESTS_PER_MINUTE": "0",
    }
    hooks.answer(*([200] * 100), 503)
    async with (
        gateway_process(tmp_path / "a", *args, env=env) as a,
        gateway_process(tmp_path / "b", *args, env=env) as b,
        httpx.AsyncClient(base_url=a.url, timeout=timeout(30)) as first,
        httpx.AsyncClient(base_url=b.url, timeout=timeout(30)) as second,
    ):
        hook = await endpoint(first, org.api_key, hooks.url, fifo=True)
        conversation = await api(first, "POST", "/v1/conversations", org.api_key, json={})
        await send_messages([first, second], org.api_key, conversation["id"], 300)
        await eventually(lambda: len(hooks.accepted()) == 300, 20)
    seqs = [r.verified(hook["secret"])["seq"] for r in hooks.requests]
    assert seqs == [*range(1, 102), *range(101, 301)], "in order, the 101st one twice"
