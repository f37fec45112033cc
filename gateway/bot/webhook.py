"""Webhook bots: what the gateway does for an outside bot service beyond delivering to it.

The delivery itself is the store's: a visitor message stored while a ``webhook`` bot handles
the conversation is written to the outbox in the same transaction, as a ``bot.message`` to the
bot's url signed with its secret, with a ``bot.timeout`` timer ``timeout_seconds`` later
(``storage/bot_outbox.py``). The service answers through the API or a socket with the
conversation's ``epoch``, fenced like every bot (docs/bots.md, "webhook").

This module is the other half: a bot that does not answer in time, or whose delivery goes
dead, never leaves the visitor waiting. ``WebhookBotFailures`` (called by
``delivery.escalation`` for the timer and the dead delivery) says the bot's
``fallback_answer`` and, with ``handoff_on_failure``, asks for a human
(``agent_requested``), unless the bot has answered since that visitor message, or the
conversation has left the bot (a human took over, the visitor asked for one, its epoch
moved on).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from gateway.core.publishing import EventPublisher
from protocol.states import Handler, Role, Status
from storage.base import Store
from storage.models import Bot, Conversation, ConversationChange, Delivery, NewMessage, Plan

__all__ = ["WebhookBotFailures"]

log = logging.getLogger(__name__)

#: Messages read after the visitor's to see whether the bot answered.
_LOOK_AHEAD = 200
#: Tries when the conversation moves between reading it and applying the fallback.
_TRIES = 5


class _Moved(Exception):
    """The conversation got a new event after it was read."""


class WebhookBotFailures:
    """Fallback answers and hand-offs for webhook bots (``delivery.escalation.BotFailures``)."""

    def __init__(self, store: Store, publisher: EventPublisher) -> None:
        self._store = store
        self._publisher = publisher

    async def timed_out(self, timer: Delivery) -> None:
        payload: dict[str, Any] = orjson.loads(timer.payload)
        await self.fail(
            timer.org_id,
            payload["conversation_id"],
            payload["bot_id"],
            payload["after_seq"],
            payload["epoch"],
            "timeout",
        )

    async def gave_up(self, delivery: Delivery) -> None:
        payload: dict[str, Any] = orjson.loads(delivery.payload)
        data = payload["data"]
        await self.fail(
            delivery.org_id,
            payload["conversation_id"],
            data["bot"]["id"],
            payload["seq"],
            data["conversation"]["epoch"],
            "undeliverable",
        )

    async def fail(
        self,
        org_id: str,
        conversation_id: str,
        bot_id: str,
        after_seq: int,
        epoch: int,
        reason: str,
    ) -> None:
        """Say the bot's fallback answer to the visitor message at ``after_seq`` (and hand
        off), if the bot still has the conversation at ``epoch`` and has not answered it."""
        bot = await self._store.get_bot(org_id, bot_id)
        if bot is None:
            return
        for _ in range(_TRIES):
            try:
                await self._fail(org_id, conversation_id, bot, after_seq, epoch, reason)
                return
            except _Moved:
                continue
        log.warning("conversation %s kept changing; the bot's fallback runs later", conversation_id)
        raise RuntimeError("the conversation kept changing during the bot's fallback")

    async def _fail(
        self,
        org_id: str,
        conversation_id: str,
        bot: Bot,
        after_seq: int,
        epoch: int,
        reason: str,
    ) -> None:
        conversation = await self._store.get_conversation(org_id, conversation_id)
        if conversation is None or not _bot_has(conversation, epoch):
            return
        later = await self._store.list_messages(conversation_id, after_seq, _LOOK_AHEAD)
        if any(m.role is Role.BOT for m in later):
            return  # answered (a later timer covers a later visitor message)
        seen = conversation.last_seq

        def decide(current: Conversation) -> Plan:
            if not _bot_has(current, epoch):
                return Plan(())
            if current.last_seq != seen:
                raise _Moved
            answer = NewMessage(
                role=Role.BOT,
                sender_id=None,
                content=bot.fallback_answer,
                metadata={"source": "bot", "fallback": reason},
                client_message_id=f"bot-fallback-{after_seq}",
            )
            if not bot.handoff_on_failure:
                return Plan((answer,))
            return Plan((answer, ConversationChange({"status": Status.AGENT_REQUESTED})))

        applied = await self._store.apply(org_id, conversation_id, decide)
        if applied.events:
            log.info("webhook bot of conversation %s fell back (%s)", conversation_id, reason)
        await self._publisher.publish(org_id, applied.events)


def _bot_has(conversation: Conversation, epoch: int) -> bool:
    return (
        conversation.status is Status.BOT_ACTIVE
        and conversation.handler is Handler.BOT
        and conversation.epoch == epoch
    )
