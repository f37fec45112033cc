"""``BotTurns``: the bot's turns of one gateway process, and the ``Turn`` other surfaces
follow.

A turn answers one visitor message. It starts on the process that stored the message
(``ConversationHandlers.on_visitor_message``), when the conversation is ``bot_active`` with
the bot still handling it and its bot (``Conversation.bot_id``) answers in the gateway
(``knowledge``, ``llm``; a ``webhook`` bot answers from outside). ``gateway.bot.runner`` runs
it. A conversation's turns on one process run one after the other, in the order the visitor's
messages were stored.

Other surfaces (the LiveChatAI dialect) find the turn answering a visitor message with
``turn_for(message_id)`` right after the send returns, stream its ``chunks()`` and await its
``result()``. A finished turn stays findable for ``RETAIN_SECONDS``.

A takeover seen on this process (``ConversationHandlers.on_change``) stops the conversation's
running turns at once; the runner also re-reads the conversation while it streams, for a
takeover on another process, and the final write is fenced by ``epoch`` whatever happens.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.bot.kinds import AnswererFactory
from gateway.bot.runner import TurnEnv, run_turn
from gateway.bot.turn import Turn, TurnResult
from gateway.core.bus import CommandBus
from gateway.core.publishing import EventPublisher
from protocol.states import Handler, Status
from storage.base import Store
from storage.models import Bot, Conversation, Message

__all__ = ["RETAIN_SECONDS", "STATE_KEY", "BotTurns", "Turn", "TurnResult"]

log = logging.getLogger(__name__)

#: The lifespan state key that holds the app's ``BotTurns``.
STATE_KEY = "bot_turns"
#: Seconds a finished turn can still be found by ``turn_for``.
RETAIN_SECONDS = 60.0


class BotTurns:
    """The turns of this process: one per app, built in the lifespan (``STATE_KEY``)."""

    def __init__(
        self,
        store: Store,
        bus: CommandBus,
        publisher: EventPublisher,
        answerers: AnswererFactory,
    ) -> None:
        self._store = store
        self._env = TurnEnv(store, bus, publisher, answerers)
        #: Turns by the visitor message they answer (running, or finished not long ago).
        self._turns: dict[str, Turn] = {}
        #: The last turn task of each conversation (the next one waits for it).
        self._last: dict[str, asyncio.Task[None]] = {}
        #: Running turns by conversation.
        self._running: dict[str, set[Turn]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def turn_for(self, message_id: str) -> Turn | None:
        """The turn answering that visitor message, if this process runs (or just ran) one."""
        return self._turns.get(message_id)

    async def heard(self, conversation: Conversation, message: Message) -> None:
        """A visitor message was stored in ``conversation``: start a turn if its bot answers
        here (the ``on_visitor_message`` hook)."""
        if (
            self._closed
            or conversation.bot_id is None
            or conversation.status is not Status.BOT_ACTIVE
            or conversation.handler is not Handler.BOT
        ):
            return
        bot = await self._store.get_bot(conversation.org_id, conversation.bot_id)
        if bot is None or bot.kind == "webhook":
            return
        turn = Turn(conversation.id, message.id)
        self._turns[message.id] = turn
        self._running.setdefault(conversation.id, set()).add(turn)
        previous = self._last.get(conversation.id)
        task = asyncio.create_task(self._run(turn, previous, bot, conversation, message))
        self._last[conversation.id] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._ended(turn, t))

    def observe(self, conversation: Conversation) -> None:
        """A change was stored (the ``on_change`` hook): a human handling the conversation
        now stops its running turns."""
        if conversation.handler is Handler.BOT:
            return
        for turn in self._running.get(conversation.id, ()):
            turn.lost.set()

    async def aclose(self) -> None:
        """Stop the running turns (the process is stopping): their visitor messages stay
        stored, unanswered (docs/bots.md)."""
        self._closed = True
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(
        self,
        turn: Turn,
        previous: asyncio.Task[None] | None,
        bot: Bot,
        conversation: Conversation,
        message: Message,
    ) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            result = await run_turn(self._env, turn, bot, conversation, message)
        except asyncio.CancelledError:
            turn.finish(TurnResult(None, (), False, "shutdown"))
            raise
        except Exception:
            log.exception("the bot's turn on message %s failed", message.id)
            result = TurnResult(None, (), False, "failed")
        turn.finish(result)

    def _ended(self, turn: Turn, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        running = self._running.get(turn.conversation_id)
        if running is not None:
            running.discard(turn)
            if not running:
                del self._running[turn.conversation_id]
        if self._last.get(turn.conversation_id) is task:
            del self._last[turn.conversation_id]
        if not turn.done:  # cancelled before it began
            turn.finish(TurnResult(None, (), False, "shutdown"))
        loop = asyncio.get_running_loop()
        loop.call_later(RETAIN_SECONDS, self._forget, turn)

    def _forget(self, turn: Turn) -> None:
        if self._turns.get(turn.in_reply_to) is turn:
            del self._turns[turn.in_reply_to]
