"""A real HTTP server that receives webhooks for tests: it records every request and answers
as scripted (a queue of answers, then a default), or hangs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import live_server

__all__ = ["Received", "Receiver", "receiver"]


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    #: The status this request was answered with.
    answered: int

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> Any:
        """The payload, verified by the ``standardwebhooks`` package (raises if it fails)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    #: Answers for the next requests, in order: ``(status, headers)``.
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    status: int = 200
    #: While True, requests are held unanswered (a receiver that hangs); ``held`` counts
    #: the requests held so far. Set it back to False before the receiver stops.
    hang: bool = False
    held: int = 0

    def answer(self, *answers: int | tuple[int, dict[str, str]]) -> None:
        for a in answers:
            self.script.append(a if isinstance(a, tuple) else (a, {}))

    def accepted(self, path: str | None = None) -> list[Received]:
        return [r for r in self.requests if 200 <= r.answered < 300 and path in (None, r.path)]

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        if self.hang:
            self.held += 1
            # ``hang`` is let go from the test's thread: no event of this loop can tell.
            while self.hang:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        status, headers = self.script.pop(0) if self.script else (self.status, {})
        self.requests.append(
            Received(request.url.path, dict(request.headers), body, time.monotonic(), status)
        )
        return Response(b"ok" if status < 300 else b"nope", status, headers=headers)


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A ``Receiver`` on a real uvicorn at ``http://127.0.0.1:PORT``."""
    r = Receiver()
    app = Starlette(routes=[Route("/{path:path}", r._handle, methods=["POST"])])
    with live_server(app) as url:
        r.url = url
        yield r
