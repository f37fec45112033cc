"""Webhook bots end to end: a real gateway delivers each visitor message, signed, to the bot's
url; the bot answers through the Python client, fenced by the conversation's epoch.

``docs/examples/echo_bot.py`` runs as a real process with its own HTTP listener."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from bench.services import free_port
from gateway.client import Client, ClientError, ConversationUpdated, NewMessage, RestClient
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.receiver import Receiver, receiver
from tests.support import api, eventually, timeout

pytestmark = pytest.mark.e2e

ECHO_BOT = Path(__file__).parents[2] / "docs" / "examples" / "echo_bot.py"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The e2e server delivering to local listeners, polling the outbox often."""
    return settings.replace(
        webhook_allowed_hosts="127.0.0.1",
        webhook_retry_schedule="0,0.2,0.2,2",
        webhook_poll_interval=0.1,
        webhook_timeout=5,
    )


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


async def webhook_bot(http: httpx.AsyncClient, org: OrgCredentials, url: str) -> dict[str, Any]:
    """A webhook bot named on the org's widget; its answer (with the secret, shown once)."""
    bot = await api(
        http,
        "POST",
        "/v1/bots",
        org.api_key,
        json={"name": "Echo", "kind": "webhook", "webhook": {"url": url}},
    )
    await api(
        http, "PATCH", f"/v1/widgets/{org.widget_id}", org.api_key, json={"bot_id": bot["id"]}
    )
    return bot  # type: ignore[no-any-return]


async def visitor(http: httpx.AsyncClient, org: OrgCredentials) -> tuple[str, str]:
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    conversation = await api(http, "POST", "/v1/conversations", session["token"], json={})
    return session["token"], conversation["id"]


async def next_message(client: Client) -> NewMessage:
    async with asyncio.timeout(timeout(15)):
        async for event in client.events():
            if isinstance(event, NewMessage):
                return event
    raise AssertionError("the client stopped")


@pytest.fixture
async def echo_bot(server: str, http: httpx.AsyncClient, org: OrgCredentials) -> AsyncIterator[str]:
    """docs/examples/echo_bot.py as a process, listening on a free port; yields its url."""
    port = free_port()
    bot = await webhook_bot(http, org, f"http://127.0.0.1:{port}/")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ECHO_BOT),
        server,
        org.api_key,
        bot["secret"],
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )

    def listening() -> bool:
        if process.returncode is not None:
            raise AssertionError("echo_bot.py exited early")
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    try:
        await eventually(listening, 20, every=0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        _, stderr = await process.communicate()
        assert b"Traceback" not in stderr, stderr.decode()


async def test_echo_bot_answers_the_visitor_through_the_client(
    server: str, http: httpx.AsyncClient, org: OrgCredentials, echo_bot: str
) -> None:
    """The visitor's message reaches echo_bot.py as a signed bot.message (it refuses what
    does not verify); its answer arrives on the visitor's socket as the next seq."""
    token, cid = await visitor(http, org)
    async with Client(server, token) as chat:
        await chat.subscribe(cid)
        sent = await chat.send(cid, "where is my order?")
        assert sent["seq"] == 1
        assert (await next_message(chat)).seq == 1
        answer = await next_message(chat)
    assert (answer.seq, answer.message["role"]) == (2, "bot")
    assert answer.message["content"] == "You said: where is my order?"
    assert answer.message["client_message_id"] == f"echo-{sent['id']}"


async def test_webhook_bot_delivery_is_signed_and_its_answer_fenced_after_a_takeover(
    server: str, http: httpx.AsyncClient, org: OrgCredentials, hooks: Receiver
) -> None:
    """The delivery verifies with the bot's secret (standardwebhooks) and carries the
    conversation's epoch and how to reply; a bot token answers over the socket with it, once
    per client_message_id; after an agent takes over, the same epoch is control_lost over the
    socket and REST, and later visitor messages are not delivered to the bot."""
    bot = await webhook_bot(http, org, hooks.url + "/bot")
    token, cid = await visitor(http, org)
    await api(http, "POST", f"/v1/conversations/{cid}/messages", token, json={"content": "hi"})
    await eventually(lambda: hooks.accepted("/bot"), 10)
    (delivery,) = hooks.accepted("/bot")
    event = delivery.verified(bot["secret"])
    assert event["type"] == "bot.message" and event["conversation_id"] == cid
    data = event["data"]
    assert data["bot"] == {"id": bot["id"], "name": "Echo"}
    assert data["conversation"]["epoch"] == 0 and data["conversation"]["status"] == "bot_active"
    assert data["message"]["content"] == "hi" and data["message"]["seq"] == 1
    reply = data["reply"]
    assert reply["path"] == f"/v1/conversations/{cid}/messages"

    async with RestClient(server, org.api_key) as rest:
        bot_token = (await rest.create_token("bot"))["token"]
    async with Client(server, bot_token) as client:
        body = reply["body"]
        kw = {"epoch": body["epoch"], "client_message_id": body["client_message_id"]}
        first = await client.send(cid, "Hello from the bot", **kw)
        again = await client.send(cid, "Hello from the bot", **kw)
        assert first == again and (first["seq"], first["role"]) == (2, "bot")

        await api(
            http, "PATCH", f"/v1/conversations/{cid}", token, json={"status": "agent_requested"}
        )
        await api(
            http,
            "POST",
            f"/v1/conversations/{cid}/messages",
            org.api_key,
            json={"content": "Ann here"},
        )
        with pytest.raises(ClientError) as refused:
            await client.send(cid, "too late", epoch=body["epoch"])
        assert refused.value.code == "control_lost"
    async with RestClient(server, org.api_key) as rest:
        with pytest.raises(ClientError) as refused:
            await rest.send_message(cid, "too late", role="bot", epoch=body["epoch"])
        assert (refused.value.code, refused.value.status) == ("control_lost", 409)
        await rest.send_message(cid, "still there?", role="visitor")
        history = await rest.list_messages(cid)
    assert [m["content"] for m in history["data"] if m["role"] == "bot"] == ["Hello from the bot"]
    # The visitor message after the takeover is stored with its webhooks written in the same
    # transaction; a delivery to the bot would have been claimed by now with the others.
    hook = await api(http, "POST", "/v1/webhooks", org.api_key, json={"url": hooks.url + "/events"})
    await api(http, "POST", f"/v1/conversations/{cid}/messages", token, json={"content": "hello?"})
    await eventually(lambda: hooks.accepted("/events"), 10)
    assert hook["secret"] and len(hooks.accepted("/bot")) == 1


async def test_webhook_bot_that_fails_gets_the_fallback_answer_and_a_hand_off(
    server: str, http: httpx.AsyncClient, org: OrgCredentials, hooks: Receiver
) -> None:
    """A bot service answering 500 (and never through the API) does not leave the visitor
    waiting: after its timeout (or once its delivery is dead) the visitor reads the bot's
    fallback answer, once, and the conversation asks for a human."""
    hooks.status = 500
    bot = await webhook_bot(http, org, hooks.url + "/bot")
    await api(http, "PATCH", f"/v1/bots/{bot['id']}", org.api_key, json={"timeout_seconds": 1})
    token, cid = await visitor(http, org)
    async with Client(server, token) as chat:
        await chat.subscribe(cid)
        await chat.send(cid, "anyone?")
        events = []
        async with asyncio.timeout(timeout(15)):
            async for event in chat.events():
                if isinstance(event, NewMessage | ConversationUpdated):
                    events.append(event)
                if len(events) == 3:
                    break
    said, fallback, handoff = events
    assert isinstance(said, NewMessage) and said.message["content"] == "anyone?"
    assert isinstance(fallback, NewMessage) and fallback.message["role"] == "bot"
    assert fallback.message["content"] == bot["fallback_answer"]
    assert isinstance(handoff, ConversationUpdated)
    assert handoff.changes["status"] == ["bot_active", "agent_requested"]
    page = await api(http, "GET", f"/v1/conversations/{cid}/messages", org.api_key)
    assert [m["role"] for m in page["data"]] == ["visitor", "bot"]
