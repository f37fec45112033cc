"""The ``knowledge`` bot end to end: a visitor asks over a real socket, the gateway's own
answerer searches the org's articles, the answer streams as ``message.delta`` events and is
stored once with its links; below the bot's threshold it says it does not know, and after
``handoff_after`` such answers in a row the conversation goes to a human."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.support import SocketClient, api, live_server, new_org, timeout

SECRET = "test-secret-key-of-decent-length!"
RETURNS = (
    "# Returns\n\nYou can return any item within 30 days of delivery for a full refund.\n\n"
    "Refunds reach your card within five working days."
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, database_url: str) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return database_url


@pytest.fixture
def server(database: str) -> Iterator[str]:
    settings = Settings(database_url=database, secret_key=SECRET)
    with live_server(create_app(settings)) as url:
        yield url


def bot_messages(socket: SocketClient) -> list[dict[str, Any]]:
    return [
        e["data"]
        for e in socket.events
        if e["event"] == "new_message" and e["data"]["role"] == "bot"
    ]


async def test_knowledge_bot_answers_streams_and_hands_off_when_it_does_not_know(
    server: str, database: str
) -> None:
    """A question the articles answer streams as deltas and is stored once with the article's
    link; two it cannot answer get the unknown answer, marked unsure, then a hand-off."""
    org = await new_org(database, "Shop")
    async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as http:
        await api(
            http,
            "POST",
            "/v1/knowledge/articles",
            org.api_key,
            json={"title": "Returns", "body": RETURNS, "url": "https://shop.example/returns"},
        )
        bot = await api(
            http, "POST", "/v1/bots", org.api_key, json={"name": "Help", "handoff_after": 2}
        )
        await api(
            http, "PATCH", f"/v1/widgets/{org.widget_id}", org.api_key, json={"bot_id": bot["id"]}
        )
        session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
        conversation = await api(http, "POST", "/v1/conversations", session["token"], json={})
        cid = conversation["id"]
        socket = await SocketClient.open(server)
        try:
            await socket.hello(session["token"])
            await socket.call("subscribe", conversation_id=cid)
            await socket.call(
                "message.send", conversation_id=cid, content="How long do refunds take?"
            )
            await socket.wait_for(lambda: bot_messages(socket))
            (answer,) = bot_messages(socket)
            deltas = [e["data"] for e in socket.events if e["event"] == "message.delta"]
            assert deltas and {d["message_id"] for d in deltas} == {answer["id"]}
            assert [d["index"] for d in deltas] == list(range(len(deltas)))
            assert "".join(d["text"] for d in deltas) == answer["content"]
            assert "five working days" in answer["content"]
            assert answer["metadata"]["links"] == [
                {"url": "https://shop.example/returns", "title": "Returns"}
            ]
            assert "unsure" not in answer["metadata"]

            for n, question in enumerate(("Do you sell bicycles?", "What about kayaks?"), 2):
                await socket.call("message.send", conversation_id=cid, content=question)
                await socket.wait_for(lambda n=n: len(bot_messages(socket)) >= n)
                said = bot_messages(socket)[-1]
                assert said["content"] == bot["unknown_answer"]
                assert said["metadata"]["unsure"] is True
            updated = await socket.wait_for(
                lambda: next(
                    (e for e in socket.events if e["event"] == "conversation.updated"), None
                )
            )
            assert updated["data"]["changes"]["status"] == ["bot_active", "agent_requested"]
            page = await api(http, "GET", f"/v1/conversations/{cid}/messages", org.api_key)
            assert [m["role"] for m in page["data"]] == ["visitor", "bot"] * 3
        finally:
            await socket.aclose()
