"""The ``llm`` bot: an answer from any OpenAI-compatible chat-completions endpoint, grounded
on the passages the knowledge search finds for the question, streamed as it is generated.

One request per question: ``POST {base_url}/chat/completions`` with ``stream: true`` and

- one ``system`` message: the bot's system prompt (or ``DEFAULT_SYSTEM_PROMPT``) followed by
  the passages found for the question, numbered ``[1]``, ``[2]``... with their titles and
  URLs, and the instruction to cite them by number;
- the conversation so far (its last ``HISTORY_TURNS`` messages): the visitor's as ``user``,
  the bot's and the team's as ``assistant``, system notices left out;
- the question as the last ``user`` message;
- ``tools``: one function, ``handoff({reason})``, which the model calls when the visitor
  wants a person or it cannot help.

The answer is read as the API streams it (``data: {chunk}`` events, then ``data: [DONE]``):
each ``choices[0].delta.content`` becomes a ``Text`` at once; ``delta.tool_calls`` pieces are
joined by their ``index`` until the stream ends. Then come ``Cited`` with the links of the
passages the answer refers to by number (a passage it never names is not cited; one link per
URL), and ``HandOff(reason)`` if the model called ``handoff``.

Everything that goes wrong outside raises ``BotFailure`` with a sentence for the log (never the
key): a refused or failed connection, a status other than 2xx, an answer that is not an event
stream, an event that is not JSON or carries an ``error``, a stream that ends before a
``finish_reason`` or ``[DONE]``, an empty answer, more than ``timeout`` seconds for the whole
answer or more than ``idle_timeout`` seconds without a byte. The request goes through the
outbound ``Fetcher``: the bot's URL is vetted like a webhook's (docs/bots.md, "llm").
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2 as httpx
import orjson

from gateway.bot.answers import BotFailure, Cited, HandOff, Link, Piece, Question, Text
from gateway.bot.sse import EventStreamError, SseDecoder
from gateway.media.fetch import Fetcher, FetchPolicy, FetchRefused
from gateway.settings import Settings

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "HANDOFF_TOOL",
    "HISTORY_TURNS",
    "LlmAnswerer",
    "Passage",
    "llm_fetch_policy",
]

DEFAULT_SYSTEM_PROMPT = (
    "You are the support assistant on this website. Answer the visitor's question using only "
    "the numbered passages from the knowledge base below. If they do not hold the answer, say "
    "that you do not know rather than guess. Call the handoff function when the visitor asks "
    "for a person, or when you cannot help them. Answer briefly, in the visitor's language."
)

#: The one tool offered to the model, in the chat-completions ``tools`` shape.
HANDOFF_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "handoff",
        "description": (
            "Hand the conversation over to a human member of the team: when the visitor asks "
            "for a person, or when you cannot help them."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "reason": {"type": "string", "description": "Why a person should take over."}
            },
            "required": ["reason"],
        },
    },
}

#: Earlier messages of the conversation sent with each question (the most recent ones).
HISTORY_TURNS = 20
#: Most bytes read from one answer's stream.
MAX_STREAM_BYTES = 2 * 1024 * 1024
_ROLES = {"visitor": "user", "bot": "assistant", "agent": "assistant", "live_agent": "assistant"}
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_DEFAULT_REASON = "the bot asked for a person"
_MAX_REASON = 500
_MAX_DETAIL = 300
_BACKSTOP = 600.0


def llm_fetch_policy(settings: Settings) -> FetchPolicy:
    """The outbound policy of ``llm`` bots' requests: vetted like webhooks, except on the
    hosts of ``llm_allowed_hosts`` and the host of ``llm_base_url``; no redirects. The
    answerer's own timers bound each answer, so the client's timeout is only a backstop."""
    hosts = {h.strip().lower() for h in settings.llm_allowed_hosts.split(",") if h.strip()}
    if settings.llm_base_url:
        hosts.add(httpx.URL(settings.llm_base_url).raw_host.decode("ascii").lower())
    return FetchPolicy(timeout=_BACKSTOP, max_redirects=0, allowed_hosts=frozenset(hosts))


class Passage(Protocol):
    """What the answerer needs of a knowledge passage (``gateway.bot.knowledge.Passage``)."""

    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def text(self) -> str: ...


class LlmAnswerer:
    """Answers through an OpenAI-compatible chat-completions endpoint (module docstring).

    Args:
        base_url: the API's base, ``/chat/completions`` is appended
            (``https://api.openai.com/v1``, ``http://10.0.0.5:11434/v1``).
        model: the ``model`` field of the request.
        api_key: sent as ``Authorization: Bearer``; empty sends none (a local server).
        system_prompt: the bot's own instructions; empty or None uses
            ``DEFAULT_SYSTEM_PROMPT``.
        passages: the knowledge search: question text in, best passages out.
        timeout: seconds for the whole answer, from the request to the end of the stream.
        http: the outbound fetcher the request goes through (its policy vets the URL).
        idle_timeout: seconds the stream may go without a byte (the wait for the answer's
            first byte included); at most ``timeout``, which it defaults to.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str,
        system_prompt: str | None,
        passages: Callable[[str], Awaitable[Sequence[Passage]]],
        timeout: float,
        http: Fetcher,
        idle_timeout: float | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._api_key = api_key
        self._system_prompt = system_prompt or DEFAULT_SYSTEM_PROMPT
        self._passages = passages
        self._timeout = timeout
        self._idle = min(timeout, idle_timeout or timeout)
        self._http = http

    def __repr__(self) -> str:
        return f"LlmAnswerer(url={self._url!r}, model={self._model!r})"

    async def answer(self, question: Question) -> AsyncIterator[Piece]:
        """Stream the model's answer to ``question``.

        Raises:
            BotFailure: as the module docstring lists.
        """
        found = list(await self._passages(question.text))
        body = orjson.dumps(
            {
                "model": self._model,
                "stream": True,
                "messages": self._messages(question, found),
                "tools": [HANDOFF_TOOL],
            }
        )
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        state = _State()
        try:
            async with AsyncExitStack() as stack:
                async with asyncio.timeout_at(min(deadline, loop.time() + self._idle)):
                    response = await stack.enter_async_context(
                        self._http.open_post(self._url, body, headers)
                    )
                    await self._check(response)
                raw = response.aiter_raw()
                decoder = SseDecoder()
                received = 0
                while not state.done:
                    try:
                        async with asyncio.timeout_at(min(deadline, loop.time() + self._idle)):
                            chunk = await anext(raw)
                    except StopAsyncIteration:
                        break
                    received += len(chunk)
                    if received > MAX_STREAM_BYTES:
                        raise BotFailure(f"the answer is over {MAX_STREAM_BYTES} bytes")
                    for event in decoder.feed(chunk):
                        text = self._take(state, event.event, event.data)
                        if text:
                            yield Text(text)
                        if state.done:
                            break
        except FetchRefused as exc:
            raise BotFailure(self._redacted(f"{self._url}: {exc.reason}: {exc.message}")) from None
        except (TimeoutError, httpx.TimeoutException):
            if loop.time() >= deadline:
                raise BotFailure(f"no complete answer within {self._timeout:g}s") from None
            raise BotFailure(f"the model server sent nothing for {self._idle:g}s") from None
        except EventStreamError as exc:
            raise BotFailure(f"the answer is not a valid event stream: {exc}") from None
        except httpx.HTTPError as exc:
            message = f"the connection to the model server failed: {type(exc).__name__}"
            raise BotFailure(message) from None
        if not state.finished:
            raise BotFailure("the stream ended before the answer was finished")
        handoff = state.handoff()
        if not state.text and handoff is None:
            raise BotFailure("the model gave an empty answer")
        links = _cited("".join(state.text), found)
        if links:
            yield Cited(links)
        if handoff is not None:
            yield HandOff(handoff)

    def _messages(self, question: Question, found: Sequence[Passage]) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": self._system_prompt + "\n\n" + _grounds(found)}]
        earlier = [turn for turn in question.history if turn.role in _ROLES and turn.text]
        for turn in earlier[-HISTORY_TURNS:]:
            messages.append({"role": _ROLES[turn.role], "content": turn.text})
        messages.append({"role": "user", "content": question.text})
        return messages

    async def _check(self, response: httpx.Response) -> None:
        """Refuse an answer that is not a successful event stream, with what the server said."""
        if not response.is_success:
            detail = _detail(await _start_of(response))
            status = f"the model server answered {response.status_code}"
            raise BotFailure(self._redacted(f"{status}: {detail}" if detail else status))
        kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind != "text/event-stream":
            raise BotFailure(f"the model server answered {kind or 'no type'}, not an event stream")

    def _take(self, state: _State, kind: str, data: str) -> str:
        """Fold one event into ``state``; the content it adds to the answer."""
        if data.strip() == "[DONE]":
            state.finished = state.done = True
            return ""
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise BotFailure("the stream carried an event that is not JSON") from None
        if not isinstance(chunk, dict):
            raise BotFailure("the stream carried an event that is not a JSON object")
        if kind == "error" or chunk.get("error"):
            detail = _detail(data.encode())
            raise BotFailure(self._redacted(f"the model server sent an error: {detail}"))
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise BotFailure("the stream carried a chunk without choices")
        # Several choices only come with ``n`` > 1, which is never asked; an empty list is
        # the usage chunk of ``stream_options.include_usage``.
        choice = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)
        if choice is None:
            return ""
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise BotFailure("the stream carried a chunk whose delta is not an object")
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                state.add_call(call)
        if choice.get("finish_reason"):
            state.finished = True
        text = delta.get("content") or delta.get("refusal") or ""
        if not isinstance(text, str):
            raise BotFailure("the stream carried content that is not text")
        if text:
            state.text.append(text)
        return text

    def _redacted(self, message: str) -> str:
        return message.replace(self._api_key, "***") if self._api_key else message


@dataclass(slots=True)
class _Call:
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _State:
    text: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    #: A ``finish_reason`` or ``[DONE]`` was seen: the answer is whole.
    finished: bool = False
    #: ``[DONE]``: nothing more is read.
    done: bool = False
    _last: int = 0

    def add_call(self, piece: dict[str, Any]) -> None:
        """Join a ``delta.tool_calls`` item to the call of its ``index`` (a server that
        sends none, as some do for a single call, continues the last one)."""
        index = piece.get("index")
        if not isinstance(index, int):
            index = len(self.calls) if piece.get("id") or not self.calls else self._last
        self._last = index
        call = self.calls.setdefault(index, _Call())
        function = piece.get("function")
        if not isinstance(function, dict):
            return
        name = function.get("name")
        if isinstance(name, str) and name != call.name:
            # OpenAI sends the whole name once; a server that repeats it is not doubled.
            call.name += name
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            call.arguments.append(arguments)
        elif isinstance(arguments, dict):  # some servers send the arguments decoded
            call.arguments.append(orjson.dumps(arguments).decode())

    def handoff(self) -> str | None:
        """The reason of the model's ``handoff`` call, if it made one (other calls are
        ignored: no other tool was offered)."""
        for call in self.calls.values():
            if call.name != "handoff":
                continue
            try:
                arguments = orjson.loads("".join(call.arguments) or "{}")
            except orjson.JSONDecodeError:
                arguments = {}  # the call says enough: the model wants a person
            reason = arguments.get("reason") if isinstance(arguments, dict) else None
            if isinstance(reason, str) and reason.strip():
                return reason.strip()[:_MAX_REASON]
            return _DEFAULT_REASON
        return None


def _grounds(found: Sequence[Passage]) -> str:
    if not found:
        return "No passage of the knowledge base matches this question."
    parts = [
        "Passages from the knowledge base. Cite the ones you use by their number in square "
        "brackets, like [1]."
    ]
    for number, passage in enumerate(found, 1):
        source = f" ({passage.url})" if passage.url else ""
        parts.append(f"[{number}] {passage.title}{source}\n{passage.text}")
    return "\n\n".join(parts)


def _cited(answer: str, found: Sequence[Passage]) -> tuple[Link, ...]:
    """The links of the passages ``answer`` refers to by number, in the order it names them,
    one per URL (an article without one: one per title)."""
    links: dict[tuple[str | None, str], Link] = {}
    for match in _CITATION.finditer(answer):
        for number in match.group(1).split(","):
            index = int(number) - 1
            if 0 <= index < len(found):
                passage = found[index]
                key = (passage.url, "") if passage.url else (None, passage.title)
                links.setdefault(key, Link(passage.url, passage.title))
    return tuple(links.values())


async def _start_of(response: httpx.Response) -> bytes:
    kept = bytearray()
    async for chunk in response.aiter_raw():
        kept += chunk
        if len(kept) >= 4096:
            break
    return bytes(kept)


def _detail(body: bytes) -> str:
    """What an error body says: the ``error.message`` of the OpenAI shape, or its text."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace")
    else:
        error = decoded.get("error", decoded) if isinstance(decoded, dict) else decoded
        if isinstance(error, dict):
            error = error.get("message", error)
        text = error if isinstance(error, str) else orjson.dumps(error).decode()
    text = " ".join(text.split())
    return text[:_MAX_DETAIL]
