"""The ``llm`` bot end to end: a visitor on a real gateway asks, the gateway asks a local
OpenAI-compatible server (``tests/openai_server``) with the org's knowledge passages in the
prompt, the answer streams to the visitor's socket as ``message.delta`` events and is stored
once; a ``handoff`` call, an error status and a timeout each end with a person asked for."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.openai_server import (
    ModelServer,
    Reply,
    answer,
    handoff,
    model_server,
    stall,
    status,
)
from tests.support import SocketClient, api, bearer

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-secret-key-0123456789"
FALLBACK = "Sorry, the assistant is away. A person will answer you here."


@pytest.fixture
def model() -> Iterator[ModelServer]:
    with model_server() as server:
        yield server


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The e2e server, allowed to send to the local model server (bot URLs are vetted)."""
    return settings.replace(
        webhook_allowed_hosts="127.0.0.1", llm_allowed_hosts="127.0.0.1", llm_idle_timeout=1
    )


async def llm_bot(
    http: httpx.AsyncClient, org: OrgCredentials, model: ModelServer, **fields: Any
) -> Any:
    """An ``llm`` bot on the org's widget, with one knowledge article to ground it."""
    await api(
        http,
        "POST",
        "/v1/knowledge/articles",
        org.api_key,
        json={
            "title": "Returns",
            "body": "Shoes can be returned for free within 30 days of delivery.",
            "url": "https://shop.example/returns",
        },
    )
    bot = await api(
        http,
        "POST",
        "/v1/bots",
        org.api_key,
        json={
            "name": "Ada",
            "kind": "llm",
            "llm": {"base_url": model.url, "model": "gpt-test", "api_key": KEY},
            "fallback_answer": FALLBACK,
            **fields,
        },
    )
    await api(
        http, "PATCH", f"/v1/widgets/{org.widget_id}", org.api_key, json={"bot_id": bot["id"]}
    )
    return bot


async def visitor_asks(
    http: httpx.AsyncClient, server: str, org: OrgCredentials, text: str
) -> tuple[str, SocketClient, str]:
    """A visitor subscribed to a new conversation, who then asks ``text``; the conversation,
    the socket and the visitor's token."""
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    token = session["token"]
    conversation = await api(http, "POST", "/v1/conversations", token, json={})
    socket = await SocketClient.open(server)
    await socket.hello(token)
    await socket.call("subscribe", conversation_id=conversation["id"])
    path = f"/v1/conversations/{conversation['id']}/messages"
    await api(http, "POST", path, token, json={"content": text})
    return conversation["id"], socket, token


def bot_messages(socket: SocketClient) -> list[dict[str, Any]]:
    return [
        e["data"]
        for e in socket.events
        if e["event"] == "new_message" and e["data"]["role"] == "bot"
    ]


def status_of(socket: SocketClient) -> str | None:
    changes = [
        e["data"]["changes"]["status"][1]
        for e in socket.events
        if e["event"] == "conversation.updated" and "status" in e["data"].get("changes", {})
    ]
    return changes[-1] if changes else None


async def test_llm_bot_streams_a_grounded_answer_and_stores_it_once(
    http: httpx.AsyncClient, server: str, org: OrgCredentials, model: ModelServer
) -> None:
    """The visitor's question reaches the model with the matching passage and the key; the
    answer streams as message.delta events and is stored once, under the deltas' id, with
    the cited passage as its link."""
    await llm_bot(http, org, model)
    model.reply(answer("You can return ", "shoes for free ", "within 30 days [1]."))
    cid, socket, _ = await visitor_asks(http, server, org, "Can I return my shoes?")
    try:
        (stored,) = await socket.wait_for(lambda: bot_messages(socket))
        deltas = [e["data"] for e in socket.events if e["event"] == "message.delta"]
        assert [(d["message_id"], d["index"]) for d in deltas] == [
            (stored["id"], 0),
            (stored["id"], 1),
            (stored["id"], 2),
        ]
        assert [d["text"] for d in deltas] == [
            "You can return ",
            "shoes for free ",
            "within 30 days [1].",
        ]
        assert stored["content"] == "You can return shoes for free within 30 days [1]."
        assert stored["metadata"]["links"] == [
            {"url": "https://shop.example/returns", "title": "Returns"}
        ]
        (request,) = model.requests
        assert request.headers["authorization"] == f"Bearer {KEY}"
        system, question = request.messages[0]["content"], request.messages[-1]
        assert "[1] Returns (https://shop.example/returns)" in system
        assert "Shoes can be returned for free within 30 days of delivery." in system
        assert question == {"role": "user", "content": "Can I return my shoes?"}
        history = await api(http, "GET", f"/v1/conversations/{cid}/messages", org.api_key)
        assert [m["role"] for m in history["data"]] == ["visitor", "bot"]
        bot = await api(http, "GET", f"/v1/conversations/{cid}", org.api_key)
        assert bot["status"] == "bot_active"
    finally:
        await socket.aclose()


async def test_llm_bot_handoff_call_asks_for_a_person(
    http: httpx.AsyncClient, server: str, org: OrgCredentials, model: ModelServer
) -> None:
    """A model that calls handoff sends the conversation to agent_requested; its text before
    the call is the bot's answer."""
    await llm_bot(http, org, model)
    model.reply(handoff("The visitor wants a person.", "Let me get someone for you."))
    cid, socket, _ = await visitor_asks(http, server, org, "I need to speak to your manager")
    try:
        await socket.wait_for(lambda: status_of(socket) == "agent_requested")
        assert [m["content"] for m in bot_messages(socket)] == ["Let me get someone for you."]
        conversation = await api(http, "GET", f"/v1/conversations/{cid}", org.api_key)
        assert conversation["status"] == "agent_requested"
    finally:
        await socket.aclose()


async def test_llm_bot_error_status_falls_back_and_hands_off(
    http: httpx.AsyncClient, server: str, org: OrgCredentials, model: ModelServer
) -> None:
    """A 5xx from the model server: the visitor reads the bot's fallback answer and the
    conversation goes to agent_requested."""
    await llm_bot(http, org, model)
    model.reply(status(503, "overloaded"))
    cid, socket, _ = await visitor_asks(http, server, org, "Can I return my shoes?")
    try:
        await socket.wait_for(lambda: status_of(socket) == "agent_requested")
        assert [m["content"] for m in bot_messages(socket)] == [FALLBACK]
    finally:
        await socket.aclose()


async def test_llm_bot_timeout_falls_back_and_hands_off_without_the_partial_answer(
    http: httpx.AsyncClient, server: str, org: OrgCredentials, model: ModelServer
) -> None:
    """A model server that stalls mid-answer: the partial answer is dropped (a terminal
    message.delta, never stored), the fallback answer is stored, a person is asked for."""
    await llm_bot(http, org, model)
    model.reply(stall("You can ret"))
    cid, socket, _ = await visitor_asks(http, server, org, "Can I return my shoes?")
    try:
        await socket.wait_for(lambda: status_of(socket) == "agent_requested")
        assert [m["content"] for m in bot_messages(socket)] == [FALLBACK]
        deltas = [e["data"] for e in socket.events if e["event"] == "message.delta"]
        assert deltas[0]["text"] == "You can ret"
        assert deltas[-1]["done"] is True
        assert deltas[-1]["reason"] == "failed"
        history = await api(http, "GET", f"/v1/conversations/{cid}/messages", org.api_key)
        assert "You can ret" not in [m["content"] for m in history["data"]]
    finally:
        await socket.aclose()


async def test_llm_bot_that_never_answers_falls_back_at_its_timeout(
    http: httpx.AsyncClient, server: str, org: OrgCredentials, model: ModelServer
) -> None:
    """A model server that never even answers: after the bot's timeout_seconds the visitor
    reads the fallback answer and a person is asked for."""
    await llm_bot(http, org, model, timeout_seconds=1)
    hold = threading.Event()
    model.reply(Reply(hold=hold))
    try:
        cid, socket, _ = await visitor_asks(http, server, org, "Can I return my shoes?")
        try:
            await socket.wait_for(lambda: status_of(socket) == "agent_requested")
            assert [m["content"] for m in bot_messages(socket)] == [FALLBACK]
        finally:
            await socket.aclose()
    finally:
        hold.set()


async def test_llm_bot_second_question_carries_the_conversation_so_far(
    http: httpx.AsyncClient, server: str, org: OrgCredentials, model: ModelServer
) -> None:
    """The next question is sent with the earlier question and answer as user/assistant."""
    await llm_bot(http, org, model)
    model.reply(answer("Free within 30 days [1]."), answer("Yes, sandals too."))
    cid, socket, token = await visitor_asks(http, server, org, "Can I return my shoes?")
    try:
        await socket.wait_for(lambda: len(bot_messages(socket)) == 1)
        path = f"/v1/conversations/{cid}/messages"
        await api(http, "POST", path, token, json={"content": "And sandals?"})
        await socket.wait_for(lambda: len(bot_messages(socket)) == 2)
        assert [m["role"] for m in model.requests[1].messages[1:]] == ["user", "assistant", "user"]
        assert [m["content"] for m in model.requests[1].messages[1:]] == [
            "Can I return my shoes?",
            "Free within 30 days [1].",
            "And sandals?",
        ]
    finally:
        await socket.aclose()


async def test_llm_bot_url_on_a_private_address_is_refused_unless_allowed(
    http: httpx.AsyncClient, org: OrgCredentials
) -> None:
    """A bot's model server on a private address that the operator did not allow is refused
    when the bot is created (422, unsafe_address), before anything is sent to it."""
    response = await http.post(
        "/v1/bots",
        headers=bearer(org.api_key),
        json={
            "name": "Ada",
            "kind": "llm",
            "llm": {"base_url": "http://10.0.0.9:11434/v1", "model": "llama3.1:8b"},
        },
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"] == {"path": "$.llm.base_url", "reason": "unsafe_address"}
