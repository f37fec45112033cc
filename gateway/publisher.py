"""Publish stored events: encode each once, send it to its rooms.

``conv:{id}`` gets every event of the conversation; ``inbox:{org}`` gets
``conversation.created`` and ``conversation.updated``. A broker failure after the write is
logged, not raised: the change is stored (acknowledged), and subscribers that miss the
doorbell backfill the gap from storage at the next event or resync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from gateway.broker import Broker, BrokerError
from gateway.push import Push
from gateway.registry import conversation_channel, inbox_channel
from protocol.events import Event, EventName

__all__ = ["Publisher"]

log = logging.getLogger(__name__)

INBOX_EVENTS = frozenset({EventName.CONVERSATION_CREATED, EventName.CONVERSATION_UPDATED})


class Publisher:
    """Sends stored events to their rooms; ``on_publish`` hooks hear of every stored change
    (the outbox dispatcher wakes on them)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.on_publish: list[Callable[[], None]] = []

    async def publish(self, org_id: str, events: Iterable[Event]) -> None:
        events = tuple(events)
        if any(event.seq is not None for event in events):  # stored, not typing or read
            for hook in self.on_publish:
                hook()
        for event in events:
            payload = Push.from_event(event).payload
            try:
                await self._broker.publish(conversation_channel(event.conversation_id), payload)
                if event.name in INBOX_EVENTS:
                    await self._broker.publish(inbox_channel(org_id), payload)
            except BrokerError as exc:
                log.warning(
                    "publish of %s seq %s failed (%s); rooms resync from storage",
                    event.conversation_id,
                    event.seq,
                    exc,
                )
            except Exception:
                log.exception("publish of %s seq %s failed", event.conversation_id, event.seq)
