"""Publish stored events: encode each once, send it to its rooms.

``conv:{id}`` gets every event of the conversation; ``inbox:{org}`` gets
``conversation.created`` and ``conversation.updated``. A broker failure after the write is
not the sender's problem: the change is stored (acknowledged). The publish is tried again in
the background a few times, so that a conversation's last event (which no later event would
reveal as missing) and inbox events (which have no replay) still arrive; rooms drop a copy
they already have and order by seq, and subscribers that missed it for longer backfill from
storage at the next event or resync.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from gateway.core.rooms import conversation_channel, inbox_channel
from gateway.realtime.broker.base import Broker, BrokerError
from gateway.realtime.push import Push
from protocol.events import Event, EventName

__all__ = ["Publisher"]

log = logging.getLogger(__name__)

INBOX_EVENTS = frozenset({EventName.CONVERSATION_CREATED, EventName.CONVERSATION_UPDATED})
#: Seconds before each retry of a failed publish.
RETRY_DELAYS = (0.1, 0.5, 2.0, 5.0)


class Publisher:
    """Sends stored events to their rooms; ``on_publish`` hooks hear of every stored change
    (the outbox dispatcher wakes on them)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.on_publish: list[Callable[[], None]] = []
        self._retries: set[asyncio.Task[None]] = set()

    async def publish(self, org_id: str, events: Iterable[Event]) -> None:
        events = tuple(events)
        if any(event.seq is not None for event in events):  # stored, not typing or read
            for hook in self.on_publish:
                hook()
        for event in events:
            payload = Push.from_event(event).payload
            await self._send(conversation_channel(event.conversation_id), payload, event)
            if event.name in INBOX_EVENTS:
                await self._send(inbox_channel(org_id), payload, event)

    async def aclose(self) -> None:
        """Give up on the retries still waiting."""
        for task in tuple(self._retries):
            task.cancel()
        await asyncio.gather(*self._retries, return_exceptions=True)

    async def _send(self, channel: str, payload: bytes, event: Event) -> None:
        try:
            await self._broker.publish(channel, payload)
        except BrokerError as exc:
            if event.seq is None:  # typing and read: stale by the time a retry lands
                return
            log.warning(
                "publish of %s seq %s to %s failed (%s); retrying", *_what(event, channel), exc
            )
            task = asyncio.create_task(self._retry(channel, payload, event))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
        except Exception:
            log.exception("publish of %s seq %s to %s failed", *_what(event, channel))

    async def _retry(self, channel: str, payload: bytes, event: Event) -> None:
        for delay in RETRY_DELAYS:
            await asyncio.sleep(delay)
            try:
                await self._broker.publish(channel, payload)
            except BrokerError:
                continue
            except Exception:
                break
            return
        log.error(
            "publish of %s seq %s to %s failed for good; rooms resync from storage",
            *_what(event, channel),
        )


def _what(event: Event, channel: str) -> tuple[str, int | None, str]:
    return event.conversation_id, event.seq, channel
