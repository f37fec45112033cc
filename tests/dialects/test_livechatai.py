"""LiveChatAI end to end on a real gateway (uvicorn): the question and the answer are one
history on every surface, and a takeover mid-answer leaves nothing partial.

The golden file (``golden/livechatai.json``) holds every answer field by field; here the same
conversation is followed through the native API, an agent's socket and the store, and a
``Scripted`` answerer (tests/bots.py) waits at a ``Gate`` where a human takes over, so nothing
depends on timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from gateway.app import create_app
from gateway.bot.answers import BotFailure, Text
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from gateway.stores import open_store
from tests.bots import Gate, LiveGateway, Scripted, live_gateway
from tests.dialects.conftest import ARTICLES
from tests.support import SocketClient, api, bearer, new_org, timeout

pytestmark = pytest.mark.e2e

SECRET = "test-secret-key-of-decent-length!"
ASK = "/api/v2/conversations"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, database_url: str) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return database_url


@pytest.fixture
def scripted() -> Scripted:
    return Scripted()


@pytest.fixture
def gateway(database: str, scripted: Scripted) -> Iterator[LiveGateway]:
    """A gateway whose bots answer as ``scripted`` plays it."""
    settings = Settings(database_url=database, secret_key=SECRET)
    with live_gateway(create_app(settings, answerers=scripted.factory)) as gw:
        yield gw


@pytest.fixture
async def http(gateway: LiveGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=timeout(30)) as client:
        yield client


async def _org_with_bot(http: httpx.AsyncClient, database: str) -> tuple[OrgCredentials, str]:
    org = await new_org(database, "Acme")
    bot = await api(http, "POST", "/v1/bots", org.api_key, json={"name": "Helper"})
    return org, bot["id"]


async def _events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The Server-Sent Events of a streamed answer, as they come."""
    block: list[str] = []
    async for line in response.aiter_lines():
        if line:
            block.append(line)
            continue
        fields = dict(item.split(": ", 1) for item in block)
        block = []
        yield {"event": fields["event"], "data": orjson.loads(fields["data"])}


async def test_question_and_answer_are_one_history_on_every_surface(
    tmp_path: Any, image_server: Any
) -> None:
    """A real knowledge bot answers two questions (one streamed): the native history has
    question and answer with their seq, an agent's socket saw them (the deltas under the
    answer's id), the conversation keeps its bot and integration, the contact ip and country."""
    database = f"sqlite:///{tmp_path}/chatgate.db"
    settings = Settings(database_url=database, secret_key=SECRET)
    with live_gateway(create_app(settings)) as gw:
        async with httpx.AsyncClient(base_url=gw.url, timeout=timeout(30)) as http:
            org, bot_id = await _org_with_bot(http, database)
            for article in ARTICLES:
                await api(http, "POST", "/v1/knowledge/articles", org.api_key, json=article)
            key = bearer(org.api_key)
            first = await http.post(
                ASK,
                json={
                    "question": "Can I return things?",
                    "agentId": bot_id,
                    "ip": "2001:db8::1",
                    "country": "fr",
                    "integrationType": "SLACK",
                },
                headers=key,
            )
            assert first.status_code == 200, first.text
            asked = first.json()["data"]
            cid = asked["conversationId"]
            agent = await api(
                http, "POST", "/v1/tokens", org.api_key, json={"agent_id": org.agent_id}
            )
            dashboard = await SocketClient.open(gw.url)
            await dashboard.hello(agent["token"])
            await dashboard.call("subscribe", conversation_id=cid, after_seq=0)

            body = {"question": "When do you ship?", "agentId": bot_id, "conversationId": cid}
            async with http.stream("POST", ASK, json={**body, "streaming": True}, headers=key) as r:
                assert r.status_code == 200
                events = [e async for e in _events(r)]
            assert [e["event"] for e in events][0] == "start"
            assert events[-1]["event"] == "done"
            second = events[-1]["data"]["data"]
            streamed = "".join(e["data"]["text"] for e in events if e["event"] == "delta")
            assert streamed == second["response"]

            history = await api(http, "GET", f"/v1/conversations/{cid}/messages", org.api_key)
            said = [(m["seq"], m["role"], m["id"]) for m in history["data"]]
            assert said == [
                (1, "visitor", asked["messageId"]),
                (2, "bot", asked["responseMessageId"]),
                (3, "visitor", second["messageId"]),
                (4, "bot", second["responseMessageId"]),
            ]
            contents = [m["content"] for m in history["data"]]
            assert contents == [
                "Can I return things?",
                asked["response"],
                "When do you ship?",
                second["response"],
            ]
            assert history["data"][3]["metadata"]["links"] == [
                {"url": "https://help.example/shipping", "title": "Shipping"}
            ]
            assert second["links"] == [{"link": "https://help.example/shipping", "type": "WEBSITE"}]

            messages = await dashboard.wait_events(4, name="new_message")
            assert [(e["seq"], e["data"]["id"]) for e in messages] == [
                (seq, message_id) for seq, _, message_id in said
            ]
            deltas = [e for e in dashboard.events if e["event"] == "message.delta"]
            assert deltas and {e["data"]["message_id"] for e in deltas} == {
                second["responseMessageId"]
            }
            await dashboard.aclose()

            conversation = await api(http, "GET", f"/v1/conversations/{cid}", org.api_key)
            assert conversation["bot_id"] == bot_id
            assert conversation["channel"] == "api"
            assert conversation["widget_id"] is None
            assert conversation["contact_id"] == asked["contactId"] == second["contactId"]
            assert conversation["metadata"] == {"integration_type": "SLACK"}
    store = open_store(Settings(database_url=database))
    await store.start()
    try:
        contact = await store.get_contact(org.org_id, asked["contactId"])
    finally:
        await store.aclose()
    assert contact is not None
    assert contact.metadata == {"ip": "2001:db8::1", "country": "FR"}


async def _take_over(http: httpx.AsyncClient, org: OrgCredentials, cid: str) -> None:
    path = f"/v1/conversations/{cid}"
    await api(http, "PATCH", path, org.api_key, json={"status": "agent_requested"})
    await api(http, "POST", f"{path}/messages", org.api_key, json={"content": "Ada here."})


async def test_takeover_mid_stream_ends_with_an_error_and_stores_nothing_partial(
    gateway: LiveGateway, http: httpx.AsyncClient, database: str, scripted: Scripted
) -> None:
    """A human answering while the bot streams: the stream's last event is ``error``
    (``control_lost``) after the deltas so far, and no bot message is stored."""
    gate = Gate()
    scripted.scripts["Where is my order?"] = [Text("Let me check"), gate, Text(" that.")]
    org, bot_id = await _org_with_bot(http, database)
    body = {"question": "Where is my order?", "agentId": bot_id, "streaming": True}
    async with http.stream("POST", ASK, json=body, headers=bearer(org.api_key)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
        start = await anext(events)
        assert start["event"] == "start"
        cid = start["data"]["conversationId"]
        assert await anext(events) == {
            "event": "delta",
            "data": {"index": 0, "text": "Let me check"},
        }
        await _take_over(http, org, cid)
        rest = [e async for e in events]
    gate.open()
    assert rest == [
        {
            "event": "error",
            "data": {
                "status": "error",
                "message": "a team member took the conversation over; drop the partial answer",
                "code": "control_lost",
                "data": start["data"],
            },
        }
    ]
    result = await gateway.result(start["data"]["messageId"])
    assert (result.message, result.aborted) == (None, "control_lost")
    history = await api(http, "GET", f"/v1/conversations/{cid}/messages", org.api_key)
    assert [(m["role"], m["content"]) for m in history["data"]] == [
        ("visitor", "Where is my order?"),
        ("system", "A team member has joined the conversation."),
        ("agent", "Ada here."),
    ]


async def test_takeover_mid_answer_without_streaming_answers_no_response(
    gateway: LiveGateway, http: httpx.AsyncClient, database: str, scripted: Scripted
) -> None:
    """The same takeover while a whole answer is awaited: 200, the question stored, no
    response (the human has the conversation now)."""
    gate = Gate()
    scripted.scripts["Hello"] = [Text("Hi!")]
    scripted.scripts["Where is my order?"] = [Text("Let me check"), gate, Text(" that.")]
    org, bot_id = await _org_with_bot(http, database)
    key = bearer(org.api_key)
    first = await http.post(ASK, json={"question": "Hello", "agentId": bot_id}, headers=key)
    cid = first.json()["data"]["conversationId"]
    body = {"question": "Where is my order?", "agentId": bot_id, "conversationId": cid}
    asking = asyncio.create_task(http.post(ASK, json=body, headers=key))
    await asyncio.to_thread(gate.reached.wait, timeout(10))
    await _take_over(http, org, cid)
    answered = await asking
    gate.open()
    assert answered.status_code == 200, answered.text
    data = answered.json()["data"]
    assert (data["response"], data["responseMessageId"], data["links"]) == (None, None, [])
    assert data["conversationId"] == cid
    history = await api(http, "GET", f"/v1/conversations/{cid}/messages", org.api_key)
    assert [m["role"] for m in history["data"]] == ["visitor", "bot", "visitor", "system", "agent"]
    assert history["data"][2]["id"] == data["messageId"]


async def test_a_bot_failing_mid_stream_ends_with_its_fallback_answer(
    gateway: LiveGateway, http: httpx.AsyncClient, database: str, scripted: Scripted
) -> None:
    """Deltas went out, then the bot failed: ``done`` carries the stored fallback answer,
    which replaces the deltas."""
    scripted.scripts["Where is my order?"] = [Text("Let me"), BotFailure("the model went away")]
    org, bot_id = await _org_with_bot(http, database)
    bot = await api(http, "GET", f"/v1/bots/{bot_id}", org.api_key)
    body = {"question": "Where is my order?", "agentId": bot_id, "streaming": True}
    async with http.stream("POST", ASK, json=body, headers=bearer(org.api_key)) as response:
        events = [e async for e in _events(response)]
    assert [e["event"] for e in events] == ["start", "delta", "done"]
    assert events[1]["data"] == {"index": 0, "text": "Let me"}
    done = events[2]["data"]["data"]
    assert done["response"] == bot["fallback_answer"]
    history = await api(
        http, "GET", f"/v1/conversations/{done['conversationId']}/messages", org.api_key
    )
    stored = [(m["role"], m["content"], m["id"]) for m in history["data"] if m["role"] == "bot"]
    assert stored == [("bot", bot["fallback_answer"], done["responseMessageId"])]
