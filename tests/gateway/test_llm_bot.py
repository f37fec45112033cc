"""The ``llm`` bot's answerer against a local OpenAI-compatible server (``tests/openai_server``):
what it sends, how it reads the stream, and every way the server can fail it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from gateway.bot.answers import BotFailure, Cited, HandOff, Link, Piece, Question, Text, Turn
from gateway.bot.llm import DEFAULT_SYSTEM_PROMPT, HANDOFF_TOOL, LlmAnswerer, llm_fetch_policy
from gateway.media.fetch import Fetcher, FetchPolicy
from gateway.settings import Settings
from tests.openai_server import (
    ModelServer,
    Reply,
    answer,
    cut_off,
    error_event,
    free_port,
    handoff,
    malformed,
    model_server,
    stall,
    status,
    trickle,
)
from tests.support import eventually, timeout

KEY = "sk-test-0123456789abcdef"


@dataclass(frozen=True)
class Found:
    title: str
    url: str | None
    text: str


RETURNS = Found("Returns", "https://shop.example/returns", "Returns are free within 30 days.")
SHIPPING = Found("Shipping", "https://shop.example/shipping", "Parcels leave within a day.")
RETURNS_2 = Found("Returns", "https://shop.example/returns", "Refunds take five days.")
NOTE = Found("Internal note", None, "Gift cards cannot be refunded.")


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with model_server() as s:
        yield s


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}))) as f:
        yield f


def answerer(
    server: ModelServer | str,
    fetcher: Fetcher,
    *found: Found,
    timeout: float = 10,
    idle_timeout: float | None = None,
    api_key: str = KEY,
    system_prompt: str | None = None,
) -> LlmAnswerer:
    async def passages(text: str) -> list[Found]:
        return list(found)

    return LlmAnswerer(
        base_url=server if isinstance(server, str) else server.url,
        model="gpt-test",
        api_key=api_key,
        system_prompt=system_prompt,
        passages=passages,
        timeout=timeout,
        idle_timeout=idle_timeout,
        http=fetcher,
    )


def question(text: str = "Can I return my shoes?", *history: Turn) -> Question:
    return Question(org_id="org", conversation_id="c", text=text, history=history)


async def pieces(bot: LlmAnswerer, q: Question | None = None) -> list[Piece]:
    return [piece async for piece in bot.answer(q or question())]


async def failure(bot: LlmAnswerer) -> str:
    with pytest.raises(BotFailure) as caught:
        await pieces(bot)
    message = str(caught.value)
    assert KEY not in message
    return message


async def test_llm_request_carries_passages_history_question_and_tool(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """One streamed chat-completions request: the system prompt with the numbered passages
    (titles, urls, text), the history as user/assistant turns, the question last, the
    ``handoff`` tool, the key as a bearer token."""
    bot = answerer(server, fetcher, RETURNS, NOTE)
    history = (
        Turn("visitor", "Hi"),
        Turn("bot", "Hello! How can I help?"),
        Turn("system", "A team member has joined the conversation."),
        Turn("agent", "I am here too."),
    )
    await pieces(bot, question("Can I return my shoes?", *history))
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    body = request.json
    assert (body["model"], body["stream"], body["tools"]) == ("gpt-test", True, [HANDOFF_TOOL])
    system, *turns = body["messages"]
    assert system["role"] == "system"
    assert system["content"].startswith(DEFAULT_SYSTEM_PROMPT)
    assert (
        "[1] Returns (https://shop.example/returns)\nReturns are free within 30 days."
        in (system["content"])
    )
    assert "[2] Internal note\nGift cards cannot be refunded." in system["content"]
    assert turns == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "assistant", "content": "I am here too."},
        {"role": "user", "content": "Can I return my shoes?"},
    ]


async def test_llm_bot_prompt_replaces_the_default_and_keeps_the_passages(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """A bot's own system prompt is used instead of the default; the passages follow it."""
    bot = answerer(server, fetcher, SHIPPING, system_prompt="You are Ada, of Shop.")
    await pieces(bot)
    system = server.requests[0].messages[0]["content"]
    assert system.startswith("You are Ada, of Shop.\n\n")
    assert DEFAULT_SYSTEM_PROMPT not in system
    assert "[1] Shipping (https://shop.example/shipping)" in system


async def test_llm_no_passages_says_so_and_no_key_sends_no_authorization(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """Without passages the prompt tells the model none matched; without a key (a local
    model server) no Authorization header is sent."""
    await pieces(answerer(server, fetcher, api_key=""))
    (request,) = server.requests
    assert "authorization" not in request.headers
    assert "No passage of the knowledge base matches" in request.messages[0]["content"]


async def test_llm_history_is_bounded_to_the_latest_turns(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """A long conversation sends only its last 20 messages with the question."""
    history = tuple(Turn("visitor", f"message {i}") for i in range(30))
    await pieces(answerer(server, fetcher), question("last", *history))
    contents = [m["content"] for m in server.requests[0].messages[1:]]
    assert contents == [f"message {i}" for i in range(10, 30)] + ["last"]


async def test_llm_streams_each_content_delta_as_a_text_piece(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """Each ``delta.content`` becomes one Text piece, in order."""
    server.reply(answer("Returns ", "are ", "free ", "for ", "30 days."))
    got = await pieces(answerer(server, fetcher))
    assert got == [Text("Returns "), Text("are "), Text("free "), Text("for "), Text("30 days.")]


async def test_llm_text_arrives_before_the_stream_ends(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """The first words reach the caller while the server still holds the rest back."""
    gate = threading.Event()
    server.reply(stall("Let me ", "check.", gate=gate))
    stream = answerer(server, fetcher).answer(question())
    try:
        assert await anext(stream) == Text("Let me ")
        assert await anext(stream) == Text("check.")
        gate.set()
        assert [piece async for piece in stream] == []
    finally:
        gate.set()
        await stream.aclose()


async def test_llm_reads_events_split_anywhere_and_crlf_lines(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """Events split mid-line across writes, and CRLF line ends, read the same."""
    server.reply(answer("One ", "two ", "three.", ragged=True), answer("Four.", crlf=True))
    bot = answerer(server, fetcher)
    assert await pieces(bot) == [Text("One "), Text("two "), Text("three.")]
    assert await pieces(bot) == [Text("Four.")]


async def test_llm_finish_reason_without_done_is_a_whole_answer(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """A server that ends the stream after the finish_reason without ``[DONE]`` answered."""
    server.reply(answer("Yes.", done=False))
    assert await pieces(answerer(server, fetcher)) == [Text("Yes.")]


async def test_llm_cites_the_passages_the_answer_refers_to(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """Cited holds the passages named by number, in the order named, one link per URL; a
    passage the answer never names is not cited."""
    server.reply(answer("Refunds take five days [3]. ", "Returns are free [1", "][3, 4]."))
    got = await pieces(answerer(server, fetcher, RETURNS, SHIPPING, RETURNS_2, NOTE))
    assert got[-1] == Cited(
        (
            Link("https://shop.example/returns", "Returns"),
            Link(None, "Internal note"),
        )
    )


async def test_llm_answer_naming_no_passage_cites_nothing(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """An answer that names no passage (or a number out of range) has no Cited piece."""
    server.reply(answer("I do not know [7]."))
    got = await pieces(answerer(server, fetcher, RETURNS))
    assert got == [Text("I do not know [7].")]


async def test_llm_handoff_call_streamed_in_pieces(server: ModelServer, fetcher: Fetcher) -> None:
    """A ``handoff`` call whose arguments arrive in several chunks is one HandOff."""
    server.reply(handoff("The visitor wants a refund outside the policy."))
    got = await pieces(answerer(server, fetcher, RETURNS))
    assert got == [HandOff("The visitor wants a refund outside the policy.")]


async def test_llm_handoff_after_text_keeps_the_text_and_citations(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """Text before the call is still the answer, cited, then the hand-off."""
    server.reply(handoff("asked for a person", "Returns are free [1]. ", "Connecting you."))
    got = await pieces(answerer(server, fetcher, RETURNS))
    assert got == [
        Text("Returns are free [1]. "),
        Text("Connecting you."),
        Cited((Link("https://shop.example/returns", "Returns"),)),
        HandOff("asked for a person"),
    ]


async def test_llm_handoff_with_unreadable_arguments_still_hands_off(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """A handoff call with an empty reason still hands off, with a default reason; a call of
    a tool that was never offered is ignored."""
    server.reply(handoff("  "), handoff("nope", "Sure.", name="refund"))
    bot = answerer(server, fetcher)
    assert await pieces(bot) == [HandOff("the bot asked for a person")]
    assert await pieces(bot) == [Text("Sure.")]


@pytest.mark.parametrize("code", [500, 502, 503, 429, 401])
async def test_llm_error_status_fails_with_the_servers_message(
    server: ModelServer, fetcher: Fetcher, code: int
) -> None:
    """A non-2xx answer is a BotFailure naming the status and what the server said, with
    the key masked even when the server echoes it."""
    server.reply(status(code, f"Incorrect API key provided: {KEY}."))
    message = await failure(answerer(server, fetcher))
    assert message == f"the model server answered {code}: Incorrect API key provided: ***."


async def test_llm_stall_longer_than_the_idle_timeout_fails(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """A stream that stops sending fails after the idle timeout, its text so far streamed."""
    server.reply(stall("Let me check"))
    bot = answerer(server, fetcher, timeout=timeout(30), idle_timeout=0.3)
    got: list[Piece] = []
    with pytest.raises(BotFailure, match="sent nothing for 0.3s"):
        async for piece in bot.answer(question()):
            got.append(piece)
    assert got == [Text("Let me check")]


async def test_llm_answer_that_never_ends_fails_at_the_overall_timeout(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """Content that keeps trickling in (each piece within the idle timeout) still fails once
    the whole answer takes longer than the bot's timeout."""
    server.reply(trickle(0.02))
    whole = timeout(1.5)
    # The idle timeout is far above the trickle's pace, even on a loaded machine.
    bot = answerer(server, fetcher, timeout=whole, idle_timeout=timeout(1.4))
    message = await failure(bot)
    assert message == f"no complete answer within {whole:g}s"


async def test_llm_server_that_never_answers_fails_at_the_timeout(
    server: ModelServer, fetcher: Fetcher
) -> None:
    """A server that never even sends its headers fails at the bot's timeout."""
    hold = threading.Event()
    server.reply(Reply(hold=hold))
    try:
        message = await failure(answerer(server, fetcher, timeout=0.4, idle_timeout=5))
    finally:
        hold.set()
    assert message == "no complete answer within 0.4s"


async def test_llm_malformed_chunk_fails(server: ModelServer, fetcher: Fetcher) -> None:
    """An event that is not JSON fails the answer."""
    server.reply(malformed("Hello"))
    assert await failure(answerer(server, fetcher)) == (
        "the stream carried an event that is not JSON"
    )


async def test_llm_stream_cut_off_fails(server: ModelServer, fetcher: Fetcher) -> None:
    """A stream that ends without a finish_reason or [DONE] fails the answer."""
    server.reply(cut_off("Returns are"))
    assert await failure(answerer(server, fetcher)) == (
        "the stream ended before the answer was finished"
    )


async def test_llm_error_event_mid_stream_fails(server: ModelServer, fetcher: Fetcher) -> None:
    """An error object sent as an event after the stream started fails the answer."""
    server.reply(error_event("overloaded", "Retu"))
    assert await failure(answerer(server, fetcher)) == (
        "the model server sent an error: overloaded"
    )


async def test_llm_answer_that_is_not_a_stream_fails(server: ModelServer, fetcher: Fetcher) -> None:
    """A 200 answer that is not an event stream (the server ignored ``stream``) fails."""
    server.reply(Reply(body=b'{"choices": []}', content_type="application/json"))
    assert await failure(answerer(server, fetcher)) == (
        "the model server answered application/json, not an event stream"
    )


async def test_llm_empty_answer_fails(server: ModelServer, fetcher: Fetcher) -> None:
    """A finished answer with no text and no hand-off fails (the visitor would get nothing)."""
    server.reply(answer())
    assert await failure(answerer(server, fetcher)) == "the model gave an empty answer"


async def test_llm_connection_refused_fails(fetcher: Fetcher) -> None:
    """Nothing listening at the base URL is a BotFailure."""
    bot = answerer(f"http://127.0.0.1:{free_port()}/v1", fetcher)
    message = await failure(bot)
    assert "connection_failed" in message


async def test_llm_private_address_refused_unless_allowed(server: ModelServer) -> None:
    """Without an allow-list the outbound policy refuses a model server on a private
    address, and nothing is sent; the host of ``CHATGATE_LLM_BASE_URL`` is allowed."""
    async with Fetcher(llm_fetch_policy(Settings())) as vetting:
        message = await failure(answerer(server, vetting))
    assert "unsafe_address" in message
    assert server.requests == []
    async with Fetcher(llm_fetch_policy(Settings(llm_base_url=server.url))) as trusting:
        assert await pieces(answerer(server, trusting)) == [Text("Hello"), Text(" there.")]


def test_llm_fetch_policy_allows_listed_hosts_and_the_default_base_url_host() -> None:
    """``llm_allowed_hosts`` and the host of ``llm_base_url`` skip the address vetting."""
    settings = Settings(
        llm_allowed_hosts="Models.Internal, 10.0.0.7", llm_base_url="http://[::1]:8080/v1"
    )
    policy = llm_fetch_policy(settings)
    assert policy.allowed_hosts == {"models.internal", "10.0.0.7", "::1"}
    assert policy.max_redirects == 0


async def test_llm_caller_may_stop_reading_early(server: ModelServer, fetcher: Fetcher) -> None:
    """Closing the stream mid-answer (a takeover) closes the request to the model server."""
    server.reply(stall("Let me "))
    stream = answerer(server, fetcher).answer(question())
    assert await anext(stream) == Text("Let me ")
    await asyncio.wait_for(stream.aclose(), timeout(5))
    await eventually(lambda: server.abandoned == 1, 5)
