"""One turn of the bot: from a stored visitor message to the bot's stored answer.

::

    typing on (as the bot)
      -> the answerer's Text pieces, each a volatile message.delta (message_id, index, text)
      -> the whole answer stored once, under message_id, with the conversation's epoch
         (its new_message, with its seq, ends the stream)
    typing off

- **Hand-off.** A visitor message containing one of the bot's ``handoff_phrases`` gets no
  answer: the conversation goes to ``agent_requested`` at once. So does an answerer's
  ``HandOff`` (after storing the text before it, if any), and an ``Unsure`` answer that makes
  ``handoff_after`` unsure answers in a row (it is stored first).
- **Takeover.** A human answering (or opening) the conversation mid-answer stops the stream:
  subscribers get a terminal delta ``{done: true, reason: "control_lost"}`` and nothing of
  the answer is stored. The runner hears of takeovers on its own process at once
  (``Turn.lost``) and re-reads the conversation at most every ``RECHECK_SECONDS`` while it
  streams (a takeover through another process); the final write is fenced by ``epoch``
  whatever happens, and a stale one ends the same way.
- **Failure.** An answerer that raises (``BotFailure`` or anything else), answers nothing,
  or takes longer than the bot's ``timeout_seconds`` (the whole answer) never leaves the
  visitor waiting: a terminal delta ``{done: true, reason: "failed"}`` if deltas went out,
  then the bot's ``fallback_answer`` is stored and, with ``handoff_on_failure``, the
  conversation hands off.

Every write goes through the command bus as the org's bot (``transport="bot"``), like any
other responder's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from gateway.bot.answers import (
    Answerer,
    Cited,
    HandOff,
    Link,
    Piece,
    Question,
    Text,
    Turn as PastTurn,
    Unsure,
)
from gateway.bot.handoff import UNSURE, asks_for_human, unsure_in_a_row
from gateway.bot.kinds import AnswererFactory
from gateway.bot.turn import Turn, TurnResult
from gateway.core.auth import Principal
from gateway.core.bus import CommandBus, Context
from gateway.core.publishing import EventPublisher
from gateway.core.results import Sent
from protocol import commands as cmd
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.events import MessageDelta
from protocol.fields import blank
from protocol.states import Handler, Status
from storage.base import Store
from storage.models import Bot, Conversation, Message

__all__ = ["HISTORY", "RECHECK_SECONDS", "TurnEnv", "run_turn"]

log = logging.getLogger(__name__)

#: Earlier messages an answerer sees with the question, at most.
HISTORY = 20
#: Seconds between reads of the conversation while an answer streams (a takeover through
#: another process).
RECHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class TurnEnv:
    """What every turn uses."""

    store: Store
    bus: CommandBus
    publisher: EventPublisher
    answerers: AnswererFactory


@dataclass(slots=True)
class _Answer:
    """What the answerer said so far."""

    texts: list[str] = field(default_factory=list)
    links: tuple[Link, ...] = ()
    unsure: str | None = None
    handoff: str | None = None
    #: Deltas published (the next one's index).
    deltas: int = 0

    @property
    def content(self) -> str:
        return self.unsure if self.unsure is not None else "".join(self.texts)


class _ControlLost(Exception):
    """A human took over while the answer streamed."""


async def run_turn(
    env: TurnEnv, turn: Turn, bot: Bot, heard: Conversation, message: Message
) -> TurnResult:
    """Answer ``message`` (stored in ``heard``) as ``bot``; never raises for the bot's faults."""
    return await _Run(env, turn, bot, heard.org_id, message).run()


class _Run:
    def __init__(self, env: TurnEnv, turn: Turn, bot: Bot, org_id: str, message: Message) -> None:
        self.env = env
        self.turn = turn
        self.bot = bot
        self.org_id = org_id
        self.message = message
        self.conversation_id = message.conversation_id
        self.ctx = Context(Principal("bot", org_id, "bot"), "bot", f"bot-turn-{turn.message_id}")
        self.answer = _Answer()
        self.epoch = 0
        self._checked = time.monotonic()
        #: Why a write was refused (``control_lost`` or ``failed``).
        self._aborted = "failed"

    async def run(self) -> TurnResult:
        conversation = await self.env.store.get_conversation(self.org_id, self.conversation_id)
        if conversation is None or conversation.handler is not Handler.BOT:
            return TurnResult(None, (), False, "control_lost")
        if conversation.status is not Status.BOT_ACTIVE:
            return TurnResult(None, (), False, "inactive")
        self.epoch = conversation.epoch
        if asks_for_human(self.message.content, self.bot.handoff_phrases):
            return TurnResult(None, (), await self._hand_off(), None)
        history = await self._history()
        await self._typing(True)
        try:
            return await self._answer_and_store(history)
        finally:
            await self._typing(False)

    async def _answer_and_store(self, history: list[Message]) -> TurnResult:
        failure: str | None = None
        try:
            await self._listen(history)
        except _ControlLost:
            await self._end_stream("control_lost")
            return TurnResult(None, (), False, "control_lost")
        except TimeoutError:
            failure = "timeout"
        except Exception as exc:  # the bot's fault, whatever it is: the visitor gets an answer
            log.warning("bot %s failed on message %s: %r", self.bot.id, self.message.id, exc)
            failure = "error"
        if failure is None and blank(self.answer.content) and self.answer.handoff is None:
            failure = "empty"
        if failure is not None:
            return await self._fall_back(failure)
        answer, stored = self.answer, None
        if not blank(answer.content):
            stored = await self._store_answer()
            if stored is None:
                return TurnResult(None, (), False, self._aborted)
        unsure_run = 0
        if answer.unsure is not None:
            unsure_run = unsure_in_a_row([*history, *([stored] if stored else [])])
        handing_off = answer.handoff is not None or (
            self.bot.handoff_after > 0 and unsure_run >= self.bot.handoff_after
        )
        handed_off = await self._hand_off() if handing_off else False
        return TurnResult(stored, answer.links, handed_off, None)

    # -- listening ------------------------------------------------------------------------

    async def _listen(self, history: list[Message]) -> None:
        """Take the answerer's pieces until it ends, hands off, times out or a human takes
        over (``_ControlLost``)."""
        answerer = self.env.answerers(self.bot)
        if answerer is None:
            raise RuntimeError(f"a {self.bot.kind} bot has no answerer in the gateway")
        question = Question(
            org_id=self.org_id,
            conversation_id=self.conversation_id,
            text=self.message.content,
            history=tuple(PastTurn(m.role.value, m.content) for m in history[-HISTORY:]),
        )
        listening = asyncio.create_task(self._take(answerer, question))
        lost = asyncio.create_task(self.turn.lost.wait())
        try:
            async with asyncio.timeout(self.bot.timeout_seconds):
                await asyncio.wait({listening, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not listening.done():
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
        if self.turn.lost.is_set():
            raise _ControlLost
        listening.result()  # its failure, if any

    async def _take(self, answerer: Answerer, question: Question) -> None:
        stream = answerer.answer(question)
        try:
            async for piece in stream:
                if await self._took(piece):
                    break
        finally:
            await _close(stream)

    async def _took(self, piece: Piece) -> bool:
        """Act on one piece; True when the answer is complete (a hand-off)."""
        answer = self.answer
        if isinstance(piece, Text):
            answer.texts.append(piece.text)
            if answer.unsure is None:
                await self._delta(piece.text)
        elif isinstance(piece, Cited):
            answer.links = piece.links
        elif isinstance(piece, Unsure):
            answer.unsure = piece.text
            if answer.deltas == 0:
                await self._delta(piece.text)
        elif isinstance(piece, HandOff):
            answer.handoff = piece.reason
            return True
        return False

    async def _delta(self, text: str) -> None:
        if not text:
            return
        await self._check_control()
        self.turn.add_chunk(text)
        delta = MessageDelta(self.conversation_id, self.turn.message_id, self.answer.deltas, text)
        self.answer.deltas += 1
        await self.env.publisher.publish(self.org_id, (delta,))

    async def _check_control(self) -> None:
        """Stop on a takeover: seen here at once, through another process at the next read."""
        if self.turn.lost.is_set():
            raise _ControlLost
        if time.monotonic() - self._checked < RECHECK_SECONDS:
            return
        self._checked = time.monotonic()
        current = await self.env.store.get_conversation(self.org_id, self.conversation_id)
        if current is None or current.handler is not Handler.BOT or current.epoch != self.epoch:
            self.turn.lost.set()
            raise _ControlLost

    async def _end_stream(self, reason: str) -> None:
        """Tell subscribers to drop what streamed (nothing to say if nothing did)."""
        if self.answer.deltas:
            end = MessageDelta(
                self.conversation_id, self.turn.message_id, self.answer.deltas, "", reason
            )
            await self.env.publisher.publish(self.org_id, (end,))

    # -- writing --------------------------------------------------------------------------

    async def _store_answer(self) -> Message | None:
        answer = self.answer
        metadata: dict[str, Any] = {
            "in_reply_to": self.message.id,
            "links": [{"url": link.url, "title": link.title} for link in answer.links],
        }
        if answer.unsure is not None:
            metadata[UNSURE] = True
        return await self._post(self.turn.message_id, answer.content, metadata, streamed=True)

    async def _fall_back(self, failure: str) -> TurnResult:
        """Store the bot's fallback answer (and hand off if it says so) after a failure."""
        await self._end_stream("failed")
        # Under the turn's id unless deltas announced that id for what failed.
        message_id = self.turn.message_id if not self.answer.deltas else str(uuid.uuid4())
        metadata = {"in_reply_to": self.message.id, "bot_failure": failure, "links": []}
        stored = await self._post(message_id, self.bot.fallback_answer, metadata, streamed=False)
        if stored is None:
            return TurnResult(None, (), False, self._aborted)
        handed_off = await self._hand_off() if self.bot.handoff_on_failure else False
        return TurnResult(stored, (), handed_off, None)

    async def _post(
        self, message_id: str, content: str, metadata: dict[str, Any], *, streamed: bool
    ) -> Message | None:
        """Store a bot message; None (and ``_aborted`` set) when refused."""
        command = cmd.PostBotAnswer(
            conversation_id=uuid.UUID(self.conversation_id),
            message_id=uuid.UUID(message_id),
            content=content,
            epoch=self.epoch,
            bot_id=self.bot.id,
            metadata=metadata,
        )
        try:
            sent: Sent = await self.env.bus.dispatch(self.ctx, command)
        except GatewayError as exc:
            lost = exc.code is ErrorCode.CONTROL_LOST
            self._aborted = "control_lost" if lost else "failed"
            if not lost:
                log.warning("the bot's answer to %s was refused: %s", self.message.id, exc)
            if streamed:
                await self._end_stream(self._aborted)
            return None
        return sent.message

    async def _hand_off(self) -> bool:
        """Ask for a human (``agent_requested``); False if the bot no longer may."""
        command = cmd.UpdateConversation(
            conversation_id=uuid.UUID(self.conversation_id),
            status=Status.AGENT_REQUESTED,
            epoch=self.epoch,
        )
        try:
            await self.env.bus.dispatch(self.ctx, command)
        except GatewayError as exc:
            log.info("the bot could not hand off %s: %s", self.conversation_id, exc)
            return False
        return True

    async def _typing(self, on: bool) -> None:
        command = cmd.SetTyping(conversation_id=uuid.UUID(self.conversation_id), on=on)
        with contextlib.suppress(GatewayError):  # volatile: nothing to retry
            await self.env.bus.dispatch(self.ctx, command)

    async def _history(self) -> list[Message]:
        """The messages before the question, oldest first: enough to count the bot's unsure
        answers in a row up to ``handoff_after`` (each follows a question), and at least
        ``HISTORY``."""
        seq, wanted = self.message.seq, max(HISTORY, 2 * self.bot.handoff_after + 2)
        # Status changes take seqs too: read more than needed.
        rows = await self.env.store.list_messages(
            self.conversation_id, max(0, seq - 3 * wanted - 1), 3 * wanted
        )
        return [m for m in rows if m.seq < seq][-wanted:]


async def _close(stream: AsyncIterator[Piece]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
