"""Publish stored events: encode each once, send it to its rooms, without making anyone wait.

``conv:{id}`` gets every event of the conversation; ``inbox:{org}`` gets
``conversation.created``, ``conversation.updated`` and ``presence``.

**Nothing waits for the broker.** ``publish`` queues the events and returns: the change is
stored (acknowledged) already, and a Redis node that stopped answering (SIGSTOP, a stalled
host) must not hold the sender's reply.

**One batch per shard and loop iteration.** The first event queued in a loop iteration
schedules a flush with ``call_soon`` (no timer: it runs in the next iteration, before any
I/O it finds, so it adds no latency). The flush hands every channel's waiting events to the
broker at once, one ``publish_many`` per shard: on Redis one pipeline per node, so a busy
iteration costs each node one write and one wake-up instead of a round trip per event. A
channel has at most one batch with the broker, its events in order within it; what is
queued meanwhile goes in the first flush after that batch is answered. So a conversation's
events reach the broker in ``seq`` order (but for a single command failing alone inside a
Redis pipeline, see ``Broker.publish_many``: the rooms order those). Each shard's batch
waits on its own, so a hung node delays only the channels it owns.

**Retries.** A publish the broker refuses is tried again (``RETRY_DELAYS``) before the
channel's later events go: the failed events go back to the head of the channel, which sits
out the delay. So a conversation's last event (which no later event would reveal as missing)
and inbox events (which have no replay) still arrive after a short outage; rooms drop a copy
they already have and order by seq. An event that fails for good takes the events waiting
behind it on that channel with it (their node is down for as long: trying each in turn would
only delay the ones sent once it is back); the rooms read them from storage at the next event,
or when the broker resyncs them (a shard that was down resyncs its rooms when it is back).
Typing and read events (no seq) are tried once: stale by the time a retry would land.

**Bounded.** A channel queues at most ``CHANNEL_BACKLOG`` events, the process
``TOTAL_BACKLOG``; past either the oldest waiting event of that channel is dropped (the newest
is kept: its seq reveals the gap, and the room backfills it from storage).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from gateway.core.metrics import Metrics
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
    """A channel's waiting events. ``busy`` while a batch of them is with the broker, or
    while failed ones wait for their retry: nothing else of the channel goes meanwhile."""

    name: str
    waiting: deque[_Queued] = field(default_factory=deque)
    busy: bool = False
    #: Tries in a row in which some stored event of the channel failed.
    failures: int = 0


#: One shard's part of a flush: each channel with the events it hands over, in order.
_Batch = list[tuple[_Channel, list[_Queued]]]


class Publisher:
    """Sends stored events to their rooms; ``on_publish`` hooks hear of every stored change
    (the outbox dispatcher wakes on them)."""

    def __init__(self, broker: Broker, metrics: Metrics | None = None) -> None:
        self._broker = broker
        self._metrics = metrics
        self.on_publish: list[Callable[[], None]] = []
        self._channels: dict[str, _Channel] = {}
        #: Channels with waiting events and nothing with the broker: the next flush's.
        self._ready: dict[str, _Channel] = {}
        self._flush: asyncio.Handle | None = None
        #: Batches with the broker, and how many events each carries.
        self._sending: dict[asyncio.Task[None], int] = {}
        self._retries: dict[_Channel, asyncio.TimerHandle] = {}
        self._drained: asyncio.Future[None] | None = None
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
        if self._channels:
            self._drained = asyncio.get_running_loop().create_future()
            await asyncio.wait((self._drained,), timeout=CLOSE_GRACE)
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        for timer in self._retries.values():
            timer.cancel()
        self._retries.clear()
        abandoned = sum(self._sending.values())
        for task in self._sending:
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        if self._waiting or abandoned:
            log.warning(
                "%d queued publishes dropped at shutdown (%d of them with the broker)",
                self._waiting + abandoned,
                abandoned,
            )
        self._channels.clear()
        self._ready.clear()
        self._waiting = 0

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
            channel = self._channels[name] = _Channel(name)
        channel.waiting.append(item)
        self._waiting += 1
        if not channel.busy:
            self._make_ready(channel)

    def _make_ready(self, channel: _Channel) -> None:
        self._ready[channel.name] = channel
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_soon(self._flush_ready)

    def _drop(self, item: _Queued, name: str) -> None:
        self._dropped += 1
        if _power_of_ten(self._dropped):  # a long outage must not flood the log
            log.warning(
                "publish backlog full: %s seq %s to %s dropped (rooms backfill it); "
                "%d dropped so far",
                *_what(item, name),
                self._dropped,
            )

    # -- sending --------------------------------------------------------------------------

    def _flush_ready(self) -> None:
        """Hand every ready channel's waiting events to the broker: one batch per shard."""
        self._flush = None
        batches: dict[str, _Batch] = {}
        for channel in self._ready.values():
            events = list(channel.waiting)
            channel.waiting.clear()
            self._waiting -= len(events)
            channel.busy = True
            batches.setdefault(self._broker.shard_of(channel.name), []).append((channel, events))
        self._ready.clear()
        for batch in batches.values():
            items = [
                (channel.name, queued.payload) for channel, events in batch for queued in events
            ]
            self._sending[asyncio.create_task(self._send(batch, items))] = len(items)
            if self._metrics is not None:
                self._metrics.publish_batches.inc()
                self._metrics.published_events.inc(len(items))

    async def _send(self, batch: _Batch, items: list[tuple[str, bytes]]) -> None:
        """Publish one shard's batch; then retry, or release, each of its channels."""
        try:
            outcomes: Sequence[BrokerError | None] = await self._broker.publish_many(items)
            retry = True
        except Exception as exc:
            log.exception("publishing %d events failed", len(items))
            outcomes, retry = [BrokerError(repr(exc))] * len(items), False
        finally:
            task = asyncio.current_task()
            if task is not None:
                self._sending.pop(task, None)
        if not any(outcomes):  # all handed over, as almost always
            for channel, _ in batch:
                channel.failures = 0
                self._release(channel)
            return
        start = 0
        for channel, events in batch:
            self._settle(channel, events, outcomes[start : start + len(events)], retry=retry)
            start += len(events)

    def _settle(
        self,
        channel: _Channel,
        events: list[_Queued],
        outcomes: Sequence[BrokerError | None],
        *,
        retry: bool,
    ) -> None:
        """A channel's batch was answered: release the channel, or put its failed stored
        events back at its head and release it after the next retry delay."""
        failed = [
            (queued, outcome)
            for queued, outcome in zip(events, outcomes, strict=True)
            if outcome is not None and queued.event.seq is not None  # typing, read: once
        ]
        if not failed:
            channel.failures = 0
            self._release(channel)
            return
        channel.failures += 1
        first, error = failed[0]
        if not retry or channel.failures > len(RETRY_DELAYS):
            log.error(
                "publish of %s seq %s to %s failed for good; rooms resync from storage",
                *_what(first, channel.name),
            )
            later = len(failed) - 1 + len(channel.waiting)
            if later:
                log.error("dropping %d later publishes to %s", later, channel.name)
            self._waiting -= len(channel.waiting)
            channel.waiting.clear()
            channel.failures = 0
            self._release(channel)
            return
        if channel.failures == 1:
            log.warning(
                "publish of %s seq %s to %s failed (%s); retrying",
                *_what(first, channel.name),
                error,
            )
        channel.waiting.extendleft(queued for queued, _ in reversed(failed))
        self._waiting += len(failed)
        while len(channel.waiting) > CHANNEL_BACKLOG:
            self._drop(channel.waiting.popleft(), channel.name)
            self._waiting -= 1
        self._retries[channel] = asyncio.get_running_loop().call_later(
            RETRY_DELAYS[channel.failures - 1], self._retry, channel
        )

    def _retry(self, channel: _Channel) -> None:
        del self._retries[channel]
        self._release(channel)

    def _release(self, channel: _Channel) -> None:
        """Nothing of ``channel`` is with the broker: its waiting events go in the next
        flush, or it is forgotten."""
        channel.busy = False
        if channel.waiting:
            self._make_ready(channel)
            return
        if self._channels.get(channel.name) is channel:
            del self._channels[channel.name]
        if not self._channels and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)


def _power_of_ten(n: int) -> bool:
    while n % 10 == 0:
        n //= 10
    return n == 1


def _what(item: _Queued, channel: str) -> tuple[str | None, int | None, str]:
    return item.event.conversation_id, item.event.seq, channel
