"""Escalation to an external live-agent platform, end to end: a fake platform (a real HTTP
server) receives signed ``INITIAL_CONVERSATION`` and ``MESSAGE`` posts and answers through the
Bland thread endpoint; the visitor's widget socket sees everything."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from gateway.core.lifecycle import FALLBACK_MARKERS
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.receiver import Receiver, receiver
from tests.support import SocketClient, api, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def platform() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The e2e server (``tests/e2e/conftest.py``), sending to a local platform, retrying fast."""
    return settings.replace(
        webhook_allowed_hosts="127.0.0.1",
        live_agent_retry_schedule="0,0.2,0.2",
        webhook_poll_interval=0.1,
        webhook_timeout=2,
    )


async def visitor_in_conversation(
    http: httpx.AsyncClient, server: str, org: OrgCredentials
) -> tuple[str, str, SocketClient]:
    """A visitor with a conversation, subscribed on the widget socket."""
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    token = session["token"]
    conversation = await api(http, "POST", "/v1/conversations", token, json={})
    socket = await SocketClient.open(server)
    await socket.hello(token)
    await socket.call("subscribe", conversation_id=conversation["id"])
    return token, conversation["id"], socket


async def configure(
    http: httpx.AsyncClient, org: OrgCredentials, platform: Receiver, **fields: Any
) -> Any:
    return await api(
        http,
        "PATCH",
        f"/v1/widgets/{org.widget_id}",
        org.api_key,
        json={"live_agent_endpoint_url": platform.url + "/live", **fields},
    )


async def test_escalation_platform_takes_over_answers_and_ends(
    http: httpx.AsyncClient, server: str, org: OrgCredentials, platform: Receiver
) -> None:
    widget = await configure(http, org, platform, live_agent_escalate_after=0)
    secret = widget["live_agent_secret"]
    assert secret.startswith("whsec_")
    token, cid, socket = await visitor_in_conversation(http, server, org)
    try:
        path = f"/v1/conversations/{cid}"
        await api(http, "POST", f"{path}/messages", token, json={"content": "my order is late"})
        await api(http, "PATCH", path, token, json={"status": "agent_requested"})
        (initial,) = await eventually(lambda: platform.accepted(), 10)
        body = initial.verified(secret)
        assert (body["type"], body["thread_id"], body["widget_id"]) == (
            "INITIAL_CONVERSATION",
            cid,
            org.widget_id,
        )
        assert [m["content"] for m in body["messages"]] == ["my order is late"]
        assert body["visitor"]["id"]
        conversation = await api(http, "GET", path, org.api_key)
        assert conversation["live_agent_handoff_at"] is not None
        await api(http, "POST", f"{path}/messages", token, json={"content": "anyone there?"})
        await eventually(lambda: len(platform.accepted()) == 2, 10)
        forwarded = platform.accepted()[1].verified(secret)
        assert (forwarded["type"], forwarded["message"]["content"]) == ("MESSAGE", "anyone there?")

        thread = f"/v1/widget/{org.widget_id}/threads/{cid}/webhook"
        reply = {"type": "MESSAGE", "content": "Hi, Sam from support here", "sender_id": "sam"}
        answered = await http.post(thread, json=reply, headers={"Authorization": org.api_key})
        assert answered.status_code == 200, answered.text
        await socket.wait_for(
            lambda: any(
                e["event"] == "new_message" and e["data"]["role"] == "live_agent"
                for e in socket.events
            )
        )
        live = next(e for e in socket.events if e["data"].get("role") == "live_agent")
        assert live["data"]["content"] == "Hi, Sam from support here"
        ended = await http.post(
            thread, json={"type": "END_CONVERSATION"}, headers={"Authorization": org.api_key}
        )
        assert ended.status_code == 200, ended.text
        await socket.wait_for(
            lambda: any(
                e["event"] == "conversation.updated"
                and e["data"]["changes"].get("status", [None, None])[1] == "closed"
                for e in socket.events
            )
        )
        await eventually(lambda: len(platform.accepted()) == 3, 10)
        assert platform.accepted()[2].verified(secret)["type"] == "END_CONVERSATION"
        seqs = [e["seq"] for e in socket.events if e.get("seq")]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "no gap on the socket"
    finally:
        await socket.aclose()


async def test_escalation_times_out_back_to_the_bot(
    http: httpx.AsyncClient, server: str, org: OrgCredentials, platform: Receiver
) -> None:
    """The platform accepts but no live agent answers in time: back to the bot, and the
    visitor reads why."""
    await configure(http, org, platform, live_agent_timeout=1, live_agent_fallback="bot")
    token, cid, socket = await visitor_in_conversation(http, server, org)
    try:
        await api(
            http, "PATCH", f"/v1/conversations/{cid}", token, json={"status": "agent_requested"}
        )
        await eventually(lambda: platform.accepted(), 10)
        marker = await socket.wait_for(
            lambda: next((e for e in socket.events if e["data"].get("role") == "system"), None),
            seconds=15,
        )
        assert marker["data"]["content"] == FALLBACK_MARKERS["bot"]
        conversation = await api(http, "GET", f"/v1/conversations/{cid}", org.api_key)
        assert (conversation["status"], conversation["live_agent_handoff_at"]) == (
            "bot_active",
            None,
        )
        bot = await http.post(
            f"/v1/conversations/{cid}/messages",
            json={"content": "I can still help", "role": "bot"},
            headers={"Authorization": f"Bearer {org.api_key}"},
        )
        assert bot.status_code == 201, "the bot may speak again"
    finally:
        await socket.aclose()


async def test_escalation_undeliverable_platform_falls_back_to_the_team(
    http: httpx.AsyncClient, server: str, org: OrgCredentials, platform: Receiver
) -> None:
    """The platform never accepts (every attempt 500): the hand-off is undone and the
    conversation waits for the org's agents, who can still take it over."""
    platform.status = 500
    await configure(http, org, platform)
    token, cid, socket = await visitor_in_conversation(http, server, org)
    try:
        await api(
            http, "PATCH", f"/v1/conversations/{cid}", token, json={"status": "agent_requested"}
        )
        marker = await socket.wait_for(
            lambda: next((e for e in socket.events if e["data"].get("role") == "system"), None),
            seconds=15,
        )
        assert marker["data"]["content"] == FALLBACK_MARKERS["team"]
        assert len(platform.requests) == 3 and not platform.accepted()
        conversation = await api(http, "GET", f"/v1/conversations/{cid}", org.api_key)
        assert (conversation["status"], conversation["live_agent_handoff_at"]) == (
            "agent_requested",
            None,
        )
        await api(
            http, "POST", f"/v1/conversations/{cid}/messages", org.api_key, json={"content": "Hi"}
        )
    finally:
        await socket.aclose()


async def test_escalation_waits_for_the_team_first(
    http: httpx.AsyncClient, server: str, org: OrgCredentials, platform: Receiver
) -> None:
    """With a delay, an agent of the org who answers first keeps the conversation: nothing
    is sent to the platform."""
    await configure(http, org, platform, live_agent_escalate_after=1)
    token, cid, socket = await visitor_in_conversation(http, server, org)
    try:
        path = f"/v1/conversations/{cid}"
        await api(http, "PATCH", path, token, json={"status": "agent_requested"})
        await api(http, "POST", f"{path}/messages", org.api_key, json={"content": "I'm here"})
        await socket.wait_events(1, name="new_message")
        await asyncio.sleep(1.5)  # the timer comes due, finds a human has answered
        assert platform.requests == []
        conversation = await api(http, "GET", path, org.api_key)
        assert (conversation["handler"], conversation["live_agent_handoff_at"]) == ("agent", None)
    finally:
        await socket.aclose()
