"""Webhooks end to end: the gateway on a real uvicorn (or as real processes) delivering to a
real HTTP receiver; every delivery verified with the ``standardwebhooks`` package."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.processes import gateway_process
from tests.receiver import Receiver, receiver
from tests.support import api, eventually, new_org, timeout

pytestmark = pytest.mark.e2e

FAST = "0,0.2,0.2,0.2,2"


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The e2e server (``tests/e2e/conftest.py``), sending to local receivers, retrying fast."""
    return settings.replace(
        webhook_allowed_hosts="127.0.0.1",
        webhook_retry_schedule=FAST,
        webhook_poll_interval=0.1,
        webhook_timeout=2,
    )


async def endpoint(http: httpx.AsyncClient, key: str, url: str, **fields: Any) -> Any:
    return await api(http, "POST", "/v1/webhooks", key, json={"url": url, **fields})


async def test_webhooks_every_event_type_arrives_signed(
    http: httpx.AsyncClient, org: OrgCredentials, hooks: Receiver
) -> None:
    """A conversation's whole life reaches the receiver: every event type, each verified by
    standardwebhooks, carrying org, conversation, seq and occurred_at; a tampered body or a
    wrong secret does not verify."""
    key = org.api_key
    hook = await endpoint(http, key, hooks.url + "/events")
    secret = hook["secret"]
    assert secret.startswith("whsec_") and hook["status"] == "active"
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    visitor = session["token"]
    conversation = await api(http, "POST", "/v1/conversations", visitor, json={})
    cid = conversation["id"]
    path = f"/v1/conversations/{cid}"
    await api(http, "POST", f"{path}/messages", visitor, json={"content": "hi"})
    await api(http, "PATCH", path, visitor, json={"status": "agent_requested"})
    await api(http, "POST", f"{path}/messages", key, json={"content": "hello, human here"})
    await api(http, "PATCH", path, key, json={"status": "resolved"})
    await api(http, "PATCH", path, key, json={"status": "open"})
    await api(http, "POST", f"{path}/end", key, json={})
    expected = {
        "conversation.created",
        "conversation.updated",
        "conversation.escalated",
        "conversation.taken_over",
        "conversation.resolved",
        "conversation.ended",
        "message.created",
    }
    await eventually(lambda: {r.json["type"] for r in hooks.requests} >= expected, 10)
    last_seq = (await api(http, "GET", path, key))["last_seq"]
    await eventually(lambda: max(r.json["seq"] for r in hooks.requests) == last_seq, 10)
    seen: dict[str, int] = {}
    for received in hooks.requests:
        body = received.verified(secret)
        assert body["id"] == received.webhook_id
        assert (body["org_id"], body["conversation_id"]) == (org.org_id, cid)
        assert body["occurred_at"].endswith("Z")
        seen[body["type"]] = body["seq"]
        tampered = received.body.replace(b'"seq"', b'"seQ"')
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(tampered, received.headers)
    assert seen["conversation.created"] == 0
    assert seen["conversation.ended"] == last_seq
    escalated = next(r.json for r in hooks.requests if r.json["type"] == "conversation.escalated")
    assert escalated["data"]["changes"]["status"] == ["bot_active", "agent_requested"]
    ids = [r.webhook_id for r in hooks.requests]
    assert len(ids) == len(set(ids)), "each event is delivered once to a healthy receiver"
    other = (await endpoint(http, key, hooks.url + "/other"))["secret"]
    with pytest.raises(WebhookVerificationError):
        hooks.requests[0].verified(other)


async def test_webhooks_failing_three_times_then_accepted_keeps_one_id(
    http: httpx.AsyncClient, org: OrgCredentials, hooks: Receiver
) -> None:
    """500, 503, a timeout-free 429 with Retry-After, then 200: four attempts of one
    delivery, all with the same webhook-id, recorded in its attempt log."""
    hook = await endpoint(http, org.api_key, hooks.url, event_types=["message.created"])
    hooks.answer(500, 503, (429, {"Retry-After": "1"}))
    conversation = await api(http, "POST", "/v1/conversations", org.api_key, json={})
    await api(
        http,
        "POST",
        f"/v1/conversations/{conversation['id']}/messages",
        org.api_key,
        json={"content": "deliver me", "role": "bot"},
    )
    await eventually(lambda: hooks.accepted(), 10)
    assert [r.answered for r in hooks.requests] == [500, 503, 429, 200]
    assert len({r.webhook_id for r in hooks.requests}) == 1
    for received in hooks.requests:
        assert received.verified(hook["secret"])["data"]["message"]["content"] == "deliver me"
    assert hooks.requests[3].at - hooks.requests[2].at >= 0.9, "Retry-After: 1 was honoured"
    # The receiver has answered; the gateway records the attempt once it has the answer.
    async with asyncio.timeout(timeout(10)):
        while True:
            page = await api(http, "GET", f"/v1/webhooks/{hook['id']}/deliveries", org.api_key)
            (delivery,) = page["data"]
            if delivery["status"] != "pending":
                break
            await asyncio.sleep(0.05)
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 4)
    assert delivery["webhook_id"] == hooks.requests[0].webhook_id
    detail = await api(
        http, "GET", f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}", org.api_key
    )
    assert [a["status_code"] for a in detail["attempts"]] == [500, 503, 429, 200]


async def test_webhooks_dead_letter_pauses_then_resume_and_replay(
    http: httpx.AsyncClient, org: OrgCredentials, hooks: Receiver
) -> None:
    """A receiver that fails every attempt: the delivery goes dead and the endpoint is paused
    with a reason; later events wait (recorded, not sent); resuming sends them; replaying
    the dead one sends it again with its original webhook-id."""
    key = org.api_key
    hook = await endpoint(http, key, hooks.url, event_types=["message.created"])
    hooks.status = 500
    conversation = await api(http, "POST", "/v1/conversations", key, json={})
    messages = f"/v1/conversations/{conversation['id']}/messages"
    await api(http, "POST", messages, key, json={"content": "first", "role": "bot"})

    async def endpoint_state() -> Any:
        return await api(http, "GET", f"/v1/webhooks/{hook['id']}", key)

    for _ in range(int(timeout(100))):
        state = await endpoint_state()
        if state["status"] == "paused":
            break
        await asyncio.sleep(0.1)
    assert state["status"] == "paused", state
    assert "failed all 5 attempts" in state["paused_reason"]
    assert len(hooks.requests) == 5 and len({r.webhook_id for r in hooks.requests}) == 1
    dead_id = hooks.requests[0].webhook_id
    await api(http, "POST", messages, key, json={"content": "second", "role": "bot"})
    await asyncio.sleep(0.5)
    assert len(hooks.requests) == 5, "a paused endpoint is not sent to"
    hooks.status = 200
    resumed = await api(http, "PATCH", f"/v1/webhooks/{hook['id']}", key, json={"status": "active"})
    assert (resumed["status"], resumed["paused_reason"]) == ("active", None)
    await eventually(lambda: len(hooks.accepted()) == 1, 10)
    assert hooks.accepted()[0].json["data"]["message"]["content"] == "second"
    replay = await api(
        http,
        "POST",
        f"/v1/webhooks/{hook['id']}/replay",
        key,
        json={"since": "2020-01-01T00:00:00Z"},
    )
    assert replay == {"replayed": 1}
    await eventually(lambda: len(hooks.accepted()) == 2, 10)
    again = hooks.accepted()[1]
    assert again.webhook_id == dead_id
    assert again.verified(hook["secret"])["data"]["message"]["content"] == "first"


async def test_webhooks_secret_rotation_signs_with_both_during_grace(
    http: httpx.AsyncClient, org: OrgCredentials, hooks: Receiver
) -> None:
    key = org.api_key
    hook = await endpoint(http, key, hooks.url, event_types=["conversation.created"])
    rotated = await api(
        http, "POST", f"/v1/webhooks/{hook['id']}/rotate-secret", key, json={"grace_seconds": 60}
    )
    assert rotated["secret"] != hook["secret"]
    shown = await api(http, "GET", f"/v1/webhooks/{hook['id']}", key)
    assert shown["secret"] is None, "a secret is shown only when created or rotated"
    await api(http, "POST", "/v1/conversations", key, json={})
    (received,) = await eventually(lambda: hooks.accepted(), 10)
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    received.verified(hook["secret"])
    received.verified(rotated["secret"])


async def test_webhooks_api_channel_delivers_outgoing_messages_in_order(
    http: httpx.AsyncClient, org: OrgCredentials, hooks: Receiver
) -> None:
    """An ``api`` conversation's agent messages reach the channel endpoint in order, signed;
    the visitor's own messages do not."""
    key = org.api_key
    channel = await endpoint(http, key, hooks.url + "/channel", kind="channel")
    conversation = await api(http, "POST", "/v1/conversations", key, json={"channel": "api"})
    assert conversation["channel"] == "api"
    messages = f"/v1/conversations/{conversation['id']}/messages"
    await api(
        http,
        "PATCH",
        f"/v1/conversations/{conversation['id']}",
        key,
        json={"status": "agent_requested"},
    )
    await api(http, "POST", messages, key, json={"content": "from the visitor", "role": "visitor"})
    for text in ("one", "two", "three"):
        await api(http, "POST", messages, key, json={"content": text})
    await eventually(lambda: len(hooks.accepted()) == 4, 10)
    bodies = [r.verified(channel["secret"]) for r in hooks.accepted()]
    assert {b["type"] for b in bodies} == {"channel.message"}
    assert [b["data"]["message"]["content"] for b in bodies][1:] == ["one", "two", "three"]
    assert bodies[0]["data"]["message"]["role"] == "system"


async def test_webhooks_refuse_private_urls_and_other_orgs(
    http: httpx.AsyncClient, org: OrgCredentials, database_url: str
) -> None:
    """A URL on a private address is refused with its reason; another org sees 404."""
    response = await http.post(
        "/v1/webhooks",
        json={"url": "http://10.0.0.7/hook"},
        headers={"Authorization": f"Bearer {org.api_key}"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["reason"] == "unsafe_address"
    hook = await endpoint(http, org.api_key, "https://hooks.example/in")
    other = await new_org(database_url, "Globex")
    response = await http.get(
        f"/v1/webhooks/{hook['id']}", headers={"Authorization": f"Bearer {other.api_key}"}
    )
    assert response.status_code == 404


# -- real processes -----------------------------------------------------------------------


def process_env(**extra: str) -> dict[str, str]:
    return {
        "CHATGATE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "CHATGATE_WEBHOOK_POLL_INTERVAL": "0.2",
        "CHATGATE_WEBHOOK_TIMEOUT": "2",
        "CHATGATE_SECRET_KEY": "test-secret-key-of-decent-length!",
        **extra,
    }


async def test_webhooks_a_killed_gateway_delivers_after_restart(
    tmp_path: Path, hooks: Receiver
) -> None:
    """Deliveries still pending when the process is SIGKILLed go out once it is back."""
    database = f"sqlite:///{tmp_path}/chatgate.db"
    # Two quick tries, then 5 s apart: a delivery is dead only after its fifth try, some 15 s
    # after its second, so a slow machine cannot kill one before the gateway is killed.
    env = process_env(CHATGATE_WEBHOOK_RETRY_SCHEDULE="0,0.2,5,5,5")
    org = await new_org(database, "Acme")
    hooks.status = 503
    async with gateway_process(tmp_path / "first", "--database-url", database, env=env) as gw:
        async with httpx.AsyncClient(base_url=gw.url, timeout=timeout(30)) as http:
            hook = await endpoint(http, org.api_key, hooks.url, event_types=["message.created"])
            conversation = await api(http, "POST", "/v1/conversations", org.api_key, json={})
            for i in range(5):
                await api(
                    http,
                    "POST",
                    f"/v1/conversations/{conversation['id']}/messages",
                    org.api_key,
                    json={"content": f"m{i}", "role": "bot"},
                )
            await eventually(lambda: len(hooks.requests) >= 10, 10)  # two failed tries each
        gw.kill()  # the third tries are due about 5 s after the second
        await gw.process.wait()
    assert not hooks.accepted()
    async with (
        gateway_process(tmp_path / "second", "--database-url", database, env=env) as gw,
        httpx.AsyncClient(base_url=gw.url, timeout=timeout(30)) as http,
    ):
        # Dead rows only, and the receiver refuses until the answer: on a start slower than the
        # 5 s to the third tries, a pending one may be tried (and refused) before this call,
        # but none may have been given up on by the kill.
        replayed = await api(
            http,
            "POST",
            f"/v1/webhooks/{hook['id']}/replay",
            org.api_key,
            json={"since": "2020-01-01T00:00:00Z"},
        )
        assert replayed == {"replayed": 0}, "no delivery was dead"
        hooks.status = 200
        await eventually(lambda: len(hooks.accepted()) >= 5, 20)
    accepted = hooks.accepted()
    contents = sorted(r.verified(hook["secret"])["data"]["message"]["content"] for r in accepted)
    assert contents == [f"m{i}" for i in range(5)]


@pytest.mark.postgres
@pytest.mark.redis
async def test_webhooks_thousand_events_across_two_processes(
    tmp_path: Path, postgres_url: str, shared_redis_url: str, hooks: Receiver
) -> None:
    """1,000 messages sent through two gateway processes on one PostgreSQL: each reaches the
    receiver at least once, verified, and de-duplicating by webhook-id leaves exactly one
    delivery per message."""
    org = await new_org(postgres_url, "Acme")
    args = ("--database-url", postgres_url, "--redis-url", shared_redis_url)
    env = process_env(CHATGATE_ORG_REQUESTS_PER_MINUTE="0")
    async with (
        gateway_process(tmp_path / "a", *args, env=env) as a,
        gateway_process(tmp_path / "b", *args, env=env) as b,
        httpx.AsyncClient(base_url=a.url, timeout=timeout(60)) as first,
        httpx.AsyncClient(base_url=b.url, timeout=timeout(60)) as second,
    ):
        hook = await endpoint(first, org.api_key, hooks.url, event_types=["message.created"])
        conversations = [
            (await api(first, "POST", "/v1/conversations", org.api_key, json={}))["id"]
            for _ in range(10)
        ]
        sent: list[str] = []
        sem = asyncio.Semaphore(20)

        async def send(i: int) -> None:
            http = (first, second)[i % 2]
            cid = conversations[i % 10]
            async with sem:
                message = await api(
                    http,
                    "POST",
                    f"/v1/conversations/{cid}/messages",
                    org.api_key,
                    json={"content": f"m{i}", "role": "bot"},
                )
            sent.append(message["id"])

        await asyncio.gather(*(send(i) for i in range(1000)))
        await eventually(lambda: len({r.webhook_id for r in hooks.accepted()}) >= 1000, 60)
    unique: dict[str, Any] = {}
    for received in hooks.accepted():
        unique.setdefault(received.webhook_id, received.verified(hook["secret"]))
    delivered = Counter(body["data"]["message"]["id"] for body in unique.values())
    assert set(delivered) == set(sent) and len(sent) == 1000
    assert set(delivered.values()) == {1}, "one webhook-id per message"
