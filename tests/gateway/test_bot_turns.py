"""The bot's turn, seen from a visitor's socket on a real gateway: typing, streamed
``message.delta`` events, the answer stored once under the deltas' id, hand-off, takeover,
failure.

A ``Scripted`` answerer (tests/bots.py) plays what each question gets; it waits at a ``Gate``
where a test acts mid-answer, so nothing here depends on timing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import pytest

from gateway.app import create_app
from gateway.bot.answers import BotFailure, Cited, HandOff, Link, Text, Unsure
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.bots import Gate, LiveGateway, Scripted, live_gateway
from tests.support import SocketClient, api, new_org, timeout

SECRET = "test-secret-key-of-decent-length!"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, database_url: str) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return database_url


@pytest.fixture
def scripted() -> Scripted:
    return Scripted()


@pytest.fixture
def gateway(database_url: str, scripted: Scripted) -> Iterator[LiveGateway]:
    settings = Settings(database_url=database_url, secret_key=SECRET)
    with live_gateway(create_app(settings, answerers=scripted.factory)) as gw:
        yield gw


@pytest.fixture
def both_stores(database: str, scripted: Scripted) -> Iterator[tuple[LiveGateway, str]]:
    settings = Settings(database_url=database, secret_key=SECRET)
    with live_gateway(create_app(settings, answerers=scripted.factory)) as gw:
        yield gw, database


@dataclass
class Chat:
    """A visitor of a widget whose bot answers, with their conversation and socket."""

    gw: LiveGateway
    http: httpx.AsyncClient
    org: OrgCredentials
    bot: dict[str, Any]
    conversation_id: str
    visitor_token: str
    socket: SocketClient

    async def say(self, content: str, **fields: Any) -> dict[str, Any]:
        """Send as the visitor over the socket; the stored message."""
        return await self.socket.call(  # type: ignore[no-any-return]
            "message.send", conversation_id=self.conversation_id, content=content, **fields
        )

    async def bot_message(self, count: int = 1) -> dict[str, Any]:
        """The ``count``-th bot message the visitor's socket got."""
        found = await self.socket.wait_for(lambda: len(self.bot_messages()) >= count)
        assert found
        return self.bot_messages()[count - 1]

    def bot_messages(self) -> list[dict[str, Any]]:
        return [
            e["data"]
            for e in self.socket.events
            if e["event"] == "new_message" and e["data"]["role"] == "bot"
        ]

    def deltas(self) -> list[dict[str, Any]]:
        return [e["data"] for e in self.socket.events if e["event"] == "message.delta"]

    async def wait_event(self, probe: Any) -> dict[str, Any]:
        found: dict[str, Any] = await self.socket.wait_for(
            lambda: next((e for e in self.socket.events if probe(e)), None)
        )
        return found

    async def history(self) -> list[dict[str, Any]]:
        page = await api(
            self.http,
            "GET",
            f"/v1/conversations/{self.conversation_id}/messages",
            self.org.api_key,
        )
        return page["data"]  # type: ignore[no-any-return]

    async def status(self) -> str:
        conversation = await api(
            self.http, "GET", f"/v1/conversations/{self.conversation_id}", self.org.api_key
        )
        return conversation["status"]  # type: ignore[no-any-return]


@pytest.fixture
async def open_chat(gateway: LiveGateway, database_url: str) -> AsyncIterator[Any]:
    chats: list[Chat] = []

    async def start(*, with_bot: bool = True, **bot: Any) -> Chat:
        chat = await _start(gateway, database_url, with_bot=with_bot, **bot)
        chats.append(chat)
        return chat

    yield start
    for chat in chats:
        await chat.socket.aclose()
        await chat.http.aclose()


async def _start(gw: LiveGateway, database: str, *, with_bot: bool = True, **bot: Any) -> Chat:
    org = await new_org(database, "Acme")
    http = httpx.AsyncClient(base_url=gw.url, timeout=timeout(30))
    created: dict[str, Any] = {}
    if with_bot:
        created = await api(http, "POST", "/v1/bots", org.api_key, json={"name": "Helper", **bot})
        await api(
            http,
            "PATCH",
            f"/v1/widgets/{org.widget_id}",
            org.api_key,
            json={"bot_id": created["id"]},
        )
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    conversation = await api(http, "POST", "/v1/conversations", session["token"], json={})
    socket = await SocketClient.open(gw.url)
    await socket.hello(session["token"])
    await socket.call("subscribe", conversation_id=conversation["id"])
    return Chat(gw, http, org, created, conversation["id"], session["token"], socket)


def _after(events: list[dict[str, Any]], message_id: str) -> list[tuple[str, Any]]:
    """The events after the visitor's message, as ``(name, what)`` for order checks."""
    start = next(
        i
        for i, e in enumerate(events)
        if e["event"] == "new_message" and e["data"]["id"] == message_id
    )
    shown: list[tuple[str, Any]] = []
    for e in events[start + 1 :]:
        data = e["data"]
        if e["event"] == "typing":
            shown.append(("typing", (data["role"], data["on"])))
        elif e["event"] == "message.delta":
            shown.append(("delta", (data["index"], data["text"], data.get("reason"))))
        elif e["event"] == "new_message":
            shown.append(("message", (data["role"], data["content"])))
        else:
            shown.append((e["event"], data.get("changes")))
    return shown


# -- streaming ----------------------------------------------------------------------------


async def test_bot_turn_streams_then_stores_once_under_the_same_id(
    both_stores: tuple[LiveGateway, str], scripted: Scripted
) -> None:
    """typing on, one delta per chunk in order, the answer stored once under the deltas'
    message_id with its links and the next seq, typing off; on SQLite and PostgreSQL."""
    gw, database = both_stores
    hours = Link("https://shop.example/hours", "Opening hours")
    scripted.scripts["When do you open?"] = [Text("We open "), Text("at 9."), Cited((hours,))]
    chat = await _start(gw, database)
    try:
        asked = await chat.say("When do you open?")
        answer = await chat.bot_message()
        await chat.wait_event(lambda e: e["event"] == "typing" and not e["data"]["on"])
        assert _after(chat.socket.events, asked["id"]) == [
            ("typing", ("bot", True)),
            ("delta", (0, "We open ", None)),
            ("delta", (1, "at 9.", None)),
            ("message", ("bot", "We open at 9.")),
            ("typing", ("bot", False)),
        ]
        assert {d["message_id"] for d in chat.deltas()} == {answer["id"]}
        assert answer["seq"] == asked["seq"] + 1
        assert answer["sender_id"] == chat.bot["id"]
        assert answer["metadata"]["links"] == [
            {"url": "https://shop.example/hours", "title": "Opening hours"}
        ]
        history = await chat.history()
        assert [(m["role"], m["content"]) for m in history] == [
            ("visitor", "When do you open?"),
            ("bot", "We open at 9."),
        ]
        assert history[1]["id"] == answer["id"]
        result = await gw.result(asked["id"])
        assert result.message is not None and result.message.id == answer["id"]
        assert result.links == (hours,)
        assert (result.handed_off, result.aborted) == (False, None)
        assert await gw.chunks(asked["id"]) == ["We open ", "at 9."]
        assert [q.text for q in scripted.asked] == ["When do you open?"]
    finally:
        await chat.socket.aclose()
        await chat.http.aclose()


async def test_bot_turn_sees_the_conversation_so_far(open_chat: Any, scripted: Scripted) -> None:
    """An answerer gets the earlier messages with the question (the question excluded)."""
    scripted.scripts["Hi"] = [Text("Hello!")]
    scripted.scripts["And you?"] = [Text("Fine.")]
    chat = await open_chat()
    await chat.say("Hi")
    await chat.bot_message()
    await chat.say("And you?")
    await chat.bot_message(2)
    assert [(t.role, t.text) for t in scripted.asked[1].history] == [
        ("visitor", "Hi"),
        ("bot", "Hello!"),
    ]


# -- takeover -----------------------------------------------------------------------------


async def test_bot_turn_takeover_mid_answer_stores_nothing_partial(
    both_stores: tuple[LiveGateway, str], scripted: Scripted
) -> None:
    """A human answering mid-stream stops it: a terminal control_lost delta, typing off,
    nothing of the answer stored; the bot never answers in that conversation again."""
    gw, database = both_stores
    gate = Gate()
    scripted.scripts["Where is my order?"] = [Text("Let me check"), gate, Text(" that.")]
    chat = await _start(gw, database)
    try:
        asked = await chat.say("Where is my order?")
        await chat.wait_event(lambda e: e["event"] == "message.delta")
        await api(  # the team is asked in; the bot still handles the conversation
            chat.http,
            "PATCH",
            f"/v1/conversations/{chat.conversation_id}",
            chat.org.api_key,
            json={"status": "agent_requested"},
        )
        await api(  # an agent answers: the takeover
            chat.http,
            "POST",
            f"/v1/conversations/{chat.conversation_id}/messages",
            chat.org.api_key,
            json={"content": "Hi, Ada here: it ships today."},
        )
        end = await chat.wait_event(
            lambda e: e["event"] == "message.delta" and e["data"].get("done")
        )
        gate.open()
        result = await gw.result(asked["id"])
        assert (result.message, result.aborted) == (None, "control_lost")
        assert end["data"] == {
            "message_id": gw.turn_for(asked["id"]).message_id,  # type: ignore[union-attr]
            "index": 1,
            "text": "",
            "done": True,
            "reason": "control_lost",
        }
        await chat.wait_event(lambda e: e["event"] == "typing" and not e["data"]["on"])
        assert [(m["role"], m["content"]) for m in await chat.history()] == [
            ("visitor", "Where is my order?"),
            ("system", "A team member has joined the conversation."),
            ("agent", "Hi, Ada here: it ships today."),
        ]
        later = await chat.say("Thanks!")
        assert gw.turn_for(later["id"]) is None, "the bot never answers after a takeover"
        assert chat.bot_messages() == []
    finally:
        gate.open()
        await chat.socket.aclose()
        await chat.http.aclose()


# -- when the bot does not answer --------------------------------------------------------


async def test_bot_turn_none_without_a_bot_or_outside_bot_active(
    open_chat: Any, scripted: Scripted
) -> None:
    """No turn in a conversation without a bot, nor once the visitor asked for a human with
    the widget's button (conversation.update agent_requested, which visitors may send)."""
    scripted.scripts["hello?"] = [Text("Hi!")]
    alone = await open_chat(with_bot=False)
    said = await alone.say("hello?")
    assert alone.gw.turn_for(said["id"]) is None
    chat = await open_chat()
    updated = await chat.socket.call(
        "conversation.update", conversation_id=chat.conversation_id, status="agent_requested"
    )
    assert updated["status"] == "agent_requested"
    said = await chat.say("hello?")
    assert chat.gw.turn_for(said["id"]) is None
    assert scripted.asked == []
    assert [m["role"] for m in await chat.history()] == ["visitor"]


async def test_bot_turn_replayed_send_answers_once(open_chat: Any, scripted: Scripted) -> None:
    """A send retried with its client_message_id (a replay) starts no second turn."""
    scripted.scripts["Price?"] = [Text("10 EUR.")]
    chat = await open_chat()
    first = await chat.say("Price?", client_message_id="c-1")
    turn = chat.gw.turn_for(first["id"])
    await chat.gw.result(first["id"])
    again = await chat.say("Price?", client_message_id="c-1")
    assert again["id"] == first["id"]
    assert chat.gw.turn_for(first["id"]) is turn
    assert [m["role"] for m in await chat.history()] == ["visitor", "bot"]
    assert len(scripted.asked) == 1


# -- hand-off -----------------------------------------------------------------------------


async def test_bot_turn_hands_off_on_a_phrase(open_chat: Any, scripted: Scripted) -> None:
    """A visitor message with one of the bot's phrases (whole words, any case) goes to
    agent_requested at once, without an answer; a word merely containing one does not."""
    scripted.scripts["That is inhumane"] = [Text("Sorry to hear that.")]
    chat = await open_chat(handoff_phrases=["human", "talk to someone"])
    said = await chat.say("That is inhumane")
    await chat.gw.result(said["id"])
    assert await chat.status() == "bot_active"
    said = await chat.say("Can I TALK to   someone, please?")
    result = await chat.gw.result(said["id"])
    assert (result.message, result.handed_off) == (None, True)
    assert await chat.status() == "agent_requested"
    assert [q.text for q in scripted.asked] == ["That is inhumane"]


async def test_bot_turn_hands_off_after_n_unsure_in_a_row(
    open_chat: Any, scripted: Scripted
) -> None:
    """Unsure answers are said (and marked); handoff_after of them in a row hand off, and a
    sure answer in between starts the count again."""
    for question in ("q1", "q3", "q4"):
        scripted.scripts[question] = [Unsure("I don't know that.")]
    scripted.scripts["q2"] = [Text("That one I know.")]
    chat = await open_chat(handoff_after=2)
    for n, question in enumerate(("q1", "q2", "q3"), 1):
        said = await chat.say(question)
        result = await chat.gw.result(said["id"])
        assert not result.handed_off, question
        assert (await chat.bot_message(n))["metadata"].get("unsure") is (
            None if question == "q2" else True
        )
    assert await chat.status() == "bot_active"
    said = await chat.say("q4")
    result = await chat.gw.result(said["id"])
    assert result.handed_off and result.message is not None
    assert result.message.content == "I don't know that."
    assert await chat.status() == "agent_requested"


async def test_bot_turn_hands_off_when_the_answerer_asks(
    open_chat: Any, scripted: Scripted
) -> None:
    """A HandOff piece: the text before it is the answer, then agent_requested."""
    scripted.scripts["I want a refund"] = [Text("Let me get someone."), HandOff("refund")]
    chat = await open_chat()
    said = await chat.say("I want a refund")
    result = await chat.gw.result(said["id"])
    assert result.handed_off and result.message is not None
    assert result.message.content == "Let me get someone."
    assert await chat.status() == "agent_requested"
    updated = await chat.wait_event(lambda e: e["event"] == "conversation.updated")
    assert updated["data"]["changes"]["status"] == ["bot_active", "agent_requested"]


# -- failure ------------------------------------------------------------------------------


async def test_bot_turn_failure_says_the_fallback_and_hands_off(
    open_chat: Any, scripted: Scripted
) -> None:
    """An answerer failing mid-stream: a terminal failed delta, the fallback answer stored
    (under a new id: the deltas' id was announced for what failed), then agent_requested."""
    scripted.scripts["Track 42"] = [Text("Your parcel"), BotFailure("upstream 503")]
    chat = await open_chat(fallback_answer="We will get back to you.")
    said = await chat.say("Track 42")
    result = await chat.gw.result(said["id"])
    turn = chat.gw.turn_for(said["id"])
    assert turn is not None
    assert result.message is not None and result.message.content == "We will get back to you."
    assert result.message.id != turn.message_id
    assert result.handed_off
    assert chat.deltas()[-1] == {
        "message_id": turn.message_id,
        "index": 1,
        "text": "",
        "done": True,
        "reason": "failed",
    }
    assert [(m["role"], m["content"]) for m in await chat.history()] == [
        ("visitor", "Track 42"),
        ("bot", "We will get back to you."),
    ]
    assert await chat.status() == "agent_requested"


async def test_bot_turn_slow_answer_times_out_to_the_fallback(
    open_chat: Any, scripted: Scripted
) -> None:
    """An answer longer than timeout_seconds gets the fallback (under the turn's id, as no
    delta announced it); without handoff_on_failure the bot keeps the conversation."""
    gate = Gate()
    scripted.scripts["Anyone?"] = [gate, Text("too late")]
    chat = await open_chat(timeout_seconds=1, handoff_on_failure=False)
    try:
        said = await chat.say("Anyone?")
        result = await chat.gw.result(said["id"])
        turn = chat.gw.turn_for(said["id"])
        assert turn is not None and result.message is not None
        assert (result.message.id, result.message.content) == (
            turn.message_id,
            chat.bot["fallback_answer"],
        )
        assert result.message.metadata["bot_failure"] == "timeout"
        assert not result.handed_off
        assert await chat.status() == "bot_active"
        assert chat.deltas() == []
    finally:
        gate.open()


async def test_bot_turn_error_and_empty_answers_fall_back(
    open_chat: Any, scripted: Scripted
) -> None:
    """An answerer raising anything, or answering nothing, gets the fallback too."""
    scripted.scripts["boom"] = [RuntimeError("bug")]
    scripted.scripts["silence"] = []
    for question in ("boom", "silence"):
        chat = await open_chat()
        said = await chat.say(question)
        result = await chat.gw.result(said["id"])
        assert result.message is not None, question
        assert result.message.content == chat.bot["fallback_answer"]
        assert result.handed_off
