"""One timestamp form on every surface, end to end: REST bodies (and an idempotent replay),
socket replies and events in both codecs (live and replayed), webhook deliveries, what the
live-agent platform receives, and the Bland thread endpoint's answers. The dialects' other
answers are held to the same form by their golden files (``<timestamp>``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx2 as httpx
import pytest

from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from protocol.encoding import format_instant
from tests.instants import assert_wire_instants
from tests.receiver import Receiver, receiver
from tests.support import SocketClient, api, bearer, eventually, timeout

pytestmark = pytest.mark.e2e


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The e2e server (``tests/e2e/conftest.py``), sending to local receivers, retrying fast."""
    return settings.replace(
        webhook_allowed_hosts="127.0.0.1",
        webhook_retry_schedule="0,0.2,0.2",
        live_agent_retry_schedule="0,0.2,0.2",
        webhook_poll_interval=0.1,
        webhook_timeout=2,
    )


class Seen:
    """Every document checked, and the instant fields found in them (by key)."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.count = 0

    def check(self, document: Any) -> Any:
        found = assert_wire_instants(document)
        self.keys.update(path.rsplit(".", 1)[-1].split("[")[0] for path in found)
        self.count += len(found)
        return document


async def test_timestamps_rest_and_sockets_have_one_form(
    http: httpx.AsyncClient, server: str, org: OrgCredentials
) -> None:
    """A conversation's whole life seen through REST and through JSON and msgpack sockets,
    live and replayed on resume: every instant is YYYY-MM-DDTHH:MM:SS.mmmZ."""
    seen = Seen()
    key = org.api_key

    async def rest(method: str, path: str, credential: str, **kw: Any) -> Any:
        return seen.check(await api(http, method, path, credential, **kw))

    session = seen.check(await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={}))
    visitor = session["token"]
    agent = (await rest("POST", "/v1/tokens", key, json={"agent_id": org.agent_id}))["token"]
    sockets = [
        await SocketClient.open(server, codec="json"),
        await SocketClient.open(server, codec="msgpack"),
    ]
    try:
        for socket in sockets:
            seen.check(await socket.hello(agent))
            seen.check(await socket.call("subscribe", inbox=True))
        cid = (await rest("POST", "/v1/conversations", visitor, json={}))["id"]
        for socket in sockets:
            seen.check(await socket.call("subscribe", conversation_id=cid))
        path = f"/v1/conversations/{cid}"
        idempotent = {**bearer(visitor), "Idempotency-Key": "k-1"}
        sent = await http.post(f"{path}/messages", headers=idempotent, json={"content": "hi"})
        replayed = await http.post(f"{path}/messages", headers=idempotent, json={"content": "hi"})
        assert replayed.headers["idempotent-replayed"] == "true"
        assert seen.check(replayed.json()) == seen.check(sent.json())
        await rest("PATCH", path, visitor, json={"status": "agent_requested"})
        seen.check(await sockets[0].call("message.send", conversation_id=cid, content="Ann here"))
        await rest("PATCH", path, key, json={"status": "resolved"})
        await rest("PATCH", path, key, json={"status": "open"})
        await rest("POST", f"{path}/end", key, json={})
        last_seq = (await rest("GET", path, key))["last_seq"]
        await rest("GET", "/v1/conversations", key)
        await rest("GET", f"{path}/messages", key)
        await rest("GET", "/v1/widgets", key)
        await rest("GET", "/v1/agents", key)
        await rest("POST", "/v1/api-keys", key, json={"name": "second"})
        await rest("GET", "/v1/api-keys", key)

        for socket in sockets:
            await socket.wait_for(
                lambda s=socket: any(
                    e.get("conversation_id") == cid and e["seq"] == last_seq for e in s.events
                )
            )
            for event in socket.events:
                seen.check(event)
        # Resuming replays the stored events (change rows included) from the store.
        for codec in ("json", "msgpack"):
            late = await SocketClient.open(server, codec=codec)
            try:
                await late.hello(agent, resume={cid: 0})
                events = await late.wait_events(last_seq)
                assert [e["seq"] for e in events] == list(range(1, last_seq + 1))
                for event in events:
                    seen.check(event)
            finally:
                await late.aclose()
    finally:
        for socket in sockets:
            await socket.aclose()
    assert {
        "created_at",
        "updated_at",
        "resolved_at",
        "ended_at",
        "first_response_at",
        "expires_at",
    } <= seen.keys
    assert seen.count > 100


async def test_timestamps_webhooks_and_live_agent_payloads_have_one_form(
    http: httpx.AsyncClient, org: OrgCredentials, hooks: Receiver
) -> None:
    """Webhook deliveries, the live-agent platform's posts, the Bland thread endpoint's answers
    and the delivery log: every instant is YYYY-MM-DDTHH:MM:SS.mmmZ; the platform's own
    created_at is kept verbatim in the message's metadata."""
    seen = Seen()
    key = org.api_key
    hook = seen.check(
        await api(http, "POST", "/v1/webhooks", key, json={"url": hooks.url + "/events"})
    )
    widget = seen.check(
        await api(
            http,
            "PATCH",
            f"/v1/widgets/{org.widget_id}",
            key,
            json={"live_agent_endpoint_url": hooks.url + "/live", "live_agent_escalate_after": 0},
        )
    )
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    visitor = session["token"]
    cid = (await api(http, "POST", "/v1/conversations", visitor, json={}))["id"]
    path = f"/v1/conversations/{cid}"
    await api(http, "POST", f"{path}/messages", visitor, json={"content": "my order is late"})
    await api(http, "PATCH", path, visitor, json={"status": "agent_requested"})
    await eventually(lambda: hooks.accepted("/live"), 10)

    thread = f"/v1/widget/{org.widget_id}/threads/{cid}/webhook"
    # The platform's own clock, in its own offset and precision: the message takes that time.
    sent = datetime.now(UTC) - timedelta(seconds=2)
    platform_time = sent.astimezone(timezone(timedelta(hours=2))).isoformat("T", "microseconds")
    reply = {
        "type": "MESSAGE",
        "content": "Sam here",
        "sender_id": "sam",
        "created_at": platform_time,
    }
    answered = await http.post(thread, json=reply, headers={"Authorization": key})
    assert answered.status_code == 200, answered.text
    seen.check(answered.json())
    assert answered.json()["data"]["created_at"] == format_instant(sent)
    ended = await http.post(
        thread, json={"type": "END_CONVERSATION"}, headers={"Authorization": key}
    )
    assert ended.status_code == 200, ended.text
    seen.check(ended.json())

    last_seq = (await api(http, "GET", path, key))["last_seq"]
    await eventually(lambda: any(r.json["seq"] == last_seq for r in hooks.accepted("/events")), 10)
    await eventually(
        lambda: any(r.json["type"] == "END_CONVERSATION" for r in hooks.accepted("/live")), 10
    )
    for received in hooks.accepted("/events"):
        seen.check(received.verified(hook["secret"]))
    for received in hooks.accepted("/live"):
        seen.check(received.verified(widget["live_agent_secret"]))
    messages = await api(http, "GET", f"{path}/messages", key)
    live = next(m for m in messages["data"] if m["role"] == "live_agent")
    assert live["created_at"] == format_instant(sent)
    assert "sent_at" not in live["metadata"]
    delivered = next(
        r.json["data"]["message"]
        for r in hooks.accepted("/events")
        if r.json["type"] == "message.created" and r.json["data"]["message"]["id"] == live["id"]
    )
    assert delivered["created_at"] == format_instant(sent)

    # The newest delivery may not be tried yet (an event after the last message), and a tried
    # one's attempt is stored only once the receiver has answered: read one with an attempt.
    deliveries_path = f"/v1/webhooks/{hook['id']}/deliveries"

    async def tried() -> Any:
        listed = seen.check(await api(http, "GET", deliveries_path, key))["data"]
        return next((d for d in listed if d["attempts"]), None)

    async with asyncio.timeout(timeout(10)):
        while (delivery := await tried()) is None:  # noqa: ASYNC110 - REST is all there is
            await asyncio.sleep(0.05)
    seen.check(await api(http, "GET", f"{deliveries_path}/{delivery['id']}", key))
    assert {
        "occurred_at",
        "created_at",
        "updated_at",
        "ended_at",
        "live_agent_handoff_at",
        "next_attempt_at",
        "finished_at",
        "at",
    } <= seen.keys
