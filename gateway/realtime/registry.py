"""The registry: which local sessions follow which rooms, and ordered delivery into them.

Rooms are ``conv:{conversation_id}`` and ``inbox:{org_id}``. The registry subscribes the
broker to a room's channel when the room gets its first local member and unsubscribes when
it loses its last (first in, last out), so a node only receives traffic it has a member for.

A conversation room delivers its events to members in ``seq`` order, each exactly once:
duplicates are dropped; an event that arrives ahead of a missing seq waits up to
``gap_timeout`` for it, after which the room backfills the gap from storage (pub/sub is
at-most-once, storage has everything that was acknowledged).

Nothing here waits long for the broker. A join waits ``LIVE_WAIT`` at most for the room's
subscription; if the broker has not confirmed it by then (its Redis node stopped answering),
the room opens anyway with its live feed pending: its baseline is read from storage, the
subscription keeps being tried in the background while the room has members, and once it
holds the room backfills from storage everything stored since the baseline, in order. So a
subscriber gets the history at once and the live events as soon as the node is back, with no
gap. A leave waits ``LEAVE_WAIT`` at most for the unsubscribe, which carries on in the
background (unsubscribes and subscribes of one channel still run one at a time, in order).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.core.metrics import Metrics
from gateway.realtime.broker.base import Broker
from gateway.realtime.push import Push
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.base import Store

if TYPE_CHECKING:
    from gateway.realtime.session import Session

__all__ = ["Registry"]

log = logging.getLogger(__name__)

BACKFILL_PAGE = 500
#: Seconds a join waits for a new room's broker subscription before the room opens with its
#: live feed pending (the socket's later frames wait behind a subscribe no longer than this,
#: plus the storage reads).
LIVE_WAIT = 0.5
#: Seconds a leave waits for the broker's unsubscribe before it carries on without it.
LEAVE_WAIT = 0.5
#: Seconds between tries of a room's subscription the broker refused: first, then at most.
RESUBSCRIBE_MIN, RESUBSCRIBE_MAX = 0.2, 2.0


@dataclass(eq=False, slots=True)
class _Room:
    channel: str
    conversation_id: str | None
    ready: asyncio.Future[None]
    members: set[Session] = field(default_factory=set)
    #: Highest seq delivered to members; None until the baseline is read from storage.
    last_seq: int | None = None
    pending: dict[int, Push] = field(default_factory=dict)
    gap_timer: asyncio.TimerHandle | None = None
    #: The broker confirmed the room's subscription: its live events arrive.
    live: bool = False


@dataclass(slots=True)
class _ChannelLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Registry:
    """Local room membership and ordered fan-out.

    Args:
        broker: where room channels are (un)subscribed.
        store: for room baselines and gap backfill.
        gap_timeout: seconds to wait for a missing seq before backfilling it.
        metrics: counters for deliveries and gaps.
    """

    def __init__(
        self, broker: Broker, store: Store, *, gap_timeout: float, metrics: Metrics
    ) -> None:
        self._broker = broker
        self._store = store
        self._gap_timeout = gap_timeout
        self._metrics = metrics
        self._rooms: dict[str, _Room] = {}
        self._subscribed: set[str] = set()
        self._locks: dict[str, _ChannelLock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def room_count(self) -> int:
        return len(self._rooms)

    async def join(self, session: Session, channel: str) -> None:
        """Add ``session`` to a room; returns once the room receives live traffic, or
        after ``LIVE_WAIT`` with the live feed pending (see the module docstring).

        Every event stored after this returns reaches the session (in order, for
        conversation rooms; late, if the live feed is pending). Idempotent.

        Raises:
            GatewayError: ``unavailable`` if the room's baseline could not be read.
        """
        room = self._rooms.get(channel)
        if room is None:
            conversation_id = channel.removeprefix("conv:") if channel.startswith("conv:") else None
            room = _Room(channel, conversation_id, asyncio.get_running_loop().create_future())
            # Joiners await ``ready`` through a shield; one cancelled meanwhile must not leave
            # a failure unretrieved.
            room.ready.add_done_callback(_retrieve)
            self._rooms[channel] = room
            room.members.add(session)
            self._spawn(self._open(room))
        else:
            room.members.add(session)
        await asyncio.shield(room.ready)

    async def leave(self, session: Session, channel: str) -> None:
        """Remove ``session`` from a room; the last one out unsubscribes (waiting for the
        broker ``LEAVE_WAIT`` at most). Idempotent."""
        await self.leave_all(session, (channel,))

    async def leave_all(self, session: Session, channels: Iterable[str]) -> None:
        unsubscribing = []
        for channel in tuple(channels):
            room = self._rooms.get(channel)
            if room is None or session not in room.members:
                continue
            room.members.discard(session)
            if not room.members:
                self._drop(room)
                unsubscribing.append(self._spawn(self._reconcile(channel)))
        if unsubscribing:
            await asyncio.wait(unsubscribing, timeout=LEAVE_WAIT)

    async def aclose(self) -> None:
        for room in tuple(self._rooms.values()):
            self._drop(room)
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- broker side ----------------------------------------------------------------------

    def deliver(self, channel: str, payload: bytes) -> None:
        """The broker's ``deliver`` callback: decode once, hand to the room's members."""
        self._metrics.broker_messages.inc()
        room = self._rooms.get(channel)
        if room is None:
            return
        try:
            push = Push.from_payload(payload)
        except GatewayError:
            log.error("dropping an undecodable broker payload on %s", channel)
            return
        if room.conversation_id is None:
            for session in tuple(room.members):
                session.push_inbox(push)
        elif push.seq is None:
            for session in tuple(room.members):
                session.push_volatile(push)
        else:
            self._accept(room, push)

    def _accept(self, room: _Room, push: Push) -> None:
        seq = push.seq
        assert seq is not None
        if room.last_seq is None or seq > room.last_seq + 1:
            # Before the room's baseline is read, or ahead of a missing seq: hold it.
            room.pending[seq] = push
            if room.last_seq is not None:
                self._arm_gap_timer(room)
            return
        if seq <= room.last_seq:
            self._metrics.duplicates.inc()
            return
        self._emit(room, push)
        self._drain(room)

    def _emit(self, room: _Room, push: Push) -> None:
        room.last_seq = push.seq
        conversation_id = room.conversation_id
        assert conversation_id is not None
        for session in tuple(room.members):
            session.push_event(conversation_id, push)
        self._metrics.deliveries.inc(len(room.members))

    def _drain(self, room: _Room) -> None:
        assert room.last_seq is not None
        pending = room.pending
        while pending:
            push = pending.pop(room.last_seq + 1, None)
            if push is None:
                break
            self._emit(room, push)
        for seq in [s for s in pending if s <= room.last_seq]:
            del pending[seq]
        if pending:
            self._arm_gap_timer(room)
        elif room.gap_timer is not None:
            room.gap_timer.cancel()
            room.gap_timer = None

    def _arm_gap_timer(self, room: _Room) -> None:
        if room.gap_timer is None:
            room.gap_timer = asyncio.get_running_loop().call_later(
                self._gap_timeout, self._on_gap, room
            )

    def _on_gap(self, room: _Room) -> None:
        room.gap_timer = None
        if self._rooms.get(room.channel) is room:
            self._metrics.gaps.inc()
            self._spawn(self._backfill(room))

    def resync(self, channels: Iterable[str]) -> None:
        """The broker's ``resync`` callback: these rooms may have missed messages; read
        what storage has after each room's last seq and deliver it."""
        for channel in channels:
            room = self._rooms.get(channel)
            if room is not None and room.conversation_id is not None:
                self._metrics.resyncs.inc()
                self._spawn(self._backfill(room))

    async def _backfill(self, room: _Room) -> None:
        assert room.conversation_id is not None
        while room.last_seq is not None:
            try:
                events = await self._store.read_events(
                    room.conversation_id, room.last_seq, BACKFILL_PAGE
                )
            except Exception:
                log.exception("backfill of %s failed; retrying", room.channel)
                if self._rooms.get(room.channel) is room:
                    self._arm_gap_timer(room)  # try again after gap_timeout
                return
            if self._rooms.get(room.channel) is not room:
                return
            for event in events:
                if event.seq == room.last_seq + 1:
                    pending = room.pending.pop(event.seq, None)
                    self._emit(room, pending if pending is not None else Push.from_event(event))
            self._drain(room)
            if len(events) < BACKFILL_PAGE:
                return

    # -- subscriptions --------------------------------------------------------------------

    async def _open(self, room: _Room) -> None:
        """Subscribe (waiting ``LIVE_WAIT`` at most), read the baseline, open the room."""
        subscribing = self._spawn(self._go_live(room))
        await asyncio.wait((subscribing,), timeout=LIVE_WAIT)
        if room.conversation_id is not None:
            live_before = room.live
            try:
                baseline = await self._store.last_seq(room.conversation_id)
            except Exception:
                log.exception("could not open room %s", room.channel)
                if self._rooms.get(room.channel) is room:
                    self._drop(room)
                    self._spawn(self._reconcile(room.channel))
                room.ready.set_exception(
                    GatewayError(ErrorCode.UNAVAILABLE, "could not subscribe", temporary=True)
                )
                return
            room.last_seq = max(baseline or 0, room.last_seq or 0)
            self._drain(room)
            if room.live and not live_before:
                # Went live while the baseline was read: what was stored meanwhile may have
                # been published before the subscription held.
                self._spawn(self._backfill(room))
        room.ready.set_result(None)

    async def _go_live(self, room: _Room) -> None:
        """Subscribe the room's channel, trying again while the broker refuses and the
        room has members; then backfill what its pending live feed missed."""
        delay = RESUBSCRIBE_MIN
        failures = 0
        while self._rooms.get(room.channel) is room:
            try:
                await self._reconcile(room.channel)
            except Exception as exc:
                failures += 1
                if failures == 1:
                    log.warning(
                        "subscribing %s failed (%s); its live feed waits, trying again",
                        room.channel,
                        exc,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RESUBSCRIBE_MAX)
                continue
            if self._rooms.get(room.channel) is not room:
                return
            room.live = True
            if failures:
                log.info("%s is live after %d failed subscribes", room.channel, failures)
            if room.conversation_id is not None and room.last_seq is not None:
                # Opened with the live feed pending: read what was stored since.
                self._metrics.resyncs.inc()
                await self._backfill(room)
            return

    def _drop(self, room: _Room) -> None:
        if self._rooms.get(room.channel) is room:
            del self._rooms[room.channel]
        if room.gap_timer is not None:
            room.gap_timer.cancel()
            room.gap_timer = None
        room.pending.clear()

    async def _reconcile(self, channel: str) -> None:
        # Subscribe/unsubscribe calls for one channel run one at a time, in order, and each
        # brings the broker in line with whether the room exists *now*: a leave racing a
        # join can never leave a live room unsubscribed.
        entry = self._locks.setdefault(channel, _ChannelLock())
        entry.users += 1
        try:
            async with entry.lock:
                wanted = channel in self._rooms
                if wanted and channel not in self._subscribed:
                    await self._broker.subscribe(channel)
                    self._subscribed.add(channel)
                elif not wanted and channel in self._subscribed:
                    self._subscribed.discard(channel)
                    await self._broker.unsubscribe(channel)
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[channel]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)
        return task


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("registry task failed", exc_info=task.exception())


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
