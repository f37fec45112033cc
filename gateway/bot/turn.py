"""``Turn``: the bot's answer to one visitor message as it streams, and ``TurnResult``, how
it ended. ``gateway.bot.runner`` drives a turn; other surfaces (the LiveChatAI dialect) follow
it through ``BotTurns.turn_for`` (``gateway.bot.turns``, which re-exports both)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from gateway.bot.answers import Link
from storage.models import Message

__all__ = ["Turn", "TurnResult"]


@dataclass(frozen=True, slots=True)
class TurnResult:
    """How a turn ended.

    ``message`` is the stored answer: the bot's answer (its id is the turn's ``message_id``),
    its unsure answer, or its fallback answer when it failed (which has the turn's id unless
    deltas had been sent). None when nothing was stored: ``aborted`` says why
    (``control_lost``: a human took over; ``inactive``: the conversation had left
    ``bot_active`` before the turn began; ``failed``: not even the fallback could be stored;
    ``shutdown``: the process stopped), or the turn only handed off (a hand-off phrase, or an
    answerer's ``HandOff`` with no text).
    """

    message: Message | None
    links: tuple[Link, ...]
    handed_off: bool
    aborted: str | None


class Turn:
    """The bot's answer to one visitor message, as it streams."""

    def __init__(self, conversation_id: str, in_reply_to: str) -> None:
        #: The id the answer is (or would be) stored under, and its deltas' ``message_id``.
        self.message_id = str(uuid.uuid4())
        self.conversation_id = conversation_id
        #: The visitor message it answers.
        self.in_reply_to = in_reply_to
        #: Set when a human takes over: the turn stops streaming.
        self.lost = asyncio.Event()
        self._chunks: list[str] = []
        self._changed = asyncio.Event()
        self._result: asyncio.Future[TurnResult] = asyncio.get_running_loop().create_future()

    async def chunks(self) -> AsyncIterator[str]:
        """The answer's text chunks as they stream; a new iterator replays those so far.
        Ends when the turn does (the stored answer, ``result().message``, may differ: an
        unsure or a fallback answer replaces what streamed)."""
        sent = 0
        while True:
            changed = self._changed
            while sent < len(self._chunks):
                yield self._chunks[sent]
                sent += 1
            if self._result.done():
                return
            await changed.wait()

    async def result(self) -> TurnResult:
        return await asyncio.shield(self._result)

    @property
    def done(self) -> bool:
        return self._result.done()

    # -- the runner's side ----------------------------------------------------------------

    def add_chunk(self, text: str) -> None:
        self._chunks.append(text)
        self._notify()

    def finish(self, result: TurnResult) -> None:
        if not self._result.done():
            self._result.set_result(result)
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
