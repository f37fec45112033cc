"""The ``llm`` bot end to end: a bot created through ``/v1/bots`` answers a visitor's socket
from a local OpenAI-compatible server (``tests/openai_server``): streamed deltas, the stored
answer, the model's ``handoff`` call, and a failing server falling back with a hand-off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2 as httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.openai_server import ModelServer, answer, handoff, model_server, status
from tests.support import SocketClient, api, live_server, new_org, timeout

SECRET = "test-secret-key-of-decent-length!"
KEY = "sk-bot-own-key-0123456789"


@pytest.fixture
def models() -> Iterator[ModelServer]:
    with model_server() as server:
        yield server


@pytest.fixture
def server(database_url: str) -> Iterator[str]:
    settings = Settings(database_url=database_url, secret_key=SECRET, llm_allowed_hosts="127.0.0.1")
    with live_server(create_app(settings)) as url:
        yield url


@pytest.fixture
async def visitor(
    server: str, database_url: str, models: ModelServer
) -> AsyncIterator[tuple[SocketClient, str, httpx.AsyncClient, str]]:
    """A visitor's socket on a conversation of an llm bot: (socket, conversation id, http,
    API key)."""
    org = await new_org(database_url, "Shop")
    async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as http:
        llm = {"base_url": models.url, "model": "gpt-test", "api_key": KEY}
        bot = await api(
            http, "POST", "/v1/bots", org.api_key, json={"name": "AI", "kind": "llm", "llm": llm}
        )
        await api(
            http, "PATCH", f"/v1/widgets/{org.widget_id}", org.api_key, json={"bot_id": bot["id"]}
        )
        session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
        conversation = await api(http, "POST", "/v1/conversations", session["token"], json={})
        socket = await SocketClient.open(server)
        try:
            await socket.hello(session["token"])
            await socket.call("subscribe", conversation_id=conversation["id"])
            yield socket, conversation["id"], http, org.api_key
        finally:
            await socket.aclose()


def bot_messages(socket: SocketClient) -> list[dict[str, Any]]:
    return [
        e["data"]
        for e in socket.events
        if e["event"] == "new_message" and e["data"]["role"] == "bot"
    ]


async def status_of(http: httpx.AsyncClient, key: str, cid: str) -> str:
    return (await api(http, "GET", f"/v1/conversations/{cid}", key))["status"]  # type: ignore[no-any-return]


async def test_llm_bot_streams_the_models_answer(
    visitor: tuple[SocketClient, str, httpx.AsyncClient, str], models: ModelServer
) -> None:
    """The model's pieces arrive as deltas, then the answer is stored once under their id;
    the request carried the bot's own key and model."""
    socket, cid, http, key = visitor
    models.reply(answer("We ship ", "worldwide."))
    await socket.call("message.send", conversation_id=cid, content="Do you ship abroad?")
    await socket.wait_for(lambda: bot_messages(socket))
    (said,) = bot_messages(socket)
    deltas = [e["data"] for e in socket.events if e["event"] == "message.delta"]
    assert [d["text"] for d in deltas] == ["We ship ", "worldwide."]
    assert {d["message_id"] for d in deltas} == {said["id"]}
    assert said["content"] == "We ship worldwide."
    (request,) = models.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json["model"] == "gpt-test"
    assert request.json["messages"][-1] == {"role": "user", "content": "Do you ship abroad?"}
    assert await status_of(http, key, cid) == "bot_active"


async def test_llm_bot_handoff_call_hands_off(
    visitor: tuple[SocketClient, str, httpx.AsyncClient, str], models: ModelServer
) -> None:
    """The model calling handoff sends the conversation to agent_requested after its text."""
    socket, cid, http, key = visitor
    models.reply(handoff("wants a refund", "Let me find ", "someone."))
    await socket.call("message.send", conversation_id=cid, content="I want my money back")
    await socket.wait_for(lambda: bot_messages(socket))
    assert bot_messages(socket)[0]["content"] == "Let me find someone."
    await socket.wait_for(lambda: any(e["event"] == "conversation.updated" for e in socket.events))
    assert await status_of(http, key, cid) == "agent_requested"


async def test_llm_bot_server_error_falls_back_and_hands_off(
    visitor: tuple[SocketClient, str, httpx.AsyncClient, str], models: ModelServer
) -> None:
    """A 503 from the model server: the bot's fallback answer, then agent_requested."""
    socket, cid, http, key = visitor
    models.reply(status(503))
    await socket.call("message.send", conversation_id=cid, content="Hello?")
    await socket.wait_for(lambda: bot_messages(socket))
    (said,) = bot_messages(socket)
    assert said["metadata"]["bot_failure"] == "error"
    bot = (await api(http, "GET", "/v1/bots", key))["data"][0]
    assert said["content"] == bot["fallback_answer"]
    await socket.wait_for(lambda: any(e["event"] == "conversation.updated" for e in socket.events))
    assert await status_of(http, key, cid) == "agent_requested"
