"""Escalation to an external live-agent platform (the Bland pattern), driven by outbox timers.

1. A conversation of a widget with ``live_agent_endpoint_url`` goes to ``agent_requested``:
   the store sets a ``live_agent.escalate`` timer ``live_agent_escalate_after`` seconds out.
2. When it fires and no human has taken the conversation, ``hand_off`` stamps
   ``live_agent_handoff_at`` and, in the same transaction, queues ``INITIAL_CONVERSATION``
   (thread, visitor, transcript) for the platform and a ``live_agent.timeout`` timer. Later
   visitor messages are forwarded (``MESSAGE``) in order, by the store.
3. The platform answers through the Bland thread endpoint; its first ``MESSAGE`` takes the
   conversation over (handler ``live_agent``).
4. If the timer fires first, or a delivery to the platform goes dead, ``fall_back`` takes the
   conversation back (to the bot, or waiting for the team) with a system message.

Every change goes through ``Store.apply`` and is then published: persist, then publish.

The timers and dead deliveries of ``webhook`` bots (``bot.timeout``, target ``bot``) are
handed to the ``BotFailures`` given (``gateway.bot.webhook``: the bot's fallback answer and
hand-off), which sits above this package and is passed in by the app.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

import orjson

from gateway.core.lifecycle import plan_fallback
from gateway.core.publishing import EventPublisher
from protocol.states import Handler, Status
from storage.base import Store
from storage.bot_outbox import BOT_TIMEOUT
from storage.models import Conversation, ConversationChange, Delivery, Plan, now
from storage.outbox import (
    LIVE_AGENT_ESCALATE,
    LIVE_AGENT_TIMEOUT,
    live_agent_initial,
    live_agent_timeout,
)

__all__ = ["BotFailures", "Escalation"]

log = logging.getLogger(__name__)

#: The longest transcript sent in ``INITIAL_CONVERSATION`` (the latest messages).
TRANSCRIPT_LIMIT = 500
#: Tries when the conversation changes between reading the transcript and the hand-off.
HANDOFF_TRIES = 5


class _Moved(Exception):
    """The conversation got a new event after its transcript was read."""


class BotFailures(Protocol):
    """What to do when a ``webhook`` bot did not answer in time or cannot be reached."""

    async def timed_out(self, timer: Delivery) -> None:
        """A ``bot.timeout`` timer is due."""
        ...

    async def gave_up(self, delivery: Delivery) -> None:
        """A ``bot.message`` delivery went dead (every attempt failed)."""
        ...


class Escalation:
    def __init__(
        self, store: Store, publisher: EventPublisher, bots: BotFailures | None = None
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._bots = bots

    async def run_timer(self, timer: Delivery) -> None:
        """Run a due ``live_agent.*`` or ``bot.timeout`` timer."""
        if timer.event_type == BOT_TIMEOUT:
            if self._bots is not None:
                await self._bots.timed_out(timer)
            return
        payload: dict[str, Any] = orjson.loads(timer.payload)
        conversation_id = payload["conversation_id"]
        if timer.event_type == LIVE_AGENT_ESCALATE:
            await self.hand_off(timer.org_id, conversation_id)
        elif timer.event_type == LIVE_AGENT_TIMEOUT:
            handoff_at = datetime.fromisoformat(payload["handoff_at"])
            await self.fall_back(timer.org_id, conversation_id, "timeout", handoff_at)
        else:
            log.warning("unknown timer %s (%s): dropped", timer.event_type, timer.id)

    async def platform_gave_up(self, delivery: Delivery) -> None:
        """A delivery to the platform went dead: it never accepted the conversation."""
        if delivery.conversation_id is not None:
            await self.fall_back(delivery.org_id, delivery.conversation_id, "undeliverable")

    async def bot_gave_up(self, delivery: Delivery) -> None:
        """A delivery to a webhook bot went dead."""
        if self._bots is not None:
            await self._bots.gave_up(delivery)

    async def hand_off(self, org_id: str, conversation_id: str) -> None:
        for _ in range(HANDOFF_TRIES):
            try:
                await self._hand_off(org_id, conversation_id)
                return
            except _Moved:
                continue
        log.warning("conversation %s kept changing; hand-off retried later", conversation_id)
        raise RuntimeError("the conversation kept changing during the hand-off")

    async def _hand_off(self, org_id: str, conversation_id: str) -> None:
        conversation = await self._store.get_conversation(org_id, conversation_id)
        if conversation is None or not _waiting(conversation) or conversation.widget_id is None:
            return
        widget = await self._store.get_widget(org_id, conversation.widget_id)
        if widget is None or widget.live_agent_endpoint_url is None:
            return
        contact = None
        if conversation.contact_id is not None:
            contact = await self._store.get_contact(org_id, conversation.contact_id)
        after = max(conversation.last_seq - TRANSCRIPT_LIMIT * 2, 0)
        # The platform's agents are outside: they never see private notes.
        messages = await self._store.list_messages(
            conversation.id, after, TRANSCRIPT_LIMIT * 2, with_private=False
        )
        transcript = messages[-TRANSCRIPT_LIMIT:]
        seen = conversation.last_seq
        at = now()

        def decide(current: Conversation) -> Plan:
            if not _waiting(current):
                return Plan(())
            if current.last_seq != seen:
                raise _Moved
            return Plan(
                (ConversationChange({"live_agent_handoff_at": at}),),
                outbox=(
                    live_agent_initial(current, contact, transcript, at),
                    live_agent_timeout(current, widget, at),
                ),
            )

        applied = await self._store.apply(org_id, conversation_id, decide)
        await self._publisher.publish(org_id, applied.events)

    async def fall_back(
        self,
        org_id: str,
        conversation_id: str,
        reason: str,
        handoff_at: datetime | None = None,
    ) -> None:
        """Take the conversation back from the platform, if it still has it unanswered (and
        ``handoff_at``, when given, is still its hand-off)."""
        conversation = await self._store.get_conversation(org_id, conversation_id)
        if conversation is None or conversation.widget_id is None:
            return
        widget = await self._store.get_widget(org_id, conversation.widget_id)
        fallback = "team" if widget is None else widget.live_agent_fallback

        def decide(current: Conversation) -> Plan:
            if handoff_at is not None and current.live_agent_handoff_at != handoff_at:
                return Plan(())
            return plan_fallback(current, fallback, reason)

        applied = await self._store.apply(org_id, conversation_id, decide)
        if applied.events:
            log.info("conversation %s fell back to %s (%s)", conversation_id, fallback, reason)
        await self._publisher.publish(org_id, applied.events)


def _waiting(conversation: Conversation) -> bool:
    """Asked for a human, none has answered, not handed off yet."""
    return (
        conversation.status is Status.AGENT_REQUESTED
        and conversation.handler is Handler.BOT
        and conversation.live_agent_handoff_at is None
    )
