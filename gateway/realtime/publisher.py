"""Publish stored events: encode each once, send it to its rooms, without making anyone wait.

``conv:{id}`` gets every event of the conversation; ``inbox:{org}`` gets
``conversation.created``, ``conversation.updated`` and ``presence``.

**Nothing waits for the broker.** ``publish`` queues the events and returns: the change is
stored (acknowledged) already, and a Redis node that stopped answering (SIGSTOP, a stalled
host) must not hold the sender's reply. Each channel has its own queue, sent in order by its
own task while it has something to send, so one conversation's events reach the broker in
``seq`` order and a hung node delays only the channels it owns. A publish the broker refuses
is tried again (``RETRY_DELAYS``) before the channel moves on. So a conversation's last event
(which no later event would reveal as missing) and inbox events (which have no replay) still
arrive after a short outage; rooms drop a copy they already have and order by seq. An event
that fails for good takes the events waiting behind it on that channel with it (their node is
down for as long: trying each in turn would only delay the ones sent once it is back); the
rooms read them from storage at the next event, or when the broker resyncs them (a shard that
was down resyncs its rooms when it is back).

**Bounded.** A channel queues at most ``CHANNEL_BACKLOG`` events, the process
``TOTAL_BACKLOG``; past either the oldest waiting event of that channel is dropped (the newest
is kept: its seq reveals the gap, and the room backfills it from storage). Typing and read
events (no seq) are tried once: stale by the time a retry would land.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gateway.core.rooms import conversation_channel, inbox_channel
from gateway.realtime.broker.base import Broker, BrokerError
from gateway.realtime.push import Push
from protocol.events import Event, EventName

__all__ = ["Publisher"]

log = logging.getLogger(__name__)

INBOX_EVENTS = frozenset({EventName.CONVERSATION_CREATED, EventName.CONVERSATION_UPDATED})
#: Seconds before each retry of a failed publish.
RETRY_DELAYS = (0.1, 0.5, 2.0, 5.0)
#: Events that may wait for one channel, and for the whole process.
CHANNEL_BACKLOG = 1000
TOTAL_BACKLOG = 100_000
#: Seconds ``aclose`` gives the queued publishes before it drops them.
CLOSE_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class _Queued:
    payload: bytes
    event: Event


@dataclass(eq=False, slots=True)
class _Channel:
    """A channel's waiting events and the task sending them (one while there are any)."""

    waiting: deque[_Queued]
    sender: asyncio.Task[None] | None = None


class Publisher:
    """Sends stored events to their rooms; ``on_publish`` hooks hear of every stored change
    (the outbox dispatcher wakes on them)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.on_publish: list[Callable[[], None]] = []
        self._channels: dict[str, _Channel] = {}
        self._waiting = 0
        self._dropped = 0
        self._closed = False

    @property
    def backlog(self) -> int:
        """Events queued and not yet handed to the broker."""
        return self._waiting

    async def publish(self, org_id: str, events: Iterable[Event], *, outbox: bool = True) -> None:
        """Queue ``events`` for their rooms; never waits for the broker. ``outbox``: the
        change may have put rows in the outbox (``Applied.outbox``), so the ``on_publish``
        hooks hear of it; a change known to have written none wakes no dispatcher."""
        events = tuple(events)
        if outbox and any(event.seq is not None for event in events):  # stored, not typing
            for hook in self.on_publish:
                hook()
        for event in events:
            payload = Push.from_event(event).payload
            if event.conversation_id is None:  # presence: the org's inbox only
                self._queue(inbox_channel(org_id), _Queued(payload, event))
                continue
            self._queue(conversation_channel(event.conversation_id), _Queued(payload, event))
            if event.name in INBOX_EVENTS:
                self._queue(inbox_channel(org_id), _Queued(payload, event))

    async def aclose(self) -> None:
        """Give the queued publishes ``CLOSE_GRACE`` seconds, then drop what is left."""
        self._closed = True
        senders = {c.sender for c in self._channels.values() if c.sender is not None}
        if senders:
            await asyncio.wait(senders, timeout=CLOSE_GRACE)
        for channel in tuple(self._channels.values()):
            if channel.sender is not None:
                channel.sender.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        if self._waiting:
            log.warning("%d queued publishes dropped at shutdown", self._waiting)

    # -- queues ---------------------------------------------------------------------------

    def _queue(self, name: str, item: _Queued) -> None:
        if self._closed:
            log.warning("publish of %s seq %s to %s after shutdown dropped", *_what(item, name))
            return
        channel = self._channels.get(name)
        if channel is not None and (
            len(channel.waiting) >= CHANNEL_BACKLOG
            or (self._waiting >= TOTAL_BACKLOG and channel.waiting)
        ):
            self._drop(channel.waiting.popleft(), name)
            self._waiting -= 1
        elif self._waiting >= TOTAL_BACKLOG:
            self._drop(item, name)
            return
        if channel is None:
            channel = self._channels[name] = _Channel(deque())
        channel.waiting.append(item)
        self._waiting += 1
        if channel.sender is None:
            channel.sender = asyncio.create_task(self._send_all(name, channel))

    def _drop(self, item: _Queued, name: str) -> None:
        self._dropped += 1
        if _power_of_ten(self._dropped):  # a long outage must not flood the log
            log.warning(
                "publish backlog full: %s seq %s to %s dropped (rooms backfill it); "
                "%d dropped so far",
                *_what(item, name),
                self._dropped,
            )

    async def _send_all(self, name: str, channel: _Channel) -> None:
        """Send ``channel``'s events in order until none is waiting (the channel's task)."""
        try:
            while channel.waiting:
                item = channel.waiting.popleft()
                self._waiting -= 1
                if not await self._send(name, item) and channel.waiting:
                    log.error("dropping %d later publishes to %s", len(channel.waiting), name)
                    self._waiting -= len(channel.waiting)
                    channel.waiting.clear()
        finally:
            channel.sender = None
            if self._channels.get(name) is channel:
                del self._channels[name]
            self._waiting -= len(channel.waiting)

    async def _send(self, name: str, item: _Queued) -> bool:
        """Hand one event to the broker, retrying a stored one; False if it failed for good."""
        stored = item.event.seq is not None
        for delay in (0.0, *RETRY_DELAYS) if stored else (0.0,):
            if delay:
                await asyncio.sleep(delay)
            try:
                await self._broker.publish(name, item.payload)
            except BrokerError as exc:
                if delay == 0.0 and stored:
                    log.warning(
                        "publish of %s seq %s to %s failed (%s); retrying", *_what(item, name), exc
                    )
                continue
            except Exception:
                log.exception("publish of %s seq %s to %s failed", *_what(item, name))
                return False
            return True
        if stored:
            log.error(
                "publish of %s seq %s to %s failed for good; rooms resync from storage",
                *_what(item, name),
            )
            return False
        return True  # typing and read: stale by the time a retry lands


def _power_of_ten(n: int) -> bool:
    while n % 10 == 0:
        n //= 10
    return n == 1


def _what(item: _Queued, channel: str) -> tuple[str | None, int | None, str]:
    return item.event.conversation_id, item.event.seq, channel
