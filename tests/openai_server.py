"""A local OpenAI-compatible chat-completions server for tests: a real HTTP server (Starlette on
uvicorn) at the network boundary, as the fake live-agent platform of ``tests/receiver.py``.

It records every request and answers ``POST .../chat/completions`` as scripted, streaming
server-sent events the way api.openai.com does: ``data: {chat.completion.chunk}`` events (a
first chunk with the role, content split over many chunks, tool-call arguments split over
many chunks, a last chunk with the ``finish_reason``, a usage chunk with no choices), then
``data: [DONE]``. Failure modes: an error status with OpenAI's error body, a stall, a chunk
that is not JSON, a stream cut off, an error event mid-stream.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.support import live_server

__all__ = [
    "ModelServer",
    "Recorded",
    "Reply",
    "answer",
    "cut_off",
    "error_event",
    "free_port",
    "handoff",
    "malformed",
    "model_server",
    "stall",
    "status",
    "trickle",
]

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.json["messages"])


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait ``seconds`` (forever when None) or until ``gate`` is set, mid-stream."""

    seconds: float | None = None
    gate: threading.Event | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer: a status and body, or a stream of byte writes and pauses."""

    status: int = 200
    body: bytes = b""
    stream: tuple[bytes | Pause, ...] = ()
    content_type: str = "text/event-stream; charset=utf-8"
    #: Hold the request, not even answering its headers, until this is set.
    hold: threading.Event | None = None


def _chunk(delta: dict[str, Any], finish: str | None = None, model: str = "m") -> bytes:
    payload = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1_765_000_000,
        "model": model,
        "system_fingerprint": "fp_test",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


_ROLE = _chunk({"role": "assistant", "content": "", "refusal": None})
_USAGE = (
    b'data: {"id":"chatcmpl-test","object":"chat.completion.chunk","created":1765000000,'
    b'"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":5,'
    b'"total_tokens":14}}\n\n'
)
_DONE = b"data: [DONE]\n\n"


def _content(pieces: tuple[str, ...]) -> list[bytes]:
    return [_chunk({"content": piece}) for piece in pieces]


def _tool_call(reason: str, name: str = "handoff", pieces: int = 4) -> list[bytes]:
    arguments = orjson.dumps({"reason": reason}).decode()
    size = max(1, -(-len(arguments) // pieces))
    first = {
        "index": 0,
        "id": f"call_{next(_ids)}",
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    writes = [_chunk({"role": "assistant", "content": None, "tool_calls": [first]})]
    for start in range(0, len(arguments), size):
        piece = {"index": 0, "function": {"arguments": arguments[start : start + size]}}
        writes.append(_chunk({"tool_calls": [piece]}))
    return writes


def _ragged(writes: list[bytes], every: int = 7) -> list[bytes | Pause]:
    """The same bytes, written ``every`` bytes at a time (events split mid-line)."""
    whole = b"".join(writes)
    return [whole[i : i + every] for i in range(0, len(whole), every)]


def answer(*pieces: str, done: bool = True, ragged: bool = False, crlf: bool = False) -> Reply:
    """A streamed answer whose content arrives in ``pieces``."""
    writes = [_ROLE, *_content(pieces), _chunk({}, "stop"), _USAGE]
    if done:
        writes.append(_DONE)
    if crlf:
        writes = [w.replace(b"\n", b"\r\n") for w in writes]
    return Reply(stream=tuple(_ragged(writes) if ragged else writes))


def handoff(reason: str, *pieces: str, name: str = "handoff") -> Reply:
    """Content in ``pieces`` (maybe none), then a call of ``handoff`` with its arguments
    streamed in several pieces, as OpenAI streams tool calls."""
    writes = [_ROLE, *_content(pieces)] if pieces else []
    writes += [*_tool_call(reason, name), _chunk({}, "tool_calls"), _DONE]
    return Reply(stream=tuple(writes))


def status(code: int, message: str = "The server had an error processing your request.") -> Reply:
    """An error answer with OpenAI's error body."""
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    return Reply(status=code, body=orjson.dumps(body), content_type="application/json")


def stall(*pieces: str, gate: threading.Event | None = None) -> Reply:
    """Some content, then nothing (until ``gate`` is set), then the rest of the answer."""
    pause = Pause(gate=gate)
    return Reply(stream=(_ROLE, *_content(pieces), pause, _chunk({}, "stop"), _DONE))


def trickle(every: float, piece: str = "more ") -> Reply:
    """Content that keeps coming, one piece each ``every`` seconds, never finishing."""
    writes: list[bytes | Pause] = [_ROLE]
    for _ in range(10_000):
        writes += [Pause(every), *_content((piece,))]
    return Reply(stream=tuple(writes))


def malformed(*pieces: str) -> Reply:
    """Some content, then an event whose data is not JSON."""
    writes = [_ROLE, *_content(pieces), b'data: {"choices": [{"delta": {"content": "x"\n\n']
    return Reply(stream=(*writes, _chunk({}, "stop"), _DONE))


def cut_off(*pieces: str) -> Reply:
    """Some content, then the stream ends cleanly with no finish_reason and no [DONE]."""
    return Reply(stream=(_ROLE, *_content(pieces)))


def error_event(message: str, *pieces: str) -> Reply:
    """Some content, then an error object as the next event (what OpenAI sends when a
    stream fails after it started)."""
    error = {"error": {"message": message, "type": "server_error", "code": None}}
    writes = [_ROLE, *_content(pieces), b"data: " + orjson.dumps(error) + b"\n\n"]
    return Reply(stream=tuple(writes))


@dataclass
class ModelServer:
    #: The API base, ``http://127.0.0.1:PORT/v1``.
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    #: Answers for the next requests, in order; then ``default``.
    script: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=lambda: answer("Hello", " there."))
    #: Streams that ended before their last write (the client went away).
    abandoned: int = 0

    def reply(self, *replies: Reply) -> None:
        self.script.extend(replies)

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        reply = self.script.pop(0) if self.script else self.default
        if reply.hold is not None:
            await _opened(reply.hold)
        if reply.status != 200 or not reply.stream:
            return Response(reply.body, reply.status, media_type=reply.content_type)
        return StreamingResponse(self._writes(reply.stream), media_type=reply.content_type)

    async def _writes(self, stream: tuple[bytes | Pause, ...]) -> AsyncIterator[bytes]:
        finished = False
        try:
            for write in stream:
                if isinstance(write, bytes):
                    yield write
                elif write.gate is not None:
                    await _opened(write.gate)
                else:
                    # Starlette cancels this when the client goes away.
                    await asyncio.sleep(write.seconds if write.seconds is not None else 3600)
            finished = True
        finally:
            self.abandoned += not finished


async def _opened(gate: threading.Event) -> None:
    # The gate is set from the test's thread: no event of this loop can tell.
    while not gate.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


@contextmanager
def model_server() -> Iterator[ModelServer]:
    """A ``ModelServer`` on a real uvicorn; its ``url`` is the API base to give a bot."""
    server = ModelServer()
    app = Starlette(routes=[Route("/{path:path}", server._handle, methods=["POST"])])
    with live_server(app) as url:
        server.url = url + "/v1"
        yield server


def free_port() -> int:
    """A port nothing listens on (for a refused connection)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
