"""Test helpers for the bot's turns: a scripted answerer, and a live gateway whose turns a
test can look at.

``Scripted`` is an ``Answerer`` (our own interface, ``gateway.bot.answers``) that plays the
pieces a test wrote for each question, waiting on ``Gate`` s between them where the test must
act (a takeover mid-answer) and raising where it must fail. Pass it to ``create_app`` as the
answerer of every bot: ``create_app(settings, answerers=scripted.factory)``.

The gateway runs on a real uvicorn in a thread, so gates open across threads, and
``LiveGateway.result`` awaits a turn on the server's loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.bot.answers import Answerer, Piece, Question
from gateway.bot.turns import STATE_KEY, BotTurns, Turn, TurnResult
from storage.models import Bot
from tests.support import live_server, timeout

__all__ = ["Gate", "LiveGateway", "Scripted", "live_gateway"]


class Gate:
    """Where a script waits until the test opens it (from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = False
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        #: Set once a script reached the gate.
        self.reached = threading.Event()

    async def wait(self) -> None:
        event = asyncio.Event()
        with self._lock:
            if self._open:
                return
            self._waiting.append((asyncio.get_running_loop(), event))
        self.reached.set()
        await event.wait()

    def open(self) -> None:
        with self._lock:
            self._open = True
            waiting, self._waiting = self._waiting, []
        for loop, event in waiting:
            loop.call_soon_threadsafe(event.set)


#: A step of a script: a piece to yield, a gate to wait at, an exception to raise.
Step = Piece | Gate | BaseException


class Scripted:
    """An answerer that plays, for each question text, the steps a test gave it."""

    def __init__(self, scripts: dict[str, Sequence[Step]] | None = None) -> None:
        self.scripts: dict[str, Sequence[Step]] = dict(scripts or {})
        #: Every question asked, in order.
        self.asked: list[Question] = []

    def factory(self, bot: Bot) -> Answerer | None:
        return None if bot.kind == "webhook" else self

    async def answer(self, question: Question) -> AsyncIterator[Piece]:
        self.asked.append(question)
        for step in self.scripts[question.text]:
            if isinstance(step, Gate):
                await step.wait()
            elif isinstance(step, BaseException):
                raise step
            else:
                yield step


class _Capture:
    """Keeps the lifespan state and loop of the app it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self.state = scope["state"]
            self.loop = asyncio.get_running_loop()
        await self.app(scope, receive, send)


@dataclass(frozen=True, slots=True)
class LiveGateway:
    url: str
    capture: _Capture

    @property
    def turns(self) -> BotTurns:
        turns: BotTurns = self.capture.state[STATE_KEY]
        return turns

    def turn_for(self, message_id: str) -> Turn | None:
        return self.turns.turn_for(message_id)

    async def result(self, message_id: str, seconds: float = 10) -> TurnResult:
        """The result of the turn answering that visitor message, awaited on the server."""
        turn = self.turn_for(message_id)
        assert turn is not None, f"no turn answers {message_id}"
        assert self.capture.loop is not None
        future = asyncio.run_coroutine_threadsafe(turn.result(), self.capture.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout(seconds))

    async def chunks(self, message_id: str, seconds: float = 10) -> list[str]:
        """Every chunk the turn streamed (read through a new iterator, once it ended)."""
        turn = self.turn_for(message_id)
        assert turn is not None and self.capture.loop is not None

        async def read() -> list[str]:
            return [chunk async for chunk in turn.chunks()]

        future = asyncio.run_coroutine_threadsafe(read(), self.capture.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout(seconds))


@contextmanager
def live_gateway(app: ASGIApp) -> Iterator[LiveGateway]:
    capture = _Capture(app)
    with live_server(capture) as url:
        yield LiveGateway(url, capture)
